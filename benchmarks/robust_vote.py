"""The robust-vote study: does any lever make the vote beat its own network?

``python -m benchmarks robust_vote --dataset digits`` (minutes) or
``--dataset mnist --data FOLDER --levers pruning`` (one lever at a time on
MNIST). Each *lever* is a parameter of :class:`~sklearn_daeknn.DAEkNNClassifier`
(or of the training of its network) and has a few *settings*, the first of
which is the lever switched off (the baseline DAEkNN):

- ``baseline``: DAEkNN against DAEkNN-WAD (no hardening data);
- ``pruning``: ``prune_radius`` (adversarial pruning, Yang et al. 2020);
- ``hardening``: ``hardening_attack='vote'`` and ``hardening_rounds``
  (hardening data made against the vote);
- ``k``: ``n_neighbors`` from 5 to 75 (DkNN used 75);
- ``layers``: the last block alone, the last two, all three;
- ``knn-loss``: ``knn_loss_weight`` of the network's adversarial training
  (ASK's soft-kNN loss), one network per setting;
- ``strength``: the hardening strength ``eps_h`` (the paper's Figure 3);
- ``metric``: cosine distance and the uniform weighting;
- ``combine``: the defences' best choice with each other defence setting
  that did not hurt (stage 3, below).

The levers come in three stages. The *shape* of the vote (``layers``, ``k``,
``k-last-blocks``) is varied on the paper's DAEkNN; the *defences*
(``pruning``, ``hardening``, ``knn-loss``, ``strength``, ``metric``) are
applied on top of the shape chosen on the validation split (the highest
validation worst-case AA among the shape levers' settings, by the rule
below), so that each defence is judged on the best vote found so far.
``combine`` (stage 3) starts from stage 2's *pick*, the defence lever
choice that wins by the same rule, and adds to it, one at a time, each
setting of another defence lever that on the shape scored at least the
shape's validation worst-case AA at an SA of at least the floor: defences
that tied the shape may still add up. ``baseline`` stays the paper's
comparison.

Every setting is scored on a **validation split taken from the training
images** with the full attack suite (transfer PGD and transfer AutoAttack
against the network, ``KNNAdaptiveAttack`` on the vote, AutoAttack on the
vote's soft surrogate classified by the real vote; the worst case per
input); per lever the setting of highest validation worst-case AA among
those with a validation SA of at least ``--min-sa`` (else of highest
worst-case HM) is chosen, and only the chosen one (with the baseline and the
adversarially trained network under AutoAttack, the line to beat) is scored
on the test images.

With ``--cache-dir`` the trained networks, the hardening data (through the
estimator's ``memory``), the attacks on each network and every finished
evaluation are kept: an interrupted study resumes where it stopped, and a
later run of other levers reuses the networks. ``--out`` receives
``robust_vote_<dataset>.json`` and ``robust_vote_<dataset>.md``; levers run
one at a time accumulate in them (the files of an earlier run with the same
data, network and attack settings are merged, and the settings scored there
are not scored again, even with a new cache).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
import skorch
import torch
from sklearn.model_selection import train_test_split

from sklearn_daeknn import (
    MNISTCNN,
    PGD,
    AutoAttack,
    DAEkNNClassifier,
    KNNAdaptiveAttack,
    SmallCNN,
    SoftKNNVote,
    __version__,
    harmonic_mean,
    robustness_report,
)
from sklearn_daeknn.datasets import load_digits_images, load_mnist

from . import _pages
from ._cli import (
    DEFAULT_OUT,
    MNIST_ENV,
    UsageError,
    check_out_dir,
    make_out_dir,
    mnist_folder,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    read_data,
)
from ._robust_vote_page import choose, comparisons, markdown, pick, verdict

__all__ = ["DATASETS", "LEVER_NAMES", "Preset", "add_arguments", "levers_for", "run"]

#: The attacks of the suite, in the order of the tables.
ATTACKS = ("transfer PGD", "transfer AutoAttack", "adaptive", "AutoAttack on surrogate")


@dataclass(frozen=True)
class Preset:
    """A data set and the network, vote and attacks the study uses on it.

    ``epochs`` of standard training (``0``: none) are followed by one stage of
    ``at_epochs`` adversarial-training epochs per entry of
    ``train_eps_schedule``, each warm-started from the previous weights (the
    MNIST benchmark's CPU setting).
    """

    name: str
    module: type
    input_shape: tuple[int, ...]
    n_per_class: int | None
    n_val: int
    n_test: int
    eps: float
    epochs: int
    at_epochs: int
    train_eps_schedule: tuple[float, ...]
    train_steps: int
    hardening_strength: float
    hardening_steps: int
    vote_hardening_steps: int
    hardening_max_points: float
    layers: tuple[str, ...]
    n_neighbors: int = 5
    weighting: str = "softmax"
    min_sa: float = 0.98
    batch_size: int = 128
    adaptive_steps: int = 30
    autoattack_steps: int = 100
    strengths: tuple[float, ...] = ()
    radii: tuple[float, ...] = (0.5, 1.0, 1.5)
    neighbors: tuple[int, ...] = (15, 35, 75)
    knn_loss_weights: tuple[float, ...] = (0.5, 2.0)
    max_train: int | None = None
    #: Inputs per AutoAttack run on the soft surrogate, which searches only
    #: the candidates of its chunk's clean inputs (SoftKNNVote.restricted_to):
    #: small on large indexes (fewer candidates), large on small ones (the
    #: candidates are all the points anyway).
    surrogate_chunk: int = 32
    notes: dict[str, str] = field(default_factory=dict)


DATASETS = {
    "digits": Preset(
        name="digits",
        module=SmallCNN,
        input_shape=(1, 8, 8),
        n_per_class=None,
        n_val=200,
        n_test=400,
        eps=0.1,
        epochs=0,
        at_epochs=20,
        train_eps_schedule=(0.1,),
        train_steps=5,
        hardening_strength=0.1,
        hardening_steps=10,
        vote_hardening_steps=10,
        hardening_max_points=0.5,
        layers=("block1", "block2", "block3"),
        min_sa=0.95,
        autoattack_steps=50,
        surrogate_chunk=128,
        strengths=(0.05, 0.15, 0.2),
        notes={
            "data": "scikit-learn's 8x8 digits: a stratified test split, then a "
            "stratified validation split of the rest; the remaining images "
            "train the network and are indexed",
        },
    ),
    "mnist": Preset(
        name="mnist",
        module=MNISTCNN,
        input_shape=(1, 28, 28),
        n_per_class=2000,
        n_val=500,
        n_test=1000,
        eps=80 / 255,
        # The MNIST benchmark's CPU recipe: a network about as robust as the
        # one the benchmark's vote is built on (a cheaper one made the
        # comparison meaningless: 9.2% under AutoAttack).
        epochs=5,
        at_epochs=2,
        train_eps_schedule=(0.1, 0.2, 0.3, 0.3, 0.3),
        train_steps=10,
        hardening_strength=0.3,
        hardening_steps=10,
        vote_hardening_steps=5,
        hardening_max_points=0.1,
        layers=("block1", "block2", "block3"),
        min_sa=0.98,
        strengths=(0.2, 0.4),
        notes={
            "data": "a class-balanced sample of the MNIST training images (the "
            "authors' 2,000 per class), a stratified validation split of it, "
            "and the first test images (as the authors)",
        },
    ),
}

#: What ``--quick`` changes: a smoke run of every step, not a result.
QUICK = dict(
    n_val=30,
    n_test=30,
    at_epochs=1,
    train_steps=1,
    hardening_steps=1,
    vote_hardening_steps=1,
    adaptive_steps=2,
    autoattack_steps=2,
)


@dataclass(frozen=True)
class Setting:
    """One setting of a lever: estimator parameters, and network-training ones."""

    label: str
    params: dict[str, Any] = field(default_factory=dict)
    network: dict[str, Any] = field(default_factory=dict)


def _sweep(name: str, values: Any, network: bool = False) -> list[Setting]:
    """One setting per value of one parameter (of the estimator, or of the
    network's training with ``network=True``)."""
    settings = []
    for value in values:
        where = "network" if network else "params"
        settings.append(Setting(f"{name}={value:g}", **{where: {name: value}}))
    return settings


#: The levers that vary the vote's shape, on the paper's DAEkNN (stage 1).
SHAPE_LEVERS = ("layers", "k", "k-last-blocks")
#: The defences, applied on top of stage 1's validation choice (stage 2).
DEFENCE_LEVERS = ("pruning", "hardening", "knn-loss", "strength", "metric")
#: Stage 3: stage 2's pick with the other defences' settings that did not hurt.
COMBINE_LEVER = "combine"
COMBINE_WHAT = (
    "stage 2's pick with each setting of another defence that scored at "
    "least the shape on the validation split"
)


def on_top_of(shape: Setting, setting: Setting) -> Setting:
    """``setting`` applied to the vote ``shape`` (a defence on the chosen shape).

    The soft-kNN loss of a network-training setting follows the shape's vote
    layers.

    Examples
    --------
    >>> shape = Setting("n_neighbors=15", {"n_neighbors": 15})
    >>> on_top_of(shape, Setting("prune_radius=1", {"prune_radius": 1.0}))
    Setting(label='n_neighbors=15 + prune_radius=1', params={'n_neighbors': 15, \
'prune_radius': 1.0}, network={})
    """
    if not shape.params and not shape.network:
        return setting
    network = {**shape.network, **setting.network}
    if network and "layers" in shape.params:
        network["layers"] = shape.params["layers"]
    return Setting(
        f"{shape.label} + {setting.label}",
        {**shape.params, **setting.params},
        network,
    )


def levers_for(
    preset: Preset, shape: Setting | None = None
) -> dict[str, tuple[str, list[Setting]]]:
    """The levers: name -> (what it is, its settings, the baseline first).

    The defences' settings are applied on top of ``shape`` (stage 1's choice;
    ``None``: the paper's DAEkNN), which is then their first setting.

    Examples
    --------
    >>> levers = levers_for(DATASETS["digits"])
    >>> [s.label for s in levers["pruning"][1]]
    ['DAEkNN', 'prune_radius=0.5', 'prune_radius=1', 'prune_radius=1.5']
    >>> shape = Setting("n_neighbors=15", {"n_neighbors": 15})
    >>> [s.label for s in levers_for(DATASETS["digits"], shape)["metric"][1]]
    ['n_neighbors=15', "n_neighbors=15 + metric='cosine'", \
"n_neighbors=15 + weighting='uniform'"]
    """
    levers = _levers(preset)
    if shape is not None and shape.params:
        for name in DEFENCE_LEVERS:
            what, settings = levers[name]
            levers[name] = (
                what,
                [shape] + [on_top_of(shape, s) for s in settings[1:]],
            )
    return levers


def _levers(preset: Preset) -> dict[str, tuple[str, list[Setting]]]:
    base = Setting("DAEkNN")
    vote = dict(hardening_steps=preset.vote_hardening_steps)
    rounds = dict(vote, hardening_max_points=preset.hardening_max_points)
    last_two = preset.layers[-2:]
    return {
        "baseline": (
            "hardening data or none (DAEkNN against DAEkNN-WAD)",
            [base, Setting("DAEkNN-WAD", dict(hardening_strength=0))],
        ),
        "layers": (
            "the vote layers: the last block alone, the last two, all three",
            [base]
            + [
                Setting("layers=" + ",".join(last), dict(layers=list(last)))
                for last in (preset.layers[-1:], preset.layers[-2:])
            ],
        ),
        "k": (
            "neighbours per layer and set (n_neighbors)",
            [base, *_sweep("n_neighbors", preset.neighbors)],
        ),
        "k-last-blocks": (
            "neighbours per set on the last two blocks (the layers lever's "
            "validation choice on MNIST; n_neighbors)",
            [base]
            + [
                Setting(
                    f"layers={','.join(last_two)}, n_neighbors={k}",
                    dict(layers=list(last_two), n_neighbors=k),
                )
                for k in (preset.n_neighbors, *preset.neighbors)
            ],
        ),
        "pruning": (
            "adversarial pruning of each indexed set (prune_radius, in units "
            "of each layer's median nearest-neighbour distance)",
            [base, *_sweep("prune_radius", preset.radii)],
        ),
        "hardening": (
            "hardening data made against the vote (hardening_attack, hardening_rounds)",
            [
                base,
                Setting("hardening_attack='vote'", dict(vote, hardening_attack="vote")),
                Setting("hardening_rounds=2", dict(rounds, hardening_rounds=2)),
                Setting("hardening_rounds=4", dict(rounds, hardening_rounds=4)),
            ],
        ),
        "knn-loss": (
            "ASK's soft-kNN loss on the vote layers added to adversarial "
            "training (knn_loss_weight); one network per setting",
            [base, *_sweep("knn_loss_weight", preset.knn_loss_weights, network=True)],
        ),
        "strength": (
            "the hardening strength eps_h (the paper's Figure 3)",
            [base, *_sweep("hardening_strength", preset.strengths)],
        ),
        "metric": (
            "cosine distance, and the uniform benign/hardening weighting",
            [
                base,
                Setting("metric='cosine'", dict(metric="cosine")),
                Setting("weighting='uniform'", dict(weighting="uniform")),
            ],
        ),
    }


LEVER_NAMES = (*levers_for(DATASETS["digits"]), COMBINE_LEVER)


# ------------------------------------------------------------------- cache


class Store:
    """Joblib files under a folder, keyed by a hash; ``None``: a temporary one."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.dir = Path(folder)

    def path(self, kind: str, key: Any, suffix: str = ".joblib") -> Path:
        return self.dir / kind / f"{joblib.hash(key)}{suffix}"

    def get(self, kind: str, key: Any, make: Any) -> Any:
        path = self.path(kind, key)
        if path.exists():
            return joblib.load(path)
        value = make()
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole, then renamed: an interrupted write leaves nothing.
        tmp = path.with_suffix(".part")
        joblib.dump(value, tmp)
        os.replace(tmp, path)
        return value


# -------------------------------------------------------------------- data


def load_split(preset: Preset, data: str | None, seed: int) -> dict[str, Any]:
    """``{'train': (X, y), 'validation': (X, y), 'test': (X, y)}``."""
    if preset.name == "mnist":
        folder = mnist_folder(data)

        def load() -> tuple:
            X, y = load_mnist(
                folder,
                subset="train",
                n_per_class=preset.n_per_class,
                random_state=seed,
            )
            X_test, y_test = load_mnist(folder, subset="test", n_samples=preset.n_test)
            return X, y, X_test, y_test

        X, y, X_test, y_test = read_data("MNIST", folder, load)
    else:
        X, y = load_digits_images()
        X, X_test, y, y_test = train_test_split(
            X, y, test_size=preset.n_test, stratify=y, random_state=seed
        )
    X_fit, X_val, y_fit, y_val = train_test_split(
        X, y, test_size=preset.n_val, stratify=y, random_state=seed
    )
    if preset.max_train and preset.max_train < len(y_fit):
        X_fit, _, y_fit, _ = train_test_split(
            X_fit, y_fit, train_size=preset.max_train, stratify=y_fit, random_state=seed
        )
    return {
        "train": (X_fit, y_fit),
        "validation": (X_val, y_val),
        "test": (X_test, y_test),
    }


# ----------------------------------------------------------------- network


def _network_key(preset: Preset, data_key: str, seed: int, training: dict) -> dict:
    fields = (
        "module",
        "input_shape",
        "epochs",
        "at_epochs",
        "train_eps_schedule",
        "train_steps",
        "layers",
        "batch_size",
    )
    return {
        **{name: getattr(preset, name) for name in fields},
        "module": preset.module.__name__,
        "data": data_key,
        "seed": seed,
        "training": training,
    }


def train_network(
    preset: Preset,
    X: np.ndarray,
    y: np.ndarray,
    seed: int,
    training: dict,
    verbose: int,
) -> dict[str, Any]:
    """The adversarially trained network (a DAEkNN without hardening data)."""
    start = time.perf_counter()
    common = dict(
        input_shape=preset.input_shape,
        clip=(0.0, 1.0),
        layers=list(preset.layers),
        hardening_strength=0,
        batch_size=preset.batch_size,
        index="exact",
        random_state=seed,
    )
    module: Any = preset.module
    if preset.epochs:
        _say(verbose, f"standard training, {preset.epochs} epoch(s)")
        standard = DAEkNNClassifier(
            module=module,
            max_epochs=preset.epochs,
            adversarial_training=False,
            **common,
        ).fit(X, y)
        module = standard.net_.module_
    model = None
    for i, eps in enumerate(preset.train_eps_schedule):
        _say(verbose, f"adversarial training, stage {i + 1}: eps={eps:g} {training}")
        model = DAEkNNClassifier(
            module=module,
            max_epochs=preset.at_epochs,
            adversarial_training=True,
            train_eps=eps,
            train_steps=preset.train_steps,
            # A training setting may name the vote layers (of its kNN loss).
            **{**common, **training},
        ).fit(X, y)
        module = model.net_.module_
    return {"model": model, "train_s": round(time.perf_counter() - start, 1)}


def network_attacks(
    network: DAEkNNClassifier, X: np.ndarray, y: np.ndarray, preset: Preset, seed: int
) -> dict[str, Any]:
    """The transfer attacks' inputs (against the network) and their times."""
    out: dict[str, Any] = {"time_s": {}}
    attacks = {
        "transfer PGD": PGD(eps=preset.eps, n_steps=40, random_state=seed),
        "transfer AutoAttack": AutoAttack(
            eps=preset.eps,
            n_steps=preset.autoattack_steps,
            n_target_classes=3,
            random_state=seed,
        ),
    }
    for name, attack in attacks.items():
        start = time.perf_counter()
        out[name] = attack.generate(network, X, y)
        out["time_s"][name] = round(time.perf_counter() - start, 1)
    return out


def network_figures(
    network: DAEkNNClassifier, X: np.ndarray, y: np.ndarray, adv: dict
) -> dict[str, Any]:
    """The network alone: SA, PGD-40 and AutoAttack AA, their worst case."""
    clean = network.predict_network(X) == y
    pgd = network.predict_network(adv["transfer PGD"]) == y
    aa = network.predict_network(adv["transfer AutoAttack"]) == y
    sa, worst = float(clean.mean()), float((clean & pgd & aa).mean())
    return {
        "SA": sa,
        "PGD_AA": float(pgd.mean()),
        "AutoAttack_AA": float(aa.mean()),
        "worst_case_AA": worst,
        "worst_case_HM": harmonic_mean(sa, worst),
        "AutoAttack_HM": harmonic_mean(sa, float(aa.mean())),
        "AutoAttack_per_input": bits(aa),
        "n_samples": int(len(y)),
    }


def bits(mask: np.ndarray) -> str:
    """A boolean per input as a string of ``0`` and ``1`` (compact in the JSON).

    Examples
    --------
    >>> bits(np.array([True, False, True]))
    '101'
    """
    return "".join("1" if b else "0" for b in np.asarray(mask, dtype=bool))


def weights_fingerprint(network: DAEkNNClassifier) -> str:
    """A hash of the trained weights: the same recipe can train other weights.

    Another version of torch, numpy or scikit-learn can change the random
    streams, so the study recognises its network by its weights, not by how
    it was asked to train it.
    """
    state = network.net_.module_.state_dict()
    return joblib.hash({k: v.detach().cpu().numpy() for k, v in state.items()})


# -------------------------------------------------------------- evaluation


def surrogate_autoattack(
    estimator: DAEkNNClassifier, X: np.ndarray, y: np.ndarray, preset: Preset, seed: int
) -> np.ndarray:
    """AutoAttack on the vote's soft surrogate, chunk by chunk of the inputs."""
    vote = SoftKNNVote(estimator)
    # The surrogate's box has one sample's shape: attack images, not rows.
    images = np.ascontiguousarray(X, dtype=np.float32).reshape(-1, *preset.input_shape)
    out = np.empty_like(images)
    for start in range(0, len(X), preset.surrogate_chunk):
        chunk = slice(start, start + preset.surrogate_chunk)
        attack = AutoAttack(
            eps=preset.eps,
            n_steps=preset.autoattack_steps,
            n_target_classes=3,
            random_state=seed + start,
        )
        restricted = vote.restricted_to(torch.from_numpy(images[chunk]))
        out[chunk] = attack.generate(restricted, images[chunk], y[chunk])
    return out.reshape(X.shape)


def evaluate(
    estimator: DAEkNNClassifier,
    X: np.ndarray,
    y: np.ndarray,
    transfer: dict,
    preset: Preset,
    seed: int,
) -> dict[str, Any]:
    """The suite's figures of one fitted estimator on one split."""
    given = {name: transfer[name] for name in ATTACKS[:2]}
    start = time.perf_counter()
    given["AutoAttack on surrogate"] = surrogate_autoattack(
        estimator, X, y, preset, seed
    )
    surrogate_s = time.perf_counter() - start
    adaptive = KNNAdaptiveAttack(
        eps=preset.eps, n_steps=preset.adaptive_steps, random_state=seed
    )
    report = robustness_report(
        estimator,
        X,
        y,
        {
            "transfer PGD": None,
            "transfer AutoAttack": None,
            "adaptive": adaptive,
            "AutoAttack on surrogate": None,
        },
        X_adv=given,
    )
    start = time.perf_counter()
    estimator.predict(X)
    predict_s = time.perf_counter() - start
    times = dict(transfer["time_s"])
    times["adaptive"] = report["attacks"]["adaptive"]["time_s"]
    times["AutoAttack on surrogate"] = round(surrogate_s, 1)
    return {
        "SA": report["SA"],
        "AA": {name: report["attacks"][name]["AA"] for name in ATTACKS},
        "worst_case_AA": report["worst_case_AA"],
        "worst_case_HM": report["worst_case_HM"],
        "wins": report["wins"],
        # Per input, for the paired comparison with the network on the page.
        "robust_per_input": bits(report["robust"]),
        "attack_s": times,
        "predict_ms_per_image": round(1000 * predict_s / max(len(y), 1), 3),
        "n_samples": int(len(y)),
    }


def fitted_points(est: DAEkNNClassifier) -> dict[str, Any]:
    """How many points each set indexes, and what pruning and rounds did."""
    return {
        "benign": int(len(est.benign_rows_)),
        "hardening": 0
        if est.hardening_rows_ is None
        else int(len(est.hardening_rows_)),
        "pruned": {k: int(len(v)) for k, v in est.pruned_rows_.items()},
        "pruned_per_layer": est.pruned_per_layer_,
        "hardening_history": est.hardening_history_,
    }


# ------------------------------------------------------------------- study


@dataclass
class Study:
    """The state of one run: data, stores and the networks met so far."""

    preset: Preset
    splits: dict[str, Any]
    store: Store
    seed: int
    verbose: int
    networks: dict[str, dict] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    #: Rows already on this data set's page, by :meth:`row_key`.
    record: dict[str, dict] = field(default_factory=dict)

    @property
    def data_key(self) -> str:
        X, y = self.splits["train"]
        return joblib.hash((X, y))

    def network(self, training: dict) -> tuple[str, dict]:
        key = _network_key(self.preset, self.data_key, self.seed, training)
        digest = joblib.hash(key)
        if digest not in self.networks:
            X, y = self.splits["train"]
            self.networks[digest] = self.store.get(
                "networks",
                key,
                lambda: train_network(
                    self.preset, X, y, self.seed, training, self.verbose
                ),
            )
        return digest, self.networks[digest]

    def weights(self, training: dict) -> str:
        """The fingerprint of the network trained with ``training``."""
        digest, net = self.network(training)
        if digest not in self.fingerprints:
            self.fingerprints[digest] = weights_fingerprint(net["model"])
        return self.fingerprints[digest]

    def transfer(self, digest: str, split: str) -> dict:
        X, y = self.splits[split]
        net = self.networks[digest]["model"]
        key = (digest, split, joblib.hash((X, y)), self._attack_key())
        return self.store.get(
            "transfer", key, lambda: network_attacks(net, X, y, self.preset, self.seed)
        )

    def _attack_key(self) -> dict:
        p = self.preset
        return dict(
            eps=p.eps,
            adaptive=p.adaptive_steps,
            autoattack=p.autoattack_steps,
            surrogate_chunk=p.surrogate_chunk,
            seed=self.seed,
            version=1,
        )

    def base_params(self, module: Any) -> dict[str, Any]:
        p = self.preset
        return dict(
            module=module,
            max_epochs=0,
            input_shape=p.input_shape,
            clip=(0.0, 1.0),
            layers=list(p.layers),
            n_neighbors=p.n_neighbors,
            hardening_strength=p.hardening_strength,
            hardening_steps=p.hardening_steps,
            adversarial_training=True,
            weighting=p.weighting,
            index="exact",
            batch_size=p.batch_size,
            random_state=self.seed,
            memory=str(self.store.dir / "memory"),
        )

    def shape(self) -> Setting:
        """Stage 1's choice: the best validation setting of the shape levers."""
        levers = levers_for(self.preset)
        candidates: dict[str, Setting] = {}
        for name in SHAPE_LEVERS:
            for setting in levers[name][1]:
                # The same vote under two labels (DAEkNN opens every lever).
                key = joblib.hash((self._params(setting), setting.network))
                candidates.setdefault(key, setting)
        settings = list(candidates.values())
        _say(self.verbose, "stage 1: the shape levers on the validation split")
        rows = [self.result(s, "validation") for s in settings]
        chosen = settings[choose(rows, self.preset.min_sa)]
        _say(self.verbose, f"stage 1 chose {chosen.label}")
        return chosen

    def combinations(self) -> tuple[Setting, list[Setting]]:
        """Stage 3: stage 2's pick, then the pick with each defence setting
        of another lever that did not hurt on the shape.

        The pick is the defence levers' validation choice that wins by the
        page's rule for the study's pick (:func:`pick`; ties: the first, in
        the order of :data:`DEFENCE_LEVERS`). A setting of another defence
        lever joins it when its validation worst-case AA on the shape was at
        least the shape's, at an SA of at least the floor.
        """
        shape = self.shape()
        floor = self.preset.min_sa
        plain = levers_for(self.preset)
        on_shape = levers_for(self.preset, shape)
        _say(self.verbose, "stage 2: the defence levers on the validation split")
        rows = {
            name: [self.result(s, "validation") for s in on_shape[name][1]]
            for name in DEFENCE_LEVERS
        }
        levers = {
            name: {"chosen": choose(rows[name], floor), "validation": rows[name]}
            for name in DEFENCE_LEVERS
        }
        # The study's own rule for its pick, over the defences alone.
        best = pick({"config": {"min_sa": floor}, "levers": levers})
        chosen = on_shape[best][1][levers[best]["chosen"]]
        _say(self.verbose, f"stage 2 picked {chosen.label}")
        bar = rows[best][0]["worst_case_AA"]
        settings = [chosen]
        for name in DEFENCE_LEVERS:
            if name == best:
                continue
            for setting, row in zip(plain[name][1][1:], rows[name][1:], strict=True):
                if row["SA"] >= floor and row["worst_case_AA"] >= bar:
                    settings.append(on_top_of(chosen, setting))
        return chosen, settings

    def _params(self, setting: Setting) -> dict[str, Any]:
        """The estimator parameters of ``setting`` (less the module and cache)."""
        base = {k: v for k, v in self.base_params(None).items() if k != "memory"}
        return {**base, **setting.params}

    def network_row(self, split: str) -> dict[str, Any]:
        digest, net = self.network({})
        X, y = self.splits[split]
        adv = self.transfer(digest, split)
        return {
            **network_figures(net["model"], X, y, adv),
            "train_s": net["train_s"],
            "weights": self.weights({}),
        }

    def row_key(self, params: dict[str, Any], network: dict, split: str) -> str:
        """What makes two rows the same vote on the same split."""
        effective = self._params(Setting("", params))
        return json.dumps([effective, network, split], sort_keys=True, default=_json)

    def remember(self, levers: dict[str, Any]) -> None:
        """Take the rows of an earlier page of the same study as finished.

        The page is the study's durable record: a setting scored there is
        not fitted and attacked again when the cache is gone, so a lever run
        later still sees the shape levers' validation figures. A row is
        taken only if the network it was scored on has the weights of this
        run's (see :meth:`result`); a row without a fingerprint never is.
        """
        for lever in levers.values():
            for split, rows in (
                ("validation", lever["validation"]),
                ("test", [lever["test"]]),
            ):
                for row in rows:
                    key = self.row_key(row["params"], row["network"], split)
                    self.record[key] = {
                        k: v
                        for k, v in row.items()
                        if k not in ("setting", "params", "network")
                    }

    def result(self, setting: Setting, split: str) -> dict[str, Any]:
        """The figures of one setting on one split (computed once, then stored)."""
        weights = self.weights(setting.network)
        recorded = self.record.get(self.row_key(setting.params, setting.network, split))
        if recorded is not None and recorded.get("weights") == weights:
            out = recorded
        else:
            out = self._score(setting, split)
        return {
            "setting": setting.label,
            "params": setting.params,
            "network": setting.network,
            **out,
            "weights": weights,
        }

    def _score(self, setting: Setting, split: str) -> dict[str, Any]:
        """Fit and attack ``setting`` on ``split``, through the cache."""
        digest, net = self.network(setting.network)
        X, y = self.splits[split]
        key = dict(
            network=digest,
            params=self._params(setting),
            split=split,
            data=joblib.hash((X, y)),
            train=self.data_key,
            attacks=self._attack_key(),
        )

        def compute() -> dict[str, Any]:
            _say(self.verbose, f"  {setting.label}: fit and attack ({split})")
            module = net["model"].net_.module_
            est = DAEkNNClassifier(**{**self.base_params(module), **setting.params})
            start = time.perf_counter()
            est.fit(*self.splits["train"])
            fit_s = time.perf_counter() - start
            transfer = self.transfer(digest, split)
            figures = evaluate(est, X, y, transfer, self.preset, self.seed)
            return {
                **figures,
                "fit_s": round(fit_s, 1),
                "network_train_s": net["train_s"],
                "points": fitted_points(est),
            }

        return self.store.get("results", key, compute)


def run_lever(study: Study, name: str) -> dict[str, Any]:
    """A lever's validation figures, its chosen setting and that one's test figures.

    A defence lever runs on stage 1's choice, ``combine`` on stage 2's pick
    (``on`` names it).
    """
    if name == COMBINE_LEVER:
        what = COMBINE_WHAT
        shape, settings = study.combinations()
    else:
        shape = study.shape() if name in DEFENCE_LEVERS else None
        what, settings = levers_for(study.preset, shape)[name]
    _say(
        study.verbose, f"lever {name}: {len(settings)} settings on the validation split"
    )
    validation = [study.result(s, "validation") for s in settings]
    chosen = choose(validation, study.preset.min_sa)
    _say(study.verbose, f"lever {name}: chose {settings[chosen].label}; test images")
    return {
        "what": what,
        "on": None if shape is None else shape.label,
        "validation": validation,
        "chosen": chosen,
        "test": study.result(settings[chosen], "test"),
    }


# ---------------------------------------------------------------- command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line options of ``robust_vote``."""
    parser.add_argument(
        "--dataset",
        choices=sorted(DATASETS),
        default="digits",
        help="digits (bundled, minutes) or mnist (needs --data) (default digits)",
    )
    parser.add_argument(
        "--levers",
        nargs="+",
        choices=LEVER_NAMES,
        default=None,
        metavar="LEVER",
        help=f"levers to study, one or more of {', '.join(LEVER_NAMES)} "
        "(default: all; on MNIST run one at a time). The defences "
        f"({', '.join(DEFENCE_LEVERS)}) run on the vote the shape levers "
        f"({', '.join(SHAPE_LEVERS)}) choose on the validation split, which "
        f"scores those first; {COMBINE_LEVER} runs on the defences' pick",
    )
    parser.add_argument(
        "--data",
        default=None,
        help="the MNIST folder (four IDX files); or the environment variable "
        f"{MNIST_ENV}",
    )
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help=f"output folder (default {DEFAULT_OUT}; the committed page: "
        "--out docs/results)",
    )
    parser.add_argument(
        "--cache-dir",
        default=None,
        help="keep networks, hardening data, attacks and finished settings here: "
        "an interrupted study resumes, later levers reuse the networks",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, help="random seed (0)"
    )
    parser.add_argument(
        "--n-per-class",
        type=positive_int,
        default=None,
        help="MNIST training images per class (2000)",
    )
    parser.add_argument(
        "--n-val",
        type=positive_int,
        default=None,
        help="validation images, taken from the training images "
        "(digits 200, MNIST 500)",
    )
    parser.add_argument(
        "--n-test",
        type=positive_int,
        default=None,
        help="test images (digits 400, MNIST the first 1000)",
    )
    parser.add_argument(
        "--eps",
        type=non_negative_float,
        default=None,
        help="attack eps (digits 0.1, MNIST 80/255)",
    )
    parser.add_argument(
        "--adaptive-steps",
        type=positive_int,
        default=None,
        help="APGD steps per run of the adaptive attack (30)",
    )
    parser.add_argument(
        "--autoattack-steps",
        type=positive_int,
        default=None,
        help="steps of each AutoAttack run (digits 50, MNIST 100)",
    )
    parser.add_argument(
        "--min-sa",
        type=positive_float,
        default=None,
        help="clean-accuracy floor of the choice (digits 0.95, MNIST 0.98)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run of every step on a few images (not a result)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress messages")


def preset_from_args(args: argparse.Namespace) -> Preset:
    """The dataset's preset with the command line's changes."""
    preset = DATASETS[args.dataset]
    changes = {}
    if args.quick:
        changes.update(QUICK)
        if args.dataset == "mnist":
            changes.update(n_per_class=20, epochs=1, train_eps_schedule=(0.3,))
        else:
            changes.update(at_epochs=2, max_train=300)
    for option, name in (
        ("n_per_class", "n_per_class"),
        ("n_val", "n_val"),
        ("n_test", "n_test"),
        ("eps", "eps"),
        ("adaptive_steps", "adaptive_steps"),
        ("autoattack_steps", "autoattack_steps"),
        ("min_sa", "min_sa"),
    ):
        value = getattr(args, option)
        if value is not None:
            changes[name] = value
    if "min_sa" in changes and changes["min_sa"] > 1:
        raise UsageError(f"--min-sa must be at most 1; got {changes['min_sa']!r}")
    return replace(preset, **changes)


#: Options whose values are this machine's paths: a placeholder on the page.
_PATH_OPTIONS = {"--data": "MNIST_FOLDER", "--cache-dir": "CACHE_DIR", "--out": "OUT"}


def public_command(args: argparse.Namespace) -> str:
    """The command line, with this machine's paths as placeholders.

    A folder inside the clone (``--out docs/results``) is kept.

    Examples
    --------
    >>> args = argparse.Namespace(command_line="python -m benchmarks robust_vote "
    ...                           "--data /home/me/mnist --out docs/results")
    >>> public_command(args)
    'python -m benchmarks robust_vote --data MNIST_FOLDER --out docs/results'
    """
    command = getattr(args, "command_line", "python -m benchmarks robust_vote")
    return _pages.public_command(command, _PATH_OPTIONS)


def _machine() -> str:
    # The versions that set the random streams, and so the trained weights.
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{os.cpu_count()} CPU cores ({platform.machine()}, {gpu}), torch "
        f"{torch.__version__}, numpy {np.__version__}, scikit-learn "
        f"{sklearn.__version__}, skorch {skorch.__version__}, sklearn-daeknn "
        f"{__version__}"
    )


def _say(verbose: int, text: str) -> None:
    if verbose:
        print(text, flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the chosen levers; write (or merge into) the JSON and the page."""
    start = time.perf_counter()
    preset = preset_from_args(args)
    path = check_out_dir(args.out) / f"robust_vote_{preset.name}.json"
    verbose = 0 if args.quiet else 1
    splits = load_split(preset, args.data, args.seed)
    levers = list(args.levers or LEVER_NAMES)
    config = {
        **asdict(replace(preset, module=None)),
        "module": preset.module.__name__,
        "dataset": preset.name,
        "seed": args.seed,
    }
    config_key = joblib.hash(config)
    previous = json.loads(path.read_text()) if path.exists() else {}
    if previous.get("config_key") != config_key:
        previous = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(args.cache_dir or tmp)
        study = Study(preset, splits, store, args.seed, verbose)
        study.remember(previous.get("levers", {}))
        network = {split: study.network_row(split) for split in ("validation", "test")}
        previous = _same_network(previous, network["test"]["weights"], levers, path)
        lever_results = {name: run_lever(study, name) for name in levers}
    results = {
        "config": config,
        "config_key": config_key,
        "sizes": {split: int(len(splits[split][1])) for split in splits},
        "network": {
            **network["test"],
            "test": network["test"],
            "validation": network["validation"],
            "train_s": network["test"]["train_s"],
        },
        "levers": lever_results,
        "machine": _machine(),
        "commands": [public_command(args)],
        "wall_time_s": [round(time.perf_counter() - start, 1)],
    }
    if previous:
        kept = _still_valid(previous["levers"], lever_results)
        merged = {**kept, **lever_results}
        results["levers"] = {
            name: merged[name] for name in LEVER_NAMES if name in merged
        }
        results["commands"] = previous["commands"] + results["commands"]
        results["wall_time_s"] = previous["wall_time_s"] + results["wall_time_s"]
    results["comparisons"] = comparisons(results)
    out = make_out_dir(args.out)
    path.write_text(json.dumps(results, indent=1, default=_json) + "\n")
    (out / f"robust_vote_{preset.name}.md").write_text(markdown(results))
    if verbose:
        print("\n".join(verdict(results)))
        print(f"wall time {results['wall_time_s'][-1]:.0f} s; written to {out}")
    return results


def _same_network(
    previous: dict[str, Any], weights: str, levers: list[str], path: Path
) -> dict[str, Any]:
    """The earlier page, if its network is this run's; an error if it is not.

    A page whose levers this run re-runs all is simply replaced; one that
    would keep levers scored on other weights (or on weights it did not
    record) is refused rather than mixed with this run's.
    """
    if not previous or previous["network"].get("weights") == weights:
        return previous
    if set(previous["levers"]) <= set(levers):
        return {}
    raise UsageError(
        f"{path} holds levers scored on another network than this run's "
        "(its weights differ: trained again, perhaps with other package "
        "versions, or recorded before networks were fingerprinted); a page "
        "must not mix them. Write to another --out, or re-run its levers "
        f"({', '.join(previous['levers'])}) there"
    )


def _still_valid(previous: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The earlier run's levers that still hold beside this run's.

    A defence lever holds only if it ran on the shape this run chose (and
    one from before the stages, which ran on the paper's DAEkNN, never).
    ``combine`` holds only if this run ran no shape or defence lever, whose
    figures make the pick it starts from.

    Examples
    --------
    >>> old = {"k": {"on": None}, "pruning": {"on": "n_neighbors=15"},
    ...        "metric": {}, "combine": {"on": "n_neighbors=15"}}
    >>> sorted(_still_valid(old, {}))
    ['combine', 'k', 'pruning']
    >>> sorted(_still_valid(old, {"strength": {"on": "DAEkNN"}}))
    ['k']
    >>> sorted(_still_valid(old, {"baseline": {"on": None}}))
    ['combine', 'k', 'pruning']
    """
    shapes = {lever["on"] for name, lever in new.items() if name in DEFENCE_LEVERS}
    stages = set(SHAPE_LEVERS) | set(DEFENCE_LEVERS)
    kept = {}
    for name, lever in previous.items():
        if name in DEFENCE_LEVERS:
            on = lever.get("on")
            if on is None or (shapes and on not in shapes):
                continue
        if name == COMBINE_LEVER and stages & set(new):
            continue
        kept[name] = lever
    return kept


def _json(value: Any) -> Any:
    if isinstance(value, np.integer | np.floating):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
