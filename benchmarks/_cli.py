"""What the benchmarks' command lines share: the parser, the value types, the
user errors and the checks of the output folder.

A user's mistake (a bad number, a missing data folder, an ``--out`` that is a
file) is one line on stderr, ``error: ...``, and exit status 2; never a
traceback. The values are checked when the arguments are parsed, the paths
before anything long runs.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: Where a run writes when ``--out`` is not given: not the committed pages.
DEFAULT_OUT = "benchmark-results"
#: The environment variable that may name the MNIST folder instead of ``--data``.
MNIST_ENV = "DAEKNN_MNIST"


class UsageError(Exception):
    """A mistake of the user's (a value, a path): reported in one line, status 2."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, ``error: ...``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    """An integer of at least 1.

    Examples
    --------
    >>> positive_int("3")
    3
    """
    value = _parse(int, text, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An integer of at least 0.

    Examples
    --------
    >>> non_negative_int("0")
    0
    """
    value = _parse(int, text, "an integer >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0; got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number of at least 0 (an eps, a strength).

    Examples
    --------
    >>> non_negative_float("0.25")
    0.25
    """
    value = _parse(float, text, "a number >= 0")
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0; got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number above 0 (a rate).

    Examples
    --------
    >>> positive_float("1e-3")
    0.001
    """
    value = _parse(float, text, "a number > 0")
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0; got {text!r}")
    return value


def eps_list(text: str) -> tuple[float, ...]:
    """One eps, or comma-separated eps stages: finite numbers >= 0.

    Examples
    --------
    >>> eps_list("0.1,0.2,0.3")
    (0.1, 0.2, 0.3)
    """
    items = text.split(",")
    try:
        return tuple(non_negative_float(item.strip()) for item in items)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            "must be one eps or comma-separated eps stages, each a finite number "
            f">= 0 (e.g. 0.1,0.2,0.3); got {text!r}"
        ) from None


def name_list(text: str) -> tuple[str, ...]:
    """Comma-separated names (layers, rows); empty: none.

    Examples
    --------
    >>> name_list("block2,block3")
    ('block2', 'block3')
    """
    names = tuple(name.strip() for name in text.split(","))
    if text and not all(names):
        raise argparse.ArgumentTypeError(
            f"must be comma-separated names without empty ones; got {text!r}"
        )
    return names if text else ()


#: The attack-suite options: option -> config field.
SUITE_FIELDS = {
    "autoattack_steps": "autoattack_steps",
    "autoattack_targets": "autoattack_target_classes",
    "adaptive_steps": "adaptive_steps",
    "adaptive_restarts": "adaptive_restarts",
    "adaptive_targets": "adaptive_target_classes",
}
#: ``--cache-dir``'s help.
CACHE_HELP = (
    "cache the fitted models and each attack's adversarial inputs here "
    "(joblib): a rerun with the same settings, e.g. after an interruption, "
    "reuses what was finished"
)


def add_suite_arguments(parser: argparse.ArgumentParser, config: object) -> None:
    """The options of the attack suite; ``config`` gives the defaults shown."""
    c = config
    group = parser.add_argument_group(
        "the attack suite (every attack has the test --eps)"
    )
    group.add_argument(
        "--autoattack-steps",
        type=positive_int,
        default=None,
        help=f"iterations of each AutoAttack run ({c.autoattack_steps})",
    )
    group.add_argument(
        "--autoattack-targets",
        type=positive_int,
        default=None,
        help=f"target classes of AutoAttack's APGD-T ({c.autoattack_target_classes})",
    )
    group.add_argument(
        "--adaptive-steps",
        type=positive_int,
        default=None,
        help=f"iterations of each adaptive-attack run ({c.adaptive_steps})",
    )
    group.add_argument(
        "--adaptive-restarts",
        type=positive_int,
        default=None,
        help=f"runs of each untargeted adaptive loss ({c.adaptive_restarts})",
    )
    group.add_argument(
        "--adaptive-targets",
        type=positive_int,
        default=None,
        help="target classes of each targeted adaptive loss "
        f"({c.adaptive_target_classes})",
    )
    group.add_argument(
        "--adaptive-losses",
        type=name_list,
        default=None,
        help=f"comma-separated adaptive losses ({','.join(c.adaptive_losses)})",
    )


def suite_changes(args: argparse.Namespace) -> dict[str, object]:
    """The config changes of the suite options that were given."""
    changes: dict[str, object] = {
        field: getattr(args, option)
        for option, field in SUITE_FIELDS.items()
        if getattr(args, option) is not None
    }
    if args.adaptive_losses is not None:
        changes["adaptive_losses"] = tuple(args.adaptive_losses)
    return changes


def _parse(kind: type, text: str, what: str) -> int | float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}") from None


def check_out_dir(path: str | os.PathLike[str], option: str = "--out") -> Path:
    """Check that ``path`` is or can become a writable folder; create nothing.

    Run before the long part of a benchmark, so that a bad ``--out`` fails at
    once and not after an hour.

    Raises
    ------
    UsageError
        If ``path`` is a file, lies under a file, or cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     (check_out_dir(Path(tmp, "new", "results")).name, Path(tmp, "new").exists())
    ('results', False)
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {str(path)!r} is a file, not a folder")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(
            f"{option} {str(path)!r} cannot be created: {str(existing)!r} is a file"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(
            f"{option} {str(path)!r} is not writable (no write permission on "
            f"{str(existing)!r})"
        )
    return path


def make_out_dir(path: str | os.PathLike[str], option: str = "--out") -> Path:
    """Create the output folder (after the data were read).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     make_out_dir(Path(tmp, "a", "b")).is_dir()
    True
    """
    path = check_out_dir(path, option)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{option} {str(path)!r} cannot be created: {exc}") from None
    return path


def mnist_folder(data: str | None) -> str:
    """The MNIST folder: ``--data``, else ``$DAEKNN_MNIST``.

    Examples
    --------
    >>> mnist_folder("data/mnist")
    'data/mnist'
    """
    folder = data or os.environ.get(MNIST_ENV)
    if not folder:
        raise UsageError(
            f"--data FOLDER is required (the four MNIST IDX files), or set the "
            f"environment variable {MNIST_ENV} to that folder"
        )
    return folder


def read_data(what: str, folder: object, load: Callable[[], T]) -> T:
    """Call ``load()``; a missing or malformed data file is a ``UsageError``.

    Examples
    --------
    >>> read_data("MNIST", "nowhere", lambda: 42)
    42
    """
    try:
        return load()
    except (OSError, ValueError, EOFError) as exc:
        raise UsageError(
            f"cannot read the {what} data in {str(folder)!r}: {exc}"
        ) from None
