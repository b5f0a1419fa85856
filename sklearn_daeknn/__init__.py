"""Deep Adversarially-Enhanced k-Nearest Neighbours as a scikit-learn classifier."""

from ._adaptive_attack import KNNAdaptiveAttack
from ._attack import PGD, default_step_size, pgd_perturb
from ._autoattack import AutoAttack
from ._classifier import DAEkNNClassifier
from ._conformal import (
    conformal_prediction_set,
    conformal_pvalues,
    credibility_confidence,
    nonconformity,
)
from ._features import LayerReducer
from ._index import ExactIndex, NNDescentIndex, build_index, numba_cache_dir
from ._knn_loss import soft_knn_loss
from ._networks import (
    MLP,
    MNISTCNN,
    VGG16,
    VGG16_BLOCKS,
    SmallCNN,
    default_knn_layers,
)
from ._persistence import InconsistentVersionWarning
from ._pruning import adversarial_pruning
from ._refit import hardening_sweep, refit_knn
from ._robustness import (
    default_attacks,
    harmonic_mean,
    make_robustness_scorer,
    robustness_report,
)
from ._surrogate import ClasswiseKNNScores, SoftKNNVote
from ._training import AdversarialNetClassifier
from ._version import __version__
from ._vote import WEIGHTINGS, class_fractions, joint_vote, vote_weights
from ._vote_analysis import compare_weightings, per_layer_scores, vote_scores

__all__ = [
    "MLP",
    "MNISTCNN",
    "PGD",
    "VGG16",
    "VGG16_BLOCKS",
    "WEIGHTINGS",
    "AdversarialNetClassifier",
    "AutoAttack",
    "ClasswiseKNNScores",
    "DAEkNNClassifier",
    "ExactIndex",
    "InconsistentVersionWarning",
    "KNNAdaptiveAttack",
    "LayerReducer",
    "NNDescentIndex",
    "SmallCNN",
    "SoftKNNVote",
    "__version__",
    "adversarial_pruning",
    "build_index",
    "class_fractions",
    "compare_weightings",
    "conformal_prediction_set",
    "conformal_pvalues",
    "credibility_confidence",
    "default_attacks",
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
    "soft_knn_loss",
    "vote_scores",
    "vote_weights",
]
