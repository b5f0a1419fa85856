"""The paper's MNIST experiment: Tables I and II under the attack suite,
Figures 1 and 3, DkNN credibility.

Run ``python -m benchmarks mnist --help`` from a clone of the repository.
The data are the four standard IDX files of MNIST (or a look-alike) in
``--data`` (or the folder named by the environment variable
``DAEKNN_MNIST``); nothing is downloaded. The defaults are the authors'
data sizes (2,000 training images per class, the first 1,000 test images)
and test attack (PGD eps 80/255, 10 steps), with the networks trained
briefly enough for a laptop's CPU (5 standard epochs, 10 of 10-step
adversarial training); the hardening sweep (Figure 3) is off unless
``--sweep``. The JSON's ``notes`` say what differs from the authors' setup.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from sklearn_daeknn import MNISTCNN, WEIGHTINGS
from sklearn_daeknn.datasets import load_mnist

from ._cli import (
    CACHE_HELP,
    DEFAULT_OUT,
    MNIST_ENV,
    add_suite_arguments,
    eps_list,
    mnist_folder,
    name_list,
    non_negative_float,
    non_negative_int,
    positive_int,
    suite_changes,
)
from ._protocol import PaperConfig
from ._runner import run_paper_benchmark

__all__ = [
    "MNIST",
    "PAPER_RESULTS",
    "QUICK",
    "SWEEP",
    "add_arguments",
    "config_from_args",
    "mnist_config",
    "run",
]

#: The authors' test attack: PGD eps 80/255 (> 0.3), 10 steps.
AUTHORS_EPS = 80 / 255
BLOCKS = ("block1", "block2", "block3")
#: The paper's MNIST figures (Table I), SA/AA/HM in percent.
PAPER_RESULTS: dict[str, list[float]] = {
    "CNN": [99.06, 0.00, 0.00],
    "AT-CNN": [98.40, 62.28, 76.28],
    "DkNN": [98.78, 0.06, 0.12],
    "DAEkNN": [97.90, 68.26, 80.44],
}
#: The hardening strengths of ``--sweep`` (Figure 3), on the adversarially
#: trained and on the standard network.
SWEEP = {
    "sweep_strengths": (0.0, 0.15, 0.3, 0.4),
    "sweep_strengths_wat": (0.0, 0.05, 0.3),
}
TITLE = "MNIST: the paper's Tables I-II under an attack suite"


def load_mnist_split(config: PaperConfig) -> tuple[Any, Any, Any, Any]:
    """A class-balanced training sample and the first ``n_test`` test images."""
    X_train, y_train = load_mnist(
        config.data,
        subset="train",
        n_per_class=config.n_per_class,
        random_state=config.seed,
    )
    X_test, y_test = load_mnist(config.data, subset="test", n_samples=config.n_test)
    return X_train, y_train, X_test, y_test


#: The MNIST experiment: the paper's :class:`~sklearn_daeknn.MNISTCNN`, its
#: three convolutional blocks indexed (Figure 1 shows each) and voting in the
#: tables, the authors' data sizes, training sized for a laptop's CPU.
MNIST = PaperConfig(
    name="mnist",
    loader=load_mnist_split,
    input_shape=(1, 28, 28),
    module=MNISTCNN,
    layers=BLOCKS,
    vote_layers=BLOCKS,
    n_per_class=2000,
    n_test=1000,
    epochs=5,
    at_epochs=2,
    at_init="standard",
    attack_eps=AUTHORS_EPS,
    attack_steps=10,
    autoattack_steps=100,
    autoattack_target_classes=3,
    adaptive_steps=30,
    adaptive_restarts=1,
    adaptive_target_classes=3,
    train_eps=0.3,
    train_eps_schedule=(0.1, 0.2, 0.3, 0.3, 0.3),
    train_steps=10,
    hardening_strength=0.3,
    hardening_strength_wat=0.05,
    hardening_steps=10,
    weighting="softmax",
    paper=PAPER_RESULTS,
)

#: What ``--quick`` changes: a smoke run of every step, not a result.
QUICK: dict[str, Any] = dict(
    n_per_class=10,
    n_test=30,
    epochs=1,
    at_epochs=1,
    attack_steps=1,
    hardening_steps=1,
    train_steps=1,
    train_eps_schedule=(),
    autoattack_steps=2,
    autoattack_target_classes=1,
    adaptive_steps=2,
    adaptive_target_classes=1,
    sweep_strengths=(0.0, 0.3),
    sweep_strengths_wat=(0.05,),
)


def _notes(config: PaperConfig) -> dict[str, str]:
    stages = config.train_eps_schedule or (config.train_eps,)
    at_epochs = config.epochs if config.at_epochs is None else config.at_epochs
    return {
        "scaled": (
            f"{config.n_per_class} training images per class (the authors: "
            f"2,000) and the first {config.n_test} test images (the authors: "
            f"1,000); {config.epochs} standard and {len(stages) * at_epochs} "
            f"adversarial-training epochs ({config.train_steps}-step PGD, eps "
            f"ramped {', '.join(f'{e:g}' for e in stages)}, {at_epochs} "
            "epoch(s) each, started from the standard network's weights); the "
            "authors train longer, at eps 60/255"
        ),
    }


def mnist_config(data: str, **changes: Any) -> PaperConfig:
    """:data:`MNIST` reading ``data``, with ``changes``, and notes to match.

    Examples
    --------
    >>> config = mnist_config("mnist-folder", n_per_class=10, epochs=1)
    >>> config.n_per_class, config.epochs, config.module.__name__
    (10, 1, 'MNISTCNN')
    >>> "10 training images per class" in config.notes["scaled"]
    True
    """
    config = replace(MNIST, data=str(data), **changes)
    return replace(config, notes={**_notes(config), **changes.get("notes", {})})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Command-line options of ``mnist``; unset ones keep :data:`MNIST`'s values."""
    m = MNIST
    parser.add_argument(
        "--data",
        default=None,
        help="folder with the four MNIST IDX files (raw or .gz); required "
        f"unless the environment variable {MNIST_ENV} names it",
    )
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help=f"output folder, created once the data are read (default "
        f"{DEFAULT_OUT}; the committed pages: --out docs/results)",
    )
    parser.add_argument("--cache-dir", default=None, help=CACHE_HELP)
    parser.add_argument(
        "--seed", type=non_negative_int, default=None, help=f"random seed ({m.seed})"
    )
    parser.add_argument(
        "--n-per-class",
        type=positive_int,
        default=None,
        help=f"training images per class ({m.n_per_class})",
    )
    parser.add_argument(
        "--n-test", type=positive_int, default=None, help=f"test images ({m.n_test})"
    )
    parser.add_argument(
        "--epochs",
        type=non_negative_int,
        default=None,
        help=f"standard epochs ({m.epochs})",
    )
    parser.add_argument(
        "--at-epochs",
        type=non_negative_int,
        default=None,
        help=f"adversarial-training epochs per eps stage ({m.at_epochs})",
    )
    parser.add_argument(
        "--eps",
        type=non_negative_float,
        default=None,
        help="eps of every attack (default 80/255, the authors' test attack)",
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help=f"PGD steps of the paper's test attack ({m.attack_steps})",
    )
    parser.add_argument(
        "--train-eps",
        type=eps_list,
        default=None,
        help="adversarial-training eps, or comma-separated eps stages of "
        "--at-epochs each (a ramp; default "
        f"{','.join(f'{e:g}' for e in m.train_eps_schedule)})",
    )
    parser.add_argument(
        "--train-steps",
        type=positive_int,
        default=None,
        help=f"AT PGD steps ({m.train_steps})",
    )
    parser.add_argument(
        "--hardening-strength",
        type=non_negative_float,
        default=None,
        help=f"eps_h of DAEkNN ({m.hardening_strength:g})",
    )
    parser.add_argument(
        "--hardening-strength-wat",
        type=non_negative_float,
        default=None,
        help=f"eps_h of WAT ({m.hardening_strength_wat:g})",
    )
    parser.add_argument(
        "--hardening-steps",
        type=positive_int,
        default=None,
        help=f"hardening PGD steps ({m.hardening_steps})",
    )
    parser.add_argument(
        "--n-neighbors",
        type=positive_int,
        default=None,
        help=f"k ({m.n_neighbors})",
    )
    parser.add_argument(
        "--vote-layers",
        type=name_list,
        default=None,
        help="comma-separated layers of the tables' vote (default: all three, "
        f"{','.join(BLOCKS)})",
    )
    parser.add_argument(
        "--weighting",
        default=None,
        choices=WEIGHTINGS,
        help=f"vote weighting ({m.weighting})",
    )
    parser.add_argument(
        "--sweep",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the hardening sweep (Figure 3, transfer PGD only; default "
        "off, on with --quick)",
    )
    parser.add_argument(
        "--device", default=None, help=f"torch device of the networks ({m.device})"
    )
    parser.add_argument("--name", default=None, help=f"output file stem ({m.name})")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small smoke run of every step: 10 images per class, 30 test "
        "images, 1 epoch, 1-2 attack steps (not a result)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    add_suite_arguments(parser, m)


#: Options that set a config field of the same meaning: option -> field.
_FIELDS = {
    "seed": "seed",
    "n_per_class": "n_per_class",
    "n_test": "n_test",
    "epochs": "epochs",
    "at_epochs": "at_epochs",
    "eps": "attack_eps",
    "steps": "attack_steps",
    "train_steps": "train_steps",
    "hardening_strength": "hardening_strength",
    "hardening_strength_wat": "hardening_strength_wat",
    "hardening_steps": "hardening_steps",
    "n_neighbors": "n_neighbors",
    "weighting": "weighting",
    "device": "device",
    "name": "name",
}


def config_from_args(args: argparse.Namespace) -> PaperConfig:
    """The configuration that ``mnist`` runs for parsed arguments."""
    changes: dict[str, Any] = {}
    if args.quick:
        changes.update(QUICK, notes={"scaled": "--quick smoke run: not a result"})
    changes.update(
        (field, getattr(args, option))
        for option, field in _FIELDS.items()
        if getattr(args, option) is not None
    )
    changes.update(suite_changes(args))
    if args.train_eps is not None:
        schedule = tuple(args.train_eps)
        changes.update(
            train_eps=schedule[-1],
            train_eps_schedule=schedule if len(schedule) > 1 else (),
        )
    if args.vote_layers is not None:
        changes["vote_layers"] = args.vote_layers or None
    if args.sweep is False:
        changes.update(sweep_strengths=(), sweep_strengths_wat=())
    elif args.sweep and not args.quick:
        changes.update(SWEEP)
    return mnist_config(mnist_folder(args.data), **changes)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the MNIST benchmark from parsed arguments; returns the results."""
    return run_paper_benchmark(
        config_from_args(args),
        args.out,
        cache_dir=args.cache_dir,
        verbose=0 if args.quiet else 1,
        command=getattr(args, "command_line", None),
        title=TITLE,
    )
