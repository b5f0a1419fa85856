"""Deep Adversarially-Enhanced k-Nearest Neighbours as a scikit-learn classifier."""

from ._attack import PGD, default_step_size, pgd_perturb
from ._classifier import DAEkNNClassifier
from ._evaluation import harmonic_mean, robustness_report
from ._index import ExactIndex, NNDescentIndex, build_index
from ._networks import MLP, MNISTCNN, VGG16, SmallCNN, default_knn_layers
from ._training import AdversarialNetClassifier
from ._version import __version__
from ._vote import class_fractions, joint_vote, vote_weights

__all__ = [
    "MLP",
    "MNISTCNN",
    "PGD",
    "VGG16",
    "AdversarialNetClassifier",
    "DAEkNNClassifier",
    "ExactIndex",
    "NNDescentIndex",
    "SmallCNN",
    "__version__",
    "build_index",
    "class_fractions",
    "default_knn_layers",
    "default_step_size",
    "harmonic_mean",
    "joint_vote",
    "pgd_perturb",
    "robustness_report",
    "vote_weights",
]
