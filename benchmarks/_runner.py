"""The DAEkNN paper's experiment on any data set: Tables I and II under an
attack suite, Figures 1 and 3, DkNN credibility.

A :class:`~benchmarks._protocol.PaperConfig` says what to load and how to
train; the data-set specific modules (``mnist.py``, ...) build one and call
:func:`run_paper_benchmark`, which

1. reads the data (``config.loader``), then creates the output folder;
2. fits the models, each once (cached with joblib in ``cache_dir``, see
   :mod:`benchmarks._fitting`);
3. runs the evaluation steps of :data:`EVALUATIONS` in order, each a
   function of the :class:`~benchmarks._protocol.BenchmarkState` returning a
   JSON-able dict; the attacks run when a step first needs their inputs,
   each once, cached in ``cache_dir`` too (:mod:`benchmarks._suite`);
4. writes ``<name>.json``, the PNGs and the Markdown page ``<name>.md`` to
   ``out_dir`` and prints the tables and the verdict.

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

import numpy as np
import torch

from sklearn_daeknn import __version__

from ._cli import check_out_dir, make_out_dir, read_data
from ._credibility import evaluate_credibility
from ._fitting import Cache, fit_models
from ._pages import paper_page, public_command, public_folder, write_page
from ._protocol import BenchmarkState, PaperConfig, attack_settings
from ._reports import print_results, print_table, save_figures, say, suite_table
from ._suite import AdversarialInputs, evaluate_table, vote_layers
from ._transfer import (
    evaluate_hardening_sweep,
    evaluate_per_layer,
    evaluate_weightings,
)
from ._verdict import verdict

__all__ = ["EVALUATIONS", "hardware", "run_paper_benchmark", "versions"]

#: The evaluation steps, run in order after fitting: (name, function).
EVALUATIONS: list[tuple[str, Callable[[BenchmarkState], dict[str, Any]]]] = [
    ("table", evaluate_table),
    ("per_layer", evaluate_per_layer),
    ("hardening_sweep", evaluate_hardening_sweep),
    ("weightings", evaluate_weightings),
    ("credibility", evaluate_credibility),
]
#: What the worst case is taken over, in the verdict's words.
SUITE_WORDS = "PGD, AutoAttack and the adaptive attack"


def hardware(device: str = "cpu") -> dict[str, Any]:
    """What ran a benchmark: CPU cores, the GPU used (if any), torch.

    Examples
    --------
    >>> hw = hardware("cpu")
    >>> hw["gpu"] is None and hw["cpu_count"] >= 1
    True
    """
    gpu = None
    if str(device).startswith("cuda"):
        gpu = torch.cuda.get_device_name(torch.device(device))
    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": gpu,
        "device": str(device),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def versions() -> dict[str, str]:
    """The versions of the software a run used."""
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
    command: str | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """Fit, attack and evaluate the paper's models; write JSON, PNGs and page.

    Parameters
    ----------
    config : PaperConfig
        What to run.
    out_dir : str or Path
        Where ``<config.name>.json``, ``.md`` and the PNGs go; created once
        the data are read.
    cache_dir : str or Path, default=None
        Where fitted models and each attack's adversarial inputs are cached
        (joblib); a rerun with the same config reuses them, so an
        interrupted run resumes without redoing finished attacks. ``None``:
        no cache.
    verbose : int, default=1
        Progress bars and stage messages when positive; the tables and the
        verdict are printed at the end either way.
    evaluations : list of (str, callable), default=None
        The evaluation steps; ``None``: :data:`EVALUATIONS`. The page is
        written when ``'table'`` is among them.
    figures : bool, default=True
        Draw the PNGs (needs matplotlib).
    command : str, default=None
        The command line that ran this, for the page; ``None``:
        ``python -m benchmarks <config.name>``.
    title : str, default=None
        The page's title; ``None``: one made from the config's name.

    Returns
    -------
    results : dict
        What is written to the JSON: ``table`` (per row of the tables: SA,
        ``AA_transfer`` and ``HM_transfer`` under the paper's PGD, each
        attack's AA, time and images per second, ``worst_case_AA``,
        ``worst_case_HM`` and ``wins``), ``verdict`` (the ranking by the
        worst case and its sentences), the other steps' results under their
        names, ``attacks`` (their settings), ``attack_runs`` (time, images
        per second and cost of each run), and ``sizes``, ``config``,
        ``hardware``, ``versions``, ``timings``, ``wall_time_s``.

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
    fitted = fit_models(config, X_train, y_train, cache, verbose, timings)
    inputs = AdversarialInputs(
        config, fitted, X_train, y_train, X_test, y_test, cache, verbose
    )
    state = BenchmarkState(
        config=config,
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        models=fitted.models,
        inputs=inputs,
        fit=fitted.fit_hardened,
        verbose=verbose,
    )
    pgd = inputs.attacks["PGD"]
    results: dict[str, Any] = {
        "name": config.name,
        "title": title or f"{config.name}: the paper's tables under an attack suite",
        # The results are committed: no folder of this machine in them.
        "command": public_command(command or f"python -m benchmarks {config.name}"),
        "threat": f"L-infinity eps={pgd.eps:.4g} for every attack, "
        f"{sizes['test']} test images",
    }
    for step, function in EVALUATIONS if evaluations is None else evaluations:
        say(verbose, f"evaluating: {step}")
        t0 = time.perf_counter()
        value = function(state)
        timings[f"evaluate {step}"] = round(time.perf_counter() - t0, 1)
        results[step] = value
        if step == "table":
            results["verdict"] = verdict(value, SUITE_WORDS)
            if verbose:
                print_table(suite_table(results))
                print("\n".join(results["verdict"]["sentences"]), flush=True)
        state.results = results

    standard = fitted.models["standard"]
    results.update(
        layers=list(standard.layers_),
        vote_layers=vote_layers(config, standard),
        attacks={name: attack_settings(a) for name, a in inputs.attacks.items()},
        attack_runs=inputs.runs,
        sizes=sizes,
        seed=config.seed,
        config={**config.settings(), "data": public_folder(config.data)},
        notes=dict(config.notes),
        hardware=hardware(config.device),
        versions=versions(),
        timings=timings,
        figures=[],
        wall_time_s=round(time.perf_counter() - start, 1),
    )
    if figures and "table" in results:
        paths = save_figures(results, out_dir)
        prefix = f"{config.name}_"
        results["figures"] = [path.stem.removeprefix(prefix) for path in paths]
    json_path = out_dir / f"{config.name}.json"
    json_path.write_text(json.dumps(results, indent=1) + "\n")
    if "table" in results:
        write_page(paper_page(results), out_dir, config.name)
    if "table" in results:  # the results, also without progress display
        print_results(results)
    print(
        f"results written to {json_path}"
        + (" and the page" if "table" in results else "")
    )
    return results
