"""The benign weight ``w_b`` of each weighting, as the benign neighbours recede."""

import matplotlib.pyplot as plt
import numpy as np

from sklearn_daeknn import vote_weights

total = 4.0  # d_b + d_a, in the layer's own units
r_b = np.linspace(0.01, 0.99, 200)  # d_b / (d_b + d_a)
d_b, d_a = r_b * total, (1 - r_b) * total

fig, ax = plt.subplots(figsize=(6, 3.4))
for weighting, temperature, style in [
    ("relative", 1.0, "-"),
    ("relative", 0.2, "-"),
    ("softmax", 1.0, "--"),
    ("released", 1.0, ":"),
    ("uniform", 1.0, "-."),
]:
    w_b, _ = vote_weights(d_b, d_a, weighting=weighting, temperature=temperature)
    ax.plot(r_b, w_b, style, label=f"{weighting}, temperature={temperature:g}")
ax.set_xlabel("d_b / (d_b + d_a)   (benign neighbours farther  →)")
ax.set_ylabel("weight of the benign vote w_b")
ax.set_title(f"d_b + d_a = {total:g}")
ax.legend(fontsize=8)
