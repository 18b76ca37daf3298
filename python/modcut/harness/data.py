"""Data sets for the networks studied, held as whole tensors in memory.

Image sets (MNIST, Fashion-MNIST, CIFAR-10) are read from local files first and
downloaded (through torchvision) only when no local copy is found. Where to look,
in order:

1. the ``root`` argument (``--data-dir`` on the command line);
2. the directory named by the environment variable ``MODCUT_DATA``;
3. the download cache ``$XDG_CACHE_HOME/modcut/data`` (``~/.cache/modcut/data``);
4. system copies: Debian's ``/usr/share/datasets/fashion-mnist`` (package
   ``dataset-fashion-mnist``) for Fashion-MNIST.

In each of these directories the files may lie in torchvision's layout
(``DIR/MNIST/raw``, ``DIR/FashionMNIST/raw``, ``DIR/cifar-10-batches-py``), in a
folder named after the set (``DIR/mnist``, ``DIR/fashion-mnist``, …), or directly
in ``DIR`` (searched last, so a folder holding both MNIST and Fashion-MNIST in
named subfolders never hands out the wrong one).
MNIST-style files are IDX files, gzipped or not; CIFAR-10 is the "python version"
(pickled batches). A download goes to ``root`` if given, else ``MODCUT_DATA``,
else the cache; set ``MODCUT_OFFLINE=1`` (or pass ``download=False``) to forbid it.

The derived sets of method.md section 5 (``halves``, ``halves_same``, ``stacked``,
``stacked_same``, ``line``, ``poly``) are built deterministically from a seed by
:mod:`modcut.harness.derived`.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from modcut._optional import require
from modcut.errors import DatasetNotFoundError

__all__ = [
    "BASE_DATASETS",
    "DATASET_NAMES",
    "DERIVED_DATASETS",
    "ENV_DATA",
    "ENV_OFFLINE",
    "SYSTEM_DIRS",
    "DatasetNotFoundError",
    "DatasetSpec",
    "ImageData",
    "canonical_name",
    "dataset_spec",
    "default_cache_dir",
    "find_dataset",
    "load_dataset",
    "load_splits",
    "read_idx",
    "search_dirs",
    "write_idx",
]

ENV_DATA = "MODCUT_DATA"
"""Environment variable naming a directory that holds the data sets."""

ENV_OFFLINE = "MODCUT_OFFLINE"
"""Environment variable: ``1``/``true``/``yes`` forbids downloads."""

BASE_DATASETS = ("mnist", "fashion", "cifar10")
DERIVED_DATASETS = ("halves", "halves_same", "stacked", "stacked_same", "line", "poly")
DATASET_NAMES = BASE_DATASETS + DERIVED_DATASETS

_ALIASES = {
    "mnist": "mnist",
    "fashion": "fashion",
    "fashion-mnist": "fashion",
    "fashion_mnist": "fashion",
    "fashionmnist": "fashion",
    "fmnist": "fashion",
    "cifar10": "cifar10",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
    "cifar": "cifar10",
    "halves": "halves",
    "halves_same": "halves_same",
    "halves-same": "halves_same",
    "stacked": "stacked",
    "stacked_same": "stacked_same",
    "stacked-same": "stacked_same",
    "line": "line",
    "lines": "line",
    "poly": "poly",
    "polynomial": "poly",
}

# System-wide copies, per base set (module-level so tests can replace them).
SYSTEM_DIRS: dict[str, tuple[Path, ...]] = {
    "mnist": (),
    "fashion": (Path("/usr/share/datasets/fashion-mnist"),),
    "cifar10": (),
}

_IDX_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class _BaseInfo:
    title: str
    torchvision_class: str
    subdirs: tuple[str, ...]
    shape: tuple[int, int, int]
    debian_package: str | None


_BASE_INFO = {
    "mnist": _BaseInfo("MNIST", "MNIST", ("MNIST/raw", "mnist", "MNIST"), (1, 28, 28), None),
    "fashion": _BaseInfo(
        "Fashion-MNIST",
        "FashionMNIST",
        ("FashionMNIST/raw", "fashion-mnist", "fashion_mnist", "fashion", "FashionMNIST"),
        (1, 28, 28),
        "dataset-fashion-mnist",
    ),
    "cifar10": _BaseInfo(
        "CIFAR-10",
        "CIFAR10",
        ("cifar-10-batches-py", "cifar10/cifar-10-batches-py"),
        (3, 32, 32),
        None,
    ),
}


@dataclass
class ImageData:
    """One split of a data set, as whole tensors.

    Attributes
    ----------
    x:
        float32 inputs. Image sets: shape ``(N, C, H, W)``, values in ``[0, 1]``.
        ``poly``: shape ``(N, n_inputs)``, standard normal.
    y:
        Targets. Classification: int64 class ids, shape ``(N,)``. ``poly``:
        float32, shape ``(N, n_outputs)`` (one column per polynomial).
    n_classes:
        Number of classes; ``0`` for the regression set ``poly``.
    name:
        Canonical data set name (one of :data:`DATASET_NAMES`).
    train:
        Whether this is the training split.
    source:
        Where the data came from: a directory, or ``"generated"`` with the seed.
    """

    x: torch.Tensor
    y: torch.Tensor
    n_classes: int
    name: str
    train: bool = True
    source: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input, ``x.shape[1:]``: ``(C, H, W)`` or ``(n_inputs,)``."""
        return tuple(int(s) for s in self.x.shape[1:])

    @property
    def n_outputs(self) -> int:
        """Network outputs needed: ``n_classes``, or the number of regression targets."""
        if self.n_classes:
            return self.n_classes
        return int(self.y.shape[1]) if self.y.ndim == 2 else 1

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"``."""
        return "classification" if self.n_classes else "regression"

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, index: torch.Tensor | Sequence[int] | slice) -> ImageData:
        """The examples at ``index`` (a slice, or integer indices), as a new :class:`ImageData`."""
        if not isinstance(index, slice):
            index = torch.as_tensor(index, dtype=torch.long, device=self.x.device)
        return ImageData(
            self.x[index],
            self.y[index],
            self.n_classes,
            self.name,
            self.train,
            self.source,
            dict(self.info),
        )

    def to(self, device: torch.device | str) -> ImageData:
        """A copy on ``device`` (the same object if it is already there)."""
        device = torch.device(device)
        if self.x.device == device and self.y.device == device:
            return self
        return ImageData(
            self.x.to(device),
            self.y.to(device),
            self.n_classes,
            self.name,
            self.train,
            self.source,
            dict(self.info),
        )


@dataclass(frozen=True)
class DatasetSpec:
    """What a data set looks like without loading it.

    ``input_shape`` excludes the batch axis; ``n_outputs`` is the number of
    network outputs (classes, or regression targets); ``task`` is
    ``"classification"`` or ``"regression"``.
    """

    name: str
    input_shape: tuple[int, ...]
    n_outputs: int
    task: str


def canonical_name(name: str) -> str:
    """The canonical name of a data set (``"fashion-mnist"`` → ``"fashion"``).

    Raises ``ValueError`` naming the known sets for an unknown name.
    """
    key = str(name).strip().lower()
    if key not in _ALIASES:
        raise ValueError(f"unknown data set {name!r}; known data sets: {', '.join(DATASET_NAMES)}")
    return _ALIASES[key]


def _base_name(name: str, base: str | None) -> str:
    b = canonical_name(base or "mnist")
    if b not in BASE_DATASETS:
        raise ValueError(
            f"data set {name!r} is built from an image set; base must be one of "
            f"{', '.join(BASE_DATASETS)}, got {base!r}"
        )
    return b


def dataset_spec(name: str, base: str | None = None, **options: Any) -> DatasetSpec:
    """Input shape, number of outputs and task of a data set, without loading it.

    ``base`` is the image set that ``halves``/``halves_same``/``stacked``/
    ``stacked_same`` are built from (default ``"mnist"``); ``options`` are the
    ``poly`` options of :func:`modcut.harness.derived.make_poly`.
    """
    name = canonical_name(name)
    if name in BASE_DATASETS:
        return DatasetSpec(name, _BASE_INFO[name].shape, 10, "classification")
    if name in ("halves", "halves_same"):
        return DatasetSpec(name, _BASE_INFO[_base_name(name, base)].shape, 10, "classification")
    if name in ("stacked", "stacked_same"):
        c, h, w = _BASE_INFO[_base_name(name, base)].shape
        return DatasetSpec(name, (2 * c, h, w), 10, "classification")
    if name == "line":
        size = int(options.get("size", 28))
        return DatasetSpec(
            name, (1, size, size), int(options.get("max_lines", 10)), "classification"
        )
    from modcut.harness.derived import poly_shape

    n_inputs, n_outputs = poly_shape(**options)
    return DatasetSpec(name, (n_inputs,), n_outputs, "regression")


# --------------------------------------------------------------------------- IDX files


_IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(2)
    opener: Any = gzip.open if head == b"\x1f\x8b" else open
    with opener(path, "rb") as fh:
        data: bytes = fh.read()
    return data


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not (detected from its bytes).

    Returns an array of the file's shape, e.g. ``(60000, 28, 28)`` uint8 images
    or ``(60000,)`` uint8 labels, in native byte order.

    Raises ``ValueError`` when the file is not a well-formed IDX file.
    """
    path = Path(path)
    try:
        data = _read_bytes(path)
    except (OSError, EOFError) as exc:
        raise ValueError(f"cannot read IDX file {path}: {exc}") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtype = _IDX_DTYPES[data[2]]
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    count = int(np.prod(shape, dtype=np.int64))
    if len(data) - header != count * dtype.itemsize:
        raise ValueError(
            f"{path}: IDX header announces shape {shape} ({count * dtype.itemsize} bytes) "
            f"but the file holds {len(data) - header} bytes of data"
        )
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike[str], array: np.ndarray, *, compress: bool = True) -> Path:
    """Write ``array`` (uint8, int8, int16, int32, float32 or float64) as an IDX file.

    ``compress=True`` gzips it. Returns the path. Used to make small test files.
    """
    arr = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("=").str: k for k, v in _IDX_DTYPES.items()}
    key = arr.dtype.newbyteorder("=").str
    if key not in codes:
        raise TypeError(f"IDX cannot hold dtype {arr.dtype}")
    code = codes[key]
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    payload = header + arr.astype(_IDX_DTYPES[code], copy=False).tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        with gzip.open(path, "wb", compresslevel=6) as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)
    return path


# --------------------------------------------------------------------------- locating files


def default_cache_dir() -> Path:
    """Where downloads go when neither ``root`` nor ``MODCUT_DATA`` is given."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "modcut" / "data"


def search_dirs(name: str, root: str | os.PathLike[str] | None = None) -> list[Path]:
    """The directories searched for base set ``name``, in order (see the module docstring)."""
    name = canonical_name(name)
    dirs: list[Path] = []
    if root is not None:
        dirs.append(Path(root).expanduser())
    env = os.environ.get(ENV_DATA)
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(default_cache_dir())
    dirs.extend(SYSTEM_DIRS.get(name, ()))
    out: list[Path] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def _idx_file(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    # Some mirrors name them train-images.idx3-ubyte.
    alt = stem.replace("-idx", ".idx")
    for candidate in (directory / alt, directory / f"{alt}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _layouts(name: str, directory: Path) -> list[Path]:
    # Named subfolders first: a folder holding both sets must not hand MNIST out as Fashion-MNIST.
    return [*(directory / sub for sub in _BASE_INFO[name].subdirs), directory]


def find_dataset(
    name: str, root: str | os.PathLike[str] | None = None, train: bool = True
) -> Path | None:
    """The directory holding a local copy of base set ``name`` (split ``train``), or None."""
    name = canonical_name(name)
    if name not in BASE_DATASETS:
        raise ValueError(f"{name!r} is generated, not read from files")
    for directory in search_dirs(name, root):
        for candidate in _layouts(name, directory):
            if name == "cifar10":
                needed = ["data_batch_1", "data_batch_5"] if train else ["test_batch"]
                if all((candidate / f).is_file() for f in needed):
                    return candidate
            elif all(_idx_file(candidate, stem) is not None for stem in _IDX_FILES[train]):
                return candidate
    return None


def _offline() -> bool:
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


def _download_dir(root: str | os.PathLike[str] | None) -> Path:
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ENV_DATA)
    return Path(env).expanduser() if env else default_cache_dir()


def _download(name: str, dest: Path) -> None:
    """Download base set ``name`` into ``dest`` with torchvision (its own layout)."""
    tvd = require("torchvision.datasets", extra="torch", purpose="downloading a dataset")

    dest.mkdir(parents=True, exist_ok=True)
    cls = getattr(tvd, _BASE_INFO[name].torchvision_class)
    for split in (True, False):
        cls(root=str(dest), train=split, download=True)


def _not_found_message(name: str, root: Any, reason: str) -> str:
    info = _BASE_INFO[name]
    looked = "\n".join(f"    {d}" for d in search_dirs(name, root))
    if name == "cifar10":
        files = "the 'python version' batches (data_batch_1 … data_batch_5, test_batch) in a folder cifar-10-batches-py"
    else:
        files = (
            "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
            "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (gzipped or not)"
        )
    lines = [
        f"{info.title} was not found. Looked in (and in their subfolders "
        f"{', '.join(info.subdirs)}):",
        looked,
        f"and {reason}.",
        "To fix it, do one of:",
    ]
    if info.debian_package:
        sysdir = SYSTEM_DIRS.get(name, ())
        where = f" (it installs {sysdir[0]})" if sysdir else ""
        lines.append(
            f"  - install the Debian package: apt-get install {info.debian_package}{where};"
        )
    lines.append(
        f"  - put {files} in a directory and pass it as root= / --data-dir, or set "
        f"{ENV_DATA} to it;"
    )
    lines.append(
        f"  - allow a download (needs internet; unset {ENV_OFFLINE}, do not pass "
        f"download=False / --no-download): it goes to {_download_dir(root)}."
    )
    return "\n".join(lines)


def _locate(name: str, root: Any, train: bool, download: bool | None) -> Path:
    found = find_dataset(name, root, train)
    if found is not None:
        return found
    allow = (not _offline()) if download is None else bool(download)
    if not allow:
        why = (
            f"downloading is disabled ({ENV_OFFLINE} is set)"
            if download is None
            else "downloading is disabled (download=False)"
        )
        raise DatasetNotFoundError(_not_found_message(name, root, why))
    dest = _download_dir(root)
    try:
        _download(name, dest)
    except Exception as exc:  # network errors come in many types
        raise DatasetNotFoundError(
            _not_found_message(
                name, root, f"the download into {dest} failed ({type(exc).__name__}: {exc})"
            )
        ) from exc
    found = find_dataset(name, root, train)
    if found is None:  # pragma: no cover - torchvision changed its layout
        raise DatasetNotFoundError(
            _not_found_message(name, root, f"the download into {dest} left no readable files")
        )
    return found


# --------------------------------------------------------------------------- readers


def _read_mnist_like(directory: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    img_stem, lbl_stem = _IDX_FILES[train]
    img_path, lbl_path = _idx_file(directory, img_stem), _idx_file(directory, lbl_stem)
    assert img_path is not None and lbl_path is not None
    images, labels = read_idx(img_path), read_idx(lbl_path)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{directory}: images {images.shape} and labels {labels.shape} do not match "
            "(expected (N, H, W) and (N,))"
        )
    return images[:, None, :, :], labels.astype(np.int64)


def _read_cifar10(directory: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    xs, ys = [], []
    for fname in names:
        with open(directory / fname, "rb") as fh:
            # The official CIFAR-10 "python version" is a pickle (torchvision reads it the same way).
            batch = pickle.load(fh, encoding="latin1")
        xs.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.append(np.asarray(batch.get("labels", batch.get("fine_labels")), dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def _to_image_data(
    images: np.ndarray, labels: np.ndarray, name: str, train: bool, source: str
) -> ImageData:
    x = torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32).div_(255.0)
    y = torch.from_numpy(np.ascontiguousarray(labels)).to(torch.int64)
    return ImageData(x, y, 10, name, train, source)


def _load_base(
    name: str, root: Any, train: bool, download: bool | None
) -> tuple[np.ndarray, np.ndarray, str]:
    directory = _locate(name, root, train, download)
    if name == "cifar10":
        images, labels = _read_cifar10(directory, train)
    else:
        images, labels = _read_mnist_like(directory, train)
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{directory}: labels outside 0..9")
    return images, labels, str(directory)


def _split_seed(seed: int, name: str, train: bool) -> np.random.Generator:
    """A numpy Generator for (seed, data set, split): independent streams per split and name."""
    if int(seed) < 0:
        raise ValueError(f"seed must be ≥ 0, got {seed}")
    return np.random.default_rng([int(seed), zlib.crc32(name.encode()), 0 if train else 1])


def load_dataset(
    name: str,
    root: str | os.PathLike[str] | None = None,
    train: bool = True,
    *,
    seed: int = 0,
    n: int | None = None,
    base: str | None = None,
    download: bool | None = None,
    **options: Any,
) -> ImageData:
    """Load one split of a data set as whole tensors.

    Parameters
    ----------
    name:
        ``"mnist"``, ``"fashion"``, ``"cifar10"`` (read from files), or a derived set
        ``"halves"``, ``"halves_same"``, ``"stacked"``, ``"stacked_same"``, ``"line"``,
        ``"poly"`` (generated; aliases such as ``"fashion-mnist"`` are accepted).
    root:
        Directory searched first for the files (and where a download goes).
    train:
        Training split (True) or test split (False).
    seed:
        Builds derived sets (the two splits use independent streams) and draws the
        subset when ``n`` is given for an image set.
    n:
        Image sets: keep a seeded random subset of ``n`` examples (kept in file order).
        Derived sets: the number of examples to generate (default: as many as the
        base split has, 60,000/10,000 for MNIST; 60,000/10,000 for ``line``/``poly``).
    base:
        The image set a derived image set is built from (default ``"mnist"``).
    download:
        ``None``: download when no local copy exists unless ``MODCUT_OFFLINE`` is set;
        ``False``: never; ``True``: allowed.
    options:
        Passed to the builder of a derived set (see :mod:`modcut.harness.derived`).

    Returns
    -------
    ImageData
        ``x`` float32 ``(N, C, H, W)`` in ``[0, 1]`` (``poly``: ``(N, n_inputs)``),
        ``y`` int64 ``(N,)`` (``poly``: float32 ``(N, n_outputs)``).

    Raises
    ------
    ValueError
        Unknown name, bad ``n``/``seed``/``base``, or malformed files.
    DatasetNotFoundError
        No local copy and no download; the message says what to install or where
        to put the files.
    """
    name = canonical_name(name)
    if n is not None and (isinstance(n, bool) or int(n) < 1):
        raise ValueError(f"n must be a positive number of examples, got {n!r}")
    if name in BASE_DATASETS:
        if options:
            raise TypeError(f"unexpected options for {name!r}: {sorted(options)}")
        images, labels, source = _load_base(name, root, train, download)
        if n is not None and n < len(labels):
            rng = _split_seed(seed, name, train)
            keep = np.sort(rng.choice(len(labels), size=int(n), replace=False))
            images, labels = images[keep], labels[keep]
        return _to_image_data(images, labels, name, train, source)

    from modcut.harness import derived

    rng = _split_seed(seed, name, train)
    default_n = 60000 if train else 10000
    if name in ("line", "poly"):
        count = int(n) if n is not None else default_n
        data = (
            derived.make_line(count, rng, **options)
            if name == "line"
            else derived.make_poly(count, rng, **options)
        )
    else:
        base_name = _base_name(name, base)
        images, labels, _ = _load_base(base_name, root, train, download)
        source_data = _to_image_data(images, labels, base_name, train, "")
        count = int(n) if n is not None else len(source_data)
        builders = {
            "halves": derived.make_halves,
            "halves_same": derived.make_halves_same,
            "stacked": derived.make_stacked,
            "stacked_same": derived.make_stacked_same,
        }
        data = builders[name](source_data, count, rng, **options)
        data.info["base"] = base_name
    data.train = train
    data.source = f"generated (seed={int(seed)})"
    data.info["seed"] = int(seed)
    return data


def load_splits(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    base: str | None = None,
    download: bool | None = None,
    **options: Any,
) -> tuple[ImageData, ImageData]:
    """``(train, test)`` splits of a data set; see :func:`load_dataset`."""
    train = load_dataset(
        name, root, True, seed=seed, n=n_train, base=base, download=download, **options
    )
    test = load_dataset(
        name, root, False, seed=seed, n=n_test, base=base, download=download, **options
    )
    return train, test
