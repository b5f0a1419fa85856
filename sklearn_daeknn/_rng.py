"""torch's global random number generator, shared by every fit and attack.

torch has one global RNG per process, shared by fits running in parallel
threads (joblib's threading or Dask backends) and by the attacks that draw
from it (AutoAttack's random starts). Every seeding, restoring and drawing of
it by the library happens under :data:`GLOBAL_RNG_LOCK`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch

__all__ = ["GLOBAL_RNG_LOCK", "seeded_global_rng"]

# Nothing else in a fit draws from the global RNG (the data loaders and
# attacks have their own generators). Re-entrant: a block that draws holds it
# around its own seeding.
GLOBAL_RNG_LOCK = threading.RLock()


@contextlib.contextmanager
def seeded_global_rng(seed: int) -> Iterator[None]:
    """Seed torch's global RNG for the block and give back its state after.

    Unlike ``torch.random.fork_rng``, the seeding and the restoring are each
    done under :data:`GLOBAL_RNG_LOCK`, so that they cannot fall between
    another thread's seeding and its draws.

    Examples
    --------
    >>> import torch
    >>> with seeded_global_rng(0):
    ...     a = torch.rand(1)
    >>> with seeded_global_rng(0):
    ...     b = torch.rand(1)
    >>> bool(a == b)
    True
    """
    with GLOBAL_RNG_LOCK:
        state = torch.get_rng_state()
        torch.manual_seed(seed)
    try:
        yield
    finally:
        with GLOBAL_RNG_LOCK:
            torch.set_rng_state(state)
