"""The CIFAR-10 (VGG16) benchmark: the paper's config, the CPU smoke run end to end."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from benchmarks import cifar10 as bench
from benchmarks.__main__ import BENCHMARKS, parse
from benchmarks._cli import UsageError
from benchmarks._protocol import ROWS, TABLE_II
from benchmarks.tests.page_check import numbers_not_from
from sklearn_daeknn import VGG16
from sklearn_daeknn.datasets import load_cifar10

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = ["block1", "block2", "block3", "block4", "block5"]
N_PER_FILE = 40  # 200 training images: the smoke run's 20 per class
N_TEST = 60


def _write_batch(path, start, n):
    """One batch file in CIFAR-10's python-version format."""
    rng = np.random.default_rng(start)
    labels = [i % 10 for i in range(start, start + n)]
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    data[:, :1024] = np.array(labels, dtype=np.uint8)[:, None] * 25  # red = class
    with path.open("wb") as fh:
        pickle.dump({b"batch_label": b"fake", b"data": data, b"labels": labels}, fh)


@pytest.fixture(scope="module")
def fake_cifar(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cifar-10-batches-py")
    for i in range(5):
        _write_batch(folder / f"data_batch_{i + 1}", i * N_PER_FILE, N_PER_FILE)
    _write_batch(folder / "test_batch", 1000, N_TEST)
    return folder


def _run(*argv):
    return bench.run(parse(["cifar10", *argv]))


@pytest.fixture(scope="module")
def smoke(fake_cifar, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    threads = torch.get_num_threads()
    results = _run("--smoke", "--data", str(fake_cifar), "--out", str(out), "--quiet")
    assert torch.get_num_threads() == threads  # restored
    return results, out


def test_registered():
    assert BENCHMARKS["cifar10"][0] == "benchmarks.cifar10"


def test_paper_config():
    config = bench.cifar10_config("data")
    assert config.module is VGG16 and config.module_params == {"width": 1.0}
    assert config.input_shape == (3, 32, 32)
    assert list(config.layers) == BLOCKS
    assert config.vote_layers == ("block2", "block3")
    assert config.attack_eps == config.train_eps == pytest.approx(8 / 255)
    assert config.hardening_strength == pytest.approx(8 / 255)
    assert config.hardening_strength_wat == pytest.approx(4 / 255)
    assert config.attack_step_size == config.train_step_size == pytest.approx(2 / 255)
    assert 7 <= config.attack_steps <= 20 and config.train_steps == 7
    assert config.device == "cuda" and config.at_init == "scratch"
    assert config.clip == (0.0, 1.0)
    assert config.paper["DAEkNN"] == [78.44, 50.48, 61.43]
    attacks = config.attacks()
    assert (
        attacks["AutoAttack"].eps == attacks["adaptive"].eps == pytest.approx(8 / 255)
    )


def test_smoke_run_end_to_end(smoke, fake_cifar):
    results, out = smoke
    saved = json.loads((out / "cifar10-smoke.json").read_text())
    assert saved["name"] == "cifar10-smoke"
    assert (
        saved["sizes"]["train"] == 200 and saved["sizes"]["test"] == 50
    )  # smoke: the first 50
    assert set(saved["sizes"]["train_per_class"].values()) == {20}
    for row in ROWS:
        scores = saved["table"][row]
        assert 0.0 <= scores["SA"] <= 1.0 and 0.0 <= scores["AA_transfer"] <= 1.0
        assert scores["worst_case_AA"] <= min(
            a["AA"] for a in scores["attacks"].values()
        )
    for row in TABLE_II:
        assert saved["per_layer"]["models"][row]["layer"] == BLOCKS
    assert saved["vote_layers"] == ["block2", "block3"]
    assert saved["attacks"]["PGD"]["eps"] == pytest.approx(8 / 255)
    assert saved["attacks"]["adaptive"]["n_steps"] == 2
    assert saved["verdict"]["most_robust"] in ROWS
    config = saved["config"]
    assert config["module"] == "VGG16" and config["module_params"] == {"width": 0.0625}
    assert config["device"] == "cpu" and config["epochs"] == config["at_epochs"] == 1
    assert "not a result" in saved["notes"]["smoke"]
    assert saved["hardware"]["gpu"] is None
    assert config["data"] == "FOLDER"  # no folder of the machine in results
    assert config["loader"] == "load_cifar10_split"
    for suffix in ("table1", "table2", "layers", "hardening"):
        assert (out / f"cifar10-smoke_{suffix}.png").stat().st_size > 1000
    assert results["table"]["DAEkNN"]["SA"] == saved["table"]["DAEkNN"]["SA"]
    page = (out / "cifar10-smoke.md").read_text()
    assert page.startswith("# CIFAR-10 (VGG16)")
    assert numbers_not_from(page, saved) == []


def test_smoke_without_data_uses_random_cifar_files(monkeypatch, capsys):
    seen = {}

    def fake_run(config, out, **kwargs):
        seen["data"] = config.loader(config)  # the temporary folder still exists
        seen["notes"] = config.notes
        return {}

    monkeypatch.setattr(bench, "run_paper_benchmark", fake_run)
    _run("--smoke", "--quiet")
    X_train, y_train, X_test, y_test = seen["data"]
    assert X_train.shape == (200, 3072) and X_test.shape == (50, 3072)
    assert np.bincount(y_train).tolist() == [20] * 10
    assert "not CIFAR-10" in seen["notes"]["data"]


def test_write_fake_cifar10(tmp_path):
    folder = bench.write_fake_cifar10(tmp_path / "f", n_train=30, n_test=7, seed=1)
    X, y = load_cifar10(folder)
    assert X.shape == (30, 3072) and y.tolist() == [i % 10 for i in range(30)]
    assert load_cifar10(folder, subset="test")[0].shape == (7, 3072)
    with pytest.raises(ValueError, match="n_train must be a positive multiple of 5"):
        bench.write_fake_cifar10(tmp_path, n_train=12)


def test_full_run_needs_data_and_a_gpu(fake_cifar):
    with pytest.raises(UsageError, match="--data FOLDER is required"):
        _run()
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(UsageError, match="no CUDA GPU is visible"):
        _run("--data", str(fake_cifar))


@pytest.mark.parametrize("width", [1.0, 0.125])
def test_vgg16_macs_matches_the_network(width):
    net = VGG16(width=width).eval()
    macs = []

    def count(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            macs.append(output.numel() * module.in_channels * 9)
        elif isinstance(module, nn.Linear):
            macs.append(module.in_features * module.out_features)

    for module in net.modules():
        module.register_forward_hook(count)
    with torch.no_grad():
        net(torch.zeros(1, 3, 32, 32))
    assert bench.vgg16_macs(width) == sum(macs)


def test_estimate(capsys):
    work = _run("--estimate")
    forward = 2 * bench.vgg16_macs()
    assert work["adversarial training"] == 30 * 50_000 * (2 * 7 + 3) * forward
    assert work["test attacks"] == 2 * 10_000 * 2 * 20 * forward
    # AutoAttack's bound: APGD-CE and 3 APGD-T runs of 100 steps, 2 networks.
    assert work["AutoAttack"] == 2 * 10_000 * 2 * 100 * 4 * forward
    # The adaptive attack's: 4 votes, 1 + 3 + 3 + 1 runs of 30 steps.
    assert work["adaptive attack"] == 4 * 10_000 * 2 * 30 * 8 * forward
    assert work["network"] == pytest.approx(
        sum(v for k, v in work.items() if k not in ("network", "knn"))
    )
    assert work["knn"] > 0
    out = capsys.readouterr().out
    assert "50000 training and 10000 test images" in out
    assert "h at 10 TFLOP/s" in out
    smoke = _run("--estimate", "--smoke")
    assert smoke["network"] < work["network"] / 1e4


def test_smoke_is_a_variant_of_the_paper_config(tmp_path):
    config = bench.config_from_args(parse(["cifar10", "--smoke", "--width", "0.25"]))
    assert config.module_params == {"width": 0.25}  # the option wins over SMOKE
    assert config.name == "cifar10-smoke" and config.device == "cpu"
    assert config.epochs == 1 and config.attack_eps == bench.CIFAR10.attack_eps
    assert "not a result" in config.notes["smoke"]
    assert "width 0.25" in config.notes["setting"]


def test_the_page_shows_the_estimate_the_code_prints(capsys):
    # The results page quotes --estimate's output: it must be today's.
    _run("--estimate")
    printed = capsys.readouterr().out.strip()
    page = (ROOT / "docs" / "results" / "cifar10.md").read_text()
    assert f"```text\n{printed}\n```" in page
