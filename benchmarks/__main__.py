"""Benchmarks: ``python -m sklearn_daeknn benchmark NAME --help``.

Each benchmark is a module of this package with ``add_arguments(parser)`` and
``run(args)``; it is imported only when its command runs.
"""

from __future__ import annotations

import argparse
import importlib

# name -> (module, one-line help)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "mnist": (
        "sklearn_daeknn.benchmarks.mnist",
        "the paper's MNIST Tables I-II and Figures 1, 3 from local IDX files",
    ),
    "cifar10": (
        "sklearn_daeknn.benchmarks.cifar10",
        "the paper's CIFAR-10 (VGG16) Tables I-II and Figures 1, 3; needs a "
        "GPU (--smoke: CPU check)",
    ),
    "mnist-adaptive": (
        "sklearn_daeknn.benchmarks.mnist_adaptive",
        "adaptive attack on the kNN vote and DkNN credibility on the MNIST "
        "benchmark's models (reuses its --cache-dir)",
    ),
    "scale": (
        "sklearn_daeknn.benchmarks.scale",
        "memory and speed: full-MNIST fit, index backends, PGD, grid search",
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="benchmark", metavar="NAME", required=True)
    for name, (module, help_text) in BENCHMARKS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(sub_parser)


def run(args: argparse.Namespace) -> None:
    importlib.import_module(BENCHMARKS[args.benchmark][0]).run(args)
