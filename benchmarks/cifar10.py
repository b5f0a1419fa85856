"""The paper's CIFAR-10 experiment with VGG16: Tables I and II, Figures 1 and 3.

Run ``python -m benchmarks cifar10 --help`` from a clone of the repository. The data are
CIFAR-10's "python version" files (``data_batch_1`` ... ``data_batch_5`` and
``test_batch``) in ``--data``; nothing is downloaded.

- The default run is the paper's setting and needs a CUDA GPU
  (``device='cuda'``): :class:`~sklearn_daeknn.VGG16` at full width with batch
  norm, trained on the 50,000 training images; PGD (L-infinity) test attack
  at eps 8/255 with 20 steps of 2/255; adversarial training at eps 8/255
  (PGD-7, steps of 2/255); hardening data at eps_h 8/255 for DAEkNN and
  4/255 for DAEkNN-WAT. The five convolutional blocks are indexed (Figure 1
  shows each); the tables vote with ``block2`` and ``block3`` (the
  authors' released code reports blocks 2-3 with SA/AA 0.799/0.525, the
  closest of its settings to the paper's Table I).
- ``--smoke`` is a CPU check of the whole path, not a result: a VGG16 of
  width 1/16, 20 training images per class, 50 test images, one epoch and
  few PGD steps. Without ``--data`` it writes random images in CIFAR-10's
  file format to a temporary folder first (:func:`write_fake_cifar10`).
- ``--estimate`` prints the floating-point work of a run, stage by stage,
  and the time it implies at a given throughput, without loading anything.

What is not the paper's: the estimator trains with Adam at a constant
learning rate and without data augmentation, so the standard network's
clean accuracy is expected below the paper's 92.24%.
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from sklearn_daeknn import VGG16, VGG16_BLOCKS, WEIGHTINGS, LayerReducer
from sklearn_daeknn.datasets import load_cifar10

from ._cli import (
    CACHE_HELP,
    DEFAULT_OUT,
    UsageError,
    add_suite_arguments,
    name_list,
    non_negative_int,
    positive_float,
    positive_int,
    suite_changes,
)
from ._protocol import PaperConfig
from ._runner import run_paper_benchmark

__all__ = [
    "CIFAR10",
    "PAPER_RESULTS",
    "SMOKE",
    "add_arguments",
    "cifar10_config",
    "estimate_work",
    "run",
    "vgg16_macs",
    "write_fake_cifar10",
]

#: The paper's attack power, adversarial-training eps and hardening strength.
PAPER_EPS = 8 / 255
#: The paper's hardening strength without adversarial training (DAEkNN-WAT).
PAPER_EPS_WAT = 4 / 255

#: The paper's CIFAR-10 figures (Tables I and II), SA/AA/HM in percent.
PAPER_RESULTS: dict[str, list[float]] = {
    "CNN": [92.24, 0.06, 0.12],
    "AT-CNN": [85.56, 31.62, 46.18],
    "DkNN": [91.78, 0.06, 0.12],
    "DAEkNN-WAT": [85.96, 13.1, 22.74],
    "DAEkNN-WAD": [79.9, 46.66, 58.91],
    "DAEkNN": [78.44, 50.48, 61.43],
}
TITLE = "CIFAR-10 (VGG16): the paper's Tables I-II under an attack suite"


def load_cifar10_split(
    config: PaperConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The training images (all, or a class-balanced sample) and the first test ones.

    Parameters
    ----------
    config : PaperConfig
        Reads ``data`` (the folder of CIFAR-10's python-version batch files),
        ``n_per_class`` (training images per class drawn at random; ``None``:
        all 50,000), ``n_test`` (the first ``n_test`` test images; ``None``:
        all 10,000) and ``seed`` (seeds the training sample).

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
        Flattened images in ``[0, 1]`` (3072 features) and labels 0-9.
    """
    X_train, y_train = load_cifar10(
        config.data,
        subset="train",
        n_per_class=config.n_per_class,
        random_state=config.seed,
    )
    X_test, y_test = load_cifar10(config.data, subset="test", n_samples=config.n_test)
    return X_train, y_train, X_test, y_test


def write_fake_cifar10(
    folder: str | Path, *, n_train: int = 200, n_test: int = 50, seed: int = 0
) -> Path:
    """Write random images in CIFAR-10's python-version file format.

    For smoke tests only: each class is a fixed random colour pattern under
    uniform noise (learnable, but nothing like CIFAR-10). The training
    images are split over ``data_batch_1`` ... ``data_batch_5``; labels cycle
    through 0-9.

    Parameters
    ----------
    folder : str or Path
        Created if missing; existing batch files are overwritten.
    n_train : int, default=200
        Training images, a multiple of 5 (one fifth per batch file).
    n_test : int, default=50
        Test images (``test_batch``).
    seed : int, default=0
        Seeds the patterns and the noise.

    Returns
    -------
    folder : Path
        The folder, ready for :func:`~sklearn_daeknn.datasets.load_cifar10`.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_daeknn.datasets import load_cifar10
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     X, y = load_cifar10(write_fake_cifar10(tmp, n_train=20, n_test=5))
    >>> X.shape, y[:3].tolist()
    ((20, 3072), [0, 1, 2])
    """
    if n_train < 5 or n_train % 5:
        raise ValueError(
            f"n_train must be a positive multiple of 5 (one fifth per batch "
            f"file); got n_train={n_train}."
        )
    if n_test < 1:
        raise ValueError(f"n_test must be at least 1; got n_test={n_test}.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    patterns = rng.integers(0, 256, size=(10, 3072))

    def batch(start: int, n: int) -> dict[bytes, Any]:
        labels = (np.arange(start, start + n) % 10).tolist()
        noise = rng.integers(0, 256, size=(n, 3072))
        data = (patterns[labels] + noise) // 2
        return {b"data": data.astype(np.uint8), b"labels": labels}

    per_file = n_train // 5
    files = {f"data_batch_{i + 1}": batch(i * per_file, per_file) for i in range(5)}
    files["test_batch"] = batch(0, n_test)
    for name, content in files.items():
        with (folder / name).open("wb") as fh:
            pickle.dump(content, fh)
    return folder


#: The paper's CIFAR-10 setting (see the module notes); it needs a CUDA GPU.
CIFAR10 = PaperConfig(
    name="cifar10",
    loader=load_cifar10_split,
    input_shape=(3, 32, 32),
    module=VGG16,
    module_params={"width": 1.0},
    layers=VGG16.knn_layers,
    vote_layers=("block2", "block3"),
    attack_eps=PAPER_EPS,
    attack_steps=20,
    attack_step_size=2 / 255,
    train_eps=PAPER_EPS,
    train_steps=7,
    train_step_size=2 / 255,
    hardening_strength=PAPER_EPS,
    hardening_strength_wat=PAPER_EPS_WAT,
    hardening_steps=10,
    weighting="relative",
    epochs=30,
    at_epochs=30,
    at_init="scratch",
    index="exact",
    device="cuda",
    sweep_strengths=(0.0, 4 / 255, PAPER_EPS, 12 / 255),
    sweep_strengths_wat=(0.0, 2 / 255, PAPER_EPS_WAT),
    paper=PAPER_RESULTS,
)

#: What ``--smoke`` changes: a CPU check of the whole path, not a result.
SMOKE: dict[str, Any] = dict(
    name="cifar10-smoke",
    module_params={"width": 1 / 16},
    n_per_class=20,
    n_test=50,
    epochs=1,
    at_epochs=1,
    attack_steps=2,
    autoattack_steps=2,
    autoattack_target_classes=1,
    adaptive_steps=2,
    adaptive_target_classes=1,
    train_steps=1,
    hardening_steps=1,
    batch_size=32,
    device="cpu",
    sweep_strengths=(0.0, PAPER_EPS),
    sweep_strengths_wat=(PAPER_EPS_WAT,),
)


def _notes(config: PaperConfig) -> dict[str, str]:
    train = (
        "all 50,000"
        if config.n_per_class is None
        else (f"{config.n_per_class} per class")
    )
    n_test = config.n_test
    return {
        "setting": (
            f"VGG16 (batch norm) at width {config.module_params['width']:g}; "
            f"training images: {train}; test images: "
            f"{'all 10,000' if n_test is None else f'the first {n_test}'}; "
            f"{config.epochs} standard and {config.at_epochs} adversarial-training "
            f"epochs (from scratch, PGD-{config.train_steps} at eps "
            f"{config.train_eps * 255:.3g}/255), Adam lr {config.lr:g}, batch "
            f"{config.batch_size}, no data augmentation"
        ),
    }


def cifar10_config(data: str | Path | None, **changes: Any) -> PaperConfig:
    """:data:`CIFAR10` reading ``data``, with ``changes``, and notes to match.

    Parameters
    ----------
    data : str or Path or None
        Folder with CIFAR-10's python-version files (``None``: none yet).
    **changes
        Fields of :class:`~benchmarks._protocol.PaperConfig` to change, e.g.
        ``module_params={"width": 0.5}`` (VGG16's channel multiplier) or
        ``n_per_class=500``; :data:`SMOKE` is such a set.

    Returns
    -------
    config : PaperConfig

    Examples
    --------
    >>> config = cifar10_config("cifar-10-batches-py")
    >>> config.attack_eps == config.train_eps == config.hardening_strength == 8 / 255
    True
    >>> config.device, config.module_params, config.layers[-1]
    ('cuda', {'width': 1.0}, 'block5')
    """
    config = replace(CIFAR10, data=None if data is None else str(data), **changes)
    return replace(config, notes={**_notes(config), **changes.get("notes", {})})


# ------------------------------------------------------------ cost estimate


def vgg16_macs(
    width: float = 1.0, input_shape: tuple[int, int, int] = (3, 32, 32)
) -> int:
    """Multiply-accumulates of one :class:`~sklearn_daeknn.VGG16` forward pass.

    Convolutions and the linear head (10 classes); batch norm, ReLU and
    pooling are memory-bound and left out.

    Examples
    --------
    >>> vgg16_macs()
    313201664
    """
    channels, height, wide = input_shape
    macs = 0
    for block in VGG16_BLOCKS:
        for size in block:
            out = max(1, round(size * width))
            macs += height * wide * channels * out * 9
            channels = out
        height, wide = height // 2, wide // 2
    return macs + channels * height * wide * 10


def _layer_widths(config: PaperConfig) -> list[int]:
    """Feature widths of the indexed VGG16 blocks after the width reduction."""
    width = config.module_params.get("width", 1.0)
    _, height, wide = config.input_shape
    shapes = []
    for block in VGG16_BLOCKS:
        height, wide = height // 2, wide // 2
        shapes.append((max(1, round(block[-1] * width)), height, wide))
    return [
        LayerReducer(shape, config.max_layer_features, 0).n_features for shape in shapes
    ]


def estimate_work(
    config: PaperConfig, n_train: int = 50_000, n_test: int = 10_000
) -> dict[str, float]:
    """Floating-point work of :func:`run_paper_benchmark` on ``config``, by stage.

    A forward pass costs ``2 * vgg16_macs`` FLOP; a training step three
    forward passes (forward, input and weight gradients); an attack step two
    (forward and input gradient). Hardened models are counted without the
    cache (each sweep strength remade). AutoAttack and the adaptive attack
    are counted as if every input survived every run (their upper bound:
    each run attacks only the inputs still classified correctly), the
    adaptive attack by its network passes alone. The kNN stage is exact
    search on the CPU: every evaluated model queries each of its one or two
    indexes with the clean and the attacked test images, over all indexed
    layers, and the adaptive attack's judge queries them twice per run.

    Parameters
    ----------
    config : PaperConfig
        A VGG16 configuration, e.g. from :func:`cifar10_config`.
    n_train, n_test : int
        Training and test images.

    Returns
    -------
    work : dict of str to float
        FLOP per stage; ``"network"`` sums the network (GPU) stages and
        ``"knn"`` is the exact search (CPU).

    Examples
    --------
    >>> work = estimate_work(cifar10_config("data"))
    >>> round(work["adversarial training"] / 1e15, 1)  # PFLOP
    16.0
    """
    forward = 2.0 * vgg16_macs(config.module_params.get("width", 1.0))
    at_epochs = config.epochs if config.at_epochs is None else config.at_epochs
    hardened = [config.hardening_strength_wat, config.hardening_strength]
    hardened += [s for s in config.sweep_strengths if s]
    hardened += [s for s in config.sweep_strengths_wat if s]
    n_hardened = sum(1 for s in hardened if s)
    runs = sum(
        config.adaptive_target_classes
        if loss.endswith("-t")
        else config.adaptive_restarts
        for loss in config.adaptive_losses
    )
    work = {
        "standard training": config.epochs * n_train * 3 * forward,
        "adversarial training": at_epochs
        * n_train
        * (2 * config.train_steps + 3)
        * forward,
        "hardening data": n_hardened * n_train * 2 * config.hardening_steps * forward,
        "layer features": (2 + 2 * n_hardened) * n_train * forward,
        "test attacks": 2 * n_test * 2 * config.attack_steps * forward,
        "AutoAttack": 2
        * n_test
        * 2
        * config.autoattack_steps
        * (1 + config.autoattack_target_classes)
        * forward,
        "adaptive attack": 4 * n_test * 2 * config.adaptive_steps * runs * forward,
    }
    work["network"] = sum(work.values())
    # Index sets queried, in units of 2 * n_test queries: the suite on the
    # votes (1 + 2 + 1 + 2 sets, clean and 3 attacks), the adaptive attack's
    # judge (2 per run and 1), the per-layer figure, the weightings (2
    # hardened models), credibility (1 + 2 sets, 5 halves), the sweep (1 set
    # at strength 0, else 2).
    sweep = [*config.sweep_strengths, *config.sweep_strengths_wat]
    n_sets = 12 + 6 * (2 * runs + 1) / 2 + 6 + 4 + 7.5
    n_sets += sum(2 if s else 1 for s in sweep)
    per_set = 2 * n_test * n_train * 2 * sum(_layer_widths(config))
    work["knn"] = n_sets * per_set + 2 * n_test * n_train * 2 * 3072
    return work


def print_estimate(
    work: dict[str, float], gpu_tflops: float, cpu_tflops: float
) -> None:
    """Print :func:`estimate_work`'s stages and the time at the given rates."""
    print(f"{'stage':<22} {'PFLOP':>8}")
    for stage, flop in work.items():
        if stage not in ("network", "knn"):
            print(f"{stage:<22} {flop / 1e15:8.3g}")
    gpu_h = work["network"] / (gpu_tflops * 1e12) / 3600
    cpu_h = work["knn"] / (cpu_tflops * 1e12) / 3600
    print(
        f"{'network, total':<22} {work['network'] / 1e15:8.3g}"
        f"   -> {gpu_h:.2f} h at {gpu_tflops:g} TFLOP/s sustained"
    )
    print(
        f"{'exact kNN (CPU)':<22} {work['knn'] / 1e15:8.3g}"
        f"   -> {cpu_h:.2f} h at {cpu_tflops:g} TFLOP/s sustained"
    )
    print(f"total about {gpu_h + cpu_h:.1f} h (an estimate, not a measurement)")


# ------------------------------------------------------------ command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Command-line options of ``cifar10``; unset ones keep :data:`CIFAR10`'s values."""
    c = CIFAR10
    parser.add_argument(
        "--data",
        default=None,
        help="folder with CIFAR-10's python-version batch files (required, "
        "except with --smoke, which then makes random ones, or --estimate)",
    )
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help=f"output folder, created once the data are read (default "
        f"{DEFAULT_OUT}; the committed pages: --out docs/results)",
    )
    parser.add_argument(
        "--cache-dir",
        default=None,
        help=f"{CACHE_HELP}; a full run needs ~35 GB",
    )
    parser.add_argument(
        "--device",
        default=None,
        help=f"torch device (default {c.device}; {SMOKE['device']} with --smoke)",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=None, help=f"random seed ({c.seed})"
    )
    parser.add_argument(
        "--width",
        type=positive_float,
        default=None,
        help=f"VGG16 width multiplier ({c.module_params['width']:g})",
    )
    parser.add_argument(
        "--n-per-class",
        type=positive_int,
        default=None,
        help="training images per class (default: all 5,000)",
    )
    parser.add_argument(
        "--n-test",
        type=positive_int,
        default=None,
        help="test images (default: all 10,000)",
    )
    parser.add_argument(
        "--epochs",
        type=non_negative_int,
        default=None,
        help=f"standard epochs ({c.epochs})",
    )
    parser.add_argument(
        "--at-epochs",
        type=non_negative_int,
        default=None,
        help=f"adversarial-training epochs ({c.at_epochs})",
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help=f"test attack steps ({c.attack_steps}, of 2/255)",
    )
    parser.add_argument(
        "--train-steps",
        type=positive_int,
        default=None,
        help=f"AT PGD steps ({c.train_steps}, of 2/255)",
    )
    parser.add_argument(
        "--hardening-steps",
        type=positive_int,
        default=None,
        help=f"hardening PGD steps ({c.hardening_steps})",
    )
    parser.add_argument(
        "--vote-layers",
        type=name_list,
        default=None,
        help="comma-separated layers of the tables' vote (default "
        f"{','.join(c.vote_layers)})",
    )
    parser.add_argument(
        "--weighting",
        default=None,
        choices=WEIGHTINGS,
        help=f"vote weighting ({c.weighting})",
    )
    parser.add_argument(
        "--lr", type=positive_float, default=None, help=f"Adam learning rate ({c.lr:g})"
    )
    parser.add_argument("--no-sweep", action="store_true", help="skip Figure 3")
    parser.add_argument("--name", default=None, help=f"output file stem ({c.name})")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="CPU smoke test of the whole path (width 1/16, 200 training and 50 "
        "test images, 1 epoch): not a result",
    )
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="print the run's floating-point work and implied time, then exit",
    )
    parser.add_argument(
        "--gpu-tflops",
        type=positive_float,
        default=10.0,
        help="sustained GPU rate assumed by --estimate (10)",
    )
    parser.add_argument(
        "--cpu-tflops",
        type=positive_float,
        default=0.5,
        help="sustained CPU rate of exact kNN assumed by --estimate (0.5)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    add_suite_arguments(parser, c)


#: Options that set a config field of the same meaning: option -> field.
_FIELDS = {
    "seed": "seed",
    "n_per_class": "n_per_class",
    "n_test": "n_test",
    "epochs": "epochs",
    "at_epochs": "at_epochs",
    "steps": "attack_steps",
    "train_steps": "train_steps",
    "hardening_steps": "hardening_steps",
    "weighting": "weighting",
    "lr": "lr",
    "device": "device",
    "name": "name",
}


def config_from_args(args: argparse.Namespace) -> PaperConfig:
    """The configuration that ``cifar10`` runs for parsed arguments."""
    changes: dict[str, Any] = dict(SMOKE) if args.smoke else {}
    changes.update(
        (field, getattr(args, option))
        for option, field in _FIELDS.items()
        if getattr(args, option) is not None
    )
    changes.update(suite_changes(args))
    if args.width is not None:
        changes["module_params"] = {"width": args.width}
    if args.vote_layers is not None:
        changes["vote_layers"] = args.vote_layers or None
    if args.no_sweep:
        changes.update(sweep_strengths=(), sweep_strengths_wat=())
    if args.smoke:
        changes["notes"] = {
            "smoke": "--smoke run: a check of the code path, not a result"
        }
    return cifar10_config(args.data, **changes)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the CIFAR-10 benchmark from parsed arguments; returns the results."""
    import torch

    config = config_from_args(args)
    if args.estimate:
        n_train = 10 * (config.n_per_class or 5000)
        n_test = config.n_test or 10_000
        work = estimate_work(config, n_train, n_test)
        print(
            f"{config.name}: VGG16 width {config.module_params['width']:g}, "
            f"{n_train} training and {n_test} test images"
        )
        print_estimate(work, args.gpu_tflops, args.cpu_tflops)
        return work
    if args.data is None and not args.smoke:
        raise UsageError(
            "--data FOLDER is required (CIFAR-10's python-version files); use "
            "--smoke for a CPU check on random images"
        )
    if config.device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(
                f"--device {config.device!r} but no CUDA GPU is visible; run on a "
                "GPU machine, or use --smoke for a CPU check"
            )
        torch.backends.cudnn.benchmark = True
    notes = dict(config.notes)
    with tempfile.TemporaryDirectory(prefix="fake-cifar10-") as tmp:
        if args.data is None:
            folder = write_fake_cifar10(
                tmp,
                n_train=10 * config.n_per_class,
                n_test=config.n_test,
                seed=config.seed,
            )
            config = replace(config, data=str(folder))
            notes["data"] = "random images in CIFAR-10's format, not CIFAR-10"
        config = replace(config, notes=notes)
        # The smoke network's convolutions are tiny: a second thread gains
        # nothing, and on a busy machine OpenMP's synchronisation made each
        # step up to 70x slower (0.06 s on 1 thread, 4 s on 2).
        threads = torch.get_num_threads()
        if args.smoke:
            torch.set_num_threads(1)
        try:
            return run_paper_benchmark(
                config,
                args.out,
                cache_dir=args.cache_dir,
                verbose=0 if args.quiet else 1,
                command=getattr(args, "command_line", None),
                title=TITLE,
            )
        finally:
            torch.set_num_threads(threads)
