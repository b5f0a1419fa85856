"""The DAEkNN vote on a toy 2-D layer, computed with the library's own functions."""

import matplotlib.pyplot as plt
import numpy as np

from sklearn_daeknn import ExactIndex, class_fractions, vote_weights

rng = np.random.RandomState(3)
k = 5
# Benign training features of two classes, and their hardening copies:
# PGD pushed each point towards the other class.
benign = np.vstack(
    [rng.normal((-1.2, 0.0), 0.45, (25, 2)), rng.normal((1.2, 0.0), 0.45, (25, 2))]
)
labels = np.repeat([0, 1], 25)
push = np.where(labels[:, None] == 0, (1.5, 0.0), (-1.5, 0.0))
hardening = benign + push + rng.normal(0, 0.12, benign.shape)
# An adversarial query of class 0 that crossed into class 1's region.
query = np.array([[0.25, -0.2]])

d_b, i_b = ExactIndex(benign).query(query, k)
d_a, i_a = ExactIndex(hardening).query(query, k)
w_b, w_a = vote_weights(d_b.mean(1), d_a.mean(1), weighting="relative")
p_b = class_fractions(labels[i_b], 2)[0]
p_a = class_fractions(labels[i_a], 2)[0]
score = w_b[0] * p_b + w_a[0] * p_a

fig, (ax, bx) = plt.subplots(
    1, 2, figsize=(9.5, 3.8), gridspec_kw={"width_ratios": [1.6, 1]}
)
colors = np.array(["tab:blue", "tab:orange"])
ax.scatter(*benign.T, c=colors[labels], s=22, alpha=0.6, label="benign set D")
ax.scatter(
    *hardening.T,
    c=colors[labels],
    s=28,
    marker="x",
    alpha=0.8,
    label="hardening set D_adv",
)
for j in i_b[0]:
    ax.plot(*np.c_[query[0], benign[j]], color="0.4", lw=0.8)
for j in i_a[0]:
    ax.plot(*np.c_[query[0], hardening[j]], color="tab:red", lw=0.8, ls="--")
ax.scatter(*query.T, marker="*", s=260, c="k", zorder=5, label="adversarial query")
ax.set_title(f"one layer, k={k}: d_b={d_b.mean():.2f}, d_a={d_a.mean():.2f}")
ax.legend(loc="lower left", fontsize=8)
ax.set_xticks([])
ax.set_yticks([])

x = np.arange(2)
bx.bar(x - 0.27, p_b, 0.27, label=f"p(j | D), weight {w_b[0]:.2f}", color="0.6")
bx.bar(x, p_a, 0.27, label=f"p(j | D_adv), weight {w_a[0]:.2f}", color="tab:red")
bx.bar(x + 0.27, score, 0.27, label="joint score", color="k")
bx.set_xticks(x, ["class 0 (true)", "class 1"])
bx.set_ylim(0, 1.25)
bx.set_title("the vote")
bx.legend(fontsize=8, loc="upper left")
