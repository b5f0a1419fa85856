"""The adaptive attack and DkNN credibility on the MNIST benchmark's models.

``python -m benchmarks mnist-adaptive`` takes the options of ``mnist``; with
the same options and ``--cache-dir`` it loads the fitted models and the
transfer adversarial inputs of an earlier ``mnist`` run (otherwise it fits
them) and runs only the ``adaptive`` and ``credibility`` steps of
:mod:`benchmarks._adaptive`. It writes ``<name>_adaptive.json``,
``<name>_adaptive_credibility.png`` and the Markdown page
``<name>_adaptive.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from typing import Any

from sklearn_daeknn import WEIGHTINGS

from . import mnist
from ._adaptive import evaluate_adaptive, evaluate_credibility
from ._cli import check_out_dir, make_out_dir, name_list, positive_int
from ._protocol import ADAPTIVE_ROWS, CREDIBILITY_ROWS
from ._reports import markdown_adaptive, print_adaptive, save_adaptive_figures
from ._runner import run_paper_benchmark

__all__ = ["add_arguments", "config_from_args", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``mnist``, plus the adaptive attack's steps."""
    mnist.add_arguments(parser)
    parser.add_argument(
        "--adaptive-steps",
        type=positive_int,
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
    rows = ",".join(dict.fromkeys((*ADAPTIVE_ROWS, *CREDIBILITY_ROWS)))
    parser.add_argument(
        "--rows",
        type=name_list,
        default=None,
        help=f"comma-separated rows to evaluate (default {rows})",
    )


def config_from_args(args: argparse.Namespace) -> Any:
    """The ``mnist`` configuration of the arguments, with the adaptive options."""
    return replace(
        mnist.config_from_args(args),
        adaptive_steps=args.adaptive_steps,
        adaptive_weighting=args.adaptive_weighting,
        adaptive_rows=tuple(args.rows) if args.rows else None,
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
    config = config_from_args(args)
    check_out_dir(args.out)
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
    out = make_out_dir(args.out)
    (out / f"{name}.json").write_text(json.dumps(results, indent=1) + "\n")
    save_adaptive_figures(results, out)
    command = (
        getattr(args, "command_line", None) or "python -m benchmarks mnist-adaptive"
    )
    (out / f"{name}.md").write_text(_page(results, command))
    if verbose:
        print_adaptive(results)
        print(f"\nwall time {results['wall_time_s']:.0f} s; written to {out}")
    return results
