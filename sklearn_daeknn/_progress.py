"""Progress display for long work, shown only when ``verbose`` asks for it.

tqdm is imported only when a bar is drawn: ``tqdm.auto`` picks its notebook
front end at import and, in a Jupyter kernel without ipywidgets, warns
(``TqdmWarning: IProgress not found``) at that moment, which would make
importing this package noisy even with ``verbose=0``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def progress_bar(**kwargs: Any) -> Any:
    """A new ``tqdm.auto`` bar on stderr (tqdm imported now, not before)."""
    from tqdm.auto import tqdm

    return tqdm(**kwargs)


def progress(
    iterable: Iterable[T], *, total: int | None = None, desc: str, verbose: int
) -> Iterator[T]:
    """Iterate over ``iterable`` with a progress bar on stderr when ``verbose``."""
    if not verbose:
        yield from iterable
        return
    with progress_bar(
        iterable=iterable, total=total, desc=desc, leave=False, dynamic_ncols=True
    ) as bar:
        yield from bar
