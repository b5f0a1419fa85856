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
import io
import math
import os
import pickle
import pickletools
import reprlib
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
# An official batch file takes 31 MB; refuse to read anything much larger.
_CIFAR10_MAX_FILE_BYTES = 2**30


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


def _short(value: Any) -> str:
    """A repr bounded in length and depth, for values read from a file."""
    return reprlib.repr(value)


# Keys of an official CIFAR-10 batch dict.
_CIFAR10_KEYS = frozenset({b"batch_label", b"data", b"filenames", b"labels"})


class _NdarrayClass:
    """Stands in for ``numpy.ndarray`` in a batch pickle.

    Numpy pickles an array as ``_reconstruct(ndarray, ...)``; the class is
    only ever an argument there, so the stand-in is not callable: a pickle
    calling ``ndarray(...)`` directly is refused.
    """

    def __repr__(self) -> str:
        return "numpy.ndarray"


_NDARRAY = _NdarrayClass()


class _PickledDtype:
    """A numeric numpy dtype rebuilt from a pickle without numpy's setstate.

    ``numpy.dtype(spec, align, copy)`` followed by ``__setstate__(state)``
    is how numpy pickles a dtype. Only a plain numeric spec (``"u1"``,
    ``"f8"``, ...) and a state holding a byte order and no fields, names,
    sub-array or metadata are accepted.
    """

    def __init__(self, spec: Any) -> None:
        if isinstance(spec, bytes):
            spec = spec.decode("ascii", errors="replace")
        dtype = np.dtype(spec) if isinstance(spec, str) and spec.isalnum() else None
        if dtype is None or dtype.kind not in "biuf":
            raise ValueError(
                f"expected a numeric dtype such as 'u1', got {_short(spec)}"
            )
        self.dtype = dtype

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or not 6 <= len(state) <= 9:
            raise ValueError(
                f"expected a dtype state tuple, got {type(state).__name__}"
            )
        order = state[1]
        if isinstance(order, bytes):
            order = order.decode("ascii", errors="replace")
        if order not in ("|", "<", ">", "=") or not all(
            item is None or (isinstance(item, int) and not isinstance(item, bool))
            for item in state[2:]
        ):
            raise ValueError(
                "expected a plain dtype state (a byte order, no fields, names, "
                f"sub-array or metadata), got {_short(state)}"
            )
        if order in "<>":
            self.dtype = self.dtype.newbyteorder(order)


def _array_from_bytes(raw: Any, dtype: Any, shape: Any, fortran: bool) -> np.ndarray:
    if not isinstance(dtype, _PickledDtype):
        raise ValueError(f"expected an array dtype, got {type(dtype).__name__}")
    if not isinstance(raw, (bytes, bytearray)):
        raise ValueError(f"expected array data as bytes, got {type(raw).__name__}")
    if not isinstance(shape, tuple) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise ValueError(
            f"expected an array shape of non-negative ints, got {_short(shape)}"
        )
    need = math.prod(shape) * dtype.dtype.itemsize
    if len(raw) != need:
        raise ValueError(
            f"expected array data of {need} bytes for shape {shape}, got "
            f"{len(raw)} bytes"
        )
    flat = np.frombuffer(raw, dtype=dtype.dtype)
    return flat.reshape(shape, order="F" if fortran else "C")


class _PickledArray:
    """A numpy array rebuilt from a pickle without numpy's setstate.

    Numpy pickles an array (protocols 0-4) as ``_reconstruct(ndarray, (0,),
    b"b")`` followed by ``__setstate__((version, shape, dtype, is_fortran,
    data))``; :attr:`array` holds the result once the state is set.
    """

    def __init__(self, cls: Any) -> None:
        if cls is not _NDARRAY:
            raise ValueError(
                f"expected numpy.ndarray as the array class, got {_short(cls)}"
            )
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]  # (version, shape, dtype, is_fortran, data)
        if not isinstance(state, tuple) or len(state) != 4:
            raise ValueError(
                f"expected an array state tuple, got {type(state).__name__}"
            )
        shape, dtype, fortran, raw = state
        self.array = _array_from_bytes(raw, dtype, shape, bool(fortran))


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    """How numpy pickles an array with protocol 5 (Python 3.14's default)."""
    if order not in ("C", "F"):
        raise ValueError(f"expected array order 'C' or 'F', got {_short(order)}")
    return _array_from_bytes(buf, dtype, shape, order == "F")


# Factories, not classes: the NEWOBJ opcode (``cls.__new__(cls)``, skipping
# the checks of ``__init__``) then refuses them.
def _reconstruct(cls: Any, *args: Any) -> _PickledArray:
    return _PickledArray(cls)


def _dtype(spec: Any, align: Any = False, copy: Any = True) -> _PickledDtype:
    return _PickledDtype(spec)


def _latin1_bytes(text: Any, encoding: Any) -> bytes:
    """How Python 3 pickles non-empty bytes with protocols 0-2."""
    if not isinstance(text, str) or encoding != "latin1":
        raise ValueError(
            f"expected codecs.encode(str, 'latin1'), got encoding {_short(encoding)}"
        )
    return text.encode("latin1")


def _empty_bytes(*args: Any) -> bytes:
    """How Python 3 pickles ``b""`` with protocols 0-2."""
    if args:
        raise ValueError("expected bytes() without arguments")
    return b""


# The only globals a CIFAR-10 batch pickle may name: numpy's array and dtype
# reconstruction, under the module names of numpy 1.x (numpy.core) and 2.x
# (numpy._core), and how Python 3 writes bytes with pickle protocol 2.
_CIFAR10_GLOBALS: dict[tuple[str, str], Any] = {
    ("_codecs", "encode"): _latin1_bytes,
    ("__builtin__", "bytes"): _empty_bytes,
    ("builtins", "bytes"): _empty_bytes,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
}


class _RefusedPickle(ValueError):
    """A batch pickle asked for something a CIFAR-10 batch never holds."""


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, bytes, str, numbers and numeric numpy arrays.

    Every other class or function a pickle names is refused, so a crafted
    file cannot make unpickling call ``os.system`` or anything else.
    """

    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file, encoding="bytes")
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _CIFAR10_GLOBALS[(module, name)]
        except KeyError:
            raise _RefusedPickle(
                f"{str(self._path)!r} is not a CIFAR-10 batch: its pickle names "
                f"the global {module}.{name}, which a CIFAR-10 batch never holds "
                "(only dicts, lists, bytes, strings, ints and numpy arrays are "
                "unpickled; this file may be crafted to run code)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise _RefusedPickle(
            f"{str(self._path)!r} is not a CIFAR-10 batch: its pickle holds a "
            "persistent id, which a CIFAR-10 batch never holds"
        )


def _unpickle_cifar_batch(path: Path) -> Any:
    size = path.stat().st_size
    if size > _CIFAR10_MAX_FILE_BYTES:
        raise ValueError(
            f"{str(path)!r} is not a CIFAR-10 batch: {size} bytes, more than "
            f"the {_CIFAR10_MAX_FILE_BYTES} bytes any batch file takes"
        )
    raw = path.read_bytes()
    try:
        # A first pass over the opcodes checks every declared length against
        # the bytes really there: unpickling allocates a declared length
        # before reading it, so a tiny file could otherwise claim gigabytes.
        for _ in pickletools.genops(io.BytesIO(raw)):
            pass
        return _CifarUnpickler(io.BytesIO(raw), path).load()
    except _RefusedPickle:
        raise
    except Exception as exc:
        raise ValueError(
            f"{str(path)!r} is not a readable CIFAR-10 batch: {exc}"
        ) from exc


def _batch_array(value: Any) -> Any:
    """The array a pickled array stands for; anything else unchanged."""
    if isinstance(value, _PickledArray):
        return value.array
    return value


def _cifar_labels(path: Path, labels: Any, n: int) -> np.ndarray:
    n_classes = len(CIFAR10_CLASSES)
    if isinstance(labels, list):
        bad = [v for v in labels if type(v) is not int]
        if bad:
            raise ValueError(
                f"{str(path)!r}: labels must be integers; b'labels' holds "
                f"{_short(bad[0])} of type {type(bad[0]).__name__}"
            )
        out_of_range = [v for v in labels if not 0 <= v < n_classes]
    elif isinstance(labels, np.ndarray) and labels.ndim == 1:
        if len(labels) and labels.dtype.kind not in "iu":
            raise ValueError(
                f"{str(path)!r}: labels must be integers; b'labels' is an "
                f"array of {labels.dtype.name}"
            )
        out_of_range = labels[(labels < 0) | (labels >= n_classes)].tolist()
    else:
        raise ValueError(
            f"{str(path)!r}: b'labels' must be a list of ints, got "
            f"{type(_batch_array(labels)).__name__}"
        )
    if len(labels) != n:
        raise ValueError(f"{str(path)!r}: {n} images but {len(labels)} labels")
    if out_of_range:
        raise ValueError(
            f"{str(path)!r}: labels must be in 0-{n_classes - 1} (the CIFAR-10 "
            f"classes), found {out_of_range[0]}"
        )
    return np.array(labels, dtype=np.int64)


def _key_list(keys: Any) -> str:
    return ", ".join(sorted(_short(key) for key in keys))


def _load_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle_cifar_batch(path)
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        if isinstance(batch, dict):
            got = f"a dict with keys {_key_list(batch)}"
        else:
            got = type(_batch_array(batch)).__name__
        raise ValueError(
            f"{str(path)!r} is not a CIFAR-10 batch: expected a dict with "
            f"keys b'data' and b'labels', got {got}"
        )
    unknown = [key for key in batch if key not in _CIFAR10_KEYS]
    if unknown:
        raise ValueError(
            f"{str(path)!r} is not a CIFAR-10 batch: unknown keys "
            f"{_key_list(unknown)} (a batch holds {_key_list(_CIFAR10_KEYS)})"
        )
    data = _batch_array(batch[b"data"])
    if not isinstance(data, np.ndarray):
        raise ValueError(
            f"{str(path)!r}: b'data' must be a numpy array, got {type(data).__name__}"
        )
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _CIFAR10_FEATURES:
        raise ValueError(
            f"{str(path)!r}: expected uint8 data of shape (n, "
            f"{_CIFAR10_FEATURES}), got {data.dtype.name} of shape {data.shape}"
        )
    labels = _cifar_labels(path, _batch_array(batch[b"labels"]), len(data))
    return data, labels


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
       file with :mod:`pickle` can run arbitrary code. This loader unpickles
       with a restricted unpickler that builds only what the official files
       hold (dicts, lists, bytes, strings, ints and numeric numpy arrays) and
       refuses any other class or function a file names, with a
       ``ValueError``; a crafted file therefore cannot make the loader call
       code of its choosing.
       Prefer the official archive, checked against its published checksum.

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
        If `subset` is invalid, a file is not a CIFAR-10 batch (not a dict
        holding uint8 ``b"data"`` of shape ``(n, 3072)`` and ``n`` integer
        ``b"labels"`` in 0-9, keys other than the official ``b"batch_label"``,
        ``b"data"``, ``b"filenames"`` and ``b"labels"``, larger than 1 GiB,
        or a pickle naming any other class or function), both `n_samples` and
        `n_per_class` are given, or either exceeds what the data hold
        (`n_per_class` larger than the smallest class).
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
