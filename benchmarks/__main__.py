"""The benchmarks, from a clone of the repository: ``python -m benchmarks NAME``.

Each benchmark is a module of this package with ``add_arguments(parser)`` and
``run(args)``. ``python -m benchmarks --help`` lists them; a user's mistake
(a bad value, a missing data folder, an ``--out`` that is a file) is one line,
``error: ...``, and exit status 2. An interrupted run (Ctrl-C) says how to
resume and exits with status 130.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import shlex
import sys
from typing import Any

from ._cli import Parser, UsageError

PROG = "python -m benchmarks"

# name -> (module, one-line help). A new benchmark is a module with
# add_arguments(parser) and run(args), and one entry here.
BENCHMARKS: dict[str, tuple[str, str]] = {
    "mnist": (
        "benchmarks.mnist",
        "the paper's MNIST Tables I-II under an attack suite (worst case), "
        "Figures 1, 3 and DkNN credibility, from local IDX files",
    ),
    "cifar10": (
        "benchmarks.cifar10",
        "the same for CIFAR-10 (VGG16); needs a GPU (--smoke: CPU check)",
    ),
    "digits": (
        "benchmarks.digits",
        "the main job (python -m sklearn_daeknn demo) on the bundled digits, "
        "its results written as JSON and a results page",
    ),
    "scale": (
        "benchmarks.scale",
        "memory and speed: full-MNIST fit, index backends, PGD, grid search",
    ),
    "robust_vote": (
        "benchmarks.robust_vote",
        "levers that might make the vote beat its own network under the worst "
        "case of the full attack suite, chosen on a validation split",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m benchmarks``, every benchmark's options included."""
    parser = Parser(
        prog=PROG,
        description="The experiments of sklearn-daeknn (run from a clone of the "
        "repository). Each writes its results to --out (default "
        "benchmark-results/) and reads its data from local files.",
    )
    sub = parser.add_subparsers(dest="benchmark", metavar="NAME", required=True)
    for name, (module, help_text) in BENCHMARKS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(sub_parser)
    return parser


def parse(argv: list[str]) -> argparse.Namespace:
    """Parse a command line (without the program name)."""
    args = build_parser().parse_args(argv)
    args.command_line = f"{PROG} {shlex.join(argv)}"
    return args


def run(args: argparse.Namespace) -> Any:
    """Run the benchmark of parsed arguments; returns its results."""
    return importlib.import_module(BENCHMARKS[args.benchmark][0]).run(args)


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks``: 0 on success, 2 on a user's mistake."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        run(args)
    except (UsageError, ValueError) as exc:
        # The library's ValueErrors name the parameter and the allowed values.
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        resume = (
            " the same command resumes from what --cache-dir kept"
            if getattr(args, "cache_dir", None)
            else " with --cache-dir, a rerun of the same command resumes"
        )
        print(f"interrupted;{resume}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
