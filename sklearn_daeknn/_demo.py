"""The main job: KNN, CNN, AT-CNN, DkNN and DAEkNN on the bundled digits.

Every model is attacked with the same threat (L-infinity ``eps``) by three
attacks, and ranked by the worst case over them (an input counts as robust
only if every attack fails on it):

- PGD and AutoAttack against each model's network: white-box for the
  networks, a transfer attack for the kNN models built on them (the paper's
  protocol); ``KNeighborsClassifier`` has no network and receives the
  standard CNN's adversarial inputs;
- the adaptive attack on the kNN vote itself (:class:`KNNAdaptiveAttack`),
  for DkNN and DAEkNN through their soft-kNN surrogates and for the raw-pixel
  KNN through a surrogate with identity features.
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from ._adaptive_attack import KNNAdaptiveAttack
from ._attack import PGD
from ._autoattack import AutoAttack
from ._classifier import DAEkNNClassifier
from ._robustness import robustness_report
from ._surrogate import SoftKNNVote
from .datasets import load_digits_images

logger = logging.getLogger("sklearn_daeknn")

#: The columns of the table: attack name -> header.
COLUMNS = {"PGD": "PGD", "AutoAttack": "AutoAtt", "adaptive": "adaptive"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--eps", type=float, default=0.2, help="attack eps (0.2)")
    parser.add_argument("--steps", type=int, default=10, help="PGD steps (10)")
    parser.add_argument(
        "--adaptive-steps", type=int, default=10, help="adaptive attack steps (10)"
    )
    parser.add_argument(
        "--hardening-strength", type=float, default=0.2, help="eps_h (0.2)"
    )
    parser.add_argument("--train-eps", type=float, default=0.2, help="AT eps (0.2)")
    parser.add_argument("--epochs", type=int, default=15, help="training epochs (15)")
    parser.add_argument("--n-neighbors", type=int, default=5, help="k (5)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    start = time.perf_counter()
    parts: dict[str, float] = {}

    def timed(part: str, fn, *a, **kw):
        t0 = time.perf_counter()
        out = fn(*a, **kw)
        parts[part] = parts.get(part, 0.0) + time.perf_counter() - t0
        return out

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
        f"L-inf eps={args.eps}"
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
        timed("fit", model.fit, X_train, y_train)

    seed = dict(random_state=args.seed, verbose=verbose)
    pgd = PGD(eps=args.eps, n_steps=args.steps, **seed)
    # Sized so that the whole job runs in under 3 minutes on 2 CPU cores:
    # AutoAttack's fast list with 30 steps, and the adaptive attack's two
    # strongest losses on the digits (the cross-entropy of the soft vote and
    # ASK's targeted class-wise loss toward the 2 nearest wrong classes).
    autoattack = AutoAttack(eps=args.eps, n_steps=30, n_target_classes=3, **seed)
    adaptive = KNNAdaptiveAttack(
        eps=args.eps,
        n_steps=args.adaptive_steps,
        losses=("vote-ce", "classwise-t"),
        n_target_classes=2,
        n_candidates=4,
        **seed,
    )
    attack_of = {"PGD": pgd, "AutoAttack": autoattack, "adaptive": adaptive}
    made: dict[str, Any] = {}
    for net, model in (("standard", dknn), ("adversarial", daeknn)):
        made[f"PGD {net}"] = timed("PGD", pgd.generate, model, X_test, y_test)
        made[f"AutoAttack {net}"] = timed(
            "AutoAttack", autoattack.generate, model, X_test, y_test
        )
    knn_vote = SoftKNNVote.from_arrays(
        X_train, y_train, n_neighbors=args.n_neighbors, clip=(0.0, 1.0)
    )
    for name, target in (("KNN", knn_vote), ("DkNN", dknn), ("DAEkNN", daeknn)):
        made[f"adaptive {name}"] = timed(
            "adaptive", adaptive.generate, target, X_test, y_test
        )

    # (model, prediction method, network its PGD/AutoAttack inputs come from)
    rows = {
        "KNN": (knn, "predict", "standard"),
        "CNN": (dknn, "predict_network", "standard"),
        "AT-CNN": (daeknn, "predict_network", "adversarial"),
        "DkNN": (dknn, "predict", "standard"),
        "DAEkNN": (daeknn, "predict", "adversarial"),
    }
    results = {}
    for name, (model, method, net) in rows.items():
        given = {
            "PGD": made[f"PGD {net}"],
            "AutoAttack": made[f"AutoAttack {net}"],
        }
        if method == "predict":
            given["adaptive"] = made[f"adaptive {name}"]
        suite = {attack: attack_of[attack] for attack in given}
        results[name] = robustness_report(
            model, X_test, y_test, suite, X_adv=given, predict=method
        )

    ranked = sorted(
        results,
        key=lambda n: (-results[n]["worst_case_AA"], -results[n]["worst_case_HM"]),
    )
    header = "".join(f" {h:>8}" for h in COLUMNS.values())
    print(f"\n{'model':<8} {'SA':>6}{header} {'worst':>6} {'HM':>6}  attacked through")
    for name in ranked:
        r = results[name]
        cells = "".join(
            f" {r['attacks'][a]['AA']:8.3f}" if a in r["attacks"] else f" {'-':>8}"
            for a in COLUMNS
        )
        through = {
            "KNN": "standard CNN (transfer) / identity-feature surrogate",
            "CNN": "itself",
            "AT-CNN": "itself",
            "DkNN": "standard CNN (transfer) / its vote",
            "DAEkNN": "adversarially trained CNN (transfer) / its vote",
        }[name]
        print(
            f"{name:<8} {r['SA']:6.3f}{cells} {r['worst_case_AA']:6.3f} "
            f"{r['worst_case_HM']:6.3f}  {through}"
        )
    best = ranked[0]
    best_r = results[best]
    verdict = (
        f"\nMost robust under the worst case: {best} (worst-case AA "
        f"{best_r['worst_case_AA']:.3f}, HM {best_r['worst_case_HM']:.3f})."
    )
    if best in ("CNN", "AT-CNN"):
        verdict += (
            " The network alone beats every kNN vote: on this run the vote adds "
            "no robustness once it is attacked directly."
        )
    elif "worst_case_AA" in results["AT-CNN"]:
        gain = best_r["worst_case_AA"] - results["AT-CNN"]["worst_case_AA"]
        verdict += f" Against the AT-CNN alone: {gain:+.3f} worst-case AA."
    print(verdict)
    print(
        "PGD and AutoAttack columns: against each model's network (a transfer "
        "attack for the kNN rows); adaptive: on the kNN vote itself; worst: "
        "robust only if every attack fails."
    )
    total = time.perf_counter() - start
    shares = ", ".join(f"{p} {100 * t / total:.0f}%" for p, t in parts.items())
    print(f"\nwall time {total:.1f} s ({shares})")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    run(parser.parse_args(argv))
