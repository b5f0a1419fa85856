"""Command line: ``python -m sklearn_daeknn [demo] --help``.

A user's mistake (a bad value) is one line on stderr, ``error: ...``, and
exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from . import _demo
from ._version import __version__

__all__ = ["COMMANDS", "build_parser", "main", "with_command"]

# name -> (module with add_arguments(parser) and run(args), one-line help)
COMMANDS = {
    "demo": (_demo, "KNN, CNN, AT-CNN, DkNN and DAEkNN on the bundled digits"),
}


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, ``error: ...``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m sklearn_daeknn``, every command's options included."""
    parser = _Parser(
        prog="python -m sklearn_daeknn",
        description="DAEkNN's main job: a comparison on the bundled digits. "
        "Without a command, runs 'demo'.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        module.add_arguments(
            sub.add_parser(name, help=help_text, description=help_text)
        )
    return parser


def with_command(argv: list[str]) -> list[str]:
    """``argv`` with the default command, ``demo``, where it names none."""
    if (
        not argv
        or argv[0].startswith("-")
        and argv[0] not in ("-h", "--help", "--version")
    ):
        return ["demo", *argv]
    return list(argv)


def main(argv: list[str] | None = None) -> int:
    """``python -m sklearn_daeknn``: 0 on success, 2 on a user's mistake."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if argv[:1] == ["benchmark"]:
        parser.error(
            "the benchmarks are not part of the installed package: from a clone "
            "of the repository, run python -m benchmarks NAME"
        )
    args = parser.parse_args(with_command(argv))
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        COMMANDS[args.command][0].run(args)
    except ValueError as exc:
        # The library's ValueErrors name the parameter and the allowed values.
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
