"""The main job on the bundled digits, captured as a results page.

``python -m benchmarks digits`` runs the library's main job,
``python -m sklearn_daeknn demo`` (KNN, CNN, AT-CNN, DkNN and DAEkNN under
PGD, AutoAttack and the adaptive attack, ranked by the worst case), with the
same options, through the command line's public entry
(``sklearn_daeknn.__main__.COMMANDS``): nothing of the job is repeated
here. It records what the job returns (every model's robustness report),
what it prints (its table, verdict and the shares of its wall time spent
fitting and in each attack) and its wall time, and writes ``digits.json``
and the page ``digits.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shlex
import sys
import time
from typing import Any

from sklearn_daeknn.__main__ import COMMANDS

from ._cli import DEFAULT_OUT, check_out_dir, make_out_dir
from ._pages import machine_sentence, write_page
from ._reports import ATTACK_HEADERS, Table, suite_table
from ._runner import hardware, versions
from ._verdict import verdict

__all__ = ["BUILT_ON", "add_arguments", "digits_page", "run"]

#: The main job, as its command line runs it.
DEMO = COMMANDS["demo"][0]
MAIN_JOB = "python -m sklearn_daeknn demo"
#: The network row of each kNN vote of the main job.
BUILT_ON = {"DkNN": "CNN", "DAEkNN": "AT-CNN"}
#: This benchmark's own options (not the main job's).
_OWN = ("--out", "--name")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The main job's own options, then where to write."""
    DEMO.add_arguments(parser)
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help=f"output folder (default {DEFAULT_OUT}; the committed page: "
        "--out docs/results)",
    )
    parser.add_argument("--name", default="digits", help="output file stem (digits)")


class _Tee(io.StringIO):
    """Keeps what is written and passes it on."""

    def __init__(self, stream: Any) -> None:
        super().__init__()
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(text)
        return super().write(text)

    def flush(self) -> None:
        self.stream.flush()


def _main_job_command(command: str) -> str:
    """The ``python -m sklearn_daeknn demo`` command with the same job options."""
    argv = shlex.split(command)[4:]  # after "python -m benchmarks digits"
    kept: list[str] = []
    skip = False
    for token in argv:
        if skip:
            skip = False
            continue
        if token in _OWN:
            skip = True
            continue
        if token.startswith(tuple(f"{o}=" for o in _OWN)):
            continue
        kept.append(token)
    return shlex.join([*shlex.split(MAIN_JOB), *kept])


def _row(report: dict[str, Any], name: str) -> dict[str, Any]:
    attacks = {
        attack: {k: entry[k] for k in ("AA", "HM", "protocol")}
        for attack, entry in report["attacks"].items()
    }
    return {
        "SA": report["SA"],
        "AA_transfer": attacks["PGD"]["AA"],
        "HM_transfer": attacks["PGD"]["HM"],
        "worst_case_AA": report["worst_case_AA"],
        "worst_case_HM": report["worst_case_HM"],
        "wins": report["wins"],
        "attacks": attacks,
        "built_on": BUILT_ON.get(name),
        "n_samples": report["n_samples"],
    }


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The main job's options as run (its parser's destinations)."""
    parser = argparse.ArgumentParser(add_help=False)
    DEMO.add_arguments(parser)
    return {name: getattr(args, name) for name in vars(parser.parse_args([]))}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the main job; write ``<name>.json`` and ``<name>.md``."""
    check_out_dir(args.out)
    command = getattr(args, "command_line", None) or "python -m benchmarks digits"
    start = time.perf_counter()
    tee = _Tee(sys.stdout)
    with contextlib.redirect_stdout(tee):
        reports = DEMO.run(args)
    wall = time.perf_counter() - start
    table = {name: _row(report, name) for name, report in reports.items()}
    first = next(iter(reports.values()))
    settings = {
        attack: next(
            r["attacks"][attack]["settings"]
            for r in reports.values()
            if attack in r["attacks"]
        )
        for attack in ATTACK_HEADERS
        if any(attack in r["attacks"] for r in reports.values())
    }
    results = {
        "name": args.name,
        "title": "The main job: KNN, CNN, AT-CNN, DkNN and DAEkNN on the "
        "bundled digits",
        "command": command,
        "main_job_command": _main_job_command(command),
        "settings": _settings(args),
        "table": table,
        "verdict": verdict(table, "PGD, AutoAttack and the adaptive attack"),
        "attacks": settings,
        "n_test": first["n_samples"],
        "output": tee.getvalue(),
        "hardware": hardware("cpu"),
        "versions": versions(),
        "wall_time_s": round(wall, 1),
    }
    out = make_out_dir(args.out)
    (out / f"{args.name}.json").write_text(json.dumps(results, indent=1) + "\n")
    write_page(digits_page(results), out, args.name)
    print(f"results written to {out / args.name}.json and {args.name}.md")
    return results


def _settings_table(results: dict[str, Any]) -> Table:
    rows = [
        [f"`--{k.replace('_', '-')}`", str(v)] for k, v in results["settings"].items()
    ]
    return Table("The main job's options", ["option", "value"], rows)


def _attacks_lines(results: dict[str, Any]) -> str:
    lines = []
    for name, s in results["attacks"].items():
        params = ", ".join(
            f"{k}={v}" for k, v in s.items() if k not in ("name", "clip", "batch_size")
        )
        lines.append(f"- **{name}**: `{s['name']}({params})`")
    return "\n".join(lines)


def digits_page(results: dict[str, Any]) -> str:
    """The Markdown page of a run of the main job."""

    def md(table: Table) -> str:
        text = f"**{table.title}**\n\n{table.markdown()}"
        return f"{text}\n\n{table.note}" if table.note else text

    parts = [
        f"# {results['title']}",
        machine_sentence(results)
        + f" It runs the main job, `{results['main_job_command']}`, on "
        f"{results['n_test']} test images, and records what it returns.",
        "## Verdict",
        "\n".join(f"- {s}" for s in results["verdict"]["sentences"]),
        "## Every model under the worst case",
        md(suite_table(results)),
        "## The attacks",
        "The same threat for every attack; PGD and AutoAttack against each "
        "model's network (a transfer attack for the kNN rows; the KNN gets the "
        "standard CNN's inputs), the adaptive attack on each kNN vote itself "
        "(for the KNN through a surrogate whose features are the pixels).",
        _attacks_lines(results),
        "## What the main job printed",
        "Its own table and verdict, and the shares of its wall time spent "
        "fitting and in each attack:",
        f"```text\n{results['output'].strip()}\n```",
        "## Settings",
        md(_settings_table(results)),
    ]
    return "\n\n".join(parts) + "\n"
