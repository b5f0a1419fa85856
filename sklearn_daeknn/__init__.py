"""Deep Adversarially-Enhanced k-Nearest Neighbours as a scikit-learn classifier."""

from ._adaptive_attack import KNNAdaptiveAttack
from ._attack import PGD, default_step_size, pgd_perturb
from ._classifier import DAEkNNClassifier
from ._conformal import (
    conformal_prediction_set,
    conformal_pvalues,
    credibility_confidence,
    nonconformity,
)
from ._evaluation import (
    compare_weightings,
    hardening_sweep,
    harmonic_mean,
    make_robustness_scorer,
    per_layer_scores,
    refit_knn,
    robustness_report,
    vote_scores,
)
from ._features import LayerReducer
from ._index import ExactIndex, NNDescentIndex, build_index, numba_cache_dir
from ._networks import (
    MLP,
    MNISTCNN,
    VGG16,
    VGG16_BLOCKS,
    SmallCNN,
    default_knn_layers,
)
from ._persistence import InconsistentVersionWarning
from ._training import AdversarialNetClassifier
from ._version import __version__
from ._vote import WEIGHTINGS, class_fractions, joint_vote, vote_weights

__all__ = [
    "MLP",
    "MNISTCNN",
    "PGD",
    "VGG16",
    "VGG16_BLOCKS",
    "WEIGHTINGS",
    "AdversarialNetClassifier",
    "DAEkNNClassifier",
    "ExactIndex",
    "InconsistentVersionWarning",
    "KNNAdaptiveAttack",
    "LayerReducer",
    "NNDescentIndex",
    "SmallCNN",
    "__version__",
    "build_index",
    "class_fractions",
    "compare_weightings",
    "conformal_prediction_set",
    "conformal_pvalues",
    "credibility_confidence",
    "default_knn_layers",
    "default_step_size",
    "hardening_sweep",
    "harmonic_mean",
    "joint_vote",
    "make_robustness_scorer",
    "nonconformity",
    "numba_cache_dir",
    "per_layer_scores",
    "pgd_perturb",
    "refit_knn",
    "robustness_report",
    "vote_scores",
    "vote_weights",
]
