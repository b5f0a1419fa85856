"""Tests for :mod:`sklearn_daeknn.datasets`."""

from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_array_equal

from sklearn_daeknn import datasets
from sklearn_daeknn.datasets import (
    CIFAR10_CLASSES,
    load_cifar10,
    load_digits_images,
    load_idx,
    load_mnist,
)

REAL_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"

IDX_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode `arr` as an IDX file (header + big-endian payload)."""
    arr = np.asarray(arr)
    code = IDX_CODES[arr.dtype.newbyteorder("=")]
    header = struct.pack(f">4B{arr.ndim}I", 0, 0, code, arr.ndim, *arr.shape)
    payload = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder(">")).tobytes()
    return header + payload


def write_idx(path: Path, arr: np.ndarray, *, compress: bool = False) -> Path:
    data = idx_bytes(arr)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def _py2_str(value: bytes) -> bytes:
    """A Python 2 ``str`` as cPickle writes it (SHORT_BINSTRING/BINSTRING)."""
    if len(value) < 256:
        return b"U" + bytes([len(value)]) + value
    return b"T" + struct.pack("<I", len(value)) + value


def _py2_int(value: int) -> bytes:
    if 0 <= value < 256:
        return b"K" + bytes([value])
    if 0 <= value < 65536:
        return b"M" + struct.pack("<H", value)
    return b"J" + struct.pack("<i", value)


def official_cifar_pickle(
    data: np.ndarray, labels: list[int], filenames: list[bytes], label: bytes
) -> bytes:
    """A CIFAR-10 batch pickled as the official files are.

    Python 2's cPickle, protocol 2, a numpy 1.x array: the globals
    ``numpy.core.multiarray._reconstruct``, ``numpy.ndarray`` and
    ``numpy.dtype``, and Python 2 ``str`` (bytes under ``encoding="bytes"``)
    for the keys, the file names and the pixel data.
    """
    n, width = data.shape
    array = (
        b"cnumpy.core.multiarray\n_reconstruct\nq\x02"
        + b"cnumpy\nndarray\nq\x03"
        + _py2_int(0)
        + b"\x85"  # TUPLE1: shape (0,)
        + _py2_str(b"b")
        + b"\x87Rq\x04("  # TUPLE3, REDUCE, then the state tuple
        + _py2_int(1)
        + _py2_int(n)
        + _py2_int(width)
        + b"\x86cnumpy\ndtype\nq\x05"
        + _py2_str(b"u1")
        + _py2_int(0)
        + _py2_int(1)
        + b"\x87Rq\x06("
        + _py2_int(3)
        + _py2_str(b"|")
        + b"NNN"
        + _py2_int(-1)
        + _py2_int(-1)
        + _py2_int(0)
        + b"tb\x89"  # BUILD the dtype; is_fortran False
        + _py2_str(data.tobytes())
        + b"tb"  # BUILD the array
    )
    return (
        b"\x80\x02}q\x01("
        + _py2_str(b"data")
        + array
        + _py2_str(b"labels")
        + b"]("
        + b"".join(map(_py2_int, labels))
        + b"e"
        + _py2_str(b"batch_label")
        + _py2_str(label)
        + _py2_str(b"filenames")
        + b"]("
        + b"".join(map(_py2_str, filenames))
        + b"e"
        + b"u."
    )


# --------------------------------------------------------------------- load_idx


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", list(IDX_CODES))
@pytest.mark.parametrize("shape", [(7,), (3, 4, 5)])
def test_load_idx_round_trip(tmp_path, compress, dtype, shape):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal(shape) * 100).astype(dtype)
    path = write_idx(tmp_path / "a-idx", arr, compress=compress)
    out = load_idx(path)
    assert out.shape == shape
    assert out.dtype == dtype
    assert out.dtype.isnative
    assert out.flags.writeable
    assert_array_equal(out, arr)


def test_load_idx_detects_gzip_by_content_not_name(tmp_path):
    arr = np.arange(12, dtype=np.int16).reshape(3, 4)
    raw_named_gz = write_idx(tmp_path / "raw.gz", arr)
    gz_named_raw = write_idx(tmp_path / "packed", arr, compress=True)
    assert_array_equal(load_idx(raw_named_gz), arr)
    assert_array_equal(load_idx(gz_named_raw), arr)
    assert_array_equal(load_idx(str(gz_named_raw)), arr)


def test_load_idx_big_endian_decoding(tmp_path):
    # 0x0102 big-endian is 258, not 513.
    path = tmp_path / "be"
    path.write_bytes(struct.pack(">4BI", 0, 0, 0x0B, 1, 1) + b"\x01\x02")
    assert load_idx(path).tolist() == [258]


def test_load_idx_missing_file(tmp_path):
    path = tmp_path / "nope-idx1-ubyte"
    with pytest.raises(FileNotFoundError, match="nope-idx1-ubyte"):
        load_idx(path)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"\x00\x00", "too short"),
        (struct.pack(">4BI", 1, 0, 8, 1, 2) + b"\x00\x00", "bad magic"),
        (struct.pack(">4BI", 0, 7, 8, 1, 2) + b"\x00\x00", "bad magic"),
        (struct.pack(">4BI", 0, 0, 0x0A, 1, 2) + b"\x00\x00", "unknown IDX dtype"),
        (struct.pack(">4BI", 0, 0, 8, 3, 2), "truncated IDX header"),
        (struct.pack(">4BI", 0, 0, 8, 1, 3) + b"\x00\x00", "payload is 2 bytes"),
        (struct.pack(">4BI", 0, 0, 8, 1, 1) + b"\x00\x00", "payload is 2 bytes"),
        (struct.pack(">4BI", 0, 0, 0x0C, 1, 1) + b"\x00\x00", "need 4 bytes"),
        (b"\x1f\x8bnot really gzip", "gzip"),
    ],
)
def test_load_idx_invalid(tmp_path, content, match):
    path = tmp_path / "broken-idx"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as excinfo:
        load_idx(path)
    assert "broken-idx" in str(excinfo.value)


def test_load_idx_invalid_inside_gzip(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(struct.pack(">4BI", 0, 0, 8, 1, 5) + b"\x00"))
    with pytest.raises(ValueError, match="broken.gz"):
        load_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_load_idx_result_owns_writable_native_memory(tmp_path, compress):
    arr = np.arange(12, dtype=">i4").reshape(3, 4)
    out = load_idx(write_idx(tmp_path / "x-idx", arr, compress=compress))
    assert out.flags.owndata and out.flags.writeable and out.flags.c_contiguous
    assert out.dtype == np.int32 and out.dtype.isnative
    assert_array_equal(out, arr)


@pytest.mark.parametrize("compress", [False, True])
def test_load_idx_max_bytes_is_inclusive(tmp_path, compress):
    path = write_idx(tmp_path / "x-idx", np.zeros((3, 4), np.int16), compress=compress)
    assert load_idx(path, max_bytes=24).shape == (3, 4)
    with pytest.raises(ValueError, match=r"need 24 bytes, more than the limit of 23"):
        load_idx(path, max_bytes=23)


@pytest.mark.parametrize(
    ("max_bytes", "error"),
    [(0, ValueError), (-1, ValueError), (2.0, TypeError), (True, TypeError)],
)
def test_load_idx_invalid_max_bytes(tmp_path, max_bytes, error):
    path = write_idx(tmp_path / "x-idx", np.zeros(3, np.uint8))
    with pytest.raises(error, match="max_bytes must be a positive int"):
        load_idx(path, max_bytes=max_bytes)


def test_load_idx_reads_concatenated_gzip_members(tmp_path):
    # gzip allows several members; `gzip -c a b > c` makes such files.
    raw = idx_bytes(np.arange(10, dtype=np.uint8))
    path = tmp_path / "multi.gz"
    path.write_bytes(gzip.compress(raw[:7]) + gzip.compress(raw[7:]))
    assert_array_equal(load_idx(path), np.arange(10))


@settings(max_examples=60, deadline=None)
@given(
    arr=hnp.arrays(
        dtype=st.sampled_from(list(IDX_CODES)),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
    ),
    compress=st.booleans(),
)
def test_load_idx_round_trip_property(tmp_path_factory, arr, compress):
    path = tmp_path_factory.mktemp("prop") / "x-idx"
    write_idx(path, arr, compress=compress)
    out = load_idx(path)
    assert out.shape == arr.shape
    assert out.dtype == arr.dtype and out.dtype.isnative
    # Byte comparison so that NaN payloads and signed zeros must survive too.
    assert out.tobytes() == np.ascontiguousarray(arr).tobytes()


# ------------------------------------------------------------------- load_mnist

N_TRAIN, N_TEST = 30, 20


def _fake_images(n: int, rng: np.random.Generator) -> np.ndarray:
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[:, 0, 0] = np.arange(n)  # unique tag: the original index
    images[:, 27, 27] = 255
    images[:, 27, 26] = 0
    return images


@pytest.fixture
def mnist_folder(tmp_path):
    """A tiny MNIST-style folder: train files gzipped, test files raw."""
    rng = np.random.default_rng(42)
    train_x = _fake_images(N_TRAIN, rng)
    train_y = rng.permutation(np.repeat(np.arange(10, dtype=np.uint8), 3))
    test_x = _fake_images(N_TEST, rng)
    test_y = np.repeat(np.arange(10, dtype=np.uint8), 2)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", train_x, compress=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", train_y, compress=True)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", test_x)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", test_y)
    return tmp_path, (train_x, train_y), (test_x, test_y)


@pytest.mark.parametrize("subset", ["train", "test"])
def test_load_mnist_shapes_and_scaling(mnist_folder, subset):
    folder, train, test = mnist_folder
    images, labels = train if subset == "train" else test
    X, y = load_mnist(folder, subset=subset)
    assert X.shape == (len(images), 784)
    assert X.dtype == np.float32
    assert y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert_array_equal(X, images.reshape(-1, 784).astype(np.float32) / 255)
    assert_array_equal(y, labels)
    assert_array_equal(X.reshape(-1, 28, 28)[:, 0, 0] * 255, np.arange(len(X)))


def test_load_mnist_default_subset_is_train(mnist_folder):
    folder, *_ = mnist_folder
    assert load_mnist(str(folder))[0].shape == (N_TRAIN, 784)


def test_load_mnist_n_samples_takes_first(mnist_folder):
    folder, _, (test_x, test_y) = mnist_folder
    X, y = load_mnist(folder, subset="test", n_samples=7)
    assert X.shape == (7, 784)
    assert_array_equal(X, test_x[:7].reshape(7, -1) / np.float32(255))
    assert_array_equal(y, test_y[:7])


def test_load_mnist_n_per_class(mnist_folder):
    folder, (train_x, train_y), _ = mnist_folder
    X, y = load_mnist(folder, n_per_class=2, random_state=0)
    assert X.shape == (20, 784)
    assert_array_equal(np.bincount(y, minlength=10), np.full(10, 2))
    index = np.rint(X.reshape(-1, 28, 28)[:, 0, 0] * 255).astype(int)
    assert np.all(np.diff(index) > 0), "must keep the original order"
    assert_array_equal(y, train_y[index])
    assert_array_equal(X, train_x[index].reshape(20, -1) / np.float32(255))


def test_load_mnist_n_per_class_deterministic(mnist_folder):
    folder, *_ = mnist_folder
    a = load_mnist(folder, n_per_class=2, random_state=3)
    b = load_mnist(folder, n_per_class=2, random_state=3)
    c = load_mnist(folder, n_per_class=2, random_state=4)
    assert_array_equal(a[0], b[0])
    assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    rs = np.random.RandomState(3)
    assert_array_equal(load_mnist(folder, n_per_class=2, random_state=rs)[0], a[0])


def test_load_mnist_n_per_class_too_large(mnist_folder):
    folder, *_ = mnist_folder
    with pytest.raises(ValueError, match=r"n_per_class=4.*has 3 samples"):
        load_mnist(folder, n_per_class=4)


def test_load_mnist_n_per_class_all(mnist_folder):
    folder, (train_x, _), _ = mnist_folder
    X, _ = load_mnist(folder, n_per_class=3)
    assert_array_equal(X, train_x.reshape(N_TRAIN, -1) / np.float32(255))


def test_load_mnist_both_subset_options(mnist_folder):
    folder, *_ = mnist_folder
    with pytest.raises(ValueError, match="mutually exclusive"):
        load_mnist(folder, n_samples=5, n_per_class=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"n_samples": -3}, ValueError, "n_samples"),
        ({"n_samples": 31}, ValueError, "n_samples=31 exceeds the 30"),
        ({"n_samples": 2.5}, TypeError, "n_samples"),
        ({"n_samples": True}, TypeError, "n_samples"),
        ({"n_per_class": 0}, ValueError, "n_per_class"),
        ({"n_per_class": "2"}, TypeError, "n_per_class"),
        ({"subset": "validation"}, ValueError, "subset"),
    ],
)
def test_load_mnist_invalid_arguments(mnist_folder, kwargs, error, match):
    folder, *_ = mnist_folder
    with pytest.raises(error, match=match):
        load_mnist(folder, **kwargs)


def test_load_mnist_n_samples_numpy_int(mnist_folder):
    folder, *_ = mnist_folder
    assert load_mnist(folder, n_samples=np.int64(4))[0].shape == (4, 784)


def test_load_mnist_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing-dir"):
        load_mnist(tmp_path / "missing-dir")


def test_load_mnist_missing_files(mnist_folder):
    folder, *_ = mnist_folder
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError) as excinfo:
        load_mnist(folder, subset="test")
    message = str(excinfo.value)
    assert "t10k-images-idx3-ubyte" in message
    assert "missing: t10k-labels-idx1-ubyte" in message
    # The train split is unaffected.
    assert load_mnist(folder)[0].shape == (N_TRAIN, 784)


def test_load_mnist_count_mismatch(mnist_folder):
    folder, *_ = mnist_folder
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(19, dtype=np.uint8))
    with pytest.raises(ValueError, match="20 images but .* 19 labels"):
        load_mnist(folder, subset="test")


def test_load_mnist_rejects_non_uint8_images(mnist_folder):
    folder, *_ = mnist_folder
    write_idx(folder / "t10k-images-idx3-ubyte", np.zeros((20, 28, 28), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        load_mnist(folder, subset="test")


def test_load_mnist_rejects_non_1d_labels(mnist_folder):
    folder, *_ = mnist_folder
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros((20, 2), np.uint8))
    with pytest.raises(ValueError, match="1-D integer labels"):
        load_mnist(folder, subset="test")


def test_load_mnist_real_test_set():
    if not (REAL_MNIST / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST not available at {REAL_MNIST}")
    X, y = load_mnist(REAL_MNIST, subset="test")
    assert X.shape == (10_000, 784)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert_array_equal(np.unique(y), np.arange(10))
    # The first MNIST test digits are 7, 2, 1, 0, 4.
    assert y[:5].tolist() == [7, 2, 1, 0, 4]
    X_first, y_first = load_mnist(REAL_MNIST, subset="test", n_samples=1000)
    assert_array_equal(X_first, X[:1000])
    assert_array_equal(y_first, y[:1000])
    # Checksums of what the loader returned before it streamed the files.
    assert hashlib.sha256(X.tobytes()).hexdigest()[:16] == "bc9f8f501f39b3ca"
    assert hashlib.sha256(y.tobytes()).hexdigest()[:16] == "2fd8de6bdb8d1178"


# ----------------------------------------------------------------- load_cifar10

CIFAR_BATCH = 3  # images per train batch
CIFAR_TEST = 4


def _cifar_batch(start: int, n: int) -> dict:
    rng = np.random.default_rng(start)
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    data[:, 0] = np.arange(start, start + n)  # tag: global index
    data[:, 1024:2048] = 255  # green plane saturated
    data[:, 2048:] = 0  # blue plane black
    labels = [int(i % 10) for i in range(start, start + n)]
    return {b"batch_label": b"fake", b"data": data, b"labels": labels}


def _write_pickle(path: Path, obj: object) -> None:
    with path.open("wb") as fh:
        pickle.dump(obj, fh)


@pytest.fixture
def cifar_folder(tmp_path):
    folder = tmp_path / "cifar"
    folder.mkdir()
    batches = []
    for i in range(5):
        batch = _cifar_batch(i * CIFAR_BATCH, CIFAR_BATCH)
        batches.append(batch)
        _write_pickle(folder / f"data_batch_{i + 1}", batch)
    test = _cifar_batch(100, CIFAR_TEST)
    _write_pickle(folder / "test_batch", test)
    return folder, batches, test


def test_load_cifar10_train(cifar_folder):
    folder, batches, _ = cifar_folder
    X, y = load_cifar10(folder)
    n = 5 * CIFAR_BATCH
    assert X.shape == (n, 3072)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() >= 0.0 and X.max() <= 1.0
    expected = np.concatenate([b[b"data"] for b in batches]) / np.float32(255)
    assert_array_equal(X, expected)
    assert_array_equal(np.rint(X[:, 0] * 255), np.arange(n))  # batch order 1..5
    assert_array_equal(y, np.arange(n) % 10)
    images = X.reshape(-1, 3, 32, 32)
    assert np.all(images[:, 1] == 1.0) and np.all(images[:, 2] == 0.0)


def test_load_cifar10_test_subset(cifar_folder):
    folder, _, test = cifar_folder
    X, y = load_cifar10(folder, subset="test")
    assert X.shape == (CIFAR_TEST, 3072)
    assert_array_equal(X, test[b"data"] / np.float32(255))
    assert_array_equal(y, test[b"labels"])


def test_load_cifar10_nested_folder(cifar_folder, tmp_path):
    folder, *_ = cifar_folder
    parent = tmp_path / "download"
    parent.mkdir()
    folder.rename(parent / "cifar-10-batches-py")
    X, y = load_cifar10(parent)
    assert X.shape == (5 * CIFAR_BATCH, 3072)
    assert_array_equal(y, np.arange(5 * CIFAR_BATCH) % 10)


def test_load_cifar10_n_samples_and_n_per_class(cifar_folder):
    folder, *_ = cifar_folder
    X, y = load_cifar10(folder, n_samples=4)
    assert_array_equal(np.rint(X[:, 0] * 255), np.arange(4))
    assert_array_equal(y, [0, 1, 2, 3])
    X, y = load_cifar10(folder, n_per_class=1, random_state=0)
    assert_array_equal(np.sort(y), np.arange(10))
    index = np.rint(X[:, 0] * 255)
    assert np.all(np.diff(index) > 0)
    assert_array_equal(y, index % 10)
    X2, _ = load_cifar10(folder, n_per_class=1, random_state=0)
    assert_array_equal(X, X2)
    with pytest.raises(ValueError, match="n_per_class=2"):
        load_cifar10(folder, n_per_class=2)
    with pytest.raises(ValueError, match="mutually exclusive"):
        load_cifar10(folder, n_per_class=1, n_samples=1)


def test_load_cifar10_missing(cifar_folder, tmp_path):
    folder, *_ = cifar_folder
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_cifar10(tmp_path / "nowhere")
    (folder / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match=r"data_batch_1.*missing: data_batch_3"):
        load_cifar10(folder)
    assert load_cifar10(folder, subset="test")[0].shape == (CIFAR_TEST, 3072)
    with pytest.raises(ValueError, match="subset"):
        load_cifar10(folder, subset="all")


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ([1, 2, 3], "expected a dict"),
        ({b"data": np.zeros((2, 3072), np.uint8)}, "expected a dict"),
        ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, "shape"),
        ({b"data": np.zeros((2, 3072), np.float64), b"labels": [0, 1]}, "uint8"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "labels"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0.5, 1]}, "integers"),
    ],
)
def test_load_cifar10_invalid_batch(cifar_folder, obj, match):
    folder, *_ = cifar_folder
    _write_pickle(folder / "test_batch", obj)
    with pytest.raises(ValueError, match=match) as excinfo:
        load_cifar10(folder, subset="test")
    assert "test_batch" in str(excinfo.value)


def test_load_cifar10_not_a_pickle(cifar_folder):
    folder, *_ = cifar_folder
    (folder / "test_batch").write_bytes(b"this is not a pickle")
    with pytest.raises(ValueError, match="test_batch"):
        load_cifar10(folder, subset="test")


def test_load_cifar10_official_format(cifar_folder):
    folder, *_ = cifar_folder
    rng = np.random.default_rng(7)
    data = rng.integers(0, 256, size=(300, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, size=300)]
    names = [f"img_{i}.png".encode() for i in range(300)]
    content = official_cifar_pickle(data, labels, names, b"testing batch 1 of 1")
    (folder / "test_batch").write_bytes(content)
    # The fixture is a genuine numpy pickle: plain pickle reads it back.
    plain = pickle.loads(content, encoding="bytes")
    assert_array_equal(plain[b"data"], data)
    assert plain[b"labels"] == labels and plain[b"filenames"] == names
    X, y = load_cifar10(folder, subset="test")
    assert_array_equal(X, data / np.float32(255))
    assert_array_equal(y, labels)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_load_cifar10_any_pickle_protocol(cifar_folder, protocol):
    folder, _, test = cifar_folder
    test = {**test, b"filenames": [b"a.png", b"", b"c.png", b"d.png"]}
    with (folder / "test_batch").open("wb") as fh:
        pickle.dump(test, fh, protocol=protocol)
    X, y = load_cifar10(folder, subset="test")
    assert_array_equal(X, test[b"data"] / np.float32(255))
    assert_array_equal(y, test[b"labels"])


@pytest.mark.parametrize(
    ("data", "labels"),
    [
        (np.asfortranarray, lambda y: np.asarray(y, dtype=">i4")),
        (np.ascontiguousarray, lambda y: np.asarray(y, dtype=np.uint8)),
    ],
)
def test_load_cifar10_array_layouts(cifar_folder, data, labels):
    folder, _, test = cifar_folder
    batch = {b"data": data(test[b"data"]), b"labels": labels(test[b"labels"])}
    _write_pickle(folder / "test_batch", batch)
    X, y = load_cifar10(folder, subset="test")
    assert_array_equal(X, test[b"data"] / np.float32(255))
    assert_array_equal(y, test[b"labels"])
    assert y.dtype == np.int64


def test_cifar10_classes():
    assert isinstance(CIFAR10_CLASSES, tuple)
    assert len(CIFAR10_CLASSES) == len(set(CIFAR10_CLASSES)) == 10
    assert CIFAR10_CLASSES[0] == "airplane" and CIFAR10_CLASSES[9] == "truck"
    assert CIFAR10_CLASSES[3] == "cat"


# ----------------------------------------------------------- load_digits_images


def test_load_digits_images():
    from sklearn.datasets import load_digits

    X, y = load_digits_images()
    assert X.shape == (1797, 64)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    ref = load_digits()
    assert_array_equal(X, ref.data.astype(np.float32) / 16)
    assert_array_equal(y, ref.target)
    assert X.reshape(-1, 1, 8, 8).shape == (1797, 1, 8, 8)


def test_load_digits_images_bunch():
    bunch = load_digits_images(return_X_y=False)
    X, y = load_digits_images()
    assert_array_equal(bunch.data, X)
    assert_array_equal(bunch.target, y)
    assert bunch.images.shape == (1797, 8, 8)
    assert bunch.input_shape == (1, 8, 8)
    assert_array_equal(bunch.target_names, np.arange(10))
    with pytest.raises(TypeError, match="return_X_y"):
        load_digits_images(return_X_y="yes")


def test_public_api():
    assert sorted(datasets.__all__) == [
        "CIFAR10_CLASSES",
        "load_cifar10",
        "load_digits_images",
        "load_idx",
        "load_mnist",
    ]
    for name in datasets.__all__:
        assert hasattr(datasets, name)
