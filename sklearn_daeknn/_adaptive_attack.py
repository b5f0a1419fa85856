"""An adaptive attack on the kNN vote itself (not on the network).

Transfer attacks differentiate the network and hope the kNN follows. The
attacks here differentiate the vote, through its soft surrogate
:class:`~sklearn_daeknn.SoftKNNVote`, with AutoAttack's step-size-free APGD
(from the ``pyautoattack`` package), several losses and targeted restarts,
and keep per input the worst case found, as judged by the estimator's real
(non-differentiable) vote.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from ._attack import BaseAttack
from ._autoattack import UnitBox, apgd_single_run, global_rng, package_logger
from ._progress import progress
from ._surrogate import SoftKNNVote
from ._targets import attack_mode, is_daeknn, pipeline_parts, resolve_target

__all__ = ["LOSSES", "KNNAdaptiveAttack"]

#: The losses of the adaptive attack, in the order they run by default.
LOSSES = ("vote-ce", "classwise-t", "vote-t", "classwise-ce")


class KNNAdaptiveAttack(BaseAttack):
    """APGD on soft-kNN surrogates of the vote, with targeted restarts.

    For each batch of inputs the attack builds the surrogate vote
    (:class:`SoftKNNVote`, restricted to the candidates of the clean
    batch) and runs AutoAttack's APGD on it with each loss of ``losses``,
    each run only on the inputs the estimator still classifies correctly:

    - ``'vote-ce'``: cross-entropy of the soft vote (the estimator's own
      vote, benign/hardening weighting included), ``n_restarts`` runs;
    - ``'vote-t'``: targeted DLR of the soft vote (targeted cross-entropy
      with fewer than 4 classes), one run per target class;
    - ``'classwise-ce'``: cross-entropy of ASK's class-wise soft-kNN scores
      (the mean distance to the ``n_references`` nearest points of each
      class, over both indexed sets);
    - ``'classwise-t'``: targeted cross-entropy of the same scores, which
      pulls the layer representations toward the nearest points of the
      target class and away from the others (Sitawarin & Wagner's guides),
      one run per target class.

    The target classes are the ``n_target_classes`` wrong classes whose
    references are nearest to the clean input (Sitawarin & Wagner's choice).
    Every run's two candidates (the point of highest loss and the last
    point the surrogate misclassified) are judged with the estimator's real
    ``predict_proba``; per input the result with the lowest true-class
    probability is kept, and any misclassification beats every correct one.

    Parameters
    ----------
    eps : float, default=0.3
        Radius of the ball; ``0`` returns the input unchanged.
    norm : {'Linf', 'L2'}, default='Linf'
        The ball's norm; ``'inf'`` and ``'2'`` are accepted aliases.
    losses : sequence of str, default=LOSSES
        The runs, in order (see above).
    n_steps : int, default=30
        APGD iterations per run.
    n_restarts : int, default=1
        Runs of each untargeted loss (each from a new random start).
    n_target_classes : int, default=3
        Target classes of the targeted losses (at most ``n_classes - 1``).
    temperature : float, default=0.1
        Softness of the surrogates (see :class:`SoftKNNVote`): larger gives
        gradients further from the decision boundary of the vote, smaller
        a closer imitation of it.
    n_references : int, default=5
        References per layer and class of the class-wise scores (ASK's ``n``).
    n_candidates : int, default=8
        Indexed points per clean input, class, layer and set that the
        surrogates search (see :meth:`SoftKNNVote.restricted_to`).
    clip : 'auto', (low, high) or None, default='auto'
        The data box, as in :class:`PGD`.
    batch_size : int, default=32
        Inputs attacked at once (the surrogates' search space grows with it).
    random_state : int, RandomState instance or None, default=None
        Seeds the random starts.
    verbose : int, default=0
        Show a progress bar when positive.

    See Also
    --------
    SoftKNNVote : The surrogate vote this attack differentiates.
    AutoAttack : The same APGD runs against a network.

    Notes
    -----
    Which published ideas are used: the soft top-``k`` membership and the
    guide samples of Sitawarin & Wagner (2019, 2020), the class-wise
    soft-kNN loss of ASK (Wang et al.), AutoAttack's APGD and its targeted
    DLR loss (Croce & Hein, 2020), and the per-input worst case over runs
    judged with the real vote. Not used: the minimum-norm search of
    Sitawarin & Wagner (2020), which answers another question (the smallest
    perturbation) than a fixed-``eps`` robust accuracy.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import minmax_scale
    >>> from sklearn_daeknn import DAEkNNClassifier, KNNAdaptiveAttack
    >>> X, y = load_iris(return_X_y=True)
    >>> X = minmax_scale(X).astype("float32")
    >>> clf = DAEkNNClassifier(clip=(0, 1), max_epochs=5, random_state=0).fit(X, y)
    >>> attack = KNNAdaptiveAttack(eps=0.1, n_steps=5, random_state=0)
    >>> X_adv = attack.generate(clf, X, y)
    >>> bool(abs(X_adv - X).max() <= 0.1 + 1e-6)
    True
    """

    _parameter_constraints: dict = {
        **BaseAttack._common_constraints,
        "losses": [list, tuple],
        "n_steps": [Interval(Integral, 0, None, closed="left")],
        "n_restarts": [Interval(Integral, 1, None, closed="left")],
        "n_target_classes": [Interval(Integral, 1, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "n_references": [Interval(Integral, 1, None, closed="left")],
        "n_candidates": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        eps: float = 0.3,
        *,
        norm: str = "Linf",
        losses: tuple[str, ...] = LOSSES,
        n_steps: int = 30,
        n_restarts: int = 1,
        n_target_classes: int = 3,
        temperature: float = 0.1,
        n_references: int = 5,
        n_candidates: int = 8,
        clip: Any = "auto",
        batch_size: int = 32,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.eps = eps
        self.norm = norm
        self.losses = losses
        self.n_steps = n_steps
        self.n_restarts = n_restarts
        self.n_target_classes = n_target_classes
        self.temperature = temperature
        self.n_references = n_references
        self.n_candidates = n_candidates
        self.clip = clip
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    def _check_losses(self) -> list[str]:
        losses = list(self.losses)
        bad = [loss for loss in losses if loss not in LOSSES]
        if bad or not losses:
            raise ValueError(
                f"losses must be a non-empty list of {list(LOSSES)}; got "
                f"{self.losses!r}."
            )
        return losses

    def _vote_and_judge(self, model: Any):
        """The surrogate vote of ``model``, and the real vote that judges."""
        if isinstance(model, SoftKNNVote):
            vote = model
            owner = model.estimator
        else:
            parts = pipeline_parts(model)
            final = parts[1] if parts is not None else model
            if not is_daeknn(final):
                raise ValueError(
                    "KNNAdaptiveAttack attacks a kNN vote: model must be a fitted "
                    "DAEkNNClassifier, a Pipeline ending in one or a SoftKNNVote; "
                    f"got {type(model).__name__}. Use PGD or AutoAttack to attack "
                    "a network."
                )
            vote = SoftKNNVote(model, temperature=float(self.temperature))
            owner = model
        if owner is None:

            def judge(x: torch.Tensor) -> np.ndarray:
                return vote.exact_proba(x).cpu().numpy()

        else:

            def judge(x: torch.Tensor) -> np.ndarray:
                return owner.predict_proba(x.reshape(len(x), -1).cpu().numpy())

        return vote, judge

    def generate(self, model: Any, X: Any, y: Any = None) -> np.ndarray:
        """Return adversarial versions of ``X`` against ``model``'s kNN vote.

        Parameters
        ----------
        model : fitted DAEkNNClassifier, Pipeline ending in one, or SoftKNNVote
            The vote to attack. A :class:`SoftKNNVote` built
            :meth:`~SoftKNNVote.from_arrays` attacks a plain kNN (its exact
            vote judges).
        X : array-like of shape (n_samples, n_features)
            Clean inputs in the model's layout.
        y : array-like of shape (n_samples,), default=None
            True labels. ``None`` uses the model's own predictions.

        Returns
        -------
        X_adv : ndarray of float32 of shape (n_samples, n_features)
        """
        self._validate_params()
        losses = self._check_losses()
        vote, judge = self._vote_and_judge(model)
        target = resolve_target(vote if isinstance(model, SoftKNNVote) else model)
        X = target.check_X(X)
        threat = self._threat_model(target, X)
        shape = target.shape_of(X)
        x_all = torch.from_numpy(X.reshape(-1, *shape)).to(target.device)
        if y is None:
            y_enc = judge(x_all).argmax(1) if len(X) else np.zeros(0, int)
        else:
            y_enc = target.encode(self._check_y(y, X))
        out = x_all.clone()
        if self.eps == 0 or self.n_steps == 0 or len(X) == 0:
            return X.copy()
        seed = self._seed()
        threat = threat.to(target.device)
        box = UnitBox(threat, x_all)
        n_batches = math.ceil(len(X) / self.batch_size)
        with attack_mode(vote), global_rng(seed):
            for b, start in enumerate(
                progress(
                    range(0, len(X), self.batch_size),
                    total=n_batches,
                    desc=f"kNN adaptive eps={self.eps:g}",
                    verbose=self.verbose,
                )
            ):
                stop = min(start + self.batch_size, len(X))
                out[start:stop] = self._attack_batch(
                    vote,
                    judge,
                    box,
                    threat,
                    x_all[start:stop],
                    torch.as_tensor(y_enc[start:stop], device=target.device),
                    losses,
                    seed + 104729 * b,
                )
        return out.cpu().numpy().reshape(X.shape)

    def _runs(self, losses: list[str], n_targets: int) -> list[tuple[str, int]]:
        runs = []
        for loss in losses:
            count = n_targets if loss.endswith("-t") else self.n_restarts
            runs += [(loss, i) for i in range(count)]
        return runs

    def _attack_batch(self, vote, judge, box, threat, x, y, losses, seed):
        n_classes = vote.n_classes
        proba = judge(x)
        y_np = y.cpu().numpy()
        rows = np.arange(len(x))
        best = proba[rows, y_np] + (proba.argmax(1) == y_np)
        out = x.clone()
        todo = np.flatnonzero(best >= 1)  # still classified correctly
        if len(todo) == 0:
            return out
        sub = vote.restricted_to(x, n_per_class=self.n_candidates)
        classwise = sub.classwise(self.n_references, float(self.temperature))
        with torch.no_grad():
            scores = classwise(x)
            scores[torch.arange(len(x)), y] = -math.inf
            targets = scores.argsort(dim=1, descending=True)
        n_targets = min(self.n_target_classes, n_classes - 1)
        logger = package_logger(self.verbose)
        for run, (loss, arg) in enumerate(self._runs(losses, n_targets)):
            if len(todo) == 0:
                break
            sel = torch.as_tensor(todo, device=x.device)
            xs, ys = x[sel], y[sel]
            unit = box.wrap(sub if loss.startswith("vote") else classwise)
            y_target = None
            kind = "ce"
            if loss.endswith("-t"):
                y_target = targets[sel, arg]
                dlr = loss == "vote-t" and n_classes >= 4
                kind = "dlr-targeted" if dlr else "ce-targeted"
            torch.manual_seed(seed + 7919 * run)
            z_best, z_fooled, _ = apgd_single_run(
                unit,
                box.to_unit(xs),
                ys,
                eps=box.eps,
                norm=threat.norm,
                n_iter=self.n_steps,
                loss=kind,
                y_target=y_target,
                logger=logger,
            )
            for z in (z_best, z_fooled):
                cand = threat.project(box.from_unit(z), xs)
                p = judge(cand)
                true = y_np[todo]
                score = p[np.arange(len(todo)), true] + (p.argmax(1) == true)
                better = score < best[todo]
                out[sel[torch.as_tensor(better, device=x.device)]] = cand[
                    torch.as_tensor(better, device=x.device)
                ]
                best[todo[better]] = score[better]
            todo = todo[best[todo] >= 1]
        return out
