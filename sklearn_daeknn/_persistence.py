"""The library version stored in a pickled estimator, and the warning when a
pickle is loaded under another version.

scikit-learn stores and checks its own version only for its own classes
(those of modules named ``sklearn.*``), so an estimator of this package needs
its own record: a pickle holds the fitted network, indexes and parameters as
this version's code lays them out, and another version may read them
differently without failing.
"""

from __future__ import annotations

import warnings
from typing import Any

from ._version import __version__

__all__ = ["InconsistentVersionWarning", "check_state_version", "versioned_state"]

#: The key of the version in a pickled estimator's state.
VERSION_KEY = "_sklearn_daeknn_version"


class InconsistentVersionWarning(UserWarning):
    """A fitted estimator is loaded under another sklearn-daeknn version.

    Refit it under the running version rather than trust its predictions.

    Parameters
    ----------
    estimator_name : str
        The class of the loaded estimator.
    current_version : str
        The version of sklearn-daeknn running now.
    original_version : str or None
        The version that pickled it; ``None`` for a pickle that records none
        (made before versions were stored).

    Examples
    --------
    >>> from sklearn_daeknn import InconsistentVersionWarning
    >>> warning = InconsistentVersionWarning("DAEkNNClassifier", "0.2.0", "0.1.0")
    >>> isinstance(warning, UserWarning), warning.original_version
    (True, '0.1.0')
    >>> print(str(warning).split(" and ")[0])
    This DAEkNNClassifier was pickled with sklearn-daeknn 0.1.0

    To silence it where the versions are known to agree::

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InconsistentVersionWarning)
            clf = joblib.load("model.joblib")
    """

    def __init__(
        self, estimator_name: str, current_version: str, original_version: str | None
    ) -> None:
        self.estimator_name = estimator_name
        self.current_version = current_version
        self.original_version = original_version

    def __str__(self) -> str:
        made = (
            "an unknown version of sklearn-daeknn (one that records none)"
            if self.original_version is None
            else f"sklearn-daeknn {self.original_version}"
        )
        return (
            f"This {self.estimator_name} was pickled with {made} and is loaded "
            f"with sklearn-daeknn {self.current_version}. Its network, indexes "
            "and parameters may be read differently by this version: refit it "
            "rather than trust its predictions."
        )


def versioned_state(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with the running library version added."""
    return {**state, VERSION_KEY: __version__}


def check_state_version(state: dict[str, Any], estimator_name: str) -> dict[str, Any]:
    """``state`` without its version; warns when that is not the running one."""
    state = dict(state)
    original = state.pop(VERSION_KEY, None)
    if original != __version__:
        warnings.warn(
            InconsistentVersionWarning(estimator_name, __version__, original),
            stacklevel=3,
        )
    return state
