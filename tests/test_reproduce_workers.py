"""``modcut reproduce --workers 2`` for real: a 2-worker LocalCluster trains and analyzes
the study, and its table equals a ``--jobs 1`` run of the same settings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

pytestmark = pytest.mark.dataset


@pytest.fixture(scope="module")
def fashion_dir() -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("distributed")
    if not (DEBIAN_DIR / "train-images-idx3-ubyte.gz").is_file():
        message = (
            f"real Fashion-MNIST not found in {DEBIAN_DIR} (apt-get install dataset-fashion-mnist)"
        )
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return DEBIAN_DIR


def test_reproduce_with_two_workers_equals_one_job(fashion_dir: Path, tmp_path: Path) -> None:
    from modcut.cli import main

    base = [
        "reproduce",
        "--dataset",
        "fashion",
        "--data-dir",
        str(fashion_dir),
        "--n-train",
        "600",
        "--n-test",
        "200",
        "--hidden",
        "32x4",
        "--epochs",
        "1",
        "--prune-epochs",
        "1",
        "--seeds",
        "2",
        "--variants",
        "control",
        "--shuffles",
        "4",
        "--k",
        "6",
        "--shuffle",
        "layer_nonzero",
        "--quiet",
    ]
    assert main([*base, "--workers", "2", "--out", str(tmp_path / "dask")]) == 0
    assert main([*base, "--jobs", "1", "--out", str(tmp_path / "local")]) == 0
    for name in ("runs.csv", "table.csv"):
        dask = (tmp_path / "dask" / name).read_text()
        assert dask == (tmp_path / "local" / name).read_text()
    for seed in (0, 1):
        run = Path("control") / f"seed{seed}"
        dask = json.loads(
            (tmp_path / "dask" / run / "analysis" / "clusterability.json").read_text()
        )
        local = json.loads(
            (tmp_path / "local" / run / "analysis" / "clusterability.json").read_text()
        )
        assert dask["ncut"] == local["ncut"] and dask["null_ncuts"] == local["null_ncuts"]
        assert dask["labels"] == local["labels"] and len(dask["null_ncuts"]) == 4
        cfg = json.loads((tmp_path / "dask" / run / "run_config.json").read_text())
        assert cfg["hidden"] == [32] * 4 and cfg["n_train"] == 600 and cfg["n_test"] == 200
