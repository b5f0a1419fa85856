"""The scale benchmark: its quick mode, PGD throughput, the fit's stage timer."""

from __future__ import annotations

import json
import logging
import time

import pytest

from benchmarks import scale
from benchmarks.__main__ import parse
from benchmarks._pages import public_command
from benchmarks.tests.page_check import numbers_not_from
from sklearn_daeknn import DAEkNNClassifier


def test_scale_benchmark_quick(tmp_path, capsys):
    out = tmp_path / "results"
    args = parse(["scale", "--quick", "--skip", "pgd", "--out", str(out)])
    results = scale.run(args)
    saved = json.loads((out / "scale.json").read_text())
    for key in ("recall", "speedup_vs_exact", "grid_cost_ratio", "peak_rss_gib"):
        assert key in saved
    assert (
        saved["command"] == f"python -m benchmarks scale --quick --skip pgd --out {out}"
    )
    assert 0 < saved["grid_cost_ratio"] < 10
    rows = results["index"]["rows"]
    assert [row["n"] for row in rows] == [2000, 4000]
    assert "nndescent_build_s" not in rows[0]  # quick mode: exact index only
    assert rows[-1]["sklearn_brute_query_s"] > 0
    assert "summary:" in capsys.readouterr().out
    page = (out / "scale.md").read_text()
    assert page.startswith("# Scale and speed")
    assert f"`{public_command(saved['command'])}`" in page and "`--quick` run" in page
    assert str(out) not in page
    assert "| `grid_cost_ratio` |" in page and "exact_query_s" in page
    assert numbers_not_from(page, saved) == []


def test_scale_benchmark_pgd_quick():
    out = scale.bench_pgd(quick=True)
    assert out["pgd10_images_per_s_contiguous"] > 0
    assert 0 < out["pgd10_fraction_of_matmul_channels_last"] < 2
    assert out["at_epoch_images_per_s"] > 0


def _record(message):
    return logging.makeLogRecord({"msg": message, "levelno": logging.INFO})


def test_stage_timer_splits_at_the_records_that_start_stages():
    timer = scale.StageTimer()
    for message, pause in (
        ("training the network on 100 samples", 0.02),
        ("  epoch    train_loss", 0.01),  # inside training
        ("making hardening data, eps=0.2", 0.02),
        ("building exact indexes over 100 points", 0.01),
        ("building pynndescent index over 100 points", 0.01),  # still indexes
        ("building exact indexes over 100 points", 0.01),
    ):
        timer.handle(_record(message))
        time.sleep(pause)
    timer.stop()
    assert list(timer.seconds) == ["training", "hardening", "indexes"]
    assert timer.seconds["training"] >= 0.03
    assert timer.seconds["indexes"] >= 0.03
    assert set(timer.peak_rss_gib) == set(timer.seconds)
    assert scale.StageTimer.stage_of("Building the HNSW index") == "indexes"
    assert scale.StageTimer.stage_of("loading x from the cache") is None


def test_stage_timer_on_a_real_fit(digits_split):
    X, y, _, _ = digits_split
    est = DAEkNNClassifier(
        max_epochs=1,
        train_steps=1,
        hardening_steps=1,
        module_params=dict(hidden_sizes=(16,)),
        clip=(0.0, 1.0),
        random_state=0,
    )
    log = logging.getLogger("sklearn_daeknn")
    level = log.level
    start = time.perf_counter()
    with scale.fit_stages() as stages:
        est.fit(X[:200], y[:200])
    fit_s = time.perf_counter() - start
    # The fit's own INFO records mark its three stages, in this order.
    assert list(stages.seconds) == ["training", "hardening", "indexes"]
    assert sum(stages.seconds.values()) == pytest.approx(fit_s, rel=0.2, abs=0.2)
    assert log.level == level and stages not in log.handlers


def test_a_missing_mnist_folder_is_an_error_not_a_skip(tmp_path):
    args = parse(["scale", "--mnist", str(tmp_path), "--out", str(tmp_path / "o")])
    with pytest.raises(scale.UsageError, match="no MNIST IDX files there"):
        scale.run(args)
    assert not (tmp_path / "o").exists()


def testpredict_memory_part_reports_a_bounded_peak():
    row = scale.predict_memory(400)
    assert row["rows"] == 400 and len(row["layer_widths"]) == 3
    assert 0 <= row["extra_peak_rss_gib"] < 4
    assert row["peak_rss_gib"] >= row["extra_peak_rss_gib"]
    assert row["all_features_gib"] == 400 * sum(row["layer_widths"]) * 4 / 2**30
