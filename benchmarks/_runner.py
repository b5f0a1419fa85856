"""The DAEkNN paper's experiment on any data set: Tables I and II, Figures 1 and 3.

A :class:`~benchmarks._protocol.PaperConfig` says what to load and how to
train; the data-set specific modules (``mnist.py``, ...) build one and call
:func:`run_paper_benchmark`, which

1. reads the data (``config.loader``), then creates the output folder;
2. fits the models, each once (cached with joblib in ``cache_dir``, see
   :mod:`benchmarks._fitting`);
3. attacks each network once on the test set (``X_adv["standard"]`` and
   ``X_adv["adversarial"]``, the paper's transfer protocol);
4. runs the evaluation steps of :data:`EVALUATIONS` in order, each a
   function of the :class:`~benchmarks._protocol.BenchmarkState` returning a
   JSON-able dict;
5. writes ``<name>.json`` and the PNGs to ``out_dir`` and prints the tables.

To add an evaluation, append a ``(name, function)`` pair to
:data:`EVALUATIONS` (or pass ``evaluations=``); its result is stored under
``name`` in the JSON.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import torch

from sklearn_daeknn import __version__

from ._adaptive import evaluate_adaptive, evaluate_credibility
from ._cli import check_out_dir, make_out_dir, read_data
from ._fitting import Cache, fit_models
from ._protocol import (
    NETWORK_NAMES,
    ROWS,
    TRANSFER_PROTOCOL,
    BenchmarkState,
    PaperConfig,
    attack_settings,
)
from ._reports import fmt_row, print_results, save_figures, say
from ._transfer import (
    evaluate_hardening_sweep,
    evaluate_per_layer,
    evaluate_table,
    evaluate_weightings,
    vote_layers,
)

__all__ = ["EVALUATIONS", "hardware_note", "run_paper_benchmark"]

#: The evaluation steps, run in order after fitting: (name, function).
EVALUATIONS: list[tuple[str, Callable[[BenchmarkState], dict[str, Any]]]] = [
    ("table", evaluate_table),
    ("per_layer", evaluate_per_layer),
    ("hardening_sweep", evaluate_hardening_sweep),
    ("weightings", evaluate_weightings),
    ("adaptive", evaluate_adaptive),
    ("credibility", evaluate_credibility),
]


def hardware_note(device: str) -> str:
    """What ran a benchmark, for its notes: the GPU if any, the CPU cores, torch."""
    cpu = f"{os.cpu_count()} CPU cores, torch {torch.__version__}"
    if str(device).startswith("cuda"):
        return f"{torch.cuda.get_device_name(torch.device(device))}, {cpu}"
    return f"{cpu}, no GPU used"


def _versions() -> dict[str, str]:
    import scipy
    import sklearn
    import skorch

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


def _load(config: PaperConfig) -> tuple[np.ndarray, ...]:
    X_train, y_train, X_test, y_test = read_data(
        config.name, config.data, lambda: config.loader(config)
    )
    X_train = np.ascontiguousarray(X_train, dtype=np.float32)
    X_test = np.ascontiguousarray(X_test, dtype=np.float32)
    return X_train, np.asarray(y_train), X_test, np.asarray(y_test)


def _sizes(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray) -> dict:
    return {
        "train": int(len(X_train)),
        "test": int(len(X_test)),
        "train_per_class": {
            str(c): int(n)
            for c, n in zip(*np.unique(y_train, return_counts=True), strict=True)
        },
        "n_features": int(X_train.shape[1]),
    }


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
        Where ``<config.name>.json`` and the PNGs go; created once the data
        are read.
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
        per row of ``ROWS`` (fractions), the other steps' results under
        their names, and ``attack``, ``sizes``, ``seed``, ``config``,
        ``versions``, ``timings`` and ``wall_time_s``.

    Raises
    ------
    benchmarks._cli.UsageError
        Before anything is fitted, when ``out_dir`` or ``cache_dir`` cannot
        be a writable folder or the data cannot be read.
    """
    start = time.perf_counter()
    check_out_dir(out_dir)
    if cache_dir is not None:
        check_out_dir(cache_dir, "--cache-dir")
    X_train, y_train, X_test, y_test = _load(config)
    out_dir = make_out_dir(out_dir)
    cache = Cache(cache_dir)
    timings: dict[str, float] = {}
    sizes = _sizes(X_train, y_train, X_test)
    say(
        verbose,
        f"{config.name}: {sizes['train']} training and {sizes['test']} test samples",
    )
    models, fit_hardened = fit_models(config, X_train, y_train, cache, verbose, timings)

    attack = config.attack(verbose=verbose)
    # The attack's settings, not its repr: showing progress changes no input.
    attack_key = {k: v for k, v in attack.get_params().items() if k != "verbose"}
    X_adv = {}
    for network in ("standard", "adversarial"):
        say(verbose, f"attacking the {NETWORK_NAMES[network]} network")
        t0 = time.perf_counter()
        model = models[network]
        X_adv[network], _ = cache.get(
            f"{config.name}-xadv-{network}",
            (joblib.hash(model.net_.module_.state_dict()), attack_key,
             joblib.hash(X_test), joblib.hash(y_test)),
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
        say(verbose, f"evaluating: {step}")
        t0 = time.perf_counter()
        value = function(state)
        timings[f"evaluate {step}"] = round(time.perf_counter() - t0, 1)
        if step == "table":
            results.update(value)
            if verbose:
                print(f"\n{'':<12} {'SA':>6} {'AA':>6} {'HM':>6}   (%)")
                for row in ROWS:
                    print(fmt_row(row, value[row]), flush=True)
        else:
            results[step] = value
        state.results = results

    results.update(
        rows=list(ROWS),
        vote_layers=vote_layers(state),
        attack=attack_settings(attack, TRANSFER_PROTOCOL),
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
