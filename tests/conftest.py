"""Shared test set-up: no test may download anything, and small generated image files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# modcut.harness.data downloads a missing data set unless MODCUT_OFFLINE is set.
os.environ["MODCUT_OFFLINE"] = "1"


def fake_images(
    n: int, seed: int, size: int = 28, channels: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Learnable uint8 images: class ``c`` lights a bright 2-row band at rows ``4 + 2c``, plus noise.

    Returns ``(images, labels)``: ``(n, size, size)`` (or ``(n, channels, size, size)``) and ``(n,)``.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    img = rng.integers(0, 60, size=(n, size, size)).astype(np.float64)
    for i, c in enumerate(labels):
        img[i, 4 + 2 * c : 6 + 2 * c, :] += 190
    img = np.clip(img, 0, 255).astype(np.uint8)
    if channels:
        img = np.repeat(img[:, None], channels, axis=1)
    return img, labels.astype(np.uint8)


@pytest.fixture(scope="session")
def fake_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with tiny MNIST (``mnist/``, gzipped) and Fashion-MNIST (torchvision layout
    ``FashionMNIST/raw/``, uncompressed) IDX files: 300 training and 100 test images each."""
    from modcut.harness.data import write_idx

    root = tmp_path_factory.mktemp("data")
    for sub, compress, seed in (("mnist", True, 0), ("FashionMNIST/raw", False, 1)):
        where = root / sub
        for prefix, n, s in (("train", 300, seed), ("t10k", 100, seed + 10)):
            images, labels = fake_images(n, s)
            ext = ".gz" if compress else ""
            write_idx(where / f"{prefix}-images-idx3-ubyte{ext}", images, compress=compress)
            write_idx(where / f"{prefix}-labels-idx1-ubyte{ext}", labels, compress=compress)
    return root
