"""Loaders for the image data sets used with :mod:`sklearn_daeknn`.

The loaders read the data sets' standard distribution formats from a local
folder; nothing is ever downloaded.

* :func:`load_idx` reads one file in the IDX format of MNIST and its
  look-alikes (Fashion-MNIST, KMNIST, ...), gzip-compressed or raw.
* :func:`load_mnist` reads the train or test split of any folder holding the
  four MNIST-style IDX files.
* :func:`load_cifar10` reads CIFAR-10's "python version" batch files.
* :func:`load_digits_images` returns scikit-learn's bundled 8x8 digits, the
  library's embedded default data set.

All loaders of image data return ``(X, y)`` with ``X`` a ``float32`` array of
flattened images scaled to ``[0, 1]`` and ``y`` an ``int64`` array of labels.
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import Bunch, check_random_state

__all__ = [
    "CIFAR10_CLASSES",
    "load_cifar10",
    "load_digits_images",
    "load_idx",
    "load_mnist",
]

#: Names of the ten CIFAR-10 classes, indexed by label.
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

_GZIP_MAGIC = b"\x1f\x8b"

# IDX dtype codes -> big-endian numpy dtypes of the stored payload.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# Default largest IDX payload that :func:`load_idx` accepts (4 GiB; the
# largest MNIST look-alikes hold well under 1 GiB).
_IDX_MAX_BYTES = 4 * 2**30

# zlib's documented ceiling for DEFLATE: at most 1032 output bytes per input
# byte, so a gzip file can never hold more than 1032 times its own size.
_DEFLATE_MAX_RATIO = 1032
# Decompressed bytes read per call: bounds the temporary copy gzip makes.
_READ_CHUNK = 2**20
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)

_MNIST_PREFIXES = {"train": "train", "test": "t10k"}
_CIFAR10_FILES = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}
_CIFAR10_FEATURES = 3 * 32 * 32


def _check_idx_path(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"IDX file not found: {str(path)!r}")
    if path.is_dir():
        raise IsADirectoryError(f"{str(path)!r} is a directory, not an IDX file")
    if not path.is_file():
        raise ValueError(f"{str(path)!r} is not a regular file, so not an IDX file")
    return path


def _check_max_bytes(max_bytes: Any) -> int:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)):
        raise TypeError(f"max_bytes must be a positive int, got {max_bytes!r}")
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive int, got {max_bytes!r}")
    return int(max_bytes)


class _IdxFile:
    """An open IDX file whose header is read and checked before any payload.

    Opening reads only the magic number and the dimensions, so that a file
    declaring an impossible or oversized payload is rejected before anything
    large is read, decompressed or allocated. :meth:`read` then reads exactly
    the declared payload and checks that nothing follows it.
    """

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self._raw = path.open("rb")
        self._stream: Any = None
        try:
            self._file_size = os.fstat(self._raw.fileno()).st_size
            self.compressed = self._raw.read(2) == _GZIP_MAGIC
            self._raw.seek(0)
            self._stream = (
                gzip.GzipFile(fileobj=self._raw, mode="rb")
                if self.compressed
                else self._raw
            )
            self._read_header(max_bytes)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> _IdxFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._stream is not None and self._stream is not self._raw:
            self._stream.close()
        self._raw.close()

    @property
    def _name(self) -> str:
        return repr(str(self.path))

    def _decompression_error(self, exc: Exception) -> ValueError:
        return ValueError(
            f"{self._name} starts like a gzip file but cannot be decompressed: {exc}"
        )

    def _read(self, size: int) -> bytes:
        try:
            return self._stream.read(size)
        except _GZIP_ERRORS as exc:
            raise self._decompression_error(exc) from exc

    def _read_header(self, max_bytes: int) -> None:
        magic = self._read(4)
        if len(magic) < 4:
            raise ValueError(
                f"{self._name} is not an IDX file: {len(magic)} bytes, too short "
                "for the 4-byte magic number"
            )
        zero0, zero1, code, ndim = magic
        if zero0 != 0 or zero1 != 0:
            raise ValueError(
                f"{self._name} is not an IDX file: bad magic number "
                f"0x{magic.hex()} (must start with two zero bytes)"
            )
        if code not in _IDX_DTYPES:
            known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
            raise ValueError(
                f"{self._name}: unknown IDX dtype code 0x{code:02X} (known: {known})"
            )
        self.header_size = 4 + 4 * ndim
        dims = self._read(4 * ndim)
        if len(dims) < 4 * ndim:
            raise ValueError(
                f"{self._name}: truncated IDX header; {ndim} dimensions need "
                f"{self.header_size} bytes, the file has {4 + len(dims)}"
            )
        self.shape: tuple[int, ...] = struct.unpack(f">{ndim}I", dims)
        self.dtype: np.dtype = _IDX_DTYPES[code]
        # Python integers: an int64 product of the dimensions can wrap around.
        self.nbytes = math.prod(self.shape) * self.dtype.itemsize
        described = f"dimensions {self.shape} of {self.dtype.name} need"
        if self.nbytes > max_bytes:
            raise ValueError(
                f"{self._name}: IDX {described} {self.nbytes} bytes, more than "
                f"the limit of {max_bytes} bytes (max_bytes)"
            )
        if self.compressed:
            most = _DEFLATE_MAX_RATIO * self._file_size
            if self.header_size + self.nbytes > most:
                raise ValueError(
                    f"{self._name}: truncated file; IDX {described} "
                    f"{self.nbytes} bytes but a gzip file of {self._file_size} "
                    f"bytes decompresses to at most {most} bytes"
                )
        else:
            actual = self._file_size - self.header_size
            if actual != self.nbytes:
                problem = "truncated file" if actual < self.nbytes else "trailing bytes"
                raise ValueError(
                    f"{self._name}: {problem}; IDX payload is {actual} bytes "
                    f"but {described} {self.nbytes} bytes"
                )

    def read(self) -> np.ndarray:
        """Read the payload into a new native-byte-order array."""
        try:
            out = np.empty(self.shape, dtype=self.dtype.newbyteorder("="))
        except ValueError as exc:
            raise ValueError(
                f"{self._name}: IDX dimensions {self.shape} do not make a "
                f"numpy array: {exc}"
            ) from exc
        buffer = memoryview(out.reshape(-1).view(np.uint8))
        filled = 0
        while filled < self.nbytes:
            end = min(filled + _READ_CHUNK, self.nbytes)
            try:
                got = self._stream.readinto(buffer[filled:end])
            except _GZIP_ERRORS as exc:
                raise self._decompression_error(exc) from exc
            if not got:
                raise ValueError(
                    f"{self._name}: truncated file; IDX payload is {filled} "
                    f"bytes but dimensions {self.shape} of {self.dtype.name} "
                    f"need {self.nbytes} bytes"
                )
            filled += got
        # Reading one more byte also makes gzip verify the stream's checksum.
        if self.compressed and self._read(1):
            raise ValueError(
                f"{self._name}: trailing bytes after the IDX payload of "
                f"{self.nbytes} bytes (dimensions {self.shape} of "
                f"{self.dtype.name})"
            )
        if self.dtype.itemsize > 1 and sys.byteorder == "little":
            out.byteswap(inplace=True)
        return out


def load_idx(
    path: str | os.PathLike[str], *, max_bytes: int = _IDX_MAX_BYTES
) -> np.ndarray:
    """Read one file in the IDX format used by MNIST and Fashion-MNIST.

    The file may be gzip-compressed or raw; compression is detected from the
    gzip magic bytes, not from the file name.

    An IDX file starts with a 4-byte magic number: two zero bytes, a dtype
    code (``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32,
    ``0x0D`` float32, ``0x0E`` float64) and the number of dimensions. Then
    come the dimensions as big-endian unsigned 32-bit integers, then the
    values in C order, big-endian.

    The header is read and checked first: a file whose dimensions declare
    more than `max_bytes` bytes, or more than the file can hold (a gzip file
    decompresses to at most 1032 times its size), is rejected before its
    payload is read or decompressed. Then exactly the declared payload is
    read, and anything after it is an error.

    Parameters
    ----------
    path : str or os.PathLike
        Path of the IDX file.
    max_bytes : int, default=4 * 2**30
        Largest payload (after decompression) to accept, in bytes: a bound
        on the memory the file may make this function allocate.

    Returns
    -------
    ndarray
        Array with the file's shape and dtype, in native byte order. It owns
        its (writable) memory.

    Raises
    ------
    FileNotFoundError
        If `path` does not exist.
    IsADirectoryError
        If `path` is a directory.
    ValueError
        If the file is not valid IDX: not a regular file, a corrupt gzip
        stream, a bad magic number, an unknown dtype code, a truncated header,
        dimensions declaring more than `max_bytes` bytes, or a payload shorter
        or longer than the dimensions declare. The message names the file.
        Also if `max_bytes` is not positive.
    TypeError
        If `max_bytes` is not an int.

    Examples
    --------
    >>> import struct, tempfile
    >>> from pathlib import Path
    >>> from sklearn_daeknn.datasets import load_idx
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "tiny-idx2-ubyte"
    ...     header = struct.pack(">4B2I", 0, 0, 0x08, 2, 2, 3)
    ...     _ = path.write_bytes(header + bytes(range(6)))
    ...     arr = load_idx(path)
    >>> arr
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    max_bytes = _check_max_bytes(max_bytes)
    with _IdxFile(_check_idx_path(path), max_bytes) as idx:
        return idx.read()


def _check_count(value: Any, name: str) -> int | None:
    """Validate an optional positive integer parameter."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int or None, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int or None, got {value!r}")
    return int(value)


def _select_subset(
    y: np.ndarray,
    *,
    n_samples: int | None,
    n_per_class: int | None,
    random_state: int | np.random.RandomState | None,
) -> np.ndarray | None:
    """Return the indices selected by `n_samples` / `n_per_class`.

    Returns ``None`` when neither is given (keep everything). With
    `n_samples`, the first `n_samples` indices. With `n_per_class`, a seeded
    class-balanced random sample, sorted by original index.
    """
    n_samples = _check_count(n_samples, "n_samples")
    n_per_class = _check_count(n_per_class, "n_per_class")
    if n_samples is not None and n_per_class is not None:
        raise ValueError(
            "n_samples and n_per_class are mutually exclusive; got "
            f"n_samples={n_samples} and n_per_class={n_per_class}"
        )
    if n_samples is not None:
        if n_samples > len(y):
            raise ValueError(
                f"n_samples={n_samples} exceeds the {len(y)} samples available"
            )
        return np.arange(n_samples)
    if n_per_class is not None:
        classes, counts = np.unique(y, return_counts=True)
        smallest = int(counts.min())
        if n_per_class > smallest:
            rarest = classes[int(np.argmin(counts))]
            raise ValueError(
                f"n_per_class={n_per_class} exceeds the size of the smallest "
                f"class (class {rarest} has {smallest} samples)"
            )
        rng = check_random_state(random_state)
        picked = [
            rng.choice(np.flatnonzero(y == c), size=n_per_class, replace=False)
            for c in classes
        ]
        return np.sort(np.concatenate(picked))
    return None


def _check_subset(subset: Any) -> str:
    if subset not in ("train", "test"):
        raise ValueError(f"subset must be 'train' or 'test', got {subset!r}")
    return subset


def _check_folder(folder: str | os.PathLike[str], what: str) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{what} folder not found: {str(folder)!r}")
    return folder


def _find_idx(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def load_mnist(
    folder: str | os.PathLike[str],
    *,
    subset: str = "train",
    n_per_class: int | None = None,
    n_samples: int | None = None,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load the train or test split of an MNIST-style data set.

    Works for any folder holding the four standard IDX files of MNIST or one
    of its drop-in look-alikes (Fashion-MNIST, KMNIST, ...)::

        train-images-idx3-ubyte   train-labels-idx1-ubyte
        t10k-images-idx3-ubyte    t10k-labels-idx1-ubyte

    each either raw or gzip-compressed with a ``.gz`` suffix. Only the two
    files of the requested `subset` are read.

    Parameters
    ----------
    folder : str or os.PathLike
        Folder holding the IDX files.
    subset : {"train", "test"}, default="train"
        Which split to load: ``"train"`` reads the ``train-*`` files,
        ``"test"`` the ``t10k-*`` files.
    n_per_class : int, default=None
        If given, return a class-balanced random sample with this many
        samples of each class, in the order of the original file (the paper's
        authors trained on 2,000 samples per class). Drawn with
        `random_state`.
    n_samples : int, default=None
        If given, return only the first `n_samples` samples (the paper's
        protocol tests on the first 1,000 test images). Mutually exclusive
        with `n_per_class`.
    random_state : int, RandomState instance or None, default=None
        Seed of the `n_per_class` sample; pass an int for reproducible
        output. Ignored otherwise.

    Returns
    -------
    X : ndarray of shape (n, 784), dtype float32
        Flattened images (row-major, ``X.reshape(-1, 28, 28)`` gives them
        back), pixel values divided by 255 into ``[0, 1]``. Images of another
        size give ``n`` rows of ``height * width`` columns.
    y : ndarray of shape (n,), dtype int64
        Labels.

    Raises
    ------
    FileNotFoundError
        If `folder` does not exist or lacks the files of `subset`; the
        message lists the file names expected.
    ValueError
        If `subset` is invalid, the files are not valid IDX (see
        :func:`load_idx`; each may hold at most 4 GiB), the images are not
        uint8, the labels not 1-D or negative, the image and label counts differ,
        both `n_samples` and `n_per_class` are given, or either exceeds what
        the data hold (`n_per_class` larger than the smallest class).
    TypeError
        If `n_samples` or `n_per_class` is not an int.

    Examples
    --------
    Build a tiny MNIST-style folder (3 test images of 28x28) and load it:

    >>> import gzip, struct, tempfile
    >>> from pathlib import Path
    >>> from sklearn_daeknn.datasets import load_mnist
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     images = struct.pack(">4B3I", 0, 0, 8, 3, 3, 28, 28)
    ...     images += bytes([255]) * (3 * 28 * 28)
    ...     labels = struct.pack(">4BI", 0, 0, 8, 1, 3) + bytes([7, 2, 1])
    ...     _ = (Path(tmp) / "t10k-images-idx3-ubyte.gz").write_bytes(
    ...         gzip.compress(images))
    ...     _ = (Path(tmp) / "t10k-labels-idx1-ubyte").write_bytes(labels)
    ...     X, y = load_mnist(tmp, subset="test", n_samples=2)
    >>> X.shape, X.dtype, float(X.max())
    ((2, 784), dtype('float32'), 1.0)
    >>> y
    array([7, 2])

    With the real MNIST files, the paper's protocol reads::

        X_train, y_train = load_mnist(folder, n_per_class=2000, random_state=0)
        X_test, y_test = load_mnist(folder, subset="test", n_samples=1000)
    """
    subset = _check_subset(subset)
    folder = _check_folder(folder, "MNIST-style data")
    prefix = _MNIST_PREFIXES[subset]
    names = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    paths = [_find_idx(folder, name) for name in names]
    if any(p is None for p in paths):
        missing = [n for n, p in zip(names, paths, strict=True) if p is None]
        raise FileNotFoundError(
            f"{str(folder)!r} lacks the {subset} files of an MNIST-style data "
            f"set; expected {names[0]!r} and {names[1]!r} (each optionally "
            f"with a '.gz' suffix); missing: {', '.join(missing)}"
        )
    images_path, labels_path = paths
    assert images_path is not None and labels_path is not None
    # Both headers are checked before either payload is read, so that a
    # mismatch is reported without reading the (large) image file.
    with (
        _IdxFile(images_path, _IDX_MAX_BYTES) as images_file,
        _IdxFile(labels_path, _IDX_MAX_BYTES) as labels_file,
    ):
        if images_file.dtype != np.uint8 or len(images_file.shape) < 2:
            raise ValueError(
                f"{str(images_path)!r}: expected uint8 images of at least 2 "
                f"dimensions, got {images_file.dtype.name} of shape "
                f"{images_file.shape}"
            )
        if len(labels_file.shape) != 1 or labels_file.dtype.kind not in "iu":
            raise ValueError(
                f"{str(labels_path)!r}: expected 1-D integer labels, got "
                f"{labels_file.dtype.name} of shape {labels_file.shape}"
            )
        n_images, n_labels = images_file.shape[0], labels_file.shape[0]
        if n_images != n_labels:
            raise ValueError(
                f"image/label count mismatch in {str(folder)!r}: "
                f"{images_path.name} holds {n_images} images but "
                f"{labels_path.name} holds {n_labels} labels"
            )
        labels = labels_file.read()
        if len(labels) and labels.min() < 0:
            raise ValueError(
                f"{str(labels_path)!r}: labels must be non-negative class "
                f"indices, found {labels.min()}"
            )
        images = images_file.read()
    y = labels.astype(np.int64)
    keep = _select_subset(
        y, n_samples=n_samples, n_per_class=n_per_class, random_state=random_state
    )
    if keep is not None:
        images, y = images[keep], y[keep]
    n_features = int(np.prod(images.shape[1:]))
    X = images.reshape(len(images), n_features).astype(np.float32)
    X /= np.float32(255.0)
    return X, y


def _cifar_folder(folder: str | os.PathLike[str]) -> Path:
    folder = _check_folder(folder, "CIFAR-10")
    nested = folder / "cifar-10-batches-py"
    return nested if nested.is_dir() else folder


def _load_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with path.open("rb") as fh:
        try:
            batch = pickle.load(fh, encoding="bytes")
        except Exception as exc:
            raise ValueError(
                f"{str(path)!r} is not a readable CIFAR-10 batch: {exc}"
            ) from exc
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(
            f"{str(path)!r} is not a CIFAR-10 batch: expected a dict with "
            "keys b'data' and b'labels'"
        )
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _CIFAR10_FEATURES:
        raise ValueError(
            f"{str(path)!r}: expected uint8 data of shape (n, "
            f"{_CIFAR10_FEATURES}), got {data.dtype.name} of shape {data.shape}"
        )
    if labels.ndim != 1 or len(labels) != len(data):
        raise ValueError(
            f"{str(path)!r}: {len(data)} images but labels of shape {labels.shape}"
        )
    if len(labels) and labels.dtype.kind not in "iu":
        raise ValueError(f"{str(path)!r}: labels must be integers")
    return data, labels.astype(np.int64)


def load_cifar10(
    folder: str | os.PathLike[str],
    *,
    subset: str = "train",
    n_samples: int | None = None,
    n_per_class: int | None = None,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load the train or test split of CIFAR-10 from its "python version" files.

    Reads the pickled batches ``data_batch_1`` ... ``data_batch_5`` (train)
    or ``test_batch`` (test), each a dict with ``b"data"`` (uint8 array of
    shape ``(n, 3072)``, channel-major: 1024 red, 1024 green, then 1024 blue
    values, each plane row-major) and ``b"labels"`` (list of ints). The names
    of the labels are in :data:`CIFAR10_CLASSES`.

    .. warning::
       **Security:** the batch files are Python pickles, and unpickling a
       file can run arbitrary code. Only load files you trust, such as the
       official archive checked against its published checksum.

    Parameters
    ----------
    folder : str or os.PathLike
        Folder holding the batch files, or a folder containing a
        ``cifar-10-batches-py/`` folder (as unpacked from the archive).
    subset : {"train", "test"}, default="train"
        Which split to load. The train split is the concatenation of
        batches 1 to 5, in that order.
    n_samples : int, default=None
        If given, return only the first `n_samples` samples. Mutually
        exclusive with `n_per_class`.
    n_per_class : int, default=None
        If given, return a class-balanced random sample with this many
        samples of each class, in the order of the original files. Drawn with
        `random_state`.
    random_state : int, RandomState instance or None, default=None
        Seed of the `n_per_class` sample; pass an int for reproducible
        output. Ignored otherwise.

    Returns
    -------
    X : ndarray of shape (n, 3072), dtype float32
        Flattened images in channel-major order, divided by 255 into
        ``[0, 1]``; ``X.reshape(-1, 3, 32, 32)`` gives the images.
    y : ndarray of shape (n,), dtype int64
        Labels 0-9, indices into :data:`CIFAR10_CLASSES`.

    Raises
    ------
    FileNotFoundError
        If `folder` does not exist or lacks the batch files of `subset`; the
        message lists the file names expected.
    ValueError
        If `subset` is invalid, a file is not a CIFAR-10 batch, both
        `n_samples` and `n_per_class` are given, or either exceeds what the
        data hold (`n_per_class` larger than the smallest class).
    TypeError
        If `n_samples` or `n_per_class` is not an int.

    Examples
    --------
    Build a tiny CIFAR-10 folder (two images per batch) and load it:

    >>> import pickle, tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from sklearn_daeknn.datasets import CIFAR10_CLASSES, load_cifar10
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
    ...         batch = {b"data": np.full((2, 3072), 255, dtype=np.uint8),
    ...                  b"labels": [3, 8]}
    ...         with open(Path(tmp) / name, "wb") as fh:
    ...             pickle.dump(batch, fh)
    ...     X, y = load_cifar10(tmp)
    >>> X.shape, X.dtype, float(X.max())
    ((10, 3072), dtype('float32'), 1.0)
    >>> X.reshape(-1, 3, 32, 32).shape
    (10, 3, 32, 32)
    >>> [CIFAR10_CLASSES[label] for label in y[:2]]
    ['cat', 'ship']
    """
    subset = _check_subset(subset)
    folder = _cifar_folder(folder)
    names = _CIFAR10_FILES[subset]
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{str(folder)!r} lacks the CIFAR-10 {subset} batches; expected "
            f"{', '.join(names)}; missing: {', '.join(missing)}"
        )
    batches = [_load_cifar_batch(folder / name) for name in names]
    data = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    keep = _select_subset(
        y, n_samples=n_samples, n_per_class=n_per_class, random_state=random_state
    )
    if keep is not None:
        data, y = data[keep], y[keep]
    X = data.astype(np.float32)
    X /= np.float32(255.0)
    return X, y


def load_digits_images(
    *, return_X_y: bool = True
) -> tuple[np.ndarray, np.ndarray] | Bunch:
    """Load scikit-learn's bundled 8x8 digits, scaled to ``[0, 1]``.

    This is the library's embedded default data set: it ships with
    scikit-learn, so it needs no files. Use it with ``input_shape=(1, 8, 8)``.

    Parameters
    ----------
    return_X_y : bool, default=True
        If True, return ``(X, y)``. If False, return a
        :class:`~sklearn.utils.Bunch` with the same arrays as ``data`` and
        ``target``, plus ``images`` (``data`` reshaped to ``(n, 8, 8)``),
        ``target_names``, ``input_shape`` and ``DESCR``.

    Returns
    -------
    X : ndarray of shape (1797, 64), dtype float32
        Flattened 8x8 images, pixel values (0-16) divided by 16.
    y : ndarray of shape (1797,), dtype int64
        Labels 0-9.

    Raises
    ------
    TypeError
        If `return_X_y` is not a bool.

    Examples
    --------
    >>> from sklearn_daeknn.datasets import load_digits_images
    >>> X, y = load_digits_images()
    >>> X.shape, X.dtype, float(X.min()), float(X.max())
    ((1797, 64), dtype('float32'), 0.0, 1.0)
    >>> y[:5]
    array([0, 1, 2, 3, 4])
    """
    if not isinstance(return_X_y, (bool, np.bool_)):
        raise TypeError(f"return_X_y must be a bool, got {return_X_y!r}")
    digits = load_digits()
    X = np.asarray(digits.data, dtype=np.float32) / np.float32(16.0)
    y = np.asarray(digits.target, dtype=np.int64)
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        images=X.reshape(-1, 8, 8),
        target_names=np.asarray(digits.target_names),
        input_shape=(1, 8, 8),
        DESCR=digits.DESCR,
    )
