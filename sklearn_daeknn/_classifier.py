"""The DAEkNN estimator: composes the network, the attack, the indexes and the vote."""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNetClassifier
from torch import nn

from ._adaptive_hardening import adaptive_hardening, check_max_points
from ._attack import PGD
from ._cache import cached_stage, check_memory_location
from ._conformal import (
    conformal_pvalues,
    credibility_confidence,
    hold_out_calibration,
    nonconformity,
)
from ._features import (
    LayerReducer,
    check_layer_outputs,
    check_layers,
    extract_layer_features,
)
from ._index import METRICS, index_set, leave_out, resolve_index_kind
from ._module_factory import build_module, is_trainable, probe_input
from ._networks import default_knn_layers
from ._persistence import check_state_version, versioned_state
from ._rng import GLOBAL_RNG_LOCK as _GLOBAL_RNG_LOCK
from ._rng import seeded_global_rng as _seeded_global_rng
from ._training import (
    ROUTED_PREFIXES,
    FitInterrupted,
    NoOptimizer,
    build_net,
    check_net_params,
    is_routed,
    single_sample_batch_fails,
)
from ._validation import check_box, check_clip, check_device, check_input_shape
from ._vote import WEIGHTINGS, joint_vote

__all__ = ["PREDICT_CHUNK_BYTES", "DAEkNNClassifier"]

logger = logging.getLogger("sklearn_daeknn")

#: Bytes of layer features (float32, all kNN layers together) that
#: ``predict_proba`` and the methods built on it hold at once: ``X`` is
#: processed in chunks of that many rows (rounded down to whole feature
#: batches, at least one), so that their peak memory does not grow with the
#: number of samples. An exact search adds its own bounded distance block
#: (:data:`sklearn_daeknn._index._BLOCK_BYTES`) on top.
PREDICT_CHUNK_BYTES = 64 * 2**20

#: The parameters that prediction reads, validated there too: ``set_params``
#: after ``fit`` must not bypass the constraints that ``fit`` checks.
_PREDICT_PARAMS = (
    "n_neighbors",
    "weighting",
    "temperature",
    "clip",
    "batch_size",
    "verbose",
    "metric",
)

#: Parameters added after 0.1.0, with the behaviour of an estimator pickled
#: before them.
_ADDED_PARAMS = {
    "metric": "euclidean",
    "optimizer": torch.optim.Adam,
    "callbacks": None,
    "train_split": None,
    "net_params": None,
    "hardening_attack": "network",
    "hardening_rounds": 0,
    "hardening_max_points": None,
    "prune_radius": 0.0,
    "knn_loss_weight": 0.0,
    "knn_loss_temperature": 0.1,
}


def _fit_params_message(fit_params: dict[str, Any]) -> str:
    names = sorted(fit_params)
    if "sample_weight" in fit_params:
        return (
            "DAEkNNClassifier.fit does not support sample_weight: the kNN vote "
            "counts each of the k nearest indexed training points once, and no "
            "weighting of a neighbour search is the same as repeating a row "
            "(which fills two of the k places), nor can the adversarial "
            "training of a stochastic network honour it. Repeat or resample the "
            "rows instead (sklearn.utils.resample), or weight the training loss "
            "by class with net_params={'criterion__weight': "
            "torch.tensor(one_weight_per_class)}."
        )
    if "class_weight" in fit_params:
        return (
            "DAEkNNClassifier has no class_weight: weight the training loss by "
            "class with net_params={'criterion__weight': "
            "torch.tensor(one_weight_per_class)} (the order of classes_); the "
            "kNN vote itself is not weighted."
        )
    return (
        f"DAEkNNClassifier.fit takes X and y only; got {names}. Training "
        "options go in the constructor (optimizer, callbacks, train_split, "
        f"net_params with skorch's {', '.join(p + '__' for p in ROUTED_PREFIXES)} "
        "keys)."
    )


class DAEkNNClassifier(ClassifierMixin, BaseEstimator):
    """Deep Adversarially-Enhanced k-Nearest Neighbours.

    A torch network is trained (optionally with Madry PGD adversarial
    training) and used as a feature extractor. ``fit`` indexes the hidden
    representations of the training data (the benign set ``D``) and of PGD
    "hardening" copies of it (``D_adv``); ``predict`` lets the ``k`` nearest
    neighbours of each selected layer vote, weighting the benign and hardening
    votes by how near their neighbours are.

    With ``hardening_strength=0`` (or ``None``) and ``adversarial_training=False``
    this is Deep kNN (Papernot & McDaniel, 2018); see Notes for the ablations.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network; it must return logits. A class is instantiated with
        ``module_params``, plus ``input_shape`` and ``n_classes`` when its
        constructor takes them. An instance is copied, never modified.
        ``None`` picks :class:`MLP` for flat input and :class:`SmallCNN` when
        ``input_shape`` is 3-D. A network trained elsewhere (standard or
        robust) is indexed as it is with an instance and ``max_epochs=0``:
        its weights are not changed (``net_.module_`` holds a bit-identical
        copy).
    input_shape : tuple of int, default=None
        Shape of one sample as the network sees it, e.g. ``(1, 8, 8)``; each
        row of ``X`` is reshaped to it. ``None`` means ``(n_features,)``.
    layers : str or list of str, default=None
        Names of the submodules (as in ``module.named_modules()``) whose
        outputs are kNN layers. ``None`` uses the network's ``knn_layers``
        attribute, or else every top-level child but the last (the logits).
    n_neighbors : int, default=5
        Neighbours per layer and per set (``k``).
    hardening_strength : float or None, default=0.1
        ``eps`` of the PGD that makes the hardening data. ``0`` or ``None``:
        no hardening data (DkNN's vote).
    hardening_steps : int, default=10
        PGD steps for the hardening data.
    hardening_step_size : float, default=None
        PGD step size for the hardening data; ``None`` means
        ``2.5 * hardening_strength / hardening_steps``.
    hardening_attack : {'network', 'vote'}, default='network'
        What the hardening data attack. ``'network'``: PGD against the
        network (the paper's ``D_adv``). ``'vote'``:
        :class:`~sklearn_daeknn.KNNAdaptiveAttack` at ``eps =
        hardening_strength`` (``hardening_steps`` APGD iterations per run,
        the soft vote's cross-entropy and the class-wise loss toward the
        nearest wrong class) against the vote over the benign set alone, one
        point per training sample; ``hardening_step_size`` is then unused
        (APGD sets its own steps). See the user guide's page on the robust
        vote.
    hardening_rounds : int, default=0
        Rounds of adaptive hardening after the first hardening set is made:
        each round attacks the current vote (the same attack as
        ``hardening_attack='vote'``, against the benign and hardening sets)
        on a seeded sample of ``hardening_max_points`` training points, and
        adds the adversarial points that fool it, with their true labels, to
        the hardening set. ``0``: none (the hardening set is the first one).
        Needs hardening data (``hardening_strength > 0``).
    hardening_max_points : int, float or None, default=None
        Training points attacked in each round, at most that many points
        added per round: a count (int), a fraction of the training samples
        (float in ``(0, 1]``) or ``None`` for all of them. The rounds' cost
        is proportional to it.
    prune_radius : float, default=0.0
        Adversarial pruning (Yang et al., 2020) of each indexed set: points
        are removed until, in every vote layer, no two points of different
        labels are closer than ``prune_radius`` times that layer's median
        nearest-neighbour distance (in the set, under ``metric``). A greedy
        approximation of the fewest removals (the point with the most
        conflicts first). ``0``: no pruning. ``pruned_rows_`` and
        ``pruned_per_layer_`` say what was removed.
    adversarial_training : bool, default=True
        Train the network with PGD adversarial examples (Madry et al.).
    train_eps : float, default=0.1
        ``eps`` of the training attack.
    train_steps : int, default=7
        PGD steps of the training attack.
    train_step_size : float, default=None
        PGD step size of the training attack; ``None`` means
        ``2.5 * train_eps / train_steps``.
    knn_loss_weight : float, default=0.0
        Weight of a soft-kNN loss on the kNN layers added to the training
        loss (in the spirit of the ASK defence, Wang et al. 2022): ASK's
        class-wise soft-kNN cross-entropy of the batch trained on (the PGD
        batch in adversarial training) against the clean batch's
        representations, so that the representation suits the vote. ``0``:
        the network's loss alone. See
        :func:`~sklearn_daeknn.soft_knn_loss`.
    knn_loss_temperature : float, default=0.1
        Temperature of that loss, relative to each layer's median distance
        within the batch.
    weighting : {'relative', 'softmax', 'uniform', 'released'}, default='softmax'
        How the benign and hardening votes are weighted; see
        :func:`~sklearn_daeknn.vote_weights`. ``'softmax'`` won the MNIST
        benchmark's comparison (docs/results/mnist.md).
    temperature : float, default=1.0
        Temperature of the weighting softmax.
    metric : {'euclidean', 'cosine'}, default='euclidean'
        Distance between layer features, for every search backend, the vote
        and the conformal scores. ``'cosine'``: the reduced features are
        L2-normalised (``layer_reducers_`` and :meth:`layer_features` give
        them normalised; a zero vector stays zero), the indexes search them
        in Euclidean distance, and every distance reported or voted with is
        the cosine distance ``1 - cos = ||a - b||^2 / 2`` of the normalised
        vectors (a zero vector is at 1/2 from every other). Cosine distances
        lie in ``[0, 2]``: tune ``temperature`` for ``'softmax'`` with it.
    index : {'auto', 'exact', 'nndescent'}, default='auto'
        Neighbour search backend. ``'auto'`` uses exact search below
        ``AUTO_NNDESCENT_MIN_SAMPLES`` indexed points and pynndescent above.
        pynndescent compiles its kernels with numba once per machine (cached
        on disk, see :func:`~sklearn_daeknn._index.numba_cache_dir`) plus
        tens of seconds per process at the first build. A pickled estimator
        keeps its pynndescent graphs: loading it imports pynndescent (seconds),
        and ``predict`` neither rebuilds nor recompiles.
    max_layer_features : int or None, default=4096
        Widest layer representation kept: wider convolutional maps are
        average-pooled to the largest square grid that fits, other wide
        outputs randomly projected (seeded). ``None`` keeps all features.
    clip : (float, float) or None, default=None
        The box the inputs live in (``(0.0, 1.0)`` for images). Inputs
        outside it are rejected and attacks stay inside it, both in float32,
        the precision the network sees (so ``clip=(X.min(), X.max())`` holds
        float64 ``X``). ``None``: no box.
    calibration_size : int or float, default=0
        Samples held out of ``fit`` (network, hardening data and indexes) to
        calibrate DkNN's conformal p-values, as a count (int) or a fraction of
        ``X`` (float in ``(0, 1)``); the split is stratified when possible and
        seeded by ``random_state``. ``0`` disables calibration (and
        :meth:`predict_credibility`).
    max_epochs : int, default=20
        Training epochs. ``0`` trains nothing: with a ``module`` instance, a
        pretrained network is used as it is. ``adversarial_training``,
        ``train_eps``, ``train_steps``, ``train_step_size``, ``lr``,
        ``optimizer``, ``callbacks`` and ``train_split`` then have no effect
        on the network (``adversarial_training`` only records how it was
        trained, as :func:`~sklearn_daeknn.refit_knn` leaves it); the
        hardening data and the indexes are still made.
    lr : float, default=1e-3
        Learning rate of the optimizer.
    batch_size : int, default=128
        Batch size for training, attacks and feature extraction. When the
        network has batch norm layers that would see one value per channel
        in a last training batch of one sample (which they cannot
        normalise), that sample is left out of each epoch (skorch's
        ``iterator_train__drop_last``); ``batch_size=1`` is then an error.
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        The optimizer class, as in skorch; its arguments other than ``lr``
        go in ``net_params`` (or ``set_params``) as ``optimizer__<name>``,
        e.g. ``optimizer__momentum=0.9`` for ``torch.optim.SGD``.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        skorch callbacks run during training, beside skorch's defaults and
        the estimator's progress bar: ``EarlyStopping``, ``LRScheduler``,
        ``Checkpoint``, ... Their parameters route as
        ``callbacks__<name>__<param>``. They are copied for each fit: the
        instances given are never modified. A ``KeyboardInterrupt`` raised by
        one (skorch's way to stop training, as ``EarlyStopping`` does) ends
        training normally; Ctrl-C elsewhere interrupts ``fit``.
    train_split : callable or None, default=None
        skorch's validation split, e.g.
        ``skorch.dataset.ValidSplit(0.2, stratified=True)``, which
        ``EarlyStopping`` and the ``valid_loss`` column need. ``None``: all
        samples train. A float ``ValidSplit`` without a ``random_state`` is
        seeded from ``random_state``. The held-out samples are still indexed.
    net_params : dict, default=None
        Any other argument of :class:`skorch.NeuralNetClassifier`, with
        skorch's routing: ``{"optimizer__weight_decay": 1e-4,
        "iterator_train__num_workers": 2, "criterion__label_smoothing": 0.1,
        "callbacks__early__patience": 3}``. ``set_params`` (and so
        ``GridSearchCV``) also takes these keys directly, with the prefixes
        ``optimizer__``, ``criterion__``, ``callbacks__``,
        ``iterator_train__``, ``iterator_valid__`` and ``dataset__``, and
        stores them here. The arguments the estimator sets itself (the
        module, the loss, the parameters above) are refused with the
        parameter to use. ``criterion__weight`` (a tensor of one weight per
        class of ``classes_``) weights the training loss by class.
    module_params : dict, default=None
        Keyword arguments for the ``module`` class.
    device : str, default='cpu'
        Torch device, passed to skorch and torch (e.g. ``'cuda'``); one this
        machine does not have (or ``'meta'``) is a ``ValueError`` at ``fit``.
    random_state : int, RandomState instance or None, default=None
        Seeds the network's initialisation and training, the attacks, the
        random projections and the index construction.
    memory : str, joblib.Memory or None, default=None
        Caches the trained network and the hardening data, as
        :class:`~sklearn.pipeline.Pipeline` does: a folder or a
        ``joblib.Memory``. A refit that changes only kNN-side parameters
        (``n_neighbors``, ``weighting``, ``temperature``, ``metric``,
        ``index``, ``layers``, ``max_layer_features``, ``prune_radius``)
        reuses both; one that changes only the hardening parameters (those
        named ``hardening_*``) reuses the network. Two exceptions, where a
        kNN-side parameter shapes a stage: adaptive hardening
        (``hardening_attack='vote'`` or ``hardening_rounds > 0``) attacks the
        vote, so its hardening data are keyed by the kNN-side parameters
        too, and a soft-kNN training loss keys the network by ``layers`` and
        ``metric``. The key
        holds the data, the seeds drawn from ``random_state`` (pass an int:
        ``None`` never hits) and all other parameters, the training ones
        (``optimizer``, ``callbacks``, ``train_split``, ``net_params``)
        included: joblib hashes their content, so equal callback instances
        give equal keys. ``None``: no caching. An interrupted or failed fit
        caches nothing of the stage it stopped in.

        The folder holds joblib pickles, which are loaded with ``pickle``:
        anyone who can write to it can run code in every process that fits
        with it. Use a folder only you (or your cluster's workers) can write.
    verbose : int, default=0
        Progress bars on stderr when positive; progress is also logged to the
        ``sklearn_daeknn`` logger at INFO level.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.
    input_shape_ : tuple of int
        Shape of one sample as fed to the network.
    net_ : skorch.NeuralNetClassifier
        The fitted network (an :class:`AdversarialNetClassifier` when
        ``adversarial_training``); ``net_.module_`` is the torch module.
    layers_ : tuple of str
        Names of the kNN layers.
    benign_indexes_ : list of index objects
        One neighbour index per layer over the benign training features
        (under ``metric``). :meth:`kneighbors` queries them.
    hardening_indexes_ : list of index objects or None
        One per layer over the hardening features; ``None`` without
        hardening data.
    benign_rows_ : ndarray of int of shape (n_benign,)
        For each point of the benign indexes, the row of the ``X`` passed to
        ``fit`` it comes from (all rows but the calibration ones).
    benign_labels_ : ndarray of int of shape (n_benign,)
        The label of each benign point, as an index into ``classes_``.
    hardening_rows_ : ndarray of int of shape (n_hardening,) or None
        For each point of the hardening indexes, the row of ``X`` whose PGD
        copy it is; ``None`` without hardening data.
    hardening_labels_ : ndarray of int of shape (n_hardening,) or None
        The label of each hardening point (that of its source row).
    pruned_rows_ : dict
        ``{set: rows}`` for each indexed set (``'benign'``, and
        ``'hardening'`` with hardening data): the rows of ``X`` whose points
        ``prune_radius`` removed from that set (for a hardening point, its
        source row), sorted; empty arrays without pruning.
    pruned_per_layer_ : dict
        ``{set: {layer: count}}``: of the removed points, how many had a
        conflict in that layer (a point may count in several layers).
    hardening_history_ : list of dict
        Per round of ``hardening_rounds``, ``'attacked'`` (training points
        attacked) and ``'added'`` (points that fooled the vote, added to the
        hardening set); empty without rounds.
    layer_reducers_ : list of LayerReducer
        The width reduction of each kNN layer's output (pooling or a
        random projection, see ``max_layer_features``, then the
        L2-normalisation of ``metric='cosine'``), one per entry of
        ``layers_``; each maps a torch tensor of layer outputs to the
        features the indexes hold, differentiably.
    calibration_scores_ : ndarray of shape (n_calibration,) or None
        Nonconformity of each held-out calibration sample with its true label
        (see :func:`~sklearn_daeknn.nonconformity`); ``None`` when
        ``calibration_size=0``.

    See Also
    --------
    sklearn.neighbors.KNeighborsClassifier : kNN on the raw features.
    PGD : The attack used for training, hardening and evaluation.

    Notes
    -----
    For layer ``l``, with ``p_l(j | x; S)`` the fraction of the ``k`` nearest
    neighbours of ``f_l(x)`` in set ``S`` that have label ``j``::

        score_l(j | x) = w_b^l(x) p_l(j | x; D) + w_a^l(x) p_l(j | x; D_adv)
        predict_proba(x)_j = mean over layers of score_l(j | x)

    The paper's variants are parameter settings:

    ============  ========================  ========================
    name          ``adversarial_training``  ``hardening_strength``
    ============  ========================  ========================
    DkNN          False                     0
    DAEkNN-WAT    False                     > 0 (small)
    DAEkNN-WAD    True                      0
    DAEkNN        True                      > 0
    ============  ========================  ========================

    The network alone (the paper's CNN and AT-CNN baselines) is available as
    :meth:`predict_network`, and the training points behind a prediction as
    :meth:`kneighbors` (drawn by
    :class:`~sklearn_daeknn.plotting.NeighborsDisplay`).

    ``fit`` takes no ``sample_weight``: the vote counts each of the ``k``
    nearest indexed points once, and no weighting of a neighbour search
    equals repeating a row (which would fill two of the ``k`` places).
    There is no ``class_weight`` either; the training loss is weighted by
    class with ``net_params={"criterion__weight": weights}``.

    A fitted estimator can predict from several threads at once (a web
    service, joblib's threading backend), with exactly the results of
    sequential calls: prediction writes nothing to the estimator, its network
    stays in eval mode, and each pynndescent index answers one query at a
    time. ``predict_proba`` and the methods built on it process ``X`` in
    chunks of :data:`~sklearn_daeknn._classifier.PREDICT_CHUNK_BYTES` (64 MiB)
    of layer features, so that their memory does not grow with ``X``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import minmax_scale
    >>> from sklearn_daeknn import DAEkNNClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = minmax_scale(X)
    >>> clf = DAEkNNClassifier(clip=(0.0, 1.0), hardening_strength=0.05,
    ...                        train_eps=0.05, random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.8
    True
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints: dict = {
        "module": [None, HasMethods(["forward"]), callable],
        "input_shape": [None, tuple, list, Interval(Integral, 1, None, closed="left")],
        "layers": [None, str, list, tuple],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "hardening_strength": [None, Interval(Real, 0, None, closed="left")],
        "hardening_steps": [Interval(Integral, 1, None, closed="left")],
        "hardening_step_size": [None, Interval(Real, 0, None, closed="neither")],
        "hardening_attack": [StrOptions({"network", "vote"})],
        "hardening_rounds": [Interval(Integral, 0, None, closed="left")],
        "hardening_max_points": [
            None,
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="right"),
        ],
        "prune_radius": [Interval(Real, 0, None, closed="left")],
        "adversarial_training": ["boolean"],
        "train_eps": [Interval(Real, 0, None, closed="left")],
        "train_steps": [Interval(Integral, 1, None, closed="left")],
        "train_step_size": [None, Interval(Real, 0, None, closed="neither")],
        "knn_loss_weight": [Interval(Real, 0, None, closed="left")],
        "knn_loss_temperature": [Interval(Real, 0, None, closed="neither")],
        "weighting": [StrOptions(set(WEIGHTINGS))],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "metric": [StrOptions(set(METRICS))],
        "index": [StrOptions({"auto", "exact", "nndescent"})],
        "max_layer_features": [None, Interval(Integral, 1, None, closed="left")],
        "clip": [None, tuple, list],
        "calibration_size": [
            Interval(Integral, 0, None, closed="left"),
            Interval(Real, 0, 1, closed="neither"),
        ],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [callable],
        "callbacks": [None, list],
        "train_split": [None, callable],
        "net_params": [None, dict],
        "module_params": [None, dict],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "memory": [None, str, HasMethods(["cache"])],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        module: Any = None,
        *,
        input_shape: tuple[int, ...] | None = None,
        layers: str | list[str] | None = None,
        n_neighbors: int = 5,
        hardening_strength: float | None = 0.1,
        hardening_steps: int = 10,
        hardening_step_size: float | None = None,
        hardening_attack: str = "network",
        hardening_rounds: int = 0,
        hardening_max_points: float | None = None,
        prune_radius: float = 0.0,
        adversarial_training: bool = True,
        train_eps: float = 0.1,
        train_steps: int = 7,
        train_step_size: float | None = None,
        knn_loss_weight: float = 0.0,
        knn_loss_temperature: float = 0.1,
        weighting: str = "softmax",
        temperature: float = 1.0,
        metric: str = "euclidean",
        index: str = "auto",
        max_layer_features: int | None = 4096,
        clip: tuple[float, float] | None = None,
        calibration_size: float = 0,
        max_epochs: int = 20,
        lr: float = 1e-3,
        batch_size: int = 128,
        optimizer: Any = torch.optim.Adam,
        callbacks: list | None = None,
        train_split: Any = None,
        net_params: dict | None = None,
        module_params: dict | None = None,
        device: str = "cpu",
        random_state: Any = None,
        memory: Any = None,
        verbose: int = 0,
    ) -> None:
        self.module = module
        self.input_shape = input_shape
        self.layers = layers
        self.n_neighbors = n_neighbors
        self.hardening_strength = hardening_strength
        self.hardening_steps = hardening_steps
        self.hardening_step_size = hardening_step_size
        self.hardening_attack = hardening_attack
        self.hardening_rounds = hardening_rounds
        self.hardening_max_points = hardening_max_points
        self.prune_radius = prune_radius
        self.adversarial_training = adversarial_training
        self.train_eps = train_eps
        self.train_steps = train_steps
        self.train_step_size = train_step_size
        self.knn_loss_weight = knn_loss_weight
        self.knn_loss_temperature = knn_loss_temperature
        self.weighting = weighting
        self.temperature = temperature
        self.metric = metric
        self.index = index
        self.max_layer_features = max_layer_features
        self.clip = clip
        self.calibration_size = calibration_size
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.callbacks = callbacks
        self.train_split = train_split
        self.net_params = net_params
        self.module_params = module_params
        self.device = device
        self.random_state = random_state
        self.memory = memory
        self.verbose = verbose

    def set_params(self, **params: Any) -> DAEkNNClassifier:
        """Set the parameters of this estimator.

        Besides the parameters of the constructor, takes skorch's routing
        keys (``optimizer__momentum``, ``criterion__weight``,
        ``callbacks__<name>__<param>``, ``iterator_train__<param>``,
        ``iterator_valid__<param>``, ``dataset__<param>``), which are stored
        in a new ``net_params`` dict: a ``GridSearchCV`` can search them as
        it would on a skorch net.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : DAEkNNClassifier
            The estimator.

        Examples
        --------
        >>> import torch
        >>> from sklearn_daeknn import DAEkNNClassifier
        >>> clf = DAEkNNClassifier(optimizer=torch.optim.SGD)
        >>> clf.set_params(optimizer__momentum=0.9).net_params
        {'optimizer__momentum': 0.9}
        """
        routed = {key: params.pop(key) for key in list(params) if is_routed(key)}
        super().set_params(**params)
        if routed:
            self.net_params = {**(self.net_params or {}), **routed}
        return self

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any, **fit_params: Any) -> DAEkNNClassifier:
        """Train the network, make the hardening data and build the indexes.

        A fit is all or nothing: if it fails or is interrupted (Ctrl-C, which
        propagates even from the training loop), the estimator is left as it
        was, still fitted as before or still unfitted, and ``memory`` holds
        no partial result.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs, one flattened sample per row.
        y : array-like of shape (n_samples,)
            Class labels of any type.
        **fit_params : dict
            None is supported; ``sample_weight`` (and anything else) is
            refused with a ``ValueError`` that says why (see Notes of the
            class).

        Returns
        -------
        self : DAEkNNClassifier
            The fitted estimator.
        """
        if fit_params:
            raise ValueError(_fit_params_message(fit_params))
        before = self.__dict__.copy()
        try:
            fitted = self._fit(X, y)
        except BaseException:
            # validate_data has already set n_features_in_ (and the feature
            # names): give back exactly what was there.
            self.__dict__.clear()
            self.__dict__.update(before)
            raise
        self.__dict__.update(fitted)
        return self

    def _fit(self, X: Any, y: Any) -> dict[str, Any]:
        """Everything ``fit`` computes, as the fitted attributes to set."""
        X, y = validate_data(self, X, y, dtype=np.float32, y_numeric=False)
        check_classification_targets(y)
        classes, y_enc = np.unique(y, return_inverse=True)
        y_enc = y_enc.astype(np.int64)
        if len(classes) < 2:
            raise ValueError(
                "DAEkNNClassifier needs samples of at least 2 classes; got 1 class "
                f"({classes.tolist()[0]!r})."
            )
        if self.n_neighbors > len(X):
            raise ValueError(
                f"n_neighbors={self.n_neighbors} is larger than the number of "
                f"training samples ({len(X)}); use n_neighbors <= {len(X)}."
            )
        clip = check_clip(self.clip)
        check_box(X, clip, name="X")
        input_shape = check_input_shape(self.input_shape, X.shape[1])
        device = check_device(self.device)
        check_memory_location(self.memory)
        check_net_params(self.net_params)  # before any training
        self._check_hardening_levers()
        seeds = check_random_state(self.random_state).randint(
            np.iinfo(np.int32).max, size=4
        )
        rows, X_cal, y_cal = hold_out_calibration(
            X,
            y_enc,
            classes,
            size=self.calibration_size,
            n_neighbors=self.n_neighbors,
            seed=int(seeds[3]),
        )
        X, y_enc = X[rows], y_enc[rows]
        X_net = X.reshape(-1, *input_shape)

        # Seeding and initialisation as one step: no other fit's thread
        # touches the global RNG in between.
        with _GLOBAL_RNG_LOCK, _seeded_global_rng(int(seeds[0])):
            module = build_module(
                self.module, self.module_params, len(classes), input_shape
            )
        layers = check_layers(
            module, default_knn_layers(module) if self.layers is None else self.layers
        )
        # Before training, which may take hours: the layers must be usable.
        check_layer_outputs(module, layers, probe_input(module, input_shape))
        if self.max_epochs and not is_trainable(module):
            raise ValueError(
                f"The network ({type(module).__name__}) has no trainable "
                f"parameters, so max_epochs={self.max_epochs} cannot train it. "
                "Use max_epochs=0 to use it as a fixed feature extractor."
            )
        # Random layers (dropout) draw from torch's global RNG during training:
        # seed it for a reproducible sequential fit. Everything else random in
        # training has its own generator, so fits in parallel threads are
        # reproducible unless the network itself has random layers.
        with _seeded_global_rng(int(seeds[1])):
            net = cached_stage(
                self.memory,
                "network",
                lambda: self._train_network(
                    module, device, seeds[1], X_net, y_enc, layers
                ),
                self.get_params(deep=False),
                X_net,
                y_enc,
                seeds[:2],
            )
        # The fitted network stays in eval mode, the mode of every prediction:
        # concurrent predictions then never switch a shared module's mode.
        net.module_.eval()

        hardening = None
        indexer = self._indexer(net, layers, X_net, y_enc, rows, int(seeds[3]))
        base = {
            "classes_": classes,
            "input_shape_": input_shape,
            "layers_": layers,
            "net_": net,
            "calibration_scores_": None,
        }
        if self.hardening_strength:
            hardening = cached_stage(
                self.memory,
                "hardening",
                lambda: self._make_hardening(
                    net, clip, X_net, y_enc, classes, seeds, base, indexer
                ),
                self.get_params(deep=False),
                X_net,
                y_enc,
                seeds[:3],
            )
        history: list[dict[str, int]] = []
        if isinstance(hardening, tuple):
            hardening, positions, history = hardening
            hardening = (hardening, positions)
        elif hardening is not None:  # PGD against the network: one per row
            hardening = (hardening, np.arange(len(X_net)))
        fitted = {**base, **indexer(hardening), "hardening_history_": history}
        if X_cal is not None:
            proba = self._staged(fitted)._proba(X_cal.reshape(-1, *input_shape))
            scores = nonconformity(proba, self.n_neighbors, len(layers))
            fitted["calibration_scores_"] = scores[np.arange(len(y_cal)), y_cal]
        return fitted

    def _staged(self, fitted: dict[str, Any]) -> DAEkNNClassifier:
        """A shallow copy of this estimator with the attributes ``fitted``
        (set on the copy, not on ``self``: ``fit`` stays atomic)."""
        staged = copy.copy(self)
        staged.__dict__.update(fitted)
        # The attacks in fit predict on arrays: no feature-name warning.
        staged.__dict__.pop("feature_names_in_", None)
        return staged

    def _check_hardening_levers(self) -> None:
        """The adaptive hardening levers need hardening data (before training)."""
        if self.hardening_strength:
            return
        for name, value, default in (
            ("hardening_attack", self.hardening_attack, "network"),
            ("hardening_rounds", self.hardening_rounds, 0),
        ):
            if value != default:
                raise ValueError(
                    f"{name}={value!r} makes hardening data, but "
                    f"hardening_strength={self.hardening_strength!r} disables "
                    "them: set hardening_strength > 0 (the attack's eps), or "
                    f"{name}={default!r}."
                )

    def _make_hardening(
        self,
        net: NeuralNetClassifier,
        clip: tuple[float, float] | None,
        X_net: np.ndarray,
        y_enc: np.ndarray,
        classes: np.ndarray,
        seeds: np.ndarray,
        base: dict[str, Any],
        indexer: Any,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray, list[dict[str, int]]]:
        """The hardening stage: PGD against the network (an array), or the
        adaptive hardening data ``(inputs, positions in X_net, history)``."""
        initial = None
        if self.hardening_attack == "network":
            attack = PGD(
                eps=self.hardening_strength,
                step_size=self.hardening_step_size,
                n_steps=self.hardening_steps,
                clip=clip,
                batch_size=self._feature_batch_size(),
                random_state=int(seeds[2]),
                verbose=self.verbose,
            )
            initial = self._make_hardening_data(attack, net.module_, X_net, y_enc)
            if not self.hardening_rounds:
                return initial
        shape = X_net.shape[1:]

        def fit_vote(X_hard: np.ndarray | None, positions: np.ndarray | None):
            hardening = None
            if X_hard is not None:
                hardening = (X_hard.reshape(-1, *shape), positions)
            return self._staged({**base, **indexer(hardening)})

        logger.info(
            "making adaptive hardening data, eps=%g, %d round(s)",
            self.hardening_strength,
            self.hardening_rounds,
        )
        X_hard, positions, history = adaptive_hardening(
            X_net.reshape(len(X_net), -1),
            y_enc,
            classes,
            initial,
            fit_vote,
            eps=float(self.hardening_strength),
            n_steps=int(self.hardening_steps),
            rounds=int(self.hardening_rounds),
            max_points=check_max_points(self.hardening_max_points, len(X_net)),
            seed=int(seeds[2]),
            verbose=self.verbose,
        )
        return X_hard.reshape(-1, *shape), positions, history

    def _indexer(
        self,
        net: NeuralNetClassifier,
        layers: tuple[str, ...],
        X_net: np.ndarray,
        y_enc: np.ndarray,
        rows: np.ndarray,
        seed: int,
    ) -> Any:
        """``index(hardening)``: the fitted attributes of the indexes, for the
        hardening inputs and their positions in ``X_net`` (or ``None``).

        The benign set is indexed at the first call and reused after (the
        adaptive hardening rounds rebuild the hardening indexes only).
        """
        where = dict(
            kind=resolve_index_kind(self.index, len(X_net)),
            metric=self.metric,
            n_neighbors=self.n_neighbors,
            prune_radius=self.prune_radius,
            seed=seed,
            layers=layers,
        )
        benign: dict[str, Any] = {}

        def index(hardening: tuple[np.ndarray, np.ndarray] | None) -> dict[str, Any]:
            if not benign:
                features, reducers = self._features(X_net, net, layers, None)
                found = index_set(features, y_enc, rows, **where)
                benign.update(
                    layer_reducers_=reducers,
                    benign_indexes_=found[0],
                    benign_rows_=found[1],
                    benign_labels_=found[2],
                    pruned_rows_={"benign": found[3]},
                    pruned_per_layer_={"benign": found[4]},
                )
            out = {
                **benign,
                "pruned_rows_": dict(benign["pruned_rows_"]),
                "pruned_per_layer_": dict(benign["pruned_per_layer_"]),
                "hardening_indexes_": None,
                "hardening_rows_": None,
                "hardening_labels_": None,
            }
            if hardening is None:
                return out
            data, positions = hardening
            features, _ = self._features(data, net, layers, benign["layer_reducers_"])
            found = index_set(features, y_enc[positions], rows[positions], **where)
            out.update(
                hardening_indexes_=found[0],
                hardening_rows_=found[1],
                hardening_labels_=found[2],
            )
            out["pruned_rows_"]["hardening"] = found[3]
            out["pruned_per_layer_"]["hardening"] = found[4]
            return out

        return index

    def _train_network(
        self,
        module: nn.Module,
        device: torch.device,
        seed: int,
        X_net: np.ndarray,
        y_enc: np.ndarray,
        layers: tuple[str, ...] = (),
    ) -> NeuralNetClassifier:
        logger.info("training the network on %d samples", len(X_net))
        net = self._make_net(module, device, int(seed), X_net, layers)
        try:
            # Initialised already (its settings checked): partial_fit is fit.
            return net.partial_fit(X_net, y_enc)
        except FitInterrupted as interrupt:
            # skorch would have returned the partly trained network: raise the
            # user's interrupt instead, before anything caches or indexes it.
            raise interrupt.__cause__ from None

    def _make_hardening_data(
        self, attack: PGD, module: nn.Module, X_net: np.ndarray, y_enc: np.ndarray
    ) -> np.ndarray:
        logger.info("making hardening data, eps=%g", attack.eps)
        return attack.generate(module, X_net, y_enc)

    def _make_net(
        self,
        module: nn.Module,
        device: torch.device,
        seed: int,
        X_net: np.ndarray,
        layers: tuple[str, ...] = (),
    ) -> NeuralNetClassifier:
        drop_last = False
        if self.max_epochs and single_sample_batch_fails(
            module, probe_input(module, X_net.shape[1:])
        ):
            if self.batch_size == 1:
                raise ValueError(
                    "batch_size=1 cannot train this network: its batch norm "
                    "layers need more than one value per channel in training. "
                    "Use batch_size >= 2."
                )
            # The last batch of each epoch would hold one sample, which batch
            # norm cannot normalise: leave it out (a different sample each
            # epoch, as the batches are shuffled).
            drop_last = len(X_net) % self.batch_size == 1
        attack = None
        if self.adversarial_training:
            attack = dict(
                attack_eps=self.train_eps,
                attack_step_size=self.train_step_size,
                attack_steps=self.train_steps,
                attack_clip=check_clip(self.clip),
                attack_seed=seed,
            )
        knn_loss = None
        if self.knn_loss_weight and self.max_epochs:
            knn_loss = dict(
                knn_loss_weight=float(self.knn_loss_weight),
                knn_loss_temperature=float(self.knn_loss_temperature),
                knn_loss_layers=tuple(layers),
                knn_loss_cosine=self.metric == "cosine",
            )
        return build_net(
            module,
            seed=seed,
            device=str(device),
            optimizer=self.optimizer if is_trainable(module) else NoOptimizer,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            callbacks=self.callbacks,
            train_split=self.train_split,
            net_params=self.net_params,
            verbose=self.verbose,
            drop_last=drop_last,
            attack=attack,
            knn_loss=knn_loss,
        )

    def _feature_batch_size(self) -> int:
        """Samples per forward pass of the attacks and the feature extraction."""
        return max(self.batch_size, 256)

    def _features(
        self,
        X_net: np.ndarray,
        net: NeuralNetClassifier,
        layers: tuple[str, ...],
        reducers: list[LayerReducer] | None,
    ) -> tuple[list[np.ndarray], list[LayerReducer]]:
        """Layer features of ``X_net``; ``reducers=None`` makes them (at fit)."""
        return extract_layer_features(
            net.module_,
            X_net,
            layers,
            reducers=reducers,
            max_features=self.max_layer_features,
            seed=0,
            normalize=self.metric == "cosine",
            batch_size=self._feature_batch_size(),
            device=net.device,
            verbose=self.verbose,
        )

    # -------------------------------------------------------------- predict

    def _validate_X(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        self._validate_predict_params()
        X = validate_data(self, X, reset=False, dtype=np.float32)
        check_box(X, check_clip(self.clip), name="X")
        return X.reshape(-1, *self.input_shape_)

    def _validate_predict_params(self) -> None:
        validate_parameter_constraints(
            {name: self._parameter_constraints[name] for name in _PREDICT_PARAMS},
            {name: getattr(self, name) for name in _PREDICT_PARAMS},
            caller_name=type(self).__name__,
        )
        fitted = self.benign_indexes_[0].metric
        if self.metric != fitted:
            raise ValueError(
                f"metric={self.metric!r}, but this estimator was fitted with "
                f"metric={fitted!r}: its indexes and layer reductions hold "
                "features for that metric. Refit, or keep the trained network "
                f"with sklearn_daeknn.refit_knn(estimator, X, y, metric="
                f"{self.metric!r})."
            )

    def layer_features(self, X: Any) -> list[np.ndarray]:
        """Representations of ``X`` at each kNN layer, as used by the vote.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        features : list of ndarray of shape (n_samples, n_features_l), float32
            One array per entry of ``layers_``, in that order, after the
            width reduction of ``max_layer_features`` (and, for
            ``metric='cosine'``, L2-normalised): the representations the
            indexes hold for the training data.
        """
        X_net = self._validate_X(X)
        return self._features(X_net, self.net_, self.layers_, self.layer_reducers_)[0]

    def select_layers(self, layers: str | list[str]) -> DAEkNNClassifier:
        """A copy of this fitted estimator that votes over some of its layers.

        Nothing is refitted or copied in depth: the copy shares the network,
        the indexes and the width reductions, and its ``layers`` parameter
        names the subset. Its ``predict`` equals
        :func:`~sklearn_daeknn.vote_scores`' vote over ``layers``, and an
        attack on it sees those layers alone.

        Parameters
        ----------
        layers : str or list of str
            A non-empty subset of ``layers_``, in any order.

        Returns
        -------
        view : DAEkNNClassifier
            A fitted estimator.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.preprocessing import minmax_scale
        >>> from sklearn_daeknn import DAEkNNClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> X = minmax_scale(X)
        >>> clf = DAEkNNClassifier(max_epochs=2, random_state=0).fit(X, y)
        >>> clf.select_layers("block2").layers_
        ('block2',)
        """
        check_is_fitted(self)
        names = [layers] if isinstance(layers, str) else list(layers)
        fitted = list(self.layers_)
        unknown = [name for name in names if name not in fitted]
        if unknown or not names or len(set(names)) != len(names):
            raise ValueError(
                f"layers must be a non-empty subset of the fitted layers {fitted} "
                f"without duplicates; got {layers!r}."
            )
        positions = [fitted.index(name) for name in names]
        view = copy.copy(self)
        view.layers = list(names)
        view.layers_ = tuple(names)
        view.benign_indexes_ = [self.benign_indexes_[p] for p in positions]
        if self.hardening_indexes_ is not None:
            view.hardening_indexes_ = [self.hardening_indexes_[p] for p in positions]
        view.layer_reducers_ = [self.layer_reducers_[p] for p in positions]
        return view

    # The one neighbour search of the estimator: the vote, the conformal
    # scores, the calibration and kneighbors all go through _search.

    def _indexed_sets(self) -> list[tuple[str, list, np.ndarray, np.ndarray]]:
        """``(name, indexes, rows, labels)`` of each indexed set."""
        sets = [
            ("benign", self.benign_indexes_, self.benign_rows_, self.benign_labels_)
        ]
        if self.hardening_indexes_ is not None:
            sets.append(
                (
                    "hardening",
                    self.hardening_indexes_,
                    self.hardening_rows_,
                    self.hardening_labels_,
                )
            )
        return sets

    def _search(
        self,
        layer: int,
        features: np.ndarray,
        k: int,
        query_rows: np.ndarray | None = None,
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The ``k`` nearest points of each set to ``features`` at the layer
        at position ``layer``: ``{set: (distances, positions in the set)}``.

        ``query_rows`` (the row of fit's ``X`` each query comes from) leaves
        out the points made from that row: itself and its hardening copy.
        """
        found = {}
        for name, indexes, rows, _ in self._indexed_sets():
            index = indexes[layer]
            if query_rows is None:
                if k > index.n_points:
                    raise ValueError(
                        f"n_neighbors={k} is larger than the {index.n_points} "
                        "indexed training samples."
                    )
                found[name] = index.query(features, k, device=self.net_.device)
                continue
            # Adaptive hardening rounds may add several points of one row.
            copies = int(np.bincount(rows).max()) if len(rows) else 1
            if k > index.n_points - copies:
                raise ValueError(
                    f"n_neighbors={k} is larger than the {index.n_points - copies} "
                    "other indexed training samples (kneighbors with X=None "
                    "leaves each sample out)."
                )
            dist, pos = index.query(features, k + copies, device=self.net_.device)
            own = rows[pos] == query_rows[:, None]
            if copies == 1:
                found[name] = leave_out(dist, pos, own)
            else:
                # The first k that are not the query's own, in distance order.
                order = np.argsort(own, axis=1, kind="stable")[:, :k]
                found[name] = (
                    np.take_along_axis(dist, order, 1),
                    np.take_along_axis(pos, order, 1),
                )
        return found

    def _neighbor_chunks(
        self, X_net: np.ndarray | None, k: int
    ) -> Iterator[tuple[slice, list[dict[str, tuple[np.ndarray, np.ndarray]]]]]:
        """``(rows of the queries, per layer the result of _search)`` chunk by
        chunk; ``X_net=None``: the indexed benign points, each left out."""
        rows = self._chunk_rows()
        if X_net is not None:
            for start in range(0, len(X_net), rows):
                chunk = slice(start, start + rows)
                features = self._features(
                    X_net[chunk], self.net_, self.layers_, self.layer_reducers_
                )[0]
                yield (
                    chunk,
                    [self._search(i, f, k) for i, f in enumerate(features)],
                )
            return
        # The indexed points are their own queries: no forward pass. One
        # layer's points at a time (pynndescent's data is a copy).
        n = len(self.benign_rows_)
        found: list[list] = [[] for _ in range(0, n, rows)]
        for layer, index in enumerate(self.benign_indexes_):
            data = index.data
            for c, start in enumerate(range(0, n, rows)):
                chunk = slice(start, start + rows)
                found[c].append(
                    self._search(layer, data[chunk], k, self.benign_rows_[chunk])
                )
        for c, start in enumerate(range(0, n, rows)):
            yield slice(start, start + rows), found[c]

    def kneighbors(
        self,
        X: Any = None,
        n_neighbors: int | None = None,
        return_distance: bool = True,
    ) -> dict[str, dict[str, Any]]:
        """The training points nearest to each input, per layer and per set.

        These are the neighbours that :meth:`predict_proba` votes with: the
        same search, under ``metric``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            The inputs. ``None``: the training samples indexed by ``fit``
            (the rows ``benign_rows_`` of its ``X``), each of which is then
            not its own neighbour in either set: neither the point itself nor
            its hardening copy is returned, since the copy was made from the
            sample with its label and would let it vote for itself (a
            leave-one-out view of the training data).
        n_neighbors : int, default=None
            Neighbours per layer and set; ``None``: ``n_neighbors``.
        return_distance : bool, default=True
            Whether to return the distances too.

        Returns
        -------
        neighbors : dict
            ``neighbors[layer][set]`` for each name of ``layers_`` and each
            set, ``'benign'`` (the training points) and, with hardening data,
            ``'hardening'`` (their PGD copies), is ``(distances, indices)``,
            two arrays of shape ``(n_queries, n_neighbors)`` sorted by
            distance, or the indices alone when ``return_distance=False``.
            Indices are rows of the ``X`` passed to ``fit``: for a hardening
            neighbour, the row whose hardening copy it is. Distances are
            Euclidean, or ``1 - cos`` for ``metric='cosine'``, between the
            representations of :meth:`layer_features`. With
            ``X=None`` the queries are the rows ``benign_rows_``, in that
            order.

        Notes
        -----
        With pynndescent indexes (``index='nndescent'``, or ``'auto'`` on
        large data) the neighbours are pynndescent's approximate ones, which
        the vote uses too: each is an indexed point at its exact distance,
        sorted, but a few true nearest neighbours may be replaced by slightly
        farther points (recall 0.99 or more on network features, see
        :class:`~sklearn_daeknn.NNDescentIndex`). With ``X=None`` a sample
        that the approximate search misses among its own ``k + 1`` nearest
        loses its ``(k + 1)``-th neighbour instead.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.preprocessing import minmax_scale
        >>> from sklearn_daeknn import DAEkNNClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> X = minmax_scale(X)
        >>> clf = DAEkNNClassifier(max_epochs=2, random_state=0).fit(X, y)
        >>> neighbors = clf.kneighbors(X[:2], n_neighbors=3)
        >>> sorted(neighbors), sorted(neighbors["block2"])
        (['block1', 'block2'], ['benign', 'hardening'])
        >>> distances, rows = neighbors["block2"]["benign"]
        >>> rows.shape, bool(rows[0, 0] == 0)
        ((2, 3), True)
        """
        check_is_fitted(self)
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
            raise ValueError(
                f"n_neighbors must be an int >= 1 (or None); got {n_neighbors!r}."
            )
        k = int(k)
        if X is None:
            self._validate_predict_params()
            X_net, n = None, len(self.benign_rows_)
        else:
            X_net = self._validate_X(X)
            n = len(X_net)
        sets = self._indexed_sets()
        out = {
            layer: {
                name: (np.empty((n, k), np.float32), np.empty((n, k), np.int64))
                for name, *_ in sets
            }
            for layer in self.layers_
        }
        for chunk, per_layer in self._neighbor_chunks(X_net, k):
            for layer, found in zip(self.layers_, per_layer, strict=True):
                for name, _, rows, _ in sets:
                    dist, pos = found[name]
                    out[layer][name][0][chunk] = dist
                    out[layer][name][1][chunk] = rows[pos]
        if not return_distance:
            return {
                layer: {name: ind for name, (_, ind) in by_set.items()}
                for layer, by_set in out.items()
            }
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of the joint benign/hardening vote.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``; rows sum to 1.
        """
        return self._proba(self._validate_X(X))

    def _proba(self, X_net: np.ndarray) -> np.ndarray:
        # In chunks of rows: the features of all of X at once would grow
        # without bound (12.5 KiB per sample for SmallCNN on 8x8 digits).
        proba = np.empty((len(X_net), len(self.classes_)))
        for chunk, per_layer in self._neighbor_chunks(X_net, self.n_neighbors):
            proba[chunk] = self._vote(per_layer)
        return proba

    def _chunk_rows(self) -> int:
        """Rows of ``X`` per chunk: :data:`PREDICT_CHUNK_BYTES` of features,
        in whole feature batches so that every sample meets the same batch
        as in one pass over all of ``X`` (the same floats)."""
        batch = self._feature_batch_size()
        width = sum(reducer.n_features for reducer in self.layer_reducers_)
        rows = PREDICT_CHUNK_BYTES // (4 * max(width, 1))
        return max(batch, rows // batch * batch)

    def _vote(self, per_layer: list[dict[str, tuple[np.ndarray, np.ndarray]]]):
        """The joint vote of the neighbours that :meth:`_search` found."""
        labelled: dict[str, list] = {name: [] for name, *_ in self._indexed_sets()}
        for found in per_layer:
            for name, _, _, labels in self._indexed_sets():
                dist, pos = found[name]
                labelled[name].append((dist, labels[pos]))
        return joint_vote(
            labelled["benign"],
            labelled.get("hardening"),
            len(self.classes_),
            weighting=self.weighting,
            temperature=self.temperature,
        )

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            ``classes_[argmax(predict_proba(X))]``.
        """
        proba = self.predict_proba(X)
        return self.classes_.take(np.argmax(proba, axis=1))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``: ``-inf`` for a class that no
            neighbour votes for.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.preprocessing import minmax_scale
        >>> from sklearn_daeknn import DAEkNNClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> X = minmax_scale(X)
        >>> clf = DAEkNNClassifier(max_epochs=2, random_state=0).fit(X, y)
        >>> bool(np.allclose(np.exp(clf.predict_log_proba(X[:5])),
        ...                  clf.predict_proba(X[:5])))
        True
        """
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba)

    def predict_pvalues(self, X: Any) -> np.ndarray:
        """Conformal p-values of every class (DkNN's calibration).

        The nonconformity of ``(x, j)`` is the weighted number of neighbours,
        over the layers and the benign and hardening sets, whose label is not
        ``j`` (see :func:`~sklearn_daeknn.nonconformity`); its p-value is the
        fraction of held-out calibration samples whose true label is at least
        as nonconforming (:func:`~sklearn_daeknn.conformal_pvalues`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        pvalues : ndarray of shape (n_samples, n_classes)
            In ``(0, 1]``; columns follow ``classes_``.
        """
        return self._pvalues(self.predict_proba(X))

    def _pvalues(self, proba: np.ndarray) -> np.ndarray:
        if self.calibration_scores_ is None:
            raise ValueError(
                "predict_pvalues and predict_credibility need a calibration set, "
                "but this estimator was fitted with calibration_size=0. Refit "
                "with calibration_size=0.1 (a fraction) or e.g. 500 (a number of "
                "samples) to hold one out."
            )
        scores = nonconformity(proba, self.n_neighbors, len(self.layers_))
        return conformal_pvalues(self.calibration_scores_, scores)

    def predict_credibility(self, X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Predicted labels with DkNN's credibility and confidence.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            The predicted labels, as :meth:`predict` (a class of largest
            p-value: p-values fall as the nonconformity rises).
        credibility : ndarray of shape (n_samples,)
            The largest p-value: low when even the predicted label is unusual
            for the calibration data (e.g. on adversarial inputs).
        confidence : ndarray of shape (n_samples,)
            One minus the second largest p-value.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.preprocessing import minmax_scale
        >>> from sklearn_daeknn import DAEkNNClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = DAEkNNClassifier(calibration_size=0.3, max_epochs=5,
        ...                        random_state=0).fit(minmax_scale(X), y)
        >>> labels, credibility, confidence = clf.predict_credibility(
        ...     minmax_scale(X)[:3])
        >>> bool(((0 < credibility) & (credibility <= 1)).all())
        True
        """
        proba = self.predict_proba(X)
        credibility, confidence = credibility_confidence(self._pvalues(proba))
        return self.classes_.take(np.argmax(proba, axis=1)), credibility, confidence

    def predict_proba_network(self, X: Any) -> np.ndarray:
        """Class probabilities of the network alone (softmax of its logits).

        This is the paper's CNN (or AT-CNN) baseline.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        X_net = self._validate_X(X)
        if not X_net.flags.writeable:  # torch warns on read-only arrays
            X_net = X_net.copy()
        proba = self.net_.predict_proba(X_net).astype(np.float64)
        if not np.isfinite(proba).all():
            raise ValueError(
                "The network's outputs are not finite (NaN or infinity) on inputs "
                f"with values in [{float(X_net.min()):.3g}, "
                f"{float(X_net.max()):.3g}]: the network overflows on them, or its "
                "weights diverged in training. Scale the inputs (for example with "
                "StandardScaler)."
            )
        return proba

    def predict_network(self, X: Any) -> np.ndarray:
        """Class labels predicted by the network alone.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba_network(X)
        return self.classes_.take(np.argmax(proba, axis=1))

    # ------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, Any]:
        # scikit-learn records its own version only for its own classes.
        return versioned_state(super().__getstate__())

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = check_state_version(state, type(self).__name__)
        # Parameters added since 0.1.0 take the values that estimator had.
        for name, default in _ADDED_PARAMS.items():
            state.setdefault(name, default)
        super().__setstate__(state)
