"""The results pages, written from the results themselves.

Every number and setting on a page is read from the results dict that the
run also writes as JSON beside it (``<name>.json``): the command, the wall
time, the machine, the settings of the config, the tables, the verdict.
No page text holds a number of its own, so a rerun rewrites a true page.
"""

from __future__ import annotations

import shlex
from pathlib import Path, PurePosixPath
from typing import Any

from ._reports import (
    Table,
    attack_runs_table,
    credibility_table,
    paper_tables,
    per_layer_tables,
    suite_table,
    sweep_tables,
    weighting_tables,
    wins_table,
)

__all__ = ["machine_sentence", "paper_page", "public_command", "write_page"]

#: Options whose value is a local folder, and what a page shows instead.
PATH_OPTIONS = {
    "--data": "FOLDER",
    "--mnist": "FOLDER",
    "--cache-dir": "CACHE",
    "--out": "OUT",
}


def _inside_the_clone(path: str) -> bool:
    p = PurePosixPath(path)
    return not p.is_absolute() and ".." not in p.parts and not path.startswith("~")


def public_folder(folder: str | None) -> str | None:
    """``folder`` if it lies inside the clone, else the placeholder ``FOLDER``.

    Examples
    --------
    >>> public_folder("/home/me/mnist"), public_folder("docs/results")
    ('FOLDER', 'docs/results')
    """
    if folder is None or _inside_the_clone(str(folder)):
        return folder
    return "FOLDER"


def public_command(command: str, placeholders: dict[str, str] | None = None) -> str:
    """``command`` with its local folders outside the clone as placeholders.

    A page shows the command that made it, but not the folders of the
    machine it ran on: the data folder becomes ``FOLDER``, the cache
    ``CACHE``; an output folder inside the clone (``docs/results``) stays.
    ``placeholders`` (option -> placeholder) replaces :data:`PATH_OPTIONS`.

    Examples
    --------
    >>> public_command("python -m benchmarks mnist --data ../data/mnist "
    ...                "--cache-dir=/tmp/c --out docs/results")
    'python -m benchmarks mnist --data FOLDER --cache-dir=CACHE --out docs/results'
    """
    placeholders = PATH_OPTIONS if placeholders is None else placeholders
    tokens = shlex.split(command)
    out = []
    replace_next = None
    for token in tokens:
        if replace_next is not None:
            out.append(token if _inside_the_clone(token) else replace_next)
            replace_next = None
            continue
        option, eq, value = token.partition("=")
        if option in placeholders and eq:
            placeholder = placeholders[option]
            out.append(f"{option}={value if _inside_the_clone(value) else placeholder}")
            continue
        if token in placeholders:
            replace_next = placeholders[token]
        out.append(token)
    return shlex.join(out)


def _md(table: Table) -> str:
    text = f"**{table.title}**\n\n{table.markdown()}"
    return f"{text}\n\n{table.note}" if table.note else text


def machine_sentence(results: dict[str, Any]) -> str:
    """Where and how long a run ran, from its ``hardware`` and ``wall_time_s``.

    Examples
    --------
    >>> machine_sentence({"command": "python -m benchmarks digits",
    ...     "wall_time_s": 95.0, "hardware": {"cpu_count": 2, "gpu": None,
    ...     "torch": "2.13.0"}})  # doctest: +NORMALIZE_WHITESPACE
    'Produced by `python -m benchmarks digits`, run from the root of a clone
    of the repository, in 95 s (1.6 min), measured on 2 CPU cores without a GPU
    (torch 2.13.0); whether other jobs ran on the machine at the same time is
    not known.'
    """
    hw = results["hardware"]
    wall = results["wall_time_s"]
    gpu = f"and one {hw['gpu']}" if hw.get("gpu") else "without a GPU"
    command = public_command(results["command"])
    where = ""
    placeholders = set(PATH_OPTIONS.values())
    if any(
        word.partition("=")[2] in placeholders or word in placeholders
        for word in shlex.split(command)
    ):
        where = " (upper-case words stand for folders of that machine)"
    return (
        f"Produced by `{command}`{where}, run from the root of a clone of "
        f"the repository, in {wall:.0f} s ({wall / 60:.1f} min), measured on "
        f"{hw['cpu_count']} CPU cores {gpu} (torch {hw['torch']}); whether "
        "other jobs ran on the machine at the same time is not known."
    )


def _resumed(results: dict[str, Any]) -> str:
    runs = results.get("attack_runs", {})
    cached = [label for label, run in runs.items() if run["from_cache"]]
    if not cached:
        return ""
    return (
        f" {len(cached)} of the {len(runs)} attack runs were loaded from the "
        "cache of an earlier run with the same models and settings; their "
        "times are that run's."
    )


def _eps(value: float) -> str:
    """An eps, with its fraction of 255 where it is one."""
    n = round(value * 255)
    exact = abs(n / 255 - value) < 1e-9
    return f"{value:.4g} ({n}/255)" if exact and n else f"{value:g}"


def _attacks_paragraph(results: dict[str, Any]) -> str:
    a = results["attacks"]
    pgd, auto, ada = a["PGD"], a["AutoAttack"], a["adaptive"]
    return (
        f"Threat: L-infinity ball of radius eps = {_eps(pgd['eps'])} in "
        f"[{pgd['clip'][0]:g}, {pgd['clip'][1]:g}], the same for every attack, "
        f"on the first {results['sizes']['test']} test images, with their true "
        "labels.\n\n"
        f"- **PGD** (the paper's test attack): {pgd['n_steps']} steps of "
        f"{pgd['step_size']:.4g}, random start, against each model's network. "
        "For the kNN rows this is the paper's transfer protocol (the network "
        "is attacked, the kNN classifies the result); the raw-pixel KNN gets "
        "the standard CNN's inputs.\n"
        f"- **AutoAttack** (Croce & Hein), its `{auto['version']}` list "
        f"(APGD-CE, then APGD-T on the {auto['n_target_classes']} highest "
        f"wrong classes), {auto['n_steps']} iterations per run, against the "
        "same networks: the standard evaluation of a network, transferred to "
        "the kNN rows as PGD is.\n"
        f"- **adaptive** (`KNNAdaptiveAttack`): APGD on a soft-kNN surrogate "
        f"of each kNN vote itself (benign and hardening sets, the vote's own "
        f"weighting), losses {', '.join(ada['losses'])}, {ada['n_steps']} "
        f"iterations per run, {ada['n_restarts']} run(s) per untargeted loss "
        f"and {ada['n_target_classes']} wrong classes per targeted loss, "
        f"each run only on the inputs still classified correctly, judged by "
        f"the real vote. For the raw-pixel KNN the surrogate's features are "
        f"the pixels."
    )


def _settings(results: dict[str, Any]) -> Table:
    c = results["config"]
    sizes = results["sizes"]
    stages = c["train_eps_schedule"] or [c["train_eps"]]
    at_epochs = c["epochs"] if c["at_epochs"] is None else c["at_epochs"]
    per_class = sorted(set(sizes["train_per_class"].values()))
    rows = [
        [
            "training images",
            f"{sizes['train']} ({', '.join(map(str, per_class))} per class, "
            f"seed {c['seed']})",
        ],
        ["test images", f"the first {sizes['test']}"],
        [
            "network",
            f"`{c['module']}`"
            + (f" {c['module_params']}" if c["module_params"] else "")
            + f", on {c['device']}",
        ],
        [
            "standard training",
            f"{c['epochs']} epochs, Adam lr {c['lr']:g}, batch {c['batch_size']}",
        ],
        [
            "adversarial training",
            f"{len(stages) * at_epochs} epochs: {at_epochs} per eps stage "
            f"({', '.join(f'{e:g}' for e in stages)}), {c['train_steps']}-step "
            f"PGD, started from "
            + (
                "the standard network's weights"
                if c["at_init"] == "standard"
                else "random weights"
            ),
        ],
        [
            "hardening data",
            f"eps_h {c['hardening_strength']:g} (DAEkNN), "
            f"{c['hardening_strength_wat']:g} (DAEkNN-WAT), "
            f"{c['hardening_steps']}-step PGD",
        ],
        [
            "kNN",
            f"k = {c['n_neighbors']}, `{c['index']}` index, layers "
            f"{', '.join(results['layers'])}; the tables vote over "
            f"{', '.join(results['vote_layers'])} with weighting "
            f"`{c['weighting']}` (temperature {c['temperature']:g})",
        ],
    ]
    return Table("Settings", ["", "this run"], rows)


def _figure(results: dict[str, Any], suffix: str, alt: str) -> list[str]:
    name = f"{results['name']}_{suffix}.png"
    return [f"![{alt}]({name})"] if suffix in results.get("figures", []) else []


def paper_page(results: dict[str, Any]) -> str:
    """The Markdown page of a run of the paper's experiment."""
    verdict = results["verdict"]
    parts = [
        f"# {results['title']}",
        machine_sentence(results) + _resumed(results),
        "## Verdict",
        "\n".join(f"- {s}" for s in verdict["sentences"]),
        "## The attack suite",
        _attacks_paragraph(results),
        "## Every model under the worst case",
        _md(suite_table(results)),
        *_figure(results, "table1", "Table I: transfer and worst case"),
        *_figure(results, "table2", "Table II: transfer and worst case"),
        _md(wins_table(results)),
        "## The paper's tables: transfer, the paper's protocol",
        "The paper's figures for comparison: SA, AA and HM under PGD alone, "
        "transferred from each model's network to the kNN rows. They overstate "
        "the robustness of kNN defences and rank nothing here.",
        *(_md(t) for t in paper_tables(results)),
        "## Cost of the attacks",
        _md(attack_runs_table(results)),
        "## Settings",
        _md(_settings(results)),
    ]
    transfer_only = [
        *(_md(t) for t in per_layer_tables(results)),
        *_figure(results, "layers", "Each layer's kNN alone"),
        *(_md(t) for t in sweep_tables(results)),
        *_figure(results, "hardening", "Hardening strength"),
        *(_md(t) for t in weighting_tables(results)),
        *_figure(results, "weightings", "Vote weightings"),
    ]
    if transfer_only:
        parts += [
            "## Analyses under transfer PGD only",
            "Each layer alone (the paper's Figure 1), the hardening sweep (its "
            "Figure 3) and the vote weightings, under the paper's transfer "
            "protocol only: no worst case was measured for them.",
            *transfer_only,
        ]
    credibility = credibility_table(results)
    if credibility is not None:
        parts += [
            "## DkNN credibility",
            _md(credibility),
            *_figure(results, "credibility", "Credibility histograms"),
        ]
    notes = results.get("notes") or {}
    if notes:
        parts += ["## Notes", "\n".join(f"- {k}: {v}" for k, v in notes.items())]
    return "\n\n".join(parts) + "\n"


def write_page(text: str, out_dir: str | Path, name: str) -> Path:
    """Write ``<name>.md`` into ``out_dir``; returns its path."""
    path = Path(out_dir) / f"{name}.md"
    path.write_text(text)
    return path
