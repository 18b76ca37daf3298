"""A short training run on the real Fashion-MNIST (Debian's dataset-fashion-mnist package).

Runs whenever /usr/share/datasets/fashion-mnist exists; in CI (CI=true) a missing
copy is a failure, not a skip, since .ci/run installs the package.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from modcut.harness.data import load_splits
from modcut.harness.train import TrainConfig, load_checkpoint, train
from modcut.readers.extract import extract_weights

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

pytestmark = pytest.mark.dataset


@pytest.fixture(scope="module")
def fashion_dir() -> Path:
    if not (DEBIAN_DIR / "train-images-idx3-ubyte.gz").is_file():
        message = (
            f"real Fashion-MNIST not found in {DEBIAN_DIR}: install it with "
            "`apt-get install dataset-fashion-mnist` (.ci/run does this)"
        )
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return DEBIAN_DIR


def test_real_files_load(fashion_dir: Path) -> None:
    train_set, test_set = load_splits("fashion", root=fashion_dir, download=False)
    assert train_set.x.shape == (60000, 1, 28, 28) and test_set.x.shape == (10000, 1, 28, 28)
    assert torch.bincount(train_set.y).tolist() == [6000] * 10
    assert torch.bincount(test_set.y).tolist() == [1000] * 10
    assert float(train_set.x.min()) == 0.0 and float(train_set.x.max()) == 1.0


def test_short_pruned_run_beats_chance(fashion_dir: Path, tmp_path: Path) -> None:
    config = TrainConfig(
        dataset="fashion",
        data_root=str(fashion_dir),
        download=False,
        epochs=1,
        prune_epochs=1,
        sparsity=0.9,
        seed=0,
    )
    ckpt = load_checkpoint(train(config, tmp_path / "fashion", progress=False))
    m = ckpt.metrics
    assert m["test_accuracy"] > 0.8, m  # chance is 0.10; 1 + 1 epochs give ~0.85, 20 + 20 ~0.89
    assert m["sparsity"] == pytest.approx(0.9, abs=0.005)
    assert ckpt.dataset_info["test_size"] == 10000
    assert [w.shape for w in extract_weights(ckpt)] == [
        (784, 256),
        (256, 256),
        (256, 256),
        (256, 256),
        (256, 10),
    ]
