"""modcut.harness.data: IDX files, locating local copies, helpful errors, seeded subsets."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from modcut.harness import data
from modcut.harness.data import (
    DATASET_NAMES,
    DatasetNotFoundError,
    dataset_spec,
    load_dataset,
    load_splits,
    read_idx,
    write_idx,
)


@pytest.fixture
def no_system_copies(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Hide every real copy: no system dirs, no MODCUT_DATA, an empty cache."""
    monkeypatch.setattr(data, "SYSTEM_DIRS", {"mnist": (), "fashion": (), "cifar10": ()})
    monkeypatch.delenv(data.ENV_DATA, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


# ----------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path: Path, compress: bool, dtype: type) -> None:
    arr = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    if dtype == np.uint8:
        arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / "x.idx", arr, compress=compress)
    with open(path, "rb") as fh:
        assert (fh.read(2) == b"\x1f\x8b") == compress
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, arr)


def test_idx_rejects_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04junk")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(bad)
    good = write_idx(tmp_path / "good", np.zeros((4, 5), np.uint8), compress=False)
    truncated = tmp_path / "truncated"
    truncated.write_bytes(good.read_bytes()[:-3])
    with pytest.raises(ValueError, match="holds"):
        read_idx(truncated)
    broken_gz = tmp_path / "broken.gz"
    broken_gz.write_bytes(gzip.compress(good.read_bytes())[:20])
    with pytest.raises(ValueError, match="cannot read"):
        read_idx(broken_gz)
    with pytest.raises(TypeError, match="IDX cannot hold"):
        write_idx(tmp_path / "c", np.zeros(3, dtype=np.complex64))


# ----------------------------------------------------------------------------- locating files


def test_load_from_root_both_layouts(fake_data_dir: Path, no_system_copies: Path) -> None:
    mnist = load_dataset("mnist", root=fake_data_dir)
    fashion = load_dataset("fashion-mnist", root=fake_data_dir, train=False)
    assert mnist.x.shape == (300, 1, 28, 28) and mnist.x.dtype == torch.float32
    assert fashion.x.shape == (100, 1, 28, 28)
    assert mnist.y.dtype == torch.int64 and set(mnist.y.tolist()) == set(range(10))
    assert 0.0 <= float(mnist.x.min()) and float(mnist.x.max()) <= 1.0
    assert Path(mnist.source) == fake_data_dir / "mnist"
    assert Path(fashion.source) == fake_data_dir / "FashionMNIST" / "raw"
    assert mnist.n_classes == 10 and mnist.input_shape == (1, 28, 28)
    assert mnist.task == "classification" and mnist.n_outputs == 10 and len(mnist) == 300
    # MNIST and the (differently seeded) Fashion files are told apart by their folders.
    assert not torch.equal(mnist.x[:100], load_dataset("fashion", root=fake_data_dir).x[:100])


def test_flat_layout_and_env_var(
    tmp_path: Path, no_system_copies: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import fake_images

    flat = tmp_path / "flat"
    for prefix, n in (("train", 50), ("t10k", 20)):
        images, labels = fake_images(n, 3)
        write_idx(flat / f"{prefix}-images-idx3-ubyte", images, compress=False)
        write_idx(flat / f"{prefix}-labels-idx1-ubyte.gz", labels)
    monkeypatch.setenv(data.ENV_DATA, str(flat))
    test = load_dataset("mnist", train=False)
    assert test.x.shape == (20, 1, 28, 28)
    assert data.find_dataset("mnist") == flat
    assert data.search_dirs("mnist")[0] == flat


def test_seeded_subset(fake_data_dir: Path, no_system_copies: Path) -> None:
    a = load_dataset("mnist", root=fake_data_dir, n=50, seed=3)
    b = load_dataset("mnist", root=fake_data_dir, n=50, seed=3)
    c = load_dataset("mnist", root=fake_data_dir, n=50, seed=4)
    full = load_dataset("mnist", root=fake_data_dir)
    assert len(a) == 50 and torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)
    # a subset keeps file order: every row is a row of the full set
    rows = {tuple(r.tolist()) for r in full.x.flatten(1)[:, ::37]}
    assert all(tuple(r.tolist()) in rows for r in a.x.flatten(1)[:, ::37])
    assert len(load_dataset("mnist", root=fake_data_dir, n=10_000)) == 300  # n ≥ size: all


def test_cifar10_python_batches(tmp_path: Path, no_system_copies: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, n in [*((f"data_batch_{i}", 4) for i in range(1, 6)), ("test_batch", 3)]:
        batch = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), "labels": list(range(n))}
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh)
    train, test = load_splits("cifar-10", root=tmp_path)
    assert train.x.shape == (20, 3, 32, 32) and test.x.shape == (3, 3, 32, 32)
    assert train.y.tolist()[:4] == [0, 1, 2, 3]
    assert dataset_spec("cifar10").input_shape == (3, 32, 32)


def test_missing_dataset_says_what_to_install(no_system_copies: Path) -> None:
    empty = no_system_copies / "empty"
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("fashion", root=empty, download=False)
    msg = str(info.value)
    assert "Fashion-MNIST was not found" in msg
    assert str(empty) in msg
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "train-images-idx3-ubyte.gz" in msg and "MODCUT_DATA" in msg
    assert "download=False" in msg
    assert isinstance(info.value, FileNotFoundError)


def test_missing_dataset_offline_env(no_system_copies: Path) -> None:
    # conftest sets MODCUT_OFFLINE=1 for the whole run
    with pytest.raises(DatasetNotFoundError, match="MODCUT_OFFLINE is set"):
        load_dataset("mnist", root=no_system_copies / "empty")
    with pytest.raises(DatasetNotFoundError, match="cifar-10-batches-py"):
        load_dataset("cifar10", root=no_system_copies / "empty", download=False)


def test_failed_download_is_reported(
    no_system_copies: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []

    def fail(name: str, dest: Path) -> None:
        calls.append(dest)
        raise OSError("network is unreachable")

    monkeypatch.setattr(data, "_download", fail)
    root = no_system_copies / "dl"
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("fashion", root=root, download=True)
    assert calls == [root]
    msg = str(info.value)
    assert "download into" in msg and "network is unreachable" in msg
    assert "apt-get install dataset-fashion-mnist" in msg


def test_unknown_names() -> None:
    with pytest.raises(ValueError, match=r"unknown data set 'imagenet'.*fashion"):
        load_dataset("imagenet")
    with pytest.raises(ValueError, match="base must be one of"):
        load_dataset("halves", base="line")
    with pytest.raises(ValueError, match="positive"):
        load_dataset("line", n=0)
    with pytest.raises(ValueError, match="seed"):
        load_dataset("line", n=5, seed=-1)


# ----------------------------------------------------------------------------- derived via load_dataset


@pytest.mark.parametrize("name", ["halves", "halves_same", "stacked", "stacked_same"])
def test_derived_from_files(name: str, fake_data_dir: Path, no_system_copies: Path) -> None:
    train = load_dataset(name, root=fake_data_dir, n=64, seed=1, base="fashion")
    again = load_dataset(name, root=fake_data_dir, n=64, seed=1, base="fashion")
    other = load_dataset(name, root=fake_data_dir, n=64, seed=2, base="fashion")
    test = load_dataset(name, root=fake_data_dir, train=False, seed=1, base="fashion")
    assert torch.equal(train.x, again.x) and torch.equal(train.y, again.y)
    assert not torch.equal(train.x, other.x)
    assert len(test) == 100  # default: as many as the base split
    assert train.info["base"] == "fashion" and train.info["seed"] == 1
    spec = dataset_spec(name, "fashion")
    assert train.input_shape == spec.input_shape and train.n_outputs == spec.n_outputs


@pytest.mark.parametrize("name", [n for n in DATASET_NAMES if n != "cifar10"])
def test_spec_matches_generated_shapes(
    name: str, fake_data_dir: Path, no_system_copies: Path
) -> None:
    d = load_dataset(name, root=fake_data_dir, n=16, train=False)
    spec = dataset_spec(name)
    assert d.input_shape == spec.input_shape
    assert d.n_outputs == spec.n_outputs
    assert d.task == spec.task
    assert d.name == name


def test_subset_and_to() -> None:
    d = load_dataset("line", n=10, seed=0)
    s = d.subset([0, 2, 4])
    assert len(s) == 3 and torch.equal(s.x[1], d.x[2])
    assert len(d.subset(slice(0, 5))) == 5
    assert d.to("cpu") is d
