"""Every command the README and the documentation show still runs.

Each ``python -m benchmarks ...`` or ``python -m sklearn_daeknn ...`` of a
code block or an inline code span is parsed by the real parser (an unknown
option or a bad value fails); one with a placeholder (``NAME``, ``...``) must
give its ``--help``; the cheap ones (``--smoke``, ``--estimate``,
``scale --quick``) run.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from benchmarks import __main__ as bench_cli
from sklearn_daeknn import __main__ as main_cli

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md"] + sorted(
    path
    for pattern in ("*.rst", "*.md")
    for path in (ROOT / "docs").rglob(pattern)
    if not {"_build", "generated", "_cli"} & set(path.relative_to(ROOT).parts)
)
START = re.compile(r"python -m (?:benchmarks|sklearn_daeknn)\b")
PLACEHOLDER = re.compile(r"^(\.\.\.|[A-Z][A-Z_]+)$")


def _commands(text: str) -> list[str]:
    """The command lines of a page: inline spans whole, block lines joined."""
    commands = []
    for match in START.finditer(text):
        begin = match.start()
        if text[begin - 1 : begin] == "`":  # an inline code span
            end = text.index("`", begin)
            commands.append(" ".join(text[begin:end].split()))
            continue
        lines = []
        for line in text[begin:].splitlines():
            lines.append(line.rstrip())
            if not line.rstrip().endswith("\\"):
                break
        commands.append(" ".join(line.rstrip("\\") for line in lines))
    return commands


COMMANDS = sorted(
    {
        (str(page.relative_to(ROOT)), command)
        for page in PAGES
        for command in _commands(page.read_text())
    }
)


def _argv(command: str) -> tuple[str, list[str], bool]:
    """(program, arguments, whether a placeholder cut them short)."""
    tokens = shlex.split(command, comments=True)
    program, argv = tokens[2], tokens[3:]
    for i, token in enumerate(argv):
        if PLACEHOLDER.match(token):
            cut = i - 1 if i and argv[i - 1].startswith("-") else i
            return program, argv[:cut], True
    return program, argv, False


def test_the_pages_show_commands():
    pages = {page for page, _ in COMMANDS}
    assert {"README.md", "docs/user_guide/cli.rst", "docs/results/scale.md"} <= pages
    programs = {_argv(command)[0] for _, command in COMMANDS}
    assert programs == {"benchmarks", "sklearn_daeknn"}


def test_no_page_shows_the_old_commands():
    for page in PAGES:
        text = page.read_text()
        assert "sklearn_daeknn benchmark " not in text, page
        assert "python benchmarks/" not in text, page
        assert "sklearn_daeknn.benchmarks" not in text, page


def test_the_placeholder_rule():
    assert _argv("python -m benchmarks NAME") == ("benchmarks", [], True)
    assert _argv("python -m benchmarks mnist --data FOLDER --quick") == (
        "benchmarks",
        ["mnist"],
        True,
    )
    assert _argv("python -m benchmarks scale --skip mnist  # 3 times") == (
        "benchmarks",
        ["scale", "--skip", "mnist"],
        False,
    )


@pytest.mark.parametrize(("page", "command"), COMMANDS)
def test_documented_command_parses(page, command, capsys):
    program, argv, cut = _argv(command)
    if program == "benchmarks":
        parser, main, full = bench_cli.build_parser(), bench_cli.main, argv
    else:
        parser, main, full = (
            main_cli.build_parser(),
            main_cli.main,
            main_cli.with_command(argv),
        )
    if cut:  # the prefix before the placeholder gives its help
        with pytest.raises(SystemExit) as exc:
            main([*argv, "--help"])
        assert exc.value.code == 0, capsys.readouterr().err
        return
    try:
        parser.parse_args(full)
    except SystemExit as exc:  # --help in the command: fine
        assert exc.code == 0, f"{page}: {command}: {capsys.readouterr().err}"


CHEAP = [
    (page, command)
    for page, command in COMMANDS
    if _argv(command)[0] == "benchmarks"
    and not _argv(command)[2]
    and {"--smoke", "--estimate", "--quick"} & set(_argv(command)[1])
    and "--data" not in _argv(command)[1]
]


def test_some_commands_are_cheap():
    assert {c for _, c in CHEAP} >= {"python -m benchmarks cifar10 --estimate"}


@pytest.mark.parametrize(("page", "command"), CHEAP)
def test_cheap_documented_command_runs(page, command, tmp_path, capsys):
    _, argv, _ = _argv(command)
    if "--out" not in argv:  # keep the run's files out of the clone
        argv += ["--out", str(tmp_path / "out")]
    assert bench_cli.main(argv) == 0, capsys.readouterr().err
