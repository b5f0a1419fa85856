"""Bound the cost of ``python -m benchmarks mnist`` from measured unit costs.

Not a test: a measurement to size the benchmark's defaults on a machine whose
load is unknown. Every cost is measured back to back in one process and
expressed in *network passes*: one forward and input-gradient pass of the
MNIST CNN per image, the unit of an attack's cost. Ratios stay meaningful on
a shared machine; absolute seconds follow from the network's rate on the
machine that will run the benchmark.

What it measures, on an MNIST-sized DAEkNN (``MNISTCNN``, three blocks
indexed, ``--n-per-class`` images per class in the benign and in the
hardening set; the network need not be trained for these costs):

- one step of each surrogate the adaptive attack differentiates (the soft
  vote and the class-wise scores, restricted to a clean batch's candidates),
  with two indexed sets (DkNN-WAT, DAEkNN), one (DkNN, DAEkNN-WAD) and the
  raw pixels (the KNN row);
- one judgement by the real vote (``predict_proba``), the restriction to a
  batch's candidates;
- one epoch of adversarial training, of standard training and of hardening
  data on a sample, to extrapolate the fit.

From them, per row of the tables, the most the suite can cost: every input
surviving every run (each run attacks only the inputs still classified
correctly, so the real cost is lower), and the cost when the first run
breaks every input (what the rows on the standard network do).

Usage, from the repository root::

    python tools/suite_cost.py --mnist PATH/TO/MNIST --n-per-class 2000
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

# The clone's library and benchmarks, not an installed copy.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._suite import network_pass_seconds
from benchmarks.mnist import MNIST
from sklearn_daeknn import (
    MNISTCNN,
    DAEkNNClassifier,
    SoftKNNVote,
    refit_knn,
)
from sklearn_daeknn.datasets import load_mnist


def _best(fn, repeats: int = 7) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _step_seconds(module, x: torch.Tensor) -> float:
    """Forward and input gradient of ``module`` on ``x``, per image."""
    y = torch.zeros(len(x), dtype=torch.long)

    def step():
        x_ = x.clone().requires_grad_(True)
        torch.autograd.grad(F.cross_entropy(module(x_), y), x_)

    return _best(step) / len(x)


def surrogate_costs(target, x: torch.Tensor, judge) -> dict[str, float]:
    """Seconds per image of the adaptive attack's parts on ``target``."""
    vote = (
        target
        if isinstance(target, SoftKNNVote)
        else SoftKNNVote(target, temperature=0.1)
    )
    restrict = _best(lambda: vote.restricted_to(x, n_per_class=8)) / len(x)
    sub = vote.restricted_to(x, n_per_class=8)
    classwise = sub.classwise(5, 0.1)
    return {
        "restrict": restrict,
        "vote step": _step_seconds(sub, x),
        "classwise step": _step_seconds(classwise, x),
        "judge": _best(lambda: judge(x)) / len(x),
        "candidates": float(len(sub._sets[0][0])),
    }


def adaptive_bound(costs: dict[str, float], attack, first_only: bool) -> float:
    """Seconds per image of the adaptive attack: all runs, or the first only."""
    p = attack.get_params()
    runs = [
        (loss, p["n_target_classes"] if loss.endswith("-t") else p["n_restarts"])
        for loss in p["losses"]
    ]
    if first_only:
        runs = [(runs[0][0], 1)]
    total = costs["restrict"] + costs["judge"] + costs["classwise step"] / 2
    for loss, count in runs:
        step = costs["vote step" if loss.startswith("vote") else "classwise step"]
        total += count * ((p["n_steps"] + 1) * step + 2 * costs["judge"])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist", required=True, help="folder of the MNIST IDX files")
    parser.add_argument("--n-per-class", type=int, default=2000)
    parser.add_argument("--n-test", type=int, default=1000, help="images attacked")
    parser.add_argument("--fit-sample", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="inputs the adaptive attack attacks at once (default: the benchmark's)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = replace(MNIST, n_per_class=args.n_per_class)
    attacks = config.attacks()
    if args.batch_size:
        attacks["adaptive"].set_params(batch_size=args.batch_size)
    batch = attacks["adaptive"].batch_size
    X, y = load_mnist(args.mnist, n_per_class=args.n_per_class, random_state=0)
    X_t, _ = load_mnist(args.mnist, subset="test", n_samples=batch)
    common = dict(
        module=MNISTCNN,
        input_shape=(1, 28, 28),
        clip=(0.0, 1.0),
        layers=list(config.layers),
        index="exact",
        random_state=0,
        verbose=0,
    )
    start = time.perf_counter()
    hardened = DAEkNNClassifier(
        **common,
        max_epochs=0,
        adversarial_training=False,
        hardening_strength=0.3,
        hardening_steps=1,
    ).fit(X, y)
    benign = refit_knn(hardened, X, y, hardening_strength=0)
    print(
        f"indexes of {len(X)} benign (+ {len(X)} hardening) points built in "
        f"{time.perf_counter() - start:.0f} s"
    )
    net = network_pass_seconds(hardened, X_t)
    x = torch.from_numpy(X_t)
    pixels = SoftKNNVote.from_arrays(X, y, n_neighbors=5, clip=(0.0, 1.0))
    costs = {
        "two sets (DAEkNN-WAT, DAEkNN)": surrogate_costs(
            hardened, x, lambda b: hardened.predict_proba(b.numpy())
        ),
        "one set (DkNN, DAEkNN-WAD)": surrogate_costs(
            benign, x, lambda b: benign.predict_proba(b.numpy())
        ),
        "pixels (KNN)": surrogate_costs(pixels, x, pixels.exact_proba),
    }
    print(f"\nnetwork pass: {1 / net:.0f} images/s here; costs in network passes")
    print(f"{'':<32}{'restrict':>9}{'vote':>7}{'classw':>7}{'judge':>7}{'cands':>7}")
    for name, c in costs.items():
        cells = "".join(
            f"{c[k] / net:7.1f}" for k in ("vote step", "classwise step", "judge")
        )
        print(f"{name:<32}{c['restrict'] / net:9.1f}{cells}{c['candidates']:7.0f}")

    auto = attacks["AutoAttack"].get_params()
    auto_bound = (1 + auto["n_target_classes"]) * (auto["n_steps"] + 1)
    pgd = attacks["PGD"].get_params()["n_steps"]
    rows = {
        "KNN": (costs["pixels (KNN)"], False),
        "DkNN": (costs["one set (DkNN, DAEkNN-WAD)"], True),
        "DAEkNN-WAT": (costs["two sets (DAEkNN-WAT, DAEkNN)"], True),
        "DAEkNN-WAD": (costs["one set (DkNN, DAEkNN-WAD)"], False),
        "DAEkNN": (costs["two sets (DAEkNN-WAT, DAEkNN)"], False),
    }
    print(
        f"\nper image, in network passes (PGD {pgd}, AutoAttack at most "
        f"{auto_bound} per network)"
    )
    print(f"{'adaptive on':<12}{'at most':>9}{'first run only':>16}")
    total_bound = 2 * (pgd + auto_bound)
    total_expected = 2 * pgd + auto_bound + (auto["n_steps"] + 1)
    for name, (c, collapses) in rows.items():
        bound = adaptive_bound(c, attacks["adaptive"], first_only=False) / net
        first = adaptive_bound(c, attacks["adaptive"], first_only=True) / net
        total_bound += bound
        total_expected += first if collapses or name == "KNN" else bound
        print(f"{name:<12}{bound:9.0f}{first:16.0f}")
    daeknn = (
        pgd
        + auto_bound
        + adaptive_bound(
            costs["two sets (DAEkNN-WAT, DAEkNN)"], attacks["adaptive"], False
        )
        / net
    )
    n = args.n_test
    print(
        f"\nDAEkNN's suite (transfer PGD, transfer AutoAttack, adaptive), every "
        f"input surviving every run: {daeknn:.0f} passes per image, "
        f"{daeknn * n * net / 60:.1f} min for {n} images at this rate"
    )
    print(
        f"the whole suite: at most {total_bound:.0f} passes per image "
        f"({total_bound * n * net / 60:.1f} min); with the standard-network rows "
        f"and the KNN broken by their first run and the AutoAttack of the "
        f"standard CNN by APGD-CE: {total_expected:.0f} "
        f"({total_expected * n * net / 60:.1f} min)"
    )

    # The fit, extrapolated from epochs on a sample.
    sample = np.random.RandomState(0).permutation(len(X))[: args.fit_sample]
    Xs, ys = X[sample], y[sample]
    at = dict(common, max_epochs=1, hardening_strength=0)
    t_std = _best(
        lambda: DAEkNNClassifier(**at, adversarial_training=False).fit(Xs, ys), 1
    )
    t_at = _best(
        lambda: DAEkNNClassifier(
            **at, adversarial_training=True, train_steps=config.train_steps
        ).fit(Xs, ys),
        1,
    )
    stages = len(config.train_eps_schedule or (config.train_eps,))
    epochs_at = stages * config.at_epochs
    scale = len(X) / len(Xs)
    fit = scale * (config.epochs * t_std + epochs_at * t_at)
    hardening = 2 * scale * len(Xs) * config.hardening_steps * net
    print(
        f"\nfit, extrapolated from one epoch on {len(Xs)} images (the indexes "
        f"and features of a fit on this sample included): {config.epochs} "
        f"standard epochs and {epochs_at} of {config.train_steps}-step "
        f"adversarial training {fit / 60:.1f} min, hardening data (two sets) "
        f"{hardening / 60:.1f} min; in network passes: "
        f"{(fit + hardening) / net / n:.0f} per test image"
    )


if __name__ == "__main__":
    main()
