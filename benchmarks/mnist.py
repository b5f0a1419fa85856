"""The paper's MNIST experiment: Tables I and II, Figures 1 and 3.

Run ``python -m sklearn_daeknn benchmark mnist --help``. The data are the
four standard IDX files of MNIST (or a look-alike) in ``--data``; nothing is
downloaded. Defaults are sized to run in well under 90 minutes on 2 CPU
cores; the JSON's ``notes`` say what was scaled relative to the authors'
own setup (2,000 training images per class, the first 1,000 test images,
PGD eps 80/255 with 10 steps, adversarial training at eps 60/255).
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import Any

from .._networks import MNISTCNN
from .._vote import WEIGHTINGS
from ..datasets import load_mnist
from .paper import PaperConfig, hardware_note, run_paper_benchmark

__all__ = ["add_arguments", "config_from_args", "mnist_config", "run"]

#: The authors' test attack: PGD eps 80/255 (> 0.3), 10 steps.
AUTHORS_EPS = 80 / 255


def load_mnist_split(
    folder: str | Path, n_per_class: int, n_test: int, seed: int
) -> tuple[Any, Any, Any, Any]:
    """A class-balanced training sample and the first ``n_test`` test images."""
    X_train, y_train = load_mnist(
        folder, subset="train", n_per_class=n_per_class, random_state=seed
    )
    X_test, y_test = load_mnist(folder, subset="test", n_samples=n_test)
    return X_train, y_train, X_test, y_test


def mnist_config(
    data: str | Path = "../shared/data/mnist",
    *,
    n_per_class: int = 1000,
    n_test: int = 1000,
    epochs: int = 3,
    at_epochs: int = 1,
    attack_eps: float = AUTHORS_EPS,
    attack_steps: int = 10,
    train_eps: float = 0.3,
    train_eps_schedule: tuple[float, ...] = (0.1, 0.2, 0.3, 0.3, 0.3),
    train_steps: int = 2,
    hardening_strength: float = 0.3,
    hardening_strength_wat: float = 0.05,
    hardening_steps: int = 2,
    n_neighbors: int = 5,
    vote_layers: tuple[str, ...] | None = ("block1", "block2", "block3"),
    weighting: str = "softmax",
    sweep: bool = True,
    seed: int = 0,
    name: str = "mnist",
    device: str = "cpu",
) -> PaperConfig:
    """The MNIST configuration of :func:`run_paper_benchmark`.

    The network is the paper's :class:`~sklearn_daeknn.MNISTCNN`; its three
    convolutional blocks are indexed (Figure 1 shows each) and
    ``vote_layers`` vote in the tables.
    """
    loader = functools.partial(
        load_mnist_split, data, n_per_class=n_per_class, n_test=n_test, seed=seed
    )
    loader.__name__ = f"load_mnist({str(data)!r})"  # type: ignore[attr-defined]
    sweep_at = (0.0, 0.15, 0.3, 0.4) if sweep else ()
    sweep_std = (0.0, 0.05, 0.3) if sweep else ()
    stages = len(train_eps_schedule) or 1
    return PaperConfig(
        name=name,
        loader=loader,
        input_shape=(1, 28, 28),
        module=MNISTCNN,
        layers=("block1", "block2", "block3"),
        vote_layers=vote_layers,
        n_neighbors=n_neighbors,
        attack_eps=attack_eps,
        attack_steps=attack_steps,
        train_eps=train_eps,
        train_eps_schedule=tuple(train_eps_schedule),
        train_steps=train_steps,
        hardening_strength=hardening_strength,
        hardening_strength_wat=hardening_strength_wat,
        hardening_steps=hardening_steps,
        weighting=weighting,
        weightings=WEIGHTINGS,
        epochs=epochs,
        at_epochs=at_epochs,
        at_init="standard",
        device=device,
        seed=seed,
        sweep_strengths=sweep_at,
        sweep_strengths_wat=sweep_std,
        notes={
            "scaled": (
                f"{n_per_class} training images per class (authors: 2,000), "
                f"{epochs} standard + {stages * at_epochs} adversarial-training "
                f"epochs (authors: more), adversarial training with "
                f"{train_steps}-step PGD at eps "
                f"{', '.join(f'{e:g}' for e in train_eps_schedule or [train_eps])} "
                f"({at_epochs} epoch(s) each) started from the standard "
                "network's weights, "
                f"hardening data with {hardening_steps}-step PGD; the first "
                f"{n_test} test images (as the authors)"
            ),
            "hardware": hardware_note(device),
        },
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Command-line options of ``benchmark mnist``."""
    parser.add_argument(
        "--data",
        default="../shared/data/mnist",
        help="folder with the four MNIST IDX files (default ../shared/data/mnist)",
    )
    parser.add_argument(
        "--out", default="docs/results", help="output folder (default docs/results)"
    )
    parser.add_argument(
        "--cache-dir", default=None, help="cache fitted models here (joblib)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument(
        "--n-per-class", type=int, default=1000, help="training images per class"
    )
    parser.add_argument("--n-test", type=int, default=1000, help="test images")
    parser.add_argument("--epochs", type=int, default=3, help="standard epochs")
    parser.add_argument(
        "--at-epochs",
        type=int,
        default=1,
        help="adversarial-training epochs per eps stage (1)",
    )
    parser.add_argument(
        "--eps",
        type=float,
        default=AUTHORS_EPS,
        help="test attack eps (default 80/255, the authors')",
    )
    parser.add_argument("--steps", type=int, default=10, help="test attack steps")
    parser.add_argument(
        "--train-eps",
        default="0.1,0.2,0.3,0.3,0.3",
        help="adversarial-training eps, or comma-separated eps stages of "
        "--at-epochs each (a ramp; default 0.1,0.2,0.3,0.3,0.3)",
    )
    parser.add_argument("--train-steps", type=int, default=2, help="AT PGD steps")
    parser.add_argument(
        "--hardening-strength", type=float, default=0.3, help="eps_h of DAEkNN"
    )
    parser.add_argument(
        "--hardening-strength-wat", type=float, default=0.05, help="eps_h of WAT"
    )
    parser.add_argument(
        "--hardening-steps", type=int, default=2, help="hardening PGD steps"
    )
    parser.add_argument("--n-neighbors", type=int, default=5, help="k (5)")
    parser.add_argument(
        "--vote-layers",
        default="block1,block2,block3",
        help="comma-separated layers of the tables' vote (default: all three)",
    )
    parser.add_argument(
        "--weighting", default="softmax", choices=WEIGHTINGS, help="vote weighting"
    )
    parser.add_argument("--no-sweep", action="store_true", help="skip Figure 3")
    parser.add_argument(
        "--device", default="cpu", help="torch device of the networks (cpu)"
    )
    parser.add_argument("--name", default="mnist", help="output file stem (mnist)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small smoke run: 10 images per class, 30 test images, 1 epoch",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress display")


def config_from_args(args: argparse.Namespace) -> PaperConfig:
    """The configuration that ``benchmark mnist`` runs for parsed arguments."""
    sizes: dict[str, Any] = dict(
        n_per_class=args.n_per_class,
        n_test=args.n_test,
        epochs=args.epochs,
        at_epochs=args.at_epochs,
        hardening_steps=args.hardening_steps,
        train_steps=args.train_steps,
        sweep=not args.no_sweep,
    )
    if args.quick:
        sizes.update(
            n_per_class=10,
            n_test=30,
            epochs=1,
            at_epochs=1,
            hardening_steps=1,
            train_steps=1,
            sweep=True,
        )
    schedule = tuple(float(e) for e in str(args.train_eps).split(","))
    config = mnist_config(
        args.data,
        attack_eps=args.eps,
        attack_steps=1 if args.quick else args.steps,
        train_eps=schedule[-1],
        train_eps_schedule=schedule if len(schedule) > 1 and not args.quick else (),
        hardening_strength=args.hardening_strength,
        hardening_strength_wat=args.hardening_strength_wat,
        n_neighbors=args.n_neighbors,
        vote_layers=tuple(args.vote_layers.split(",")) if args.vote_layers else None,
        weighting=args.weighting,
        seed=args.seed,
        name=args.name,
        device=args.device,
        **sizes,
    )
    if args.quick:
        config.sweep_strengths = (0.0, 0.3)
        config.sweep_strengths_wat = (0.05,)
        config.notes["scaled"] = "--quick smoke run: not a result"
    return config


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the MNIST benchmark from parsed arguments; returns the results."""
    return run_paper_benchmark(
        config_from_args(args),
        args.out,
        cache_dir=args.cache_dir,
        verbose=0 if args.quiet else 1,
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Entry point of the ``benchmarks/mnist.py`` script."""
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))
