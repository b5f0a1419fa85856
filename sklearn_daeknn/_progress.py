"""Progress display for long work, shown only when ``verbose`` asks for it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(
    iterable: Iterable[T], *, total: int | None = None, desc: str, verbose: int
) -> Iterator[T]:
    """Iterate over ``iterable`` with a progress bar on stderr when ``verbose``."""
    if not verbose:
        yield from iterable
        return
    with tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True) as bar:
        yield from bar
