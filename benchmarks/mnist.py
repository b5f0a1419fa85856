"""The paper's MNIST experiment: Tables I and II, Figures 1 and 3.

Run ``python -m benchmarks mnist --help`` from a clone of the repository.
The data are the four standard IDX files of MNIST (or a look-alike) in
``--data`` (or the folder named by the environment variable
``DAEKNN_MNIST``); nothing is downloaded. Defaults are sized to run in well
under 90 minutes on 2 CPU cores; the JSON's ``notes`` say what was scaled
relative to the authors' own setup (2,000 training images per class, the
first 1,000 test images, PGD eps 80/255 with 10 steps, adversarial training
at eps 60/255).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from sklearn_daeknn import MNISTCNN, WEIGHTINGS
from sklearn_daeknn.datasets import load_mnist

from ._cli import (
    DEFAULT_OUT,
    MNIST_ENV,
    eps_list,
    mnist_folder,
    name_list,
    non_negative_float,
    non_negative_int,
    positive_int,
)
from ._protocol import PaperConfig
from ._runner import hardware_note, run_paper_benchmark

__all__ = ["MNIST", "QUICK", "add_arguments", "config_from_args", "mnist_config", "run"]

#: The authors' test attack: PGD eps 80/255 (> 0.3), 10 steps.
AUTHORS_EPS = 80 / 255
BLOCKS = ("block1", "block2", "block3")


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
#: tables, sized for 2 CPU cores.
MNIST = PaperConfig(
    name="mnist",
    loader=load_mnist_split,
    input_shape=(1, 28, 28),
    module=MNISTCNN,
    layers=BLOCKS,
    vote_layers=BLOCKS,
    n_per_class=1000,
    n_test=1000,
    epochs=3,
    at_epochs=1,
    at_init="standard",
    attack_eps=AUTHORS_EPS,
    attack_steps=10,
    train_eps=0.3,
    train_eps_schedule=(0.1, 0.2, 0.3, 0.3, 0.3),
    train_steps=2,
    hardening_strength=0.3,
    hardening_strength_wat=0.05,
    hardening_steps=2,
    weighting="softmax",
    sweep_strengths=(0.0, 0.15, 0.3, 0.4),
    sweep_strengths_wat=(0.0, 0.05, 0.3),
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
    sweep_strengths=(0.0, 0.3),
    sweep_strengths_wat=(0.05,),
)


def _notes(config: PaperConfig) -> dict[str, str]:
    stages = config.train_eps_schedule or (config.train_eps,)
    at_epochs = config.epochs if config.at_epochs is None else config.at_epochs
    return {
        "scaled": (
            f"{config.n_per_class} training images per class (authors: 2,000), "
            f"{config.epochs} standard + {len(stages) * at_epochs} "
            f"adversarial-training epochs (authors: more), adversarial training "
            f"with {config.train_steps}-step PGD at eps "
            f"{', '.join(f'{e:g}' for e in stages)} ({at_epochs} epoch(s) each) "
            "started from the standard network's weights, "
            f"hardening data with {config.hardening_steps}-step PGD; the first "
            f"{config.n_test} test images (as the authors)"
        ),
        "hardware": hardware_note(config.device),
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
    parser.add_argument(
        "--cache-dir", default=None, help="cache fitted models here (joblib)"
    )
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
        help="test attack eps (default 80/255, the authors')",
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help=f"test attack steps ({m.attack_steps})",
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
    parser.add_argument("--no-sweep", action="store_true", help="skip Figure 3")
    parser.add_argument(
        "--device", default=None, help=f"torch device of the networks ({m.device})"
    )
    parser.add_argument("--name", default=None, help=f"output file stem ({m.name})")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small smoke run: 10 images per class, 30 test images, 1 epoch",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress display")


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
    changes = {
        field: getattr(args, option)
        for option, field in _FIELDS.items()
        if getattr(args, option) is not None
    }
    if args.train_eps is not None:
        schedule = tuple(args.train_eps)
        changes.update(
            train_eps=schedule[-1],
            train_eps_schedule=schedule if len(schedule) > 1 else (),
        )
    if args.vote_layers is not None:
        changes["vote_layers"] = args.vote_layers or None
    if args.no_sweep:
        changes.update(sweep_strengths=(), sweep_strengths_wat=())
    if args.quick:
        changes.update(QUICK, notes={"scaled": "--quick smoke run: not a result"})
    return mnist_config(mnist_folder(args.data), **changes)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the MNIST benchmark from parsed arguments; returns the results."""
    return run_paper_benchmark(
        config_from_args(args),
        args.out,
        cache_dir=args.cache_dir,
        verbose=0 if args.quiet else 1,
    )
