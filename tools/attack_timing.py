"""Cost of each attack of the default suite, as ratios to the network.

Not a test: a measurement to size the attacks' defaults. On an MNIST-sized
DAEkNN (``MNISTCNN``, all three blocks as kNN layers, benign and hardening
sets) it times one forward and backward pass of the network per image, then
every attack of :func:`sklearn_daeknn.default_attacks`, and reports each
attack's images per second and its cost in network passes per image. It also
times the soft-kNN surrogate's forward and backward pass (restricted to a
clean batch) and extrapolates the suite to 1,000 test images, both as
measured and in the worst case (every input surviving every run).

Usage, from the repository root::

    python tools/attack_timing.py --mnist PATH/TO/MNIST --n-per-class 200 \\
        --n-test 100 --threads 2

Without ``--mnist`` the bundled 8x8 digits are upscaled to 28x28. Absolute
times depend on the machine's load; the ratios are what to read.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

# The clone's library, not an installed copy.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn_daeknn import (
    MNISTCNN,
    DAEkNNClassifier,
    SoftKNNVote,
    default_attacks,
)
from sklearn_daeknn._targets import attack_mode
from sklearn_daeknn.datasets import load_digits_images, load_mnist


def _data(args):
    if args.mnist:
        X, y = load_mnist(args.mnist, n_per_class=args.n_per_class, random_state=0)
        X_t, y_t = load_mnist(
            args.mnist, subset="test", n_samples=args.n_test, random_state=0
        )
        return X, y, X_t, y_t
    X, y = load_digits_images()
    X = np.kron(X.reshape(-1, 8, 8), np.ones((3, 3), np.float32))
    X = np.pad(X, ((0, 0), (2, 2), (2, 2))).reshape(len(X), -1)
    return X[: -args.n_test], y[: -args.n_test], X[-args.n_test :], y[-args.n_test :]


def _net_pass_seconds(clf, X, batch):
    module = clf.net_.module_
    x = torch.from_numpy(X[:batch]).reshape(-1, *clf.input_shape_)
    y = torch.zeros(len(x), dtype=torch.long)
    with attack_mode(module):
        best = np.inf
        for _ in range(3):
            start = time.perf_counter()
            x_ = x.clone().requires_grad_(True)
            loss = torch.nn.functional.cross_entropy(module(x_), y)
            torch.autograd.grad(loss, x_)
            best = min(best, time.perf_counter() - start)
    return best / len(x)


def _surrogate_pass_seconds(clf, X, batch):
    vote = SoftKNNVote(clf, temperature=0.1)
    x = torch.from_numpy(X[:batch])
    with attack_mode(vote):
        sub = vote.restricted_to(x)
        y = torch.zeros(len(x), dtype=torch.long)
        best = np.inf
        for _ in range(3):
            start = time.perf_counter()
            x_ = x.clone().requires_grad_(True)
            loss = torch.nn.functional.cross_entropy(sub(x_), y)
            torch.autograd.grad(loss, x_)
            best = min(best, time.perf_counter() - start)
    return best / len(x), len(sub._sets[0][0])


def _worst_case_passes(attack) -> int:
    """Network or surrogate passes per input if every input survived every run."""
    name = type(attack).__name__
    p = attack.get_params()
    if name == "PGD":
        return p["n_steps"]
    if name == "AutoAttack":
        return p["n_steps"] * (p["n_restarts"] + p["n_target_classes"])
    runs = sum(
        p["n_target_classes"] if loss.endswith("-t") else p["n_restarts"]
        for loss in p["losses"]
    )
    return p["n_steps"] * runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist", help="folder of the MNIST IDX files")
    parser.add_argument("--n-per-class", type=int, default=200)
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--eps", type=float, default=0.3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, y, X_test, y_test = _data(args)
    clf = DAEkNNClassifier(
        MNISTCNN,
        input_shape=(1, 28, 28),
        clip=(0.0, 1.0),
        max_epochs=args.epochs,
        train_eps=args.eps,
        train_steps=3,
        hardening_strength=args.eps,
        hardening_steps=5,
        index="exact",
        random_state=0,
    )
    start = time.perf_counter()
    clf.fit(X, y)
    print(
        f"fit on {len(X)} images: {time.perf_counter() - start:.1f} s; "
        f"layers {clf.layers_}, {len(clf.benign_labels_)} + "
        f"{len(clf.hardening_labels_)} indexed points"
    )
    net = _net_pass_seconds(clf, X_test, 64)
    surrogate, union = _surrogate_pass_seconds(clf, X_test, 32)
    print(
        f"network forward+backward: {1 / net:.0f} images/s; surrogate "
        f"(restricted to {union} points per set, batch 32): "
        f"{surrogate / net:.1f} network passes"
    )
    suite = default_attacks(clf, eps=args.eps, random_state=0)
    total = 0.0
    print(
        f"\n{'attack':<22} {'AA':>6} {'images/s':>9} {'passes/img':>11} "
        f"{'worst passes/img':>17}"
    )
    for name, attack in suite.items():
        start = time.perf_counter()
        X_adv = attack.generate(clf, X_test, y_test)
        seconds = time.perf_counter() - start
        total += seconds
        aa = np.mean(clf.predict(X_adv) == y_test)
        worst = _worst_case_passes(attack)
        unit = surrogate / net if name == "adaptive" else 1.0
        print(
            f"{name:<22} {aa:6.3f} {len(X_test) / seconds:9.2f} "
            f"{seconds / len(X_test) / net:11.0f} {worst * unit:17.0f}"
        )
    print(
        f"\nsuite: {total:.1f} s for {len(X_test)} images; "
        f"{total / len(X_test) * 1000 / 60:.1f} min for 1,000 at this load"
    )


if __name__ == "__main__":
    main()
