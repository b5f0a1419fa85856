"""Scale and speed: memory and time of a full-MNIST fit, index backends on
growing synthetic data, PGD and adversarial-training throughput, and the cost
of a grid search with a ``memory`` cache.

``python -m benchmarks scale --help``; ``--quick`` runs a seconds-long smoke
version (small data, exact index only).

Each part reports its own figures; the speed ratios (pynndescent versus exact
search, channels_last versus the default layout, the grid search versus a
single candidate) are measured within one run, so they stay meaningful on a
shared, noisy machine.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import ctypes
import json
import logging
import math
import multiprocessing
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ._cli import (
    DEFAULT_OUT,
    MNIST_ENV,
    UsageError,
    check_out_dir,
    make_out_dir,
    non_negative_int,
    positive_int,
)

logger = logging.getLogger("benchmarks")

# glibc's malloc returns large activation buffers to the OS after every batch
# and faults them back in on the next (up to 46% system time): keep them.
_MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(2**30),
    "MALLOC_TRIM_THRESHOLD_": str(2**31),
    "MALLOC_TOP_PAD_": str(2**28),
}

PARTS = ("mnist", "predict", "index", "compile", "pgd", "grid")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="seconds-long smoke run, exact index only"
    )
    parser.add_argument(
        "--mnist",
        default=None,
        help="folder of the MNIST IDX files for the full-MNIST fit (default: the "
        f"environment variable {MNIST_ENV}); without either, that part is skipped",
    )
    parser.add_argument(
        "--mnist-train",
        type=positive_int,
        default=60_000,
        help="training images for the MNIST fit (default: all 60000)",
    )
    parser.add_argument(
        "--mnist-test",
        type=positive_int,
        default=10_000,
        help="test images predicted after the MNIST fit (default: all 10000)",
    )
    parser.add_argument(
        "--epochs",
        type=non_negative_int,
        default=1,
        help="adversarial-training epochs (1)",
    )
    parser.add_argument(
        "--train-steps", type=positive_int, default=3, help="PGD steps of training (3)"
    )
    parser.add_argument(
        "--hardening-steps",
        type=positive_int,
        default=5,
        help="PGD steps of hardening (5)",
    )
    parser.add_argument(
        "--sizes",
        type=positive_int,
        nargs="+",
        default=[10_000, 30_000, 60_000, 120_000],
        help="synthetic index sizes",
    )
    parser.add_argument(
        "--dim", type=positive_int, default=1024, help="synthetic width (1024)"
    )
    parser.add_argument(
        "--queries", type=positive_int, default=10_000, help="queries (10000)"
    )
    parser.add_argument(
        "-k", type=positive_int, default=75, help="neighbours per query (75)"
    )
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=PARTS,
        help="parts to leave out",
    )
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help=f"folder of the results, scale.json (default {DEFAULT_OUT}; the "
        "committed page: --out docs/results)",
    )


# ---------------------------------------------------------------- helpers


def _tune_malloc() -> bool:
    """Apply the malloc settings to this process and to its future children."""
    os.environ.update(_MALLOC_ENV)
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    # mallopt parameters: M_TRIM_THRESHOLD -1, M_TOP_PAD -2, M_MMAP_THRESHOLD -3
    ok = libc.mallopt(-3, 2**30) and libc.mallopt(-1, 2**31)
    return bool(ok and libc.mallopt(-2, 2**28))


def _peak_rss_gib() -> float:
    """Peak resident memory of this process so far (Linux: KiB units)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _growth(sizes: list[int], times: list[float]) -> float | None:
    """Exponent ``b`` of a least-squares fit ``time ~ n^b``."""
    if len(sizes) < 2 or min(times) <= 0:
        return None
    slope = np.polyfit(np.log(sizes), np.log(times), 1)[0]
    return round(float(slope), 2)


def _recall(found: np.ndarray, exact: np.ndarray) -> float:
    """Fraction of the exact k nearest (by index) that the search found."""
    k = exact.shape[1]
    hits = sum(len(np.intersect1d(a, b)) for a, b in zip(found, exact, strict=True))
    return hits / (k * len(exact))


def _distance_recall(found_dist: np.ndarray, exact_dist: np.ndarray) -> float:
    """Tie-aware recall: found neighbours no farther than the exact k-th.

    Where many points are at the same distance (dead ReLU units give exact
    duplicates) any of them is a correct neighbour, which index recall misses.
    """
    kth = exact_dist[:, -1:] * (1 + 1e-5) + 1e-6
    return float(np.mean(found_dist <= kth))


def clustered_data(
    n: int, dim: int, *, n_clusters: int = 100, latent: int = 8, seed: int = 0
) -> np.ndarray:
    """Synthetic feature-like data: clusters on a low-dimensional manifold.

    The clusters and the embedding are fixed; ``seed`` draws the points.
    Network features have a low intrinsic dimension; on iid data of high
    intrinsic dimension every approximate search loses recall.
    """
    fixed = np.random.RandomState(12345)
    centers = fixed.randn(n_clusters, latent).astype(np.float32) * 3
    mix = fixed.randn(latent, dim).astype(np.float32) / math.sqrt(latent)
    rng = np.random.RandomState(seed)
    points = centers[rng.randint(n_clusters, size=n)]
    points += rng.randn(n, latent).astype(np.float32)
    out = points @ mix
    out += 0.05 * rng.randn(n, dim).astype(np.float32)
    return np.maximum(out, 0)  # ReLU-like, as hidden activations


def _matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


# ------------------------------------------------------------- the index


def _plain_torch_knn(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """The reference 'plain blocked matmul' exact search in torch."""
    import torch

    d = torch.from_numpy(data)
    sq = (d * d).sum(1)
    block = max(1, 64 * 2**20 // (4 * len(data)))
    out = []
    with torch.inference_mode():
        for start in range(0, len(queries), block):
            q = torch.from_numpy(queries[start : start + block])
            d2 = torch.addmm(sq, q, d.T, beta=1, alpha=-2)
            out.append(torch.topk(d2, k, dim=1, largest=False).indices.numpy())
    return np.concatenate(out)


def bench_index(args: argparse.Namespace, quick: bool) -> dict[str, Any]:
    from sklearn.neighbors import NearestNeighbors

    from sklearn_daeknn import ExactIndex, NNDescentIndex

    rows = []
    k = args.k
    for n in args.sizes:
        data = clustered_data(n, args.dim, seed=n)
        queries = clustered_data(args.queries, args.dim, seed=n + 1)
        row: dict[str, Any] = {"n": n, "dim": args.dim, "queries": len(queries)}
        index = ExactIndex(data)
        start = time.perf_counter()
        _, exact = index.query(queries, k)
        row["exact_query_s"] = time.perf_counter() - start
        if not quick:
            start = time.perf_counter()
            nnd = NNDescentIndex(data, random_state=0)
            row["nndescent_build_s"] = time.perf_counter() - start
            start = time.perf_counter()
            _, found = nnd.query(queries, k)
            row["nndescent_query_s"] = time.perf_counter() - start
            row["recall"] = _recall(found, exact)
            row["speedup_vs_exact"] = row["exact_query_s"] / row["nndescent_query_s"]
            row["speedup_incl_build"] = row["exact_query_s"] / (
                row["nndescent_query_s"] + row["nndescent_build_s"]
            )
            del nnd
        if n == max(args.sizes):
            start = time.perf_counter()
            _plain_torch_knn(data, queries, k)
            row["torch_matmul_query_s"] = time.perf_counter() - start
            start = time.perf_counter()
            NearestNeighbors(n_neighbors=k, algorithm="brute").fit(data).kneighbors(
                queries
            )
            row["sklearn_brute_query_s"] = time.perf_counter() - start
        rows.append(row)
        print(_fmt_row(row), flush=True)
    sizes = [r["n"] for r in rows]
    out: dict[str, Any] = {"rows": rows}
    out["growth_exponent"] = {
        key: _growth(sizes, [r[key] for r in rows])
        for key in ("exact_query_s", "nndescent_build_s", "nndescent_query_s")
        if key in rows[0]
    }
    return out


def _fmt_row(row: dict[str, Any]) -> str:
    return "  " + "  ".join(
        f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}"
        for key, value in row.items()
    )


def bench_compile() -> dict[str, Any]:
    """Time a small pynndescent build in two fresh processes."""
    code = (
        "import time; t = time.perf_counter(); "
        "import numpy as np; from sklearn_daeknn import NNDescentIndex, "
        "numba_cache_dir; "
        "x = np.random.RandomState(0).rand(2000, 16).astype(np.float32); "
        "NNDescentIndex(x).query(x[:10], 5); "
        "print(time.perf_counter() - t, numba_cache_dir())"
    )
    out = {}
    for name in ("first_fresh_process_s", "second_fresh_process_s"):
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        seconds, cache_dir = result.stdout.split()[-2:]
        out[name] = float(seconds)
        out["numba_cache_dir"] = cache_dir
    print(_fmt_row(out), flush=True)
    return out


# ------------------------------------------------------- PGD and training


def _plain_convs(module: Any) -> Any:
    """A copy of ``module`` whose convolutions are plain ``nn.Conv2d``."""
    import copy

    from torch import nn

    module = copy.deepcopy(module)
    for child in list(module.modules()):
        for attr, sub in list(child.named_children()):
            if isinstance(sub, nn.Conv2d) and type(sub) is not nn.Conv2d:
                conv = nn.Conv2d(
                    sub.in_channels,
                    sub.out_channels,
                    sub.kernel_size,
                    stride=sub.stride,
                    padding=sub.padding,
                    bias=sub.bias is not None,
                )
                conv.load_state_dict(sub.state_dict())
                setattr(child, attr, conv)
    return module


def _textbook_pgd(module: Any, x: Any, y: Any, eps: float, steps: int) -> Any:
    """PGD as commonly written, the reference for the library's own."""
    import torch
    from torch.nn import functional as F

    module.eval()
    step = 2.5 * eps / steps
    x_adv = (x + (2 * torch.rand_like(x) - 1) * eps).clamp(0, 1)
    for _ in range(steps):
        x_adv.requires_grad_(True)
        loss = F.cross_entropy(module(x_adv), y)
        (grad,) = torch.autograd.grad(loss, x_adv)
        x_adv = x_adv.detach() + step * grad.sign()
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)
    return x_adv


def bench_pgd(quick: bool) -> dict[str, Any]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from sklearn_daeknn import MNISTCNN, AdversarialNetClassifier, SmallCNN, pgd_perturb

    torch.manual_seed(0)
    shape = (1, 8, 8) if quick else (1, 28, 28)
    cls = SmallCNN if quick else MNISTCNN
    n = 32 if quick else 512
    batch = 32 if quick else 128
    x = torch.rand(n, *shape)
    y = torch.randint(0, 10, (n,))
    base = cls(input_shape=shape, n_classes=10)
    steps = 10

    # FLOPs of one PGD step per image: a forward pass plus the backward pass
    # to the input, which costs about as much as the forward (no weight
    # gradients): 2x the counted forward FLOPs.
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        base(x[:batch])
    step_flops = 2 * counter.get_total_flops() / batch

    out: dict[str, Any] = {"network": cls.__name__, "images": n, "batch_size": batch}
    peak = _matmul_gflops(512 if quick else 2048)
    out["matmul_gflops"] = peak
    for layout in ("contiguous", "channels_last"):
        module = base
        if layout == "channels_last":
            module = __import__("copy").deepcopy(base)
            module = module.to(memory_format=torch.channels_last)
        for _ in range(2):  # the second repetition is the one reported
            start = time.perf_counter()
            for i in range(0, n, batch):
                pgd_perturb(
                    module, x[i : i + batch], y[i : i + batch], eps=0.3, n_steps=steps
                )
            seconds = time.perf_counter() - start
        out[f"pgd10_images_per_s_{layout}"] = n / seconds
        out[f"pgd10_fraction_of_matmul_{layout}"] = (
            n * steps * step_flops / seconds / 1e9 / peak
        )
    out["channels_last_speedup"] = (
        out["pgd10_images_per_s_channels_last"] / out["pgd10_images_per_s_contiguous"]
    )
    # The reference in the same run: a textbook PGD loop (parameters left
    # requiring gradients, out-of-place steps) on the same network built from
    # plain nn.Conv2d layers, in the default layout.
    plain = _plain_convs(base)
    for _ in range(2):
        start = time.perf_counter()
        for i in range(0, n, batch):
            _textbook_pgd(plain, x[i : i + batch], y[i : i + batch], 0.3, steps)
        seconds = time.perf_counter() - start
    out["pgd10_images_per_s_textbook"] = n / seconds
    out["pgd10_speedup_vs_textbook"] = (
        out["pgd10_images_per_s_channels_last"] / out["pgd10_images_per_s_textbook"]
    )
    # One epoch of PGD-10 adversarial training, in the estimator's layout.
    net = AdversarialNetClassifier(
        __import__("copy").deepcopy(base).to(memory_format=torch.channels_last),
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        train_split=None,
        max_epochs=1,
        batch_size=batch,
        attack_eps=0.3,
        attack_steps=steps,
        attack_clip=(0.0, 1.0),
        verbose=0,
    )
    start = time.perf_counter()
    net.fit(x.numpy(), y.numpy())
    out["at_epoch_images_per_s"] = n / (time.perf_counter() - start)
    out["pgd_step_mflop_per_image"] = step_flops / 1e6
    print(_fmt_row(out), flush=True)
    return out


# ------------------------------------------------------------ grid search


def bench_grid(args: argparse.Namespace, quick: bool) -> dict[str, Any]:
    from sklearn.model_selection import GridSearchCV

    from sklearn_daeknn import DAEkNNClassifier
    from sklearn_daeknn.datasets import load_digits_images, load_mnist

    if not quick and _has_mnist(args.mnist):
        X, y = load_mnist(args.mnist, n_per_class=200, random_state=0)
        shape, data = (1, 28, 28), "MNIST, 2000 images, SmallCNN"
        settings = dict(max_epochs=2, train_steps=5)
    elif quick:
        X, y = load_digits_images()
        X, y = X[:150], y[:150]
        shape, data = None, "digits, 150 images, MLP"
        settings = dict(
            max_epochs=1,
            train_steps=1,
            hardening_steps=1,
            module_params=dict(hidden_sizes=(16,)),
        )
    else:
        X, y = load_digits_images()
        X, y = X[:1500], y[:1500]
        shape, data = (1, 8, 8), f"digits, {len(X)} images, SmallCNN"
        settings = dict(max_epochs=5, train_steps=5)
    grid = {"n_neighbors": [3, 5, 9], "weighting": ["relative", "uniform", "released"]}
    if quick:
        grid = {"n_neighbors": [3, 5], "weighting": ["relative", "uniform"]}
    single = {"n_neighbors": [5], "weighting": ["relative"]}
    out: dict[str, Any] = {"data": data, "cv": 3, "grid": grid, **settings}
    for name, params in (("single", single), ("grid", grid)):
        with tempfile.TemporaryDirectory() as folder:
            est = DAEkNNClassifier(
                input_shape=shape,
                clip=(0.0, 1.0),
                index="exact",
                memory=folder,
                random_state=0,
                **settings,
            )
            start = time.perf_counter()
            GridSearchCV(est, params, cv=3).fit(X, y)
            out[f"{name}_s"] = time.perf_counter() - start
    out["grid_cost_ratio"] = out["grid_s"] / out["single_s"]
    print(_fmt_row({k: v for k, v in out.items() if k != "grid"}), flush=True)
    return out


# ------------------------------------------------------------------ MNIST


def _has_mnist(folder: str | None) -> bool:
    return folder is not None and (
        Path(folder, "train-labels-idx1-ubyte.gz").exists()
        or Path(folder, "train-labels-idx1-ubyte").exists()
    )


#: The fit's stages, by how the INFO record that starts each one begins.
FIT_STAGES = (
    ("training", "training"),
    ("making hardening", "hardening"),
    ("building", "indexes"),
)


class StageTimer(logging.Handler):
    """Time and peak RSS of a fit's stages, read from the records it logs.

    A fit logs one INFO record as each stage starts ("training the network
    ...", "making hardening data ...", "building ... indexes ..."); a stage
    lasts from its first record to the first record of another stage, or
    to :meth:`stop`. The layer features have no record of their own: the
    benign set's count in ``hardening`` (``training`` without hardening
    data), the hardening set's in ``indexes``. Records that start no stage
    (pynndescent's, the cache's, an epoch table) are ignored.

    Examples
    --------
    >>> timer = StageTimer()
    >>> for message in ("training the network", "epoch 1", "building indexes"):
    ...     timer.handle(logging.makeLogRecord({"msg": message, "levelno": 20}))
    True
    True
    True
    >>> timer.stop()
    >>> list(timer.seconds), list(timer.peak_rss_gib)
    (['training', 'indexes'], ['training', 'indexes'])
    """

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seconds: dict[str, float] = {}
        self.peak_rss_gib: dict[str, float] = {}
        self._current: tuple[str, float] | None = None

    @staticmethod
    def stage_of(message: str) -> str | None:
        """The stage a record's message starts, if any."""
        text = message.lstrip().lower()
        for start, stage in FIT_STAGES:
            if text.startswith(start):
                return stage
        return None

    def emit(self, record: logging.LogRecord) -> None:
        stage = self.stage_of(record.getMessage())
        if stage is not None and (self._current is None or stage != self._current[0]):
            self.stop()
            self._current = (stage, time.perf_counter())

    def stop(self) -> None:
        """End the current stage (at the end of the fit)."""
        if self._current is not None:
            stage, start = self._current
            self.seconds[stage] = (
                self.seconds.get(stage, 0.0) + time.perf_counter() - start
            )
            self.peak_rss_gib[stage] = _peak_rss_gib()
            self._current = None


@contextmanager
def fit_stages(name: str = "sklearn_daeknn"):
    """A :class:`StageTimer` on the library's logger for the ``with`` block."""
    log = logging.getLogger(name)
    timer = StageTimer()
    level = log.level
    if not log.isEnabledFor(logging.INFO):
        log.setLevel(logging.INFO)
    log.addHandler(timer)
    try:
        yield timer
    finally:
        timer.stop()
        log.removeHandler(timer)
        log.setLevel(level)


def _mnist_fit(
    folder: str,
    n_train: int,
    epochs: int,
    train_steps: int,
    hardening_steps: int,
    n_test: int = 10_000,
) -> dict:
    """Fit and predict on MNIST; runs in a fresh process to measure its RSS."""
    _tune_malloc()
    from sklearn_daeknn import MNISTCNN, DAEkNNClassifier, ExactIndex
    from sklearn_daeknn.datasets import load_mnist

    rss: dict[str, float] = {}
    X, y = load_mnist(folder, subset="train")
    X, y = X[:n_train], y[:n_train]
    X_test, y_test = load_mnist(folder, subset="test", n_samples=n_test)
    rss["loading"] = _peak_rss_gib()

    est = DAEkNNClassifier(
        MNISTCNN,
        input_shape=(1, 28, 28),
        clip=(0.0, 1.0),
        max_epochs=epochs,
        train_eps=0.3,
        train_steps=train_steps,
        hardening_strength=0.2,
        hardening_steps=hardening_steps,
        n_neighbors=5,
        random_state=0,
    )
    start = time.perf_counter()
    with fit_stages() as stages:
        est.fit(X, y)
    fit_s = time.perf_counter() - start
    rss.update(stages.peak_rss_gib)
    out: dict[str, Any] = {
        "n_train": len(X),
        "indexed_points_per_layer": len(X) * (1 + (est.hardening_indexes_ is not None)),
        "layers": list(est.layers_),
        "index_backend": type(est.benign_indexes_[0]).__name__,
        "epochs": epochs,
        "train_steps": train_steps,
        "hardening_steps": hardening_steps,
        "fit_s": fit_s,
        "fit_stage_s": dict(stages.seconds),
        "fit_stages": "from one INFO record of the fit to the next: 'hardening' "
        "includes the benign set's layer features, 'indexes' the hardening set's",
        "peak_rss_gib_after": rss,
    }
    start = time.perf_counter()
    pred = est.predict(X_test)
    out["predict_s"] = time.perf_counter() - start
    out["predict_images_per_s"] = len(X_test) / out["predict_s"]
    out["test_accuracy"] = float(np.mean(pred == y_test))
    out["peak_rss_gib"] = _peak_rss_gib()
    # Recall of the approximate indexes against exact search, per layer.
    n_q = min(2000, len(X_test))
    features = est.layer_features(X_test[:n_q])
    out["layer_widths"] = [f.shape[1] for f in features]
    recalls, distance_recalls = [], []
    for index, feats in zip(est.benign_indexes_, features, strict=True):
        found_dist, found = index.query(feats, est.n_neighbors)
        exact_dist, exact = ExactIndex(index.data).query(feats, est.n_neighbors)
        recalls.append(_recall(found, exact))
        distance_recalls.append(_distance_recall(found_dist, exact_dist))
    out["recall_per_layer"] = recalls
    out["distance_recall_per_layer"] = distance_recalls
    return out


def bench_mnist(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.mnist is None:
        print(
            f"  no MNIST folder (--mnist, or the environment variable {MNIST_ENV}): "
            "skipped",
            flush=True,
        )
        return None
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        out = pool.submit(
            _mnist_fit,
            args.mnist,
            args.mnist_train,
            args.epochs,
            args.train_steps,
            args.hardening_steps,
            args.mnist_test,
        ).result()
    print(_fmt_row({k: v for k, v in out.items() if not isinstance(v, dict)}))
    print("  stages (s):", _fmt_row(out["fit_stage_s"]), flush=True)
    return out


# ------------------------------------------------------ predict memory


def _current_rss_gib() -> float:
    """Resident memory of this process now (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**30


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def _peak_rss_since_reset_gib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    raise RuntimeError("no VmHWM in /proc/self/status")


def predict_memory(n: int) -> dict[str, Any]:
    """Peak RSS of ``predict_proba`` on n rows; runs in a fresh process."""
    _tune_malloc()
    from sklearn_daeknn import DAEkNNClassifier
    from sklearn_daeknn.datasets import load_digits_images

    X, y = load_digits_images()
    est = DAEkNNClassifier(
        input_shape=(1, 8, 8),
        clip=(0.0, 1.0),
        max_epochs=2,
        train_steps=2,
        hardening_strength=0.1,
        hardening_steps=2,
        index="exact",
        random_state=0,
    ).fit(X, y)
    widths = [f.shape[1] for f in est.layer_features(X[:2])]
    rng = np.random.RandomState(0)
    X_big = X[rng.randint(len(X), size=n)]
    X_big += rng.uniform(-0.01, 0.01, X_big.shape).astype(np.float32)
    np.clip(X_big, 0.0, 1.0, out=X_big)
    before = _current_rss_gib()
    if not _reset_peak_rss():
        raise RuntimeError("cannot reset the peak RSS (/proc/self/clear_refs)")
    start = time.perf_counter()
    proba = est.predict_proba(X_big)
    seconds = time.perf_counter() - start
    peak = _peak_rss_since_reset_gib()
    return {
        "rows": n,
        "layer_widths": widths,
        "input_gib": X_big.nbytes / 2**30,
        "output_gib": proba.nbytes / 2**30,
        # What holding every layer's features of X at once would take.
        "all_features_gib": n * sum(widths) * 4 / 2**30,
        "rss_before_gib": before,
        "peak_rss_gib": peak,
        "extra_peak_rss_gib": peak - before,
        "images_per_s": n / seconds,
    }


def bench_predict(args: argparse.Namespace, quick: bool) -> dict[str, Any]:
    """Each size in its own fresh process, so that no size sees another's heap."""
    rows = []
    context = multiprocessing.get_context("spawn")
    for n in [2_000, 20_000] if quick else [50_000, 500_000]:
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
            rows.append(pool.submit(predict_memory, n).result())
        print(_fmt_row({k: v for k, v in rows[-1].items() if k != "layer_widths"}))
    return {
        "data": "digits (8x8), SmallCNN (2 epochs), exact index; X of n rows "
        "drawn from the digits with uniform noise of 0.01, clipped to [0, 1]",
        "rows": rows,
    }


# -------------------------------------------------------------------- run


def run(args: argparse.Namespace) -> dict[str, Any]:
    from ._pages import write_page
    from ._scale_page import scale_page

    wall_start = time.perf_counter()
    out_dir = check_out_dir(args.out)
    args.mnist = args.mnist or os.environ.get(MNIST_ENV) or None
    quick = args.quick
    if quick:
        args.sizes = [s for s in args.sizes if s <= 4000] or [2000, 4000]
        args.dim, args.queries, args.k = min(args.dim, 64), min(args.queries, 500), 10
        args.skip = sorted({*args.skip, "mnist", "compile", "predict"})
    if (
        "mnist" not in args.skip
        and args.mnist is not None
        and not _has_mnist(args.mnist)
    ):
        raise UsageError(
            f"--mnist {args.mnist!r}: no MNIST IDX files there "
            "(train-labels-idx1-ubyte, raw or .gz)"
        )
    malloc_tuned = _tune_malloc()
    import torch

    results: dict[str, Any] = {
        "command": getattr(args, "command_line", None) or "python -m benchmarks scale",
        "quick": quick,
        "hardware": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.is_available(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "malloc_tuned": malloc_tuned,
    }
    parts = [
        ("mnist", "full-MNIST fit: stages, peak RSS, predict", bench_mnist),
        ("predict", "peak memory of predict_proba on 50k and 500k rows", bench_predict),
        ("index", "nearest neighbours, synthetic clustered data", bench_index),
        ("grid", "GridSearchCV(cv=3) with memory: 3x3 grid vs 1", bench_grid),
        ("pgd", "PGD-10 and adversarial training throughput", bench_pgd),
        ("compile", "numba compile cost in fresh processes", bench_compile),
    ]
    for name, title, func in parts:
        if name in args.skip:
            continue
        print(f"{name}: {title}", flush=True)
        start = time.perf_counter()
        if name == "compile":
            results[name] = func()
        elif name in ("pgd",):
            results[name] = func(quick)
        elif name == "mnist":
            results[name] = func(args)
        else:
            results[name] = func(args, quick)
        logger.info("%s took %.1f s", name, time.perf_counter() - start)

    # The headline figures.
    index_rows = results.get("index", {}).get("rows", [])
    largest = index_rows[-1] if index_rows else {}
    mnist = results.get("mnist") or {}
    results["recall"] = largest.get("recall")
    results["speedup_vs_exact"] = largest.get("speedup_vs_exact")
    results["grid_cost_ratio"] = results.get("grid", {}).get("grid_cost_ratio")
    results["peak_rss_gib"] = mnist.get("peak_rss_gib")
    results["predict_images_per_s"] = mnist.get("predict_images_per_s")
    predict_rows = results.get("predict", {}).get("rows", [])
    results["predict_extra_peak_rss_gib"] = {
        str(row["rows"]): row["extra_peak_rss_gib"] for row in predict_rows
    } or None
    if largest.get("torch_matmul_query_s"):
        results["exact_vs_torch_matmul"] = (
            largest["torch_matmul_query_s"] / largest["exact_query_s"]
        )
        results["exact_vs_sklearn_brute"] = (
            largest["sklearn_brute_query_s"] / largest["exact_query_s"]
        )
    summary = {
        key: results[key]
        for key in (
            "recall",
            "speedup_vs_exact",
            "grid_cost_ratio",
            "peak_rss_gib",
            "predict_images_per_s",
            "predict_extra_peak_rss_gib",
            "exact_vs_torch_matmul",
            "exact_vs_sklearn_brute",
        )
        if key in results
    }
    print("summary:", _fmt_row(summary), flush=True)
    results["wall_time_s"] = round(time.perf_counter() - wall_start, 1)
    out = make_out_dir(out_dir)
    path = out / "scale.json"
    path.write_text(json.dumps(results, indent=2, default=float))
    write_page(scale_page(json.loads(path.read_text())), out, "scale")
    print(f"wrote {path} and scale.md")
    return results
