"""A network without zero weights has one null for `layer` and `layer_nonzero`:
the study computes it once and takes it over for the other (study.analyze's
``reuse_null``), and only where that provably holds."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import modcut  # noqa: E402
from modcut import study  # noqa: E402

TINY = {"hidden": (16, 16), "n_train": 384, "n_test": 200, "batch_size": 64}


def _dense(seed: int = 0, widths=(20, 14, 14, 5)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    mats = [rng.normal(size=(a, b)) for a, b in itertools.pairwise(widths)]
    for m in mats:  # no weight is exactly zero
        m[m == 0.0] = 1.0
    return mats


def _result(path: Path) -> modcut.ClusterabilityResult:
    return modcut.ClusterabilityResult.from_json(path)


def test_dense_network_has_one_null_for_both_shuffles():
    """The claim the reuse rests on, sample for sample (and not for a sparse network)."""
    mats = _dense()
    kw = dict(k=3, n_shuffles=12, random_state=4, n_jobs=1)
    a = modcut.clusterability(mats, shuffle="layer", **kw)
    b = modcut.clusterability(mats, shuffle="layer_nonzero", **kw)
    np.testing.assert_array_equal(a.null_ncuts, b.null_ncuts)
    np.testing.assert_array_equal(a.labels, b.labels)
    sparse = [m * (np.abs(m) > 0.5) for m in mats]
    c = modcut.clusterability(sparse, shuffle="layer", **kw)
    d = modcut.clusterability(sparse, shuffle="layer_nonzero", **kw)
    assert not np.array_equal(c.null_ncuts, d.null_ncuts)


def _analyze(npz: Path, out: Path, shuffle: str, **kw):
    args = dict(k=3, n_shuffles=12, seed=4, n_jobs=1, progress=False)
    return study.analyze(npz, out, shuffle=shuffle, **{**args, **kw})


def test_analyze_takes_over_the_twin_null_only_where_it_is_the_same(tmp_path, monkeypatch):
    npz = tmp_path / "dense.npz"
    np.savez(npz, *_dense())
    layer = _analyze(npz, tmp_path / "layer", "layer")["json"]
    direct = _result(_analyze(npz, tmp_path / "direct", "layer_nonzero")["json"])

    calls = {"n": 0}
    real = modcut.clusterability

    def counting(*a, **kw):
        calls["n"] += 1
        return real(*a, **kw)

    monkeypatch.setattr(modcut, "clusterability", counting)
    lines: list[str] = []
    paths = _analyze(npz, tmp_path / "shared", "layer_nonzero", reuse_null=layer, log=lines.append)
    assert calls["n"] == 0
    assert any("no zero weight" in line for line in lines)
    shared = _result(paths["json"])
    np.testing.assert_array_equal(shared.null_ncuts, direct.null_ncuts)
    np.testing.assert_array_equal(shared.labels, direct.labels)
    assert (shared.ncut, shared.z_score, shared.p_value) == (
        direct.ncut,
        direct.z_score,
        direct.p_value,
    )
    assert shared.settings["shuffle"] == "layer_nonzero"
    assert shared.settings["null_shared_with"] == "layer"
    assert {k: v for k, v in shared.settings.items() if k != "null_shared_with"} == {
        k: v for k, v in direct.settings.items()
    }
    assert paths["report"].is_file() and paths["null_histogram"].is_file()

    # other settings than the twin's: computed
    _analyze(npz, tmp_path / "seed5", "layer_nonzero", seed=5, reuse_null=layer)
    assert calls["n"] == 1
    _analyze(npz, tmp_path / "k4", "layer_nonzero", k=4, reuse_null=layer)
    assert calls["n"] == 2
    # a network with a zero weight: computed, and differs from the layer null
    sparse = tmp_path / "sparse.npz"
    mats = _dense()
    mats[1][0, 0] = 0.0
    np.savez(sparse, *mats)
    sl = _analyze(sparse, tmp_path / "s-layer", "layer")["json"]
    assert calls["n"] == 3
    own = _result(_analyze(sparse, tmp_path / "s-nz", "layer_nonzero", reuse_null=sl)["json"])
    assert calls["n"] == 4 and "null_shared_with" not in own.settings
    # another network's result (same widths, other source): computed
    other = tmp_path / "other.npz"
    np.savez(other, *_dense(seed=1))
    _analyze(other, tmp_path / "o-nz", "layer_nonzero", reuse_null=layer)
    assert calls["n"] == 5
    # a null that is not the twin of layer_nonzero: computed
    _analyze(npz, tmp_path / "kde", "layer_nonzero_distribution", reuse_null=layer)
    assert calls["n"] == 6


def test_reproduce_computes_the_dense_runs_null_once(tmp_path, monkeypatch):
    calls: list[str] = []
    real = modcut.clusterability

    def counting(*a, **kw):
        calls.append(kw.get("shuffle"))
        return real(*a, **kw)

    monkeypatch.setattr(modcut, "clusterability", counting)
    torch.set_num_threads(1)
    study.reproduce(
        "line",
        seeds=1,
        variants=["untrained", "control"],
        out_dir=tmp_path,
        epochs=1,
        prune_epochs=1,
        k=3,
        n_shuffles=6,
        n_jobs=1,
        train_overrides=TINY,
        progress=False,
        log=None,
    )
    # untrained (dense): one null; control (pruned to 90%): both
    assert calls == ["layer", "layer", "layer_nonzero"]
    run = tmp_path / "untrained" / "seed0"
    shared = _result(run / "analysis" / "clusterability.json")
    assert shared.settings["null_shared_with"] == "layer"
    direct = real(
        run / "checkpoint.pt", k=3, n_shuffles=6, shuffle="layer_nonzero", random_state=0, n_jobs=1
    )
    np.testing.assert_array_equal(shared.null_ncuts, direct.null_ncuts)
    assert shared.ncut == direct.ncut
    pruned = json.loads(
        (tmp_path / "control" / "seed0" / "analysis" / "clusterability.json").read_text()
    )
    assert "null_shared_with" not in pruned["settings"]
