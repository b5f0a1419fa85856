"""Command line: ``python -m sklearn_daeknn [demo|...] --help``."""

from __future__ import annotations

import argparse
import logging
import sys

from . import _demo, benchmarks
from ._version import __version__

# name -> (module with add_arguments(parser) and run(args), one-line help)
COMMANDS = {
    "demo": (_demo, "KNN, CNN, AT-CNN, DkNN and DAEkNN on the bundled digits"),
    "benchmark": (benchmarks, "the benchmarks (paper reproductions, scale)"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_daeknn",
        description="DAEkNN: the main job and the benchmarks. "
        "Without a command, runs 'demo'.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        module.add_arguments(
            sub.add_parser(name, help=help_text, description=help_text)
        )
    if (
        not argv
        or argv[0].startswith("-")
        and argv[0] not in ("-h", "--help", "--version")
    ):
        argv = ["demo", *argv]
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    COMMANDS[args.command][0].run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
