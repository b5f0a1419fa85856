"""The adaptive attack and DkNN credibility on the MNIST benchmark's models.

``python -m sklearn_daeknn benchmark mnist-adaptive`` takes the options of
``benchmark mnist``; with the same options and ``--cache-dir`` it loads the
fitted models and the transfer adversarial inputs of an earlier
``benchmark mnist`` run (otherwise it fits them) and runs only the
``adaptive`` and ``credibility`` steps of
:mod:`sklearn_daeknn.benchmarks.adaptive`. It writes
``<name>_adaptive.json``, ``<name>_adaptive_credibility.png`` and the
Markdown page ``<name>_adaptive.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .._vote import WEIGHTINGS
from . import mnist
from .adaptive import (
    evaluate_adaptive,
    evaluate_credibility,
    markdown_adaptive,
    print_adaptive,
    save_adaptive_figures,
)
from .paper import run_paper_benchmark

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``benchmark mnist``, plus the adaptive attack's steps."""
    mnist.add_arguments(parser)
    parser.add_argument(
        "--adaptive-steps",
        type=int,
        default=None,
        help="steps of the adaptive attack (default: twice --steps)",
    )
    parser.add_argument(
        "--adaptive-weighting",
        default=None,
        choices=WEIGHTINGS,
        help="vote weighting of the evaluated models (default: the one they "
        "were fitted with); the outputs get the suffix _WEIGHTING",
    )
    parser.add_argument(
        "--rows",
        default=None,
        help="comma-separated rows to evaluate (default DkNN,DAEkNN-WAD,DAEkNN)",
    )


def _page(results: dict[str, Any], command: str) -> str:
    attack = results["transfer_attack"]
    weightings = sorted(
        {s["weighting"] for s in results["adaptive"].values() if "weighting" in s}
    )
    versions = results["versions"]
    sizes = results["sizes"]
    parts = [
        f"# MNIST: adaptive attack on the kNN vote, and DkNN credibility\n\n"
        f"Produced by `{command}` in {results['wall_time_s'] / 60:.0f} min "
        f"on {versions['cpu_count']} CPU cores (shared with other jobs), torch "
        f"{versions['torch']}. The models are those of the MNIST benchmark "
        f"(same configuration and cache): {sizes['train']} training images, "
        f"the first {sizes['test']} test images, the vote over "
        f"{', '.join(results['vote_layers'])} (weighting "
        f"{', '.join(weightings)}). The transfer attack is PGD "
        f"eps={attack['eps']:.4g} ({attack['n_steps']} steps) against each "
        "model's own network, as in the tables of the MNIST page.",
        "The transfer protocol overstates the robustness of kNN defences. "
        "`KNNAdaptiveAttack` attacks the vote itself: it pushes the vote "
        "layers' representations toward the training points (benign and "
        "hardening) of the nearest wrong class through a soft-kNN surrogate, "
        "at the same eps. An input counts as robust in the worst case only if "
        "both attacks fail on it.",
        *markdown_adaptive(results),
        f"![credibility histograms]({results['name']}_credibility.png)",
    ]
    return "\n\n".join(parts) + "\n"


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the two steps on the MNIST models; write JSON, PNG and page."""
    start = time.perf_counter()
    config = mnist.config_from_args(args)
    # Extra attributes read by the steps of benchmarks/adaptive.py.
    config.adaptive_steps = args.adaptive_steps
    config.adaptive_weighting = args.adaptive_weighting
    config.adaptive_rows = tuple(args.rows.split(",")) if args.rows else None
    verbose = 0 if args.quiet else 1
    steps = [("adaptive", evaluate_adaptive), ("credibility", evaluate_credibility)]
    with tempfile.TemporaryDirectory() as tmp:
        paper = run_paper_benchmark(
            config,
            tmp,
            cache_dir=args.cache_dir,
            verbose=0,
            evaluations=steps,
            figures=False,
        )
    name = f"{config.name}_adaptive"
    if args.adaptive_weighting:
        name += f"_{args.adaptive_weighting}"
    results = {
        "name": name,
        "adaptive": paper["adaptive"],
        "credibility": paper["credibility"],
        "adaptive_attack": paper["adaptive"]["attack"],
        "transfer_attack": paper["attack"],
        "vote_layers": paper["vote_layers"],
        "sizes": paper["sizes"],
        "seed": paper["seed"],
        "config": paper["config"],
        "notes": paper["notes"],
        "versions": paper["versions"],
        "timings": paper["timings"],
        "wall_time_s": round(time.perf_counter() - start, 1),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=1) + "\n")
    save_adaptive_figures(results, out)
    command = "python -m sklearn_daeknn " + shlex.join(sys.argv[1:])
    (out / f"{name}.md").write_text(_page(results, command))
    if verbose:
        print_adaptive(results)
        print(f"\nwall time {results['wall_time_s']:.0f} s; written to {out}")
    return results
