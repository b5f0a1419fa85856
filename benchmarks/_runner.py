"""The DAEkNN paper's experiment on any data set: Tables I and II, Figures 1 and 3.

A :class:`PaperConfig` says what to load and how to train; the data-set
specific modules (``mnist.py``, ...) build one and call
:func:`run_paper_benchmark`, which

1. fits the models, each once (cached with joblib in ``cache_dir``): the
   standard network with its DkNN (``"standard"``), the same network with
   hardening data (``"standard+hardening"``, DAEkNN-WAT), the adversarially
   trained network with its DkNN vote (``"adversarial"``, DAEkNN-WAD), the
   same network with hardening data (``"adversarial+hardening"``, DAEkNN) and
   a ``KNeighborsClassifier`` on the raw inputs (``"knn"``);
2. attacks each network once on the test set (``X_adv["standard"]`` and
   ``X_adv["adversarial"]``, the paper's transfer protocol);
3. runs the evaluation steps of :data:`EVALUATIONS` in order, each a
   function of the :class:`BenchmarkState` returning a JSON-able dict;
4. writes ``<name>.json`` and the PNGs to ``out_dir`` and prints the tables.

To add an evaluation (an adaptive attack, ...), append a
``(name, function)`` pair to :data:`EVALUATIONS` (or pass ``evaluations=``);
its result is stored under ``name`` in the JSON.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import torch

from .._attack import PGD
from .._classifier import DAEkNNClassifier
from .._evaluation import (
    compare_weightings,
    harmonic_mean,
    per_layer_scores,
    refit_knn,
    vote_scores,
)
from .._vote import WEIGHTINGS
from .adaptive import (
    adaptive_figures,
    evaluate_adaptive,
    evaluate_credibility,
    markdown_adaptive,
    print_adaptive,
)

__all__ = [
    "EVALUATIONS",
    "ROWS",
    "BenchmarkState",
    "PaperConfig",
    "run_paper_benchmark",
]

logger = logging.getLogger("sklearn_daeknn")

#: The paper's tables: row name -> (model key, prediction, attacked network).
#: ``"vote"`` is the kNN vote over ``PaperConfig.vote_layers``. The raw-pixel
#: KNN has no gradient: it gets the standard network's adversarial inputs.
ROWS: dict[str, tuple[str, str, str]] = {
    "KNN": ("knn", "predict", "standard"),
    "CNN": ("standard", "predict_network", "standard"),
    "AT-CNN": ("adversarial", "predict_network", "adversarial"),
    "DkNN": ("standard", "vote", "standard"),
    "DAEkNN-WAT": ("standard+hardening", "vote", "standard"),
    "DAEkNN-WAD": ("adversarial", "vote", "adversarial"),
    "DAEkNN": ("adversarial+hardening", "vote", "adversarial"),
}
TABLE_I = ("KNN", "CNN", "AT-CNN", "DkNN", "DAEkNN")
TABLE_II = ("DkNN", "DAEkNN-WAT", "DAEkNN-WAD", "DAEkNN")
NETWORK_NAMES = {"standard": "standard CNN", "adversarial": "adversarially trained"}


@dataclass
class PaperConfig:
    """Everything that defines one run of the paper's experiment.

    Parameters
    ----------
    name : str
        Short name; the output files are ``<name>.json`` and ``<name>_*.png``.
    loader : callable
        ``loader() -> (X_train, y_train, X_test, y_test)``, flattened inputs
        inside ``clip``.
    input_shape : tuple of int
        Shape of one sample for the network, e.g. ``(1, 28, 28)``.
    module : torch.nn.Module class
        The network; ``module_params`` are its keyword arguments.
    layers : tuple of str or None
        Layers indexed by the kNN models (the per-layer figure shows each);
        ``None``: the network's ``knn_layers``.
    vote_layers : tuple of str or None
        The layers whose votes make the tables' kNN rows; ``None``: all of
        ``layers``.
    attack_eps, attack_steps, attack_step_size, attack_random_start
        The test attack (PGD, L-infinity); step size ``None``:
        ``2.5 * eps / steps``.
    train_eps, train_steps, train_step_size
        The adversarial training attack.
    hardening_strength, hardening_strength_wat
        ``eps_h`` of DAEkNN (adversarially trained network) and of
        DAEkNN-WAT (standard network).
    hardening_steps, hardening_step_size
        PGD steps and step size of the hardening data.
    epochs, at_epochs
        Training epochs of the standard and of the adversarially trained
        network (``None``: ``epochs``).
    at_init : {'scratch', 'standard'}
        Start adversarial training from random weights, or from the trained
        standard network's weights (a cheap warm start).
    train_eps_schedule : tuple of float, default=()
        When given, adversarial training runs one stage per entry, each of
        ``at_epochs`` epochs at that ``eps`` and starting from the previous
        stage's weights (an eps ramp such as ``(0.1, 0.2, 0.3)`` avoids the
        plateau of training at a large eps from the start); ``train_eps`` is
        then unused.
    sweep_strengths, sweep_strengths_wat
        Hardening strengths of the sweep (Figure 3) on the adversarially
        trained and on the standard network.
    weightings : tuple of str
        Vote weightings compared on the hardened models.
    notes : dict of str to str
        Free-form notes copied to the JSON (e.g. what was scaled down).
    """

    name: str
    loader: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    input_shape: tuple[int, ...]
    module: Any
    module_params: dict[str, Any] = field(default_factory=dict)
    layers: tuple[str, ...] | None = None
    vote_layers: tuple[str, ...] | None = None
    n_neighbors: int = 5
    clip: tuple[float, float] = (0.0, 1.0)
    attack_eps: float = 0.3
    attack_steps: int = 10
    attack_step_size: float | None = None
    attack_random_start: bool = True
    train_eps: float = 0.3
    train_steps: int = 7
    train_step_size: float | None = None
    hardening_strength: float = 0.3
    hardening_strength_wat: float = 0.05
    hardening_steps: int = 10
    hardening_step_size: float | None = None
    weighting: str = "softmax"
    temperature: float = 1.0
    weightings: tuple[str, ...] = WEIGHTINGS
    epochs: int = 10
    at_epochs: int | None = None
    at_init: str = "scratch"
    train_eps_schedule: tuple[float, ...] = ()
    lr: float = 1e-3
    batch_size: int = 128
    index: str = "exact"
    max_layer_features: int | None = 4096
    device: str = "cpu"
    seed: int = 0
    sweep_strengths: tuple[float, ...] = ()
    sweep_strengths_wat: tuple[float, ...] = ()
    notes: dict[str, str] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        """The config as JSON-able values (the loader and module by name)."""
        out = asdict(self)
        out["loader"] = getattr(self.loader, "__name__", repr(self.loader))
        out["module"] = getattr(self.module, "__name__", repr(self.module))
        return json.loads(json.dumps(out, default=repr))

    def attack(self) -> PGD:
        """The test attack."""
        return PGD(
            eps=self.attack_eps,
            step_size=self.attack_step_size,
            n_steps=self.attack_steps,
            random_start=self.attack_random_start,
            clip=self.clip,
            random_state=self.seed,
        )


@dataclass
class BenchmarkState:
    """What the evaluation steps read: the data, the fitted models, the attacks."""

    config: PaperConfig
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    models: dict[str, Any]
    attack: PGD
    X_adv: dict[str, np.ndarray]
    fit: Callable[..., Any]
    results: dict[str, Any] = field(default_factory=dict)
    verbose: int = 1


# ------------------------------------------------------------ fitting


class _Cache:
    """Fitted objects in ``cache_dir`` as joblib files, keyed by a hash."""

    def __init__(self, cache_dir: str | Path | None) -> None:
        self.dir = None if cache_dir is None else Path(cache_dir)
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)

    def get(self, label: str, key: Any, make: Callable[[], Any]) -> tuple[Any, str]:
        digest = joblib.hash(key)
        if self.dir is None:
            return make(), digest
        path = self.dir / f"{label}-{digest}.joblib"
        if path.exists():
            logger.info("loading %s from %s", label, path)
            return joblib.load(path), digest
        value = make()
        joblib.dump(value, path)
        return value, digest


def hardware_note(device: str) -> str:
    """What ran a benchmark, for its notes: the GPU if any, the CPU cores, torch."""
    import os

    cpu = f"{os.cpu_count()} CPU cores, torch {torch.__version__}"
    if str(device).startswith("cuda"):
        return f"{torch.cuda.get_device_name(torch.device(device))}, {cpu}"
    return f"{cpu}, no GPU used"


def _estimator(config: PaperConfig, verbose: int, **params: Any) -> DAEkNNClassifier:
    base: dict[str, Any] = dict(
        module=config.module,
        module_params=dict(config.module_params) or None,
        input_shape=tuple(config.input_shape),
        layers=None if config.layers is None else list(config.layers),
        n_neighbors=config.n_neighbors,
        hardening_steps=config.hardening_steps,
        hardening_step_size=config.hardening_step_size,
        train_eps=config.train_eps,
        train_steps=config.train_steps,
        train_step_size=config.train_step_size,
        weighting=config.weighting,
        temperature=config.temperature,
        index=config.index,
        max_layer_features=config.max_layer_features,
        clip=tuple(config.clip),
        max_epochs=config.epochs,
        lr=config.lr,
        batch_size=config.batch_size,
        device=config.device,
        random_state=config.seed,
        verbose=verbose,
    )
    base.update(params)
    return DAEkNNClassifier(**base)


def _adversarial_training(
    config: PaperConfig,
    standard: DAEkNNClassifier,
    X: np.ndarray,
    y: np.ndarray,
    verbose: int,
) -> DAEkNNClassifier:
    """The adversarially trained network, in stages when eps is ramped."""
    epochs = config.epochs if config.at_epochs is None else config.at_epochs
    warm = config.at_init == "standard"
    module = standard.net_.module_ if warm else config.module
    params = None if warm else dict(config.module_params) or None
    model = None
    for i, eps in enumerate(config.train_eps_schedule or (config.train_eps,)):
        if i:
            module, params = model.net_.module_, None
            _say(verbose, f"adversarial training, stage {i + 1}: eps={eps:g}")
        model = _estimator(
            config,
            verbose,
            module=module,
            module_params=params,
            adversarial_training=True,
            train_eps=eps,
            hardening_strength=0,
            max_epochs=epochs,
        ).fit(X, y)
    return model


def _say(verbose: int, message: str) -> None:
    logger.info(message)
    if verbose:
        print(message, flush=True)


def _fit_models(
    config: PaperConfig,
    X: np.ndarray,
    y: np.ndarray,
    cache: _Cache,
    verbose: int,
    timings: dict[str, float],
) -> tuple[dict[str, Any], Callable[..., Any]]:
    from sklearn.neighbors import KNeighborsClassifier

    data_key = (joblib.hash(X), joblib.hash(y))
    fit_fields = {
        k: v
        for k, v in config.settings().items()
        if k
        not in ("name", "notes", "loader", "sweep_strengths", "sweep_strengths_wat")
        and not k.startswith("attack")
        # the vote is chosen at prediction time: no refit for these
        and k not in ("vote_layers", "weighting", "weightings", "temperature")
    }
    digests: dict[str, str] = {}
    models: dict[str, Any] = {}

    fitted: dict[str, Any] = {}

    def fit(label: str, base: str | None, make: Callable[[], Any], **key: Any) -> Any:
        if label in fitted:  # e.g. a sweep point that is a table's model
            return fitted[label]
        start = time.perf_counter()
        parent = None if base is None else digests[base]
        model, digests[label] = cache.get(
            f"{config.name}-{label.replace('+', '-')}",
            (fit_fields, data_key, parent, key),
            make,
        )
        timings[f"fit {label}"] = round(time.perf_counter() - start, 1)
        if isinstance(model, DAEkNNClassifier):  # the config's vote, even if cached
            model.set_params(weighting=config.weighting, temperature=config.temperature)
        fitted[label] = model
        return model

    def fit_hardened(base: str, strength: float) -> Any:
        """The model ``base`` with hardening data of strength ``strength``."""
        if not strength:
            return models[base]
        label = f"{base}+hardening-{strength:g}"
        return fit(
            label,
            base,
            lambda: refit_knn(models[base], X, y, hardening_strength=strength),
            hardening_strength=strength,
        )

    _say(verbose, "fitting the standard network (CNN, DkNN)")
    models["standard"] = fit(
        "standard",
        None,
        lambda: _estimator(
            config, verbose, adversarial_training=False, hardening_strength=0
        ).fit(X, y),
    )
    _say(verbose, "fitting the adversarially trained network (AT-CNN, DAEkNN-WAD)")
    models["adversarial"] = fit(
        "adversarial",
        "standard" if config.at_init == "standard" else None,
        lambda: _adversarial_training(config, models["standard"], X, y, verbose),
        adversarial=True,
    )
    _say(verbose, f"hardening data, eps_h={config.hardening_strength_wat:g} (WAT)")
    models["standard+hardening"] = fit_hardened(
        "standard", config.hardening_strength_wat
    )
    _say(verbose, f"hardening data, eps_h={config.hardening_strength:g} (DAEkNN)")
    models["adversarial+hardening"] = fit_hardened(
        "adversarial", config.hardening_strength
    )
    _say(verbose, "fitting KNeighborsClassifier on raw inputs")
    models["knn"] = KNeighborsClassifier(n_neighbors=config.n_neighbors).fit(X, y)
    return models, fit_hardened


# ------------------------------------------------------------ evaluation steps


def _row_scores(state: BenchmarkState, row: str) -> dict[str, Any]:
    key, method, network = ROWS[row]
    model = state.models[key]
    X, y, X_adv = state.X_test, state.y_test, state.X_adv[network]
    if method == "vote":
        scores = vote_scores(model, X, y, X_adv, layers=state.config.vote_layers)
        predictor = f"kNN vote over {_vote_layers(state)}"
    else:
        pred = getattr(model, method)
        sa = float(np.mean(pred(X) == y))
        aa = float(np.mean(pred(X_adv) == y))
        scores = {"SA": sa, "AA": aa, "HM": harmonic_mean(sa, aa)}
        predictor = {
            "predict_network": "the network's softmax",
            "predict": "KNeighborsClassifier on raw inputs",
        }[method]
    return {
        **scores,
        "predictor": predictor,
        "attacked_network": NETWORK_NAMES[network],
        "protocol": f"PGD against the {NETWORK_NAMES[network]} network, "
        f"transferred to {predictor}",
    }


def _vote_layers(state: BenchmarkState) -> list[str]:
    layers = state.config.vote_layers
    return list(state.models["standard"].layers_ if layers is None else layers)


def evaluate_table(state: BenchmarkState) -> dict[str, Any]:
    """Tables I and II: SA, AA and HM of every row of :data:`ROWS`."""
    return {row: _row_scores(state, row) for row in ROWS}


def evaluate_per_layer(state: BenchmarkState) -> dict[str, Any]:
    """Figure 1: each indexed layer's kNN alone, for every kNN model."""
    out = {}
    for row in TABLE_II:
        key, _, network = ROWS[row]
        out[row] = per_layer_scores(
            state.models[key], state.X_test, state.y_test, state.X_adv[network]
        )
    return out


def evaluate_hardening_sweep(state: BenchmarkState) -> dict[str, Any]:
    """Figure 3: SA, AA and HM as the hardening strength varies, per network."""
    config = state.config
    out = {}
    for base, strengths in (
        ("adversarial", config.sweep_strengths),
        ("standard", config.sweep_strengths_wat),
    ):
        if not strengths:
            continue
        sweep: dict[str, list[float]] = {"hardening_strength": []}
        for strength in strengths:
            _say(state.verbose, f"sweep: {base} network, eps_h={strength:g}")
            model = state.fit(base, float(strength))
            scores = vote_scores(
                model,
                state.X_test,
                state.y_test,
                state.X_adv[base],
                layers=config.vote_layers,
            )
            sweep["hardening_strength"].append(float(strength))
            for metric, value in scores.items():
                sweep.setdefault(metric, []).append(value)
        out[NETWORK_NAMES[base]] = sweep
    return out


def evaluate_weightings(state: BenchmarkState) -> dict[str, Any]:
    """The vote weightings compared on the hardened models; the winner by HM."""
    out: dict[str, Any] = {}
    for row in ("DAEkNN", "DAEkNN-WAT"):
        key, _, network = ROWS[row]
        scores = compare_weightings(
            state.models[key],
            state.X_test,
            state.y_test,
            state.X_adv[network],
            weightings=state.config.weightings,
            layers=state.config.vote_layers,
        )
        best = max(scores, key=lambda w: (scores[w]["HM"], scores[w]["AA"]))
        out[row] = {"scores": scores, "best": best}
    return out


#: The evaluation steps, run in order after fitting: (name, function).
EVALUATIONS: list[tuple[str, Callable[[BenchmarkState], dict[str, Any]]]] = [
    ("table", evaluate_table),
    ("per_layer", evaluate_per_layer),
    ("hardening_sweep", evaluate_hardening_sweep),
    ("weightings", evaluate_weightings),
    ("adaptive", evaluate_adaptive),
    ("credibility", evaluate_credibility),
]


# ------------------------------------------------------------ output


def _versions() -> dict[str, str]:
    import os

    import scipy
    import sklearn
    import skorch
    import torch

    from .._version import __version__

    return {
        "sklearn_daeknn": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
        "skorch": skorch.__version__,
        "platform": platform.platform(),
        "cpu_count": str(os.cpu_count()),
        "torch_threads": str(torch.get_num_threads()),
    }


def _fmt_row(name: str, scores: dict[str, Any]) -> str:
    return (
        f"{name:<12} {100 * scores['SA']:6.2f} {100 * scores['AA']:6.2f} "
        f"{100 * scores['HM']:6.2f}"
    )


def print_results(results: dict[str, Any]) -> None:
    """Print the tables of a benchmark's results (as returned or saved)."""
    header = f"{'':<12} {'SA':>6} {'AA':>6} {'HM':>6}   (%)"
    attack = results["attack"]
    print(
        f"\n{results['name']}: PGD L-inf eps={attack['eps']:.4g}, "
        f"{attack['n_steps']} steps, transfer from each model's network "
        "(KNN: from the standard CNN)"
    )
    for title, rows in (("Table I", TABLE_I), ("Table II (ablation)", TABLE_II)):
        print(f"\n{title}\n{header}")
        for row in rows:
            if row in results:
                print(_fmt_row(row, results[row]))
    for model, layers in results.get("per_layer", {}).items():
        cells = ", ".join(
            f"{name} {100 * sa:.1f}/{100 * aa:.1f}"
            for name, sa, aa in zip(
                layers["layer"], layers["SA"], layers["AA"], strict=True
            )
        )
        print(f"\nper layer SA/AA, {model}: {cells}")
    for network, sweep in results.get("hardening_sweep", {}).items():
        print(f"\nhardening sweep, {network} network\n{'eps_h':<12} SA     AA     HM")
        for i, strength in enumerate(sweep["hardening_strength"]):
            row = {m: sweep[m][i] for m in ("SA", "AA", "HM")}
            print(_fmt_row(f"{strength:g}", row))
    for row, comparison in results.get("weightings", {}).items():
        print(f"\nweightings, {row}\n{header}")
        for weighting, scores in comparison["scores"].items():
            print(_fmt_row(weighting, scores))
        print(f"best by HM: {comparison['best']}")
    print_adaptive(results)
    print(f"\nwall time {results['wall_time_s']:.0f} s")


def _md_table(rows: dict[str, dict[str, Any]], first: str) -> str:
    lines = [f"| {first} | SA | AA | HM |", "| --- | ---: | ---: | ---: |"]
    for name, scores in rows.items():
        cells = " | ".join(f"{100 * scores[m]:.2f}" for m in ("SA", "AA", "HM"))
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def markdown_tables(results: dict[str, Any]) -> str:
    """The tables of a benchmark's results as Markdown (for a results page)."""
    parts = [
        "Table I (%)",
        _md_table({r: results[r] for r in TABLE_I if r in results}, "model"),
        "Table II, ablation (%)",
        _md_table({r: results[r] for r in TABLE_II if r in results}, "model"),
    ]
    for model, layers in results.get("per_layer", {}).items():
        rows = {
            name: {"SA": sa, "AA": aa, "HM": hm}
            for name, sa, aa, hm in zip(
                layers["layer"], layers["SA"], layers["AA"], layers["HM"], strict=True
            )
        }
        parts += [f"Each layer's kNN alone, {model} (%)", _md_table(rows, "layer")]
    for network, sweep in results.get("hardening_sweep", {}).items():
        rows = {
            f"{eps:g}": {m: sweep[m][i] for m in ("SA", "AA", "HM")}
            for i, eps in enumerate(sweep["hardening_strength"])
        }
        parts += [f"Hardening sweep, {network} network (%)", _md_table(rows, "eps_h")]
    for row, comparison in results.get("weightings", {}).items():
        parts += [
            f"Vote weightings, {row} (%); best by HM: {comparison['best']}",
            _md_table(comparison["scores"], "weighting"),
        ]
    parts += markdown_adaptive(results)
    return "\n\n".join(parts) + "\n"


def save_figures(results: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Draw the PNGs of a benchmark's results; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plotting import plot_hardening_sweep, plot_layer_scores, plot_scores_table

    out_dir = Path(out_dir)
    name = results["name"]
    attack = results["attack"]
    subtitle = f"{name}, PGD eps={attack['eps']:.3g}, {attack['n_steps']} steps"
    figures = []
    for suffix, rows, title in (
        ("table1", TABLE_I, f"Table I ({subtitle})"),
        ("table2", TABLE_II, f"Table II, ablation ({subtitle})"),
    ):
        present = {row: results[row] for row in rows if row in results}
        figures.append((suffix, plot_scores_table(present, title=title)))
    if results.get("per_layer"):
        layers = {
            row: results["per_layer"][row]
            for row in ("DkNN", "DAEkNN")
            if row in results["per_layer"]
        }
        title = f"Each layer's kNN alone ({subtitle})"
        figures.append(("layers", plot_layer_scores(layers, title=title)))
    if results.get("hardening_sweep"):
        title = f"Hardening strength ({subtitle})"
        figures.append(
            ("hardening", plot_hardening_sweep(results["hardening_sweep"], title=title))
        )
    if results.get("weightings", {}).get("DAEkNN"):
        scores = results["weightings"]["DAEkNN"]["scores"]
        title = f"Vote weightings, DAEkNN ({subtitle})"
        figures.append(("weightings", plot_scores_table(scores, title=title)))
    figures.extend(adaptive_figures(results, subtitle))
    paths = []
    for suffix, ax in figures:
        path = out_dir / f"{name}_{suffix}.png"
        ax.figure.savefig(path, dpi=110)
        plt.close(ax.figure)
        paths.append(path)
    return paths


# ------------------------------------------------------------ entry point


def run_paper_benchmark(
    config: PaperConfig,
    out_dir: str | Path,
    cache_dir: str | Path | None = None,
    verbose: int = 1,
    *,
    evaluations: list[tuple[str, Callable[[BenchmarkState], Any]]] | None = None,
    figures: bool = True,
) -> dict[str, Any]:
    """Fit, attack and evaluate the paper's models; write JSON and PNGs.

    Parameters
    ----------
    config : PaperConfig
        What to run.
    out_dir : str or Path
        Where ``<config.name>.json`` and the PNGs go (created if missing).
    cache_dir : str or Path, default=None
        Where fitted models and adversarial inputs are cached (joblib); a
        rerun with the same config reuses them. ``None``: no cache.
    verbose : int, default=1
        Progress bars and stage messages when positive.
    evaluations : list of (str, callable), default=None
        The evaluation steps; ``None``: :data:`EVALUATIONS`.
    figures : bool, default=True
        Draw the PNGs (needs matplotlib).

    Returns
    -------
    results : dict
        What is written to the JSON: one ``{"SA", "AA", "HM", ...}`` entry
        per row of :data:`ROWS` (fractions), the other steps' results under
        their names, and ``attack``, ``sizes``, ``seed``, ``config``,
        ``versions``, ``timings`` and ``wall_time_s``.
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = _Cache(cache_dir)
    timings: dict[str, float] = {}

    X_train, y_train, X_test, y_test = config.loader()
    X_train = np.ascontiguousarray(X_train, dtype=np.float32)
    X_test = np.ascontiguousarray(X_test, dtype=np.float32)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    sizes = {
        "train": int(len(X_train)),
        "test": int(len(X_test)),
        "train_per_class": {
            str(c): int(n)
            for c, n in zip(*np.unique(y_train, return_counts=True), strict=True)
        },
        "n_features": int(X_train.shape[1]),
    }
    _say(
        verbose,
        f"{config.name}: {sizes['train']} training and {sizes['test']} test samples",
    )
    models, fit_hardened = _fit_models(
        config, X_train, y_train, cache, verbose, timings
    )

    attack = config.attack()
    attack.verbose = verbose
    X_adv = {}
    for network in ("standard", "adversarial"):
        _say(verbose, f"attacking the {NETWORK_NAMES[network]} network")
        t0 = time.perf_counter()
        model = models[network]
        X_adv[network], _ = cache.get(
            f"{config.name}-xadv-{network}",
            (joblib.hash(model.net_.module_.state_dict()), repr(attack),
             attack.random_state, joblib.hash(X_test), joblib.hash(y_test)),
            lambda model=model: attack.generate(model, X_test, y_test),
        )  # fmt: skip
        timings[f"attack {network}"] = round(time.perf_counter() - t0, 1)

    state = BenchmarkState(
        config=config,
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        models=models,
        attack=attack,
        X_adv=X_adv,
        fit=fit_hardened,
        verbose=verbose,
    )
    results: dict[str, Any] = {"name": config.name}
    for step, function in EVALUATIONS if evaluations is None else evaluations:
        _say(verbose, f"evaluating: {step}")
        t0 = time.perf_counter()
        value = function(state)
        timings[f"evaluate {step}"] = round(time.perf_counter() - t0, 1)
        if step == "table":
            results.update(value)
            if verbose:
                print(f"\n{'':<12} {'SA':>6} {'AA':>6} {'HM':>6}   (%)")
                for row in ROWS:
                    print(_fmt_row(row, value[row]), flush=True)
        else:
            results[step] = value
        state.results = results

    attack_settings = {
        "name": "PGD",
        "norm": "inf",
        "eps": attack.eps,
        "n_steps": attack.n_steps,
        "step_size": attack.step_size
        if attack.step_size is not None
        else 2.5 * attack.eps / max(attack.n_steps, 1),
        "random_start": attack.random_start,
        "clip": list(config.clip),
        "random_state": attack.random_state,
        "protocol": "transfer: PGD against each model's own network, the "
        "adversarial inputs then classified by the model; the KNN row (no "
        "network) gets the standard CNN's adversarial inputs",
    }
    results.update(
        rows=list(ROWS),
        vote_layers=_vote_layers(state),
        attack=attack_settings,
        sizes=sizes,
        seed=config.seed,
        config=config.settings(),
        notes=dict(config.notes),
        versions=_versions(),
        timings=timings,
        wall_time_s=round(time.perf_counter() - start, 1),
    )
    json_path = out_dir / f"{config.name}.json"
    json_path.write_text(json.dumps(results, indent=1) + "\n")
    if figures:
        save_figures(results, out_dir)
    if verbose:
        print_results(results)
        print(f"results written to {json_path}")
    return results
