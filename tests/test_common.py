"""scikit-learn's estimator checks."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_daeknn import DAEkNNClassifier

from .conftest import FAST


@parametrize_with_checks(
    [
        DAEkNNClassifier(**FAST),
        DAEkNNClassifier(**FAST, hardening_strength=0, adversarial_training=False),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
