"""The main job: KNN, CNN, AT-CNN, DkNN and DAEkNN on the embedded digits.

Every model is attacked with the same PGD settings. The networks (and the
kNN defences built on them) are attacked through their own network, the
paper's transfer protocol; ``KNeighborsClassifier`` has no gradient, so it
receives the adversarial inputs made against the standard CNN.
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from ._attack import PGD
from ._classifier import DAEkNNClassifier
from ._evaluation import robustness_report
from .datasets import load_digits_images

logger = logging.getLogger("sklearn_daeknn")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--eps", type=float, default=0.2, help="attack eps (0.2)")
    parser.add_argument("--steps", type=int, default=10, help="attack steps (10)")
    parser.add_argument(
        "--hardening-strength", type=float, default=0.2, help="eps_h (0.2)"
    )
    parser.add_argument("--train-eps", type=float, default=0.2, help="AT eps (0.2)")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs (20)")
    parser.add_argument("--n-neighbors", type=int, default=5, help="k (5)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    start = time.perf_counter()
    X, y = load_digits_images()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=args.seed
    )
    verbose = 0 if args.quiet else 1
    common: dict[str, Any] = dict(
        input_shape=(1, 8, 8),
        clip=(0.0, 1.0),
        n_neighbors=args.n_neighbors,
        max_epochs=args.epochs,
        random_state=args.seed,
        verbose=verbose,
    )
    print(
        f"digits: {len(X_train)} training and {len(X_test)} test images (8x8), "
        f"PGD eps={args.eps}, {args.steps} steps"
    )
    dknn = DAEkNNClassifier(**common, adversarial_training=False, hardening_strength=0)
    daeknn = DAEkNNClassifier(
        **common,
        adversarial_training=True,
        train_eps=args.train_eps,
        hardening_strength=args.hardening_strength,
    )
    knn = KNeighborsClassifier(n_neighbors=args.n_neighbors)
    for name, model in [("DkNN", dknn), ("DAEkNN", daeknn), ("KNN", knn)]:
        logger.info("fitting %s", name)
        model.fit(X_train, y_train)
    attack = PGD(eps=args.eps, n_steps=args.steps, random_state=args.seed)
    attack.verbose = verbose
    X_adv_std = attack.generate(dknn, X_test, y_test)
    X_adv_at = attack.generate(daeknn, X_test, y_test)
    rows = [
        ("KNN", knn, "predict", X_adv_std, dknn),
        ("CNN", dknn, "predict_network", X_adv_std, dknn),
        ("AT-CNN", daeknn, "predict_network", X_adv_at, daeknn),
        ("DkNN", dknn, "predict", X_adv_std, dknn),
        ("DAEkNN", daeknn, "predict", X_adv_at, daeknn),
    ]
    results = {}
    for name, model, method, X_adv, source in rows:
        results[name] = robustness_report(
            model,
            X_test,
            y_test,
            attack=attack,
            X_adv=X_adv,
            source=source,
            predict=method,
        )
    print(f"\n{'model':<8} {'SA':>6} {'AA':>6} {'HM':>6}  attack source")
    for name, _, _, _, source in rows:
        r = results[name]
        src = "standard CNN" if source is dknn else "adversarially trained CNN"
        print(f"{name:<8} {r['SA']:6.3f} {r['AA']:6.3f} {r['HM']:6.3f}  {src}")
    print(f"\nwall time {time.perf_counter() - start:.1f} s")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    run(parser.parse_args(argv))
