"""scikit-learn's estimator checks."""

from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import LRScheduler

from sklearn_daeknn import DAEkNNClassifier

from .conftest import FAST


@parametrize_with_checks(
    [
        DAEkNNClassifier(**FAST),
        DAEkNNClassifier(**FAST, hardening_strength=0, adversarial_training=False),
        # The cosine metric, with a user callback that keeps state (which a
        # fit must not write back into the parameter).
        DAEkNNClassifier(
            **FAST,
            metric="cosine",
            callbacks=[("lr", LRScheduler(policy="StepLR", step_size=1))],
        ),
        # The robust-vote levers: pruning, a round of adaptive hardening and
        # the soft-kNN training loss.
        DAEkNNClassifier(
            **FAST,
            prune_radius=0.5,
            hardening_rounds=1,
            hardening_max_points=0.5,
            knn_loss_weight=1.0,
        ),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
