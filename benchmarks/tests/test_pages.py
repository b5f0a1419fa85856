"""The results pages are written from the results and say nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from benchmarks import digits, mnist
from benchmarks._pages import paper_page, public_command
from benchmarks._protocol import ATTACKS, NETWORK_ATTACKS, ROWS, attack_settings
from benchmarks._verdict import verdict
from sklearn_daeknn import harmonic_mean

from .page_check import numbers_not_from

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "results"


def _fraction(rng) -> float:
    return round(float(rng.uniform(0.05, 0.99)), 4)


def synthetic_results(seed: int = 0) -> dict:
    """A small results dict of the paper benchmark, with unusual numbers."""
    rng = np.random.default_rng(seed)
    config = mnist.mnist_config("data-folder", n_per_class=37, n_test=83)
    settings = {k: attack_settings(a) for k, a in config.attacks().items()}
    runs, table = {}, {}
    for name, row in ROWS.items():
        attacks = {}
        for attack in ATTACKS if row.adaptive else NETWORK_ATTACKS:
            source = row.network if attack in NETWORK_ATTACKS else name
            label = f"{attack} on {source}"
            runs.setdefault(
                label,
                {
                    "attack": attack,
                    "against": source,
                    "n_images": 83,
                    "time_s": round(float(rng.uniform(1, 900)), 1),
                    "images_per_s": round(float(rng.uniform(0.1, 50)), 2),
                    "network_passes_per_image": round(float(rng.uniform(1, 999)), 1),
                    "from_cache": False,
                },
            )
            aa = _fraction(rng)
            attacks[attack] = {"AA": aa, "run": label, "made_against": "x"}
        sa = _fraction(rng)
        for entry in attacks.values():
            entry["HM"] = harmonic_mean(sa, entry["AA"])
        worst = min(a["AA"] for a in attacks.values()) * 0.9
        table[name] = {
            "SA": sa,
            "AA_transfer": attacks["PGD"]["AA"],
            "HM_transfer": attacks["PGD"]["HM"],
            "worst_case_AA": worst,
            "worst_case_HM": harmonic_mean(sa, worst),
            "wins": {a: int(rng.integers(0, 40)) for a in attacks},
            "attacks": attacks,
            "built_on": row.built_on,
        }
    per_layer = {
        row: {
            "layer": ["block1", "block2", "block3"],
            **{m: [_fraction(rng) for _ in range(3)] for m in ("SA", "AA", "HM")},
        }
        for row in ("DkNN", "DAEkNN")
    }
    return {
        "name": "mnist",
        "title": mnist.TITLE,
        "command": "python -m benchmarks mnist --data /data/mnist --n-per-class 37",
        "table": table,
        "verdict": verdict(table, "PGD, AutoAttack and the adaptive attack"),
        "per_layer": {"protocol": "transfer PGD only", "models": per_layer},
        "attacks": settings,
        "attack_runs": runs,
        "layers": ["block1", "block2", "block3"],
        "vote_layers": ["block1", "block2", "block3"],
        "sizes": {
            "train": 370,
            "test": 83,
            "train_per_class": {str(c): 37 for c in range(10)},
        },
        "config": config.settings(),
        "notes": dict(config.notes),
        "hardware": {"cpu_count": 7, "gpu": None, "torch": "2.13.0"},
        "figures": ["table1", "layers"],
        "wall_time_s": 2713.4,
    }


def test_every_number_on_a_page_comes_from_its_results():
    results = synthetic_results()
    page = paper_page(results)
    assert numbers_not_from(page, results) == []
    # What the page shows is there: the verdict, the settings, the sizes.
    for sentence in results["verdict"]["sentences"]:
        assert f"- {sentence}" in page
    assert "in 2713 s (45.2 min), measured on 7 CPU cores without a GPU" in page
    assert "| training images | 370 (37 per class, seed 0) |" in page
    assert (
        "`python -m benchmarks mnist --data FOLDER --n-per-class 37` (upper-case "
        "words stand for folders of that machine)" in page
    )
    assert "/data/mnist" not in page
    assert "![Table I: transfer and worst case](mnist_table1.png)" in page
    assert "mnist_table2.png" not in page  # not drawn, not shown
    pgd = 100 * results["table"]["DAEkNN"]["AA_transfer"]
    assert (
        f"| DAEkNN | {100 * results['table']['DAEkNN']['SA']:.1f} | {pgd:.1f} |" in page
    )
    assert "| DAEkNN | " in page and "97.90 | 68.26 | 80.44 |" in page  # the paper's


def test_the_check_finds_a_number_the_results_do_not_hold():
    results = synthetic_results()
    page = paper_page(results)
    assert numbers_not_from(page + "\nDAEkNN reaches 97.4 here.\n", results) == ["97.4"]
    results["wall_time_s"] = 1000.0
    assert "2713" in numbers_not_from(page, results)


def test_the_check_reads_a_small_p_value_as_one_number():
    # Read as two numbers, 7.2e-06 left "06" unexplained, and 9.3e-10 passed
    # whatever the results held, as long as they held a 10.
    page = "exact McNemar p = 7.2e-06; p = 9.3e-10"
    assert numbers_not_from(page, {"p": [7.2e-06, 9.3e-10]}) == []
    assert numbers_not_from(page, {"p": [7.2e-06, 0.0], "n": 10}) == ["9.3e-10"]


def test_a_page_changes_with_its_results():
    a, b = synthetic_results(0), synthetic_results(1)
    assert paper_page(a) != paper_page(b)
    assert numbers_not_from(paper_page(a), b) != []


def _report(rng, attacks):
    sa = _fraction(rng)
    entries = {
        a: {"AA": _fraction(rng), "HM": 0.5, "protocol": "p", "settings": {}}
        for a in attacks
    }
    worst = min(e["AA"] for e in entries.values()) / 2
    return {
        "SA": sa,
        "worst_case_AA": worst,
        "worst_case_HM": harmonic_mean(sa, worst),
        "attacks": entries,
        "wins": {a: 3 for a in attacks},
        "n_samples": 541,
    }


def test_the_digits_page_comes_from_the_main_jobs_results(monkeypatch, tmp_path):
    rng = np.random.default_rng(3)
    knn = ("PGD", "AutoAttack", "adaptive")
    reports = {
        "KNN": _report(rng, knn),
        "CNN": _report(rng, knn[:2]),
        "AT-CNN": _report(rng, knn[:2]),
        "DkNN": _report(rng, knn),
        "DAEkNN": _report(rng, knn),
    }
    for report in reports.values():
        for name, entry in report["attacks"].items():
            entry["settings"] = {"name": name, "eps": 0.2, "n_steps": 17}

    def fake_demo(args):
        print("digits: the main job's own table")
        assert args.epochs == 2  # the main job's option, passed through
        return reports

    monkeypatch.setattr(digits.DEMO, "run", fake_demo)
    from benchmarks.__main__ import parse

    args = parse(["digits", "--epochs", "2", "--out", str(tmp_path), "--quiet"])
    results = digits.run(args)
    page = (tmp_path / "digits.md").read_text()
    assert numbers_not_from(page, results) == []
    assert results["main_job_command"] == (
        "python -m sklearn_daeknn demo --epochs 2 --quiet"
    )
    assert results["output"].startswith("digits: the main job's own table")
    assert results["settings"]["epochs"] == 2 and results["settings"]["eps"] == 0.2
    best = results["verdict"]["most_robust"]
    assert best == max(reports, key=lambda n: reports[n]["worst_case_AA"])
    assert results["verdict"]["sentences"][0] in page
    assert "`python -m sklearn_daeknn demo --epochs 2 --quiet`" in page
    assert (tmp_path / "digits.json").exists()


def test_the_committed_results_hold_no_local_folder():
    local = re.compile(r"\.\./|/work/|/home/|/tmp/|~/")
    for path in sorted(RESULTS.glob("*.json")):
        found = local.findall(path.read_text())
        assert found == [], f"{path.name}: {found}"


def test_public_folder():
    from benchmarks._pages import public_folder

    assert public_folder("../shared/data/mnist") == "FOLDER"
    assert public_folder("/data/mnist") == "FOLDER"
    assert public_folder("data/mnist") == "data/mnist"
    assert public_folder(None) is None


def test_a_page_shows_no_local_folder():
    # The command the committed MNIST page is made with.
    command = (
        "python -m benchmarks mnist --data ../shared/data/mnist --out docs/results"
    )
    assert public_command(command) == (
        "python -m benchmarks mnist --data FOLDER --out docs/results"
    )
    assert public_command(
        "python -m benchmarks scale --mnist=~/mnist --out /tmp/x"
    ) == ("python -m benchmarks scale --mnist=FOLDER --out OUT")
    assert public_command("python -m benchmarks digits --quiet") == (
        "python -m benchmarks digits --quiet"
    )


# ------------------------------------------------------------ committed pages

FORBIDDEN = re.compile(
    r"\bissues?\b|\btargets?\b|\bengineers?\b|/tmp/|\.\./shared", re.IGNORECASE
)


def _pages():
    return sorted(
        p for p in RESULTS.iterdir() if p.suffix in {".md", ".rst"} and p.is_file()
    )


def test_the_pages_say_nothing_internal():
    found = [
        f"{page.name}: {match.group(0)!r}"
        for page in _pages()
        for match in FORBIDDEN.finditer(page.read_text())
    ]
    assert found == []


def test_the_internal_words_check_can_fail():
    assert FORBIDDEN.search("the target is met")
    assert FORBIDDEN.search("see issue 4")
    assert FORBIDDEN.search("--cache-dir /tmp/p3")
    assert not FORBIDDEN.search("targeted losses, n_target_classes=3")


@pytest.mark.parametrize("name", ["mnist_gpu.md"])
def test_the_gpu_page_says_its_figures_predate_the_suite(name):
    head = " ".join((RESULTS / name).read_text()[:1200].split())
    assert "predate the attack suite" in head
    assert "no worst case under the suite was measured" in head


def _generator(results: dict):
    """The function that writes the page of ``results``, or None (not a run's)."""
    from benchmarks._robust_vote_page import markdown as robust_vote_page
    from benchmarks._scale_page import scale_page

    if "levers" in results and "config_key" in results:
        return robust_vote_page
    if "main_job_command" in results:
        return digits.digits_page
    if "table" in results and "attack_runs" in results:
        return paper_page
    if "index" in results and "wall_time_s" in results:
        return scale_page
    return None


def test_the_committed_pages_of_runs_are_their_results():
    import json

    generated = []
    for path in sorted(RESULTS.glob("*.json")):
        results = json.loads(path.read_text())
        generator = _generator(results)
        if generator is None:
            continue
        page = path.with_suffix(".md").read_text()
        assert page == generator(results), f"{path.name}: regenerate its page"
        assert numbers_not_from(page, results) == [], path.name
        generated.append(path.stem)
    assert "digits" in generated
    assert "robust_vote_digits" in generated


def test_the_other_pages_say_they_are_not_a_runs_output():
    import json

    for page in sorted(RESULTS.glob("*.md")):
        path = page.with_suffix(".json")
        if path.exists() and _generator(json.loads(path.read_text())) is not None:
            continue
        head = " ".join(page.read_text()[:1500].split())
        assert (
            "predate the attack suite" in head
            or "written by hand" in head
            or "No CIFAR-10 figures were produced" in head
        ), page.name
