"""Hostile and malformed data files: each is refused with a clear error.

Every case writes a tiny file and asserts the exact outcome: the exception
type and a distinctive part of its message. Crafted pickles must be refused
without running anything; crafted IDX headers must be refused before the
payload is read, decompressed or allocated.
"""

from __future__ import annotations

import gzip
import os
import pickle
import pickletools
import struct
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sklearn_daeknn.datasets import load_cifar10, load_idx, load_mnist

from .test_datasets import REAL_MNIST, idx_bytes, official_cifar_pickle, write_idx

MiB = 2**20


def idx_header(code: int, *dims: int) -> bytes:
    return struct.pack(f">4B{len(dims)}I", 0, 0, code, len(dims), *dims)


@dataclass
class Case:
    """A hostile file: what to write, which loader reads it, what it raises."""

    id: str
    content: Callable[[Path], bytes] | bytes
    error: type[BaseException]
    match: str

    def write(self, path: Path) -> Path:
        content = self.content(path) if callable(self.content) else self.content
        path.write_bytes(content)
        return path


# ----------------------------------------------------------------------- IDX

U8 = 0x08
GOOD = idx_header(U8, 2, 3) + bytes(range(6))


def gzip_bomb(header: bytes) -> bytes:
    """`header` then 16 MiB of zeros, gzipped into about 16 KiB."""
    return gzip.compress(header + bytes(16 * MiB))


IDX_CASES = [
    Case("empty file", b"", ValueError, "0 bytes, too short for the 4-byte magic"),
    Case("wrong magic", b"\x01\x00\x08\x01" + bytes(8), ValueError, "bad magic"),
    Case("wrong magic (text)", b"P5\n28 28\n255\n", ValueError, "0x50350a32"),
    Case(
        "wrong dtype code",
        idx_header(0x0A, 2) + b"ab",
        ValueError,
        "unknown IDX dtype code 0x0A",
    ),
    Case(
        "truncated header",
        idx_header(U8, 2, 3)[:9],
        ValueError,
        "truncated IDX header; 2 dimensions need 12 bytes, the file has 9",
    ),
    Case(
        "truncated payload",
        GOOD[:-1],
        ValueError,
        r"truncated file; IDX payload is 5 bytes but dimensions \(2, 3\) of "
        "uint8 need 6 bytes",
    ),
    Case(
        "truncated payload (gzip)",
        gzip.compress(GOOD[:-1]),
        ValueError,
        "truncated file; IDX payload is 5 bytes",
    ),
    Case(
        "truncated gzip stream",
        gzip.compress(idx_header(U8, 4000) + np.random.default_rng(0).bytes(4000))[
            :2000
        ],
        ValueError,
        "starts like a gzip file but cannot be decompressed",
    ),
    Case(
        "gzip checksum mismatch",
        lambda _: (lambda z: z[:-8] + bytes(4) + z[-4:])(gzip.compress(GOOD)),
        ValueError,
        "cannot be decompressed: CRC check failed",
    ),
    Case(
        "gzip magic then garbage",
        b"\x1f\x8bnot really gzip",
        ValueError,
        "cannot be decompressed",
    ),
    Case(
        "trailing bytes",
        GOOD + b"\x00",
        ValueError,
        "trailing bytes; IDX payload is 7 bytes but dimensions",
    ),
    Case(
        "trailing bytes (gzip)",
        gzip.compress(GOOD + b"junk"),
        ValueError,
        r"trailing bytes after the IDX payload of 6 bytes \(dimensions \(2, 3\)",
    ),
    Case(
        "trailing garbage after the gzip stream",
        gzip.compress(GOOD) + b"junk after the stream",
        ValueError,
        "cannot be decompressed",
    ),
    Case(
        # An int64 product of these dimensions wraps around to 0.
        "dims overflow 65536^4",
        idx_header(U8, *(65536,) * 4),
        ValueError,
        r"need 18446744073709551616 bytes, more than the limit of 4294967296",
    ),
    Case(
        "dims overflow 65536^4 (gzip)",
        gzip.compress(idx_header(U8, *(65536,) * 4) + bytes(100)),
        ValueError,
        "need 18446744073709551616 bytes, more than the limit",
    ),
    Case(
        "declared size larger than the data",
        idx_header(0x0E, 1000) + bytes(8),
        ValueError,
        "truncated file; IDX payload is 8 bytes but dimensions "
        r"\(1000,\) of float64 need 8000 bytes",
    ),
    Case(
        # Under the 4 GiB limit, but more than 1032 times the gzip file.
        "declared size larger than the gzip file can hold",
        gzip.compress(idx_header(U8, 1000, 1000, 100) + bytes(1000)),
        ValueError,
        r"need 100000000 bytes but a gzip file of \d+ bytes decompresses to "
        "at most",
    ),
    Case(
        "gzip bomb declaring huge dims",
        lambda _: gzip_bomb(idx_header(U8, 2**32 - 1, 28, 28)),
        ValueError,
        r"dimensions \(4294967295, 28, 28\) of uint8 need 3367254359280 bytes, "
        "more than the limit",
    ),
    Case(
        "more dimensions than numpy allows",
        idx_header(U8, *(1,) * 65) + b"\x07",
        ValueError,
        r"IDX dimensions \(1, 1, .*\) do not make a numpy array",
    ),
    Case(
        "empty but astronomically large dims",
        idx_header(U8, 0, 2**32 - 1, 2**32 - 1, 2**32 - 1),
        ValueError,
        "do not make a numpy array",
    ),
]


@pytest.mark.parametrize("case", IDX_CASES, ids=[c.id for c in IDX_CASES])
def test_hostile_idx_file(tmp_path, case):
    path = case.write(tmp_path / "hostile-idx3-ubyte")
    with pytest.raises(case.error, match=case.match) as excinfo:
        load_idx(path)
    assert "hostile-idx3-ubyte" in str(excinfo.value)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(idx_header(U8, 2**32 - 1, 28, 28), id="huge dims"),
        pytest.param(idx_header(U8, *(65536,) * 4), id="overflow"),
        pytest.param(idx_header(U8, 16), id="trailing"),
    ],
)
def test_gzip_bomb_is_rejected_after_the_header(tmp_path, header):
    # 16 MiB of zeros in a ~16 KiB file: rejected from its header, or right
    # after its 16 declared bytes, so nothing like 16 MiB is ever allocated.
    path = tmp_path / "bomb-idx3-ubyte.gz"
    path.write_bytes(gzip_bomb(header))
    assert path.stat().st_size < 64 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="bomb-idx3-ubyte.gz"):
            load_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MiB // 2, f"rejecting the file allocated {peak} bytes"


@pytest.mark.parametrize(
    ("kind", "error", "match"),
    [
        ("missing", FileNotFoundError, "IDX file not found"),
        ("directory", IsADirectoryError, "is a directory, not an IDX file"),
        ("broken symlink", FileNotFoundError, "IDX file not found"),
        ("fifo", ValueError, "is not a regular file"),
    ],
)
def test_idx_path_that_is_not_a_file(tmp_path, kind, error, match):
    path = tmp_path / "odd-idx1-ubyte"
    if kind == "directory":
        path.mkdir()
    elif kind == "broken symlink":
        path.symlink_to(tmp_path / "nowhere")
    elif kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs on this platform")
        os.mkfifo(path)  # opening it would block forever
    with pytest.raises(error, match=match) as excinfo:
        load_idx(path)
    assert "odd-idx1-ubyte" in str(excinfo.value)


# ------------------------------------------------------------------- MNIST


def _mnist_folder(tmp_path: Path, n_images: int = 20, labels: Any = None) -> Path:
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((n_images, 28, 28), "u1"))
    if labels is None:
        labels = np.arange(n_images, dtype=np.uint8) % 10
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    return tmp_path


def _count_mismatch(folder: Path) -> None:
    _mnist_folder(folder, labels=np.zeros(19, np.uint8))


def _count_mismatch_truncated_images(folder: Path) -> None:
    # Counts are compared from the headers, before the images are read.
    _count_mismatch(folder)
    images = folder / "t10k-images-idx3-ubyte"
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(images.read_bytes()[:100])
    )
    images.unlink()


def _negative_labels(folder: Path) -> None:
    _mnist_folder(folder, labels=np.array([3, -1] * 10, dtype=np.int8))


def _float_images(folder: Path) -> None:
    _mnist_folder(folder)
    write_idx(folder / "t10k-images-idx3-ubyte", np.zeros((20, 28, 28), "f4"))


def _images_overflow(folder: Path) -> None:
    _mnist_folder(folder)
    (folder / "t10k-images-idx3-ubyte").write_bytes(
        idx_header(U8, 65536, 65536, 65536, 65536)
    )


def _labels_bomb(folder: Path) -> None:
    _mnist_folder(folder)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip_bomb(idx_header(U8, 20)))


def _labels_2d(folder: Path) -> None:
    _mnist_folder(folder, labels=np.zeros((20, 2), np.uint8))


def _images_1d(folder: Path) -> None:
    _mnist_folder(folder)
    write_idx(folder / "t10k-images-idx3-ubyte", np.zeros(20, np.uint8))


def _labels_directory(folder: Path) -> None:
    _mnist_folder(folder)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    (folder / "t10k-labels-idx1-ubyte").mkdir()


MNIST_CASES = [
    (
        _count_mismatch,
        ValueError,
        "holds 20 images but t10k-labels-idx1-ubyte holds 19",
    ),
    (_count_mismatch_truncated_images, ValueError, "holds 20 images but"),
    (
        _negative_labels,
        ValueError,
        "labels must be non-negative class indices, found -1",
    ),
    (_float_images, ValueError, "expected uint8 images .* got float32"),
    (_images_1d, ValueError, r"at least 2 dimensions, got uint8 of shape \(20,\)"),
    (_labels_2d, ValueError, "expected 1-D integer labels"),
    (_images_overflow, ValueError, "need 18446744073709551616 bytes, more than"),
    (_labels_bomb, ValueError, "trailing bytes after the IDX payload of 20 bytes"),
    (_labels_directory, FileNotFoundError, "missing: t10k-labels-idx1-ubyte"),
]


@pytest.mark.parametrize(
    ("make", "error", "match"),
    MNIST_CASES,
    ids=[c[0].__name__[1:] for c in MNIST_CASES],
)
def test_hostile_mnist_folder(tmp_path, make, error, match):
    make(tmp_path)
    with pytest.raises(error, match=match):
        load_mnist(tmp_path, subset="test")


def test_real_mnist_reads_exactly_as_a_valid_file(tmp_path):
    if not (REAL_MNIST / "t10k-labels-idx1-ubyte.gz").is_file():
        pytest.skip(f"real MNIST not available at {REAL_MNIST}")
    raw = gzip.decompress((REAL_MNIST / "t10k-labels-idx1-ubyte.gz").read_bytes())
    labels = np.frombuffer(raw, np.uint8, offset=8)
    assert_array_equal(load_idx(REAL_MNIST / "t10k-labels-idx1-ubyte.gz"), labels)
    # The same file with one byte too many or too few is refused.
    for name, content in [("long", raw + b"\x00"), ("short", raw[:-1])]:
        (tmp_path / name).write_bytes(gzip.compress(content))
        with pytest.raises(ValueError, match="trailing bytes|truncated file"):
            load_idx(tmp_path / name)


# ----------------------------------------------------------------- CIFAR-10

N = 4


def _batch(**changes: Any) -> dict:
    data = np.arange(N * 3072, dtype=np.int64).reshape(N, 3072).astype(np.uint8)
    batch = {b"data": data, b"labels": [0, 3, 9, 1], b"batch_label": b"test"}
    batch.update({key.encode(): value for key, value in changes.items()})
    return {k: v for k, v in batch.items() if v is not None}


def _pickled(obj: Any, protocol: int = 4) -> Callable[[Path], bytes]:
    return lambda _: pickle.dumps(obj, protocol=protocol)


class _Reduce:
    """Unpickles as ``func(*args)``: how a crafted pickle runs code."""

    def __init__(self, func: Callable[..., Any], *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return self.func, self.args


def _marker(path: Path) -> Path:
    return path.parent.parent / "pwned"


def _system(path: Path) -> bytes:
    batch = _batch(batch_label=_Reduce(os.system, f"touch {_marker(path)}"))
    return pickle.dumps(batch)


def _exec(protocol: int) -> Callable[[Path], bytes]:
    def content(path: Path) -> bytes:
        code = f"open({str(_marker(path))!r}, 'w').close()"
        return pickle.dumps(_batch(batch_label=_Reduce(exec, code)), protocol=protocol)

    return content


def _nested_in_filenames(path: Path) -> bytes:
    call = _Reduce(os.system, f"touch {_marker(path)}")
    return pickle.dumps(_batch(filenames=[b"a.png", call]))


def _official_then_appended(path: Path) -> bytes:
    # A genuine official batch, with a crafted pickle replacing its label.
    official = official_cifar_pickle(_batch()[b"data"], [0, 3, 9, 1], [], b"x")
    return official.replace(
        b"U\x0bbatch_labelU\x01x",
        b"U\x0bbatch_label" + b"cos\nsystem\n(U\x0ftouch /dev/nullt" + b"R",
    )


def _ndarray_called(_: Path) -> bytes:
    # ``numpy.ndarray((2**40,))``: the class is admitted only as an argument.
    return b"\x80\x02cnumpy\nndarray\nq\x00\x8a\x06\x00\x00\x00\x00\x00\x01\x85\x85R."


def _dtype_newobj(_: Path) -> bytes:
    # NEWOBJ (``cls.__new__(cls, *args)``) would skip the dtype's checks.
    return b"\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00O8\x85\x81."


def _huge_binbytes8(_: Path) -> bytes:
    # Declares 4 GiB of bytes; unpickling would allocate them before reading.
    return b"\x80\x04\x8e" + struct.pack("<Q", 2**32) + b"tiny"


def _object_array(_: Path) -> bytes:
    data = np.empty((N, 3072), dtype=object)
    data[:] = 0
    return pickle.dumps(_batch(data=data))


def _structured_array(_: Path) -> bytes:
    data = np.zeros((N, 3072), dtype=[("r", "u1")])
    return pickle.dumps(_batch(data=data))


def _numpy_scalar_labels(_: Path) -> bytes:
    return pickle.dumps(_batch(labels=list(np.array([0, 3, 9, 1]))))


def _persistent_id(_: Path) -> bytes:
    return b"\x80\x04\x8c\x01xQ."


_RECONSTRUCT = np.zeros(0).__reduce__()[0]
_FROMBUFFER = np.zeros(0).__reduce_ex__(5)[0]


class _ReduceWithState(_Reduce):
    def __init__(self, func: Callable[..., Any], args: tuple, state: Any) -> None:
        super().__init__(func, *args)
        self.state = state

    def __reduce__(self) -> tuple:
        return self.func, self.args, self.state


def _data(func: Callable[..., Any], args: tuple, state: Any = None) -> Callable:
    """A batch whose b"data" unpickles as ``func(*args)``, then ``state`` set."""
    value = (
        _Reduce(func, *args) if state is None else _ReduceWithState(func, args, state)
    )
    return _pickled(_batch(data=value))


U1 = np.dtype(np.uint8)
ARRAY_CLASS = (np.ndarray, (0,), b"b")


CIFAR_CASES = [
    Case(
        "os.system via __reduce__",
        _system,
        ValueError,
        r"its pickle names the global (posix|nt|os)\.system, which a CIFAR-10 "
        "batch never holds",
    ),
    Case(
        "exec via __reduce__ (protocol 0)",
        _exec(0),
        ValueError,
        "names the global __builtin__.exec",
    ),
    Case(
        "exec via __reduce__ (protocol 2)",
        _exec(2),
        ValueError,
        "names the global __builtin__.exec",
    ),
    Case(
        "exec via __reduce__ (protocol 5)",
        _exec(5),
        ValueError,
        "names the global builtins.exec",
    ),
    Case(
        "os.system nested in the file names",
        _nested_in_filenames,
        ValueError,
        r"names the global (posix|nt|os)\.system",
    ),
    Case(
        "os.system in an official batch",
        _official_then_appended,
        ValueError,
        "names the global os.system",
    ),
    Case(
        "subprocess.Popen",
        _pickled(_Reduce(__import__("subprocess").Popen, ["true"])),
        ValueError,
        "names the global subprocess.Popen",
    ),
    Case(
        "numpy.load",
        _pickled(_Reduce(np.load, "x.npy")),
        ValueError,
        r"names the global numpy(\.lib\._npyio_impl|\.lib\.npyio)?\.load",
    ),
    Case(
        "numpy.ndarray called directly",
        _ndarray_called,
        ValueError,
        "is not a readable CIFAR-10 batch: .*not callable",
    ),
    Case(
        "dtype through NEWOBJ",
        _dtype_newobj,
        ValueError,
        "is not a readable CIFAR-10 batch: .*NEWOBJ class argument",
    ),
    Case(
        "object-dtype array",
        _object_array,
        ValueError,
        "expected a numeric dtype such as 'u1', got 'O8'",
    ),
    Case(
        "structured-dtype array",
        _structured_array,
        ValueError,
        "expected a numeric dtype such as 'u1', got 'V1'",
    ),
    Case(
        "numpy scalars as labels",
        _numpy_scalar_labels,
        ValueError,
        r"names the global numpy(\._core|\.core)\.multiarray\.scalar",
    ),
    Case(
        "persistent id",
        _persistent_id,
        ValueError,
        "its pickle holds a persistent id",
    ),
    Case(
        "declared length larger than the file",
        _huge_binbytes8,
        ValueError,
        "is not a readable CIFAR-10 batch: expected 4294967296 bytes",
    ),
    Case(
        "array data shorter than its shape",
        _data(_RECONSTRUCT, ARRAY_CLASS, (1, (N, 3072), U1, False, b"short")),
        ValueError,
        r"expected array data of 12288 bytes for shape \(4, 3072\), got 5 bytes",
    ),
    Case(
        "array data not bytes",
        _data(_RECONSTRUCT, ARRAY_CLASS, (1, (N, 3072), U1, False, [0] * 12288)),
        ValueError,
        "expected array data as bytes, got list",
    ),
    Case(
        "array shape negative",
        _data(_RECONSTRUCT, ARRAY_CLASS, (1, (-4, -3072), U1, False, b"")),
        ValueError,
        r"expected an array shape of non-negative ints, got \(-4, -3072\)",
    ),
    Case(
        "array state not a tuple",
        _data(_RECONSTRUCT, ARRAY_CLASS, {"shape": (N, 3072)}),
        ValueError,
        "expected an array state tuple, got dict",
    ),
    Case(
        "array dtype not a dtype",
        _data(_RECONSTRUCT, ARRAY_CLASS, (1, (N, 3072), "u1", False, b"")),
        ValueError,
        "expected an array dtype, got str",
    ),
    Case(
        "array state never set",
        _data(_RECONSTRUCT, ARRAY_CLASS),
        ValueError,
        "b'data' must be a numpy array, got NoneType",
    ),
    Case(
        "array of a class other than ndarray",
        _data(_RECONSTRUCT, (np.dtype, (0,), b"b")),
        ValueError,
        "expected numpy.ndarray as the array class",
    ),
    Case(
        "array of an ndarray subclass",
        _data(_RECONSTRUCT, (np.matrix, (0,), b"b")),
        ValueError,
        r"names the global numpy(\.matrixlib\.defmatrix)?\.matrix,",
    ),
    Case(
        "protocol-5 array in an unknown order",
        _data(_FROMBUFFER, (bytes(N * 3072), U1, (N, 3072), "K")),
        ValueError,
        "expected array order 'C' or 'F', got 'K'",
    ),
    Case(
        "protocol-5 array data shorter than its shape",
        _data(_FROMBUFFER, (bytes(7), U1, (N, 3072), "C")),
        ValueError,
        "expected array data of 12288 bytes",
    ),
    Case(
        "dtype with fields in its state",
        _data(
            np.dtype,
            ("u1", False, True),
            (3, "|", None, ("f",), {"f": (U1, 0)}, 1, 1, 0),
        ),
        ValueError,
        r"expected a plain dtype state \(a byte order, no fields",
    ),
    Case(
        "dtype with metadata",
        _data(np.dtype, ("u1", False, True), (4, "|", None, None, None, -1, -1, 0, {})),
        ValueError,
        "expected a plain dtype state",
    ),
    Case(
        "dtype spec with a shape",
        _data(np.dtype, ("(1000000000,)u1", False, True)),
        ValueError,
        r"expected a numeric dtype such as 'u1', got '\(1000000000,\)u1'",
    ),
    Case(
        "bytes() with a size",
        _pickled(_batch(batch_label=_Reduce(bytes, 10**12)), protocol=2),
        ValueError,
        r"expected bytes\(\) without arguments",
    ),
    Case(
        "codecs.encode with another codec",
        _pickled(
            _batch(batch_label=_Reduce(__import__("codecs").encode, "x", "rot13"))
        ),
        ValueError,
        r"expected codecs.encode\(str, 'latin1'\), got encoding 'rot13'",
    ),
    Case("not a pickle", b"this is not a pickle", ValueError, "not a readable"),
    Case("empty file", b"", ValueError, "not a readable CIFAR-10 batch"),
    Case(
        "truncated pickle",
        lambda p: pickle.dumps(_batch())[:-100],
        ValueError,
        "not a readable CIFAR-10 batch",
    ),
    Case(
        "not a dict",
        _pickled([1, 2, 3]),
        ValueError,
        "expected a dict with keys b'data' and b'labels', got list",
    ),
    Case(
        "an array, not a dict",
        _pickled(np.zeros(3, np.uint8)),
        ValueError,
        "expected a dict with keys b'data' and b'labels', got ndarray",
    ),
    Case(
        "str keys",
        _pickled({"data": _batch()[b"data"], "labels": [0, 3, 9, 1]}),
        ValueError,
        "got a dict with keys 'data', 'labels'",
    ),
    Case(
        "missing labels",
        _pickled(_batch(labels=None)),
        ValueError,
        "got a dict with keys b'batch_label', b'data'",
    ),
    Case(
        # Built by opcodes without recursion; its repr would recurse.
        "key nested 100000 deep",
        b"\x80\x02}N" + b"\x85" * 100_000 + b"Ns.",
        ValueError,
        r"got a dict with keys \(\(\(\(\(\(\(\.\.\.\),\),",
    ),
    Case(
        "unknown key",
        _pickled(_batch(fine_labels=[1])),
        ValueError,
        "unknown keys b'fine_labels'",
    ),
    Case(
        "data not an array",
        _pickled(_batch(data=[[0] * 3072] * N)),
        ValueError,
        "b'data' must be a numpy array, got list",
    ),
    Case(
        "data of the wrong dtype",
        _pickled(_batch(data=np.zeros((N, 3072), np.float32))),
        ValueError,
        r"expected uint8 data of shape \(n, 3072\), got float32",
    ),
    Case(
        "data of the wrong shape",
        _pickled(_batch(data=np.zeros((N, 32, 32, 3), np.uint8))),
        ValueError,
        r"got uint8 of shape \(4, 32, 32, 3\)",
    ),
    Case(
        "data big-endian int16",
        _pickled(_batch(data=np.zeros((N, 3072), ">i2"))),
        ValueError,
        "got int16",
    ),
    Case(
        "labels out of range (10)",
        _pickled(_batch(labels=[0, 3, 10, 1])),
        ValueError,
        r"labels must be in 0-9 \(the CIFAR-10 classes\), found 10",
    ),
    Case(
        "labels out of range (-1)",
        _pickled(_batch(labels=np.array([0, -1, 2, 3]))),
        ValueError,
        "labels must be in 0-9 .* found -1",
    ),
    Case(
        "labels huge int",
        _pickled(_batch(labels=[0, 2**70, 2, 3])),
        ValueError,
        "found 1180591620717411303424",
    ),
    Case(
        "labels bool",
        _pickled(_batch(labels=[True, False, True, False])),
        ValueError,
        "labels must be integers; b'labels' holds True of type bool",
    ),
    Case(
        "labels float",
        _pickled(_batch(labels=[0.0, 1.0, 2.0, 3.0])),
        ValueError,
        "holds 0.0 of type float",
    ),
    Case(
        "labels bytes",
        _pickled(_batch(labels=b"\x00\x01\x02\x03")),
        ValueError,
        "b'labels' must be a list of ints, got bytes",
    ),
    Case(
        "labels float array",
        _pickled(_batch(labels=np.zeros(N))),
        ValueError,
        "b'labels' is an array of float64",
    ),
    Case(
        "labels count mismatch",
        _pickled(_batch(labels=[0, 1, 2])),
        ValueError,
        "4 images but 3 labels",
    ),
]


@pytest.mark.parametrize("case", CIFAR_CASES, ids=[c.id for c in CIFAR_CASES])
def test_hostile_cifar10_batch(tmp_path, case):
    folder = tmp_path / "cifar"
    folder.mkdir()
    case.write(folder / "test_batch")
    with pytest.raises(case.error, match=case.match) as excinfo:
        load_cifar10(folder, subset="test")
    assert "test_batch" in str(excinfo.value)
    assert not _marker(folder / "test_batch").exists()


@pytest.mark.parametrize("case", [c for c in CIFAR_CASES if "__reduce__" in c.id])
def test_crafted_pickles_do_run_code_with_plain_pickle(tmp_path, case):
    # The crafted files are real attacks: plain unpickling runs them.
    folder = tmp_path / "cifar"
    folder.mkdir()
    path = case.write(folder / "test_batch")
    assert not _marker(path).exists()
    pickle.loads(path.read_bytes(), encoding="bytes")
    assert _marker(path).exists()


def test_crafted_length_is_refused_without_allocating_it(tmp_path):
    folder = tmp_path / "cifar"
    folder.mkdir()
    (folder / "test_batch").write_bytes(_huge_binbytes8(folder))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="expected 4294967296 bytes"):
            load_cifar10(folder, subset="test")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MiB, f"refusing the file allocated {peak} bytes"


def test_oversized_cifar10_file_is_not_read(tmp_path):
    folder = tmp_path / "cifar"
    folder.mkdir()
    with (folder / "test_batch").open("wb") as fh:
        fh.truncate(2**30 + 1)  # sparse: takes no disk space
    with pytest.raises(ValueError, match="1073741825 bytes, more than the 1073741824"):
        load_cifar10(folder, subset="test")


def test_official_batch_pickle_names_only_numpy_globals():
    # The allow-list is exactly what the official files name.
    content = official_cifar_pickle(_batch()[b"data"], [0, 3, 9, 1], [b"a"], b"x")
    names = {arg for op, arg, _ in pickletools.genops(content) if op.name == "GLOBAL"}
    assert names == {
        "numpy.core.multiarray _reconstruct",
        "numpy ndarray",
        "numpy dtype",
    }


def test_idx_fixture_round_trips():
    # Guards the fixtures above: a well-formed file is what they perturb.
    assert idx_bytes(np.arange(6, dtype=np.uint8).reshape(2, 3)) == GOOD
