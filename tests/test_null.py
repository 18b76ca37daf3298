"""Significance against shuffled networks."""

from __future__ import annotations

import json

import numpy as np
import pytest

import modcut
import reference as ref


def test_p_value_formula_on_hand_made_cases():
    null = np.array([1.0, 2.0, 3.0, 4.0])
    s = modcut.null_statistics(2.5, null)
    assert s["p_value"] == pytest.approx((2 + 1) / (4 + 1))
    assert s["percentile"] == pytest.approx(50.0)
    assert s["null_mean"] == pytest.approx(2.5)
    assert s["null_std"] == pytest.approx(np.std(null, ddof=1))
    assert s["z_score"] == pytest.approx(0.0)
    low = modcut.null_statistics(0.5, null)
    assert low["p_value"] == pytest.approx(1 / 5)
    assert low["percentile"] == 0.0
    assert low["z_score"] == pytest.approx((0.5 - 2.5) / np.std(null, ddof=1))
    high = modcut.null_statistics(9.0, null)
    assert high["p_value"] == pytest.approx(5 / 5)
    tie = modcut.null_statistics(2.0, null)  # ties are not counted as below
    assert tie["p_value"] == pytest.approx(2 / 5)


def test_null_statistics_degenerate_and_invalid():
    flat = np.full(5, 3.0)
    assert np.isnan(modcut.null_statistics(3.0, flat)["z_score"])
    assert modcut.null_statistics(1.0, flat)["z_score"] == -np.inf
    with pytest.raises(ValueError, match="at least 2"):
        modcut.null_statistics(1.0, np.array([1.0]))
    with pytest.raises(ValueError, match="NaN"):
        modcut.null_statistics(1.0, np.array([1.0, np.nan]))


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(0)
    ws, truth = ref.planted_network([64, 48, 48, 16], 4, rng, noise=0.02)
    return ws, truth


def test_planted_modules_get_a_tiny_p_value(planted):
    ws, _ = planted
    res = modcut.clusterability(ws, k=4, n_shuffles=200, shuffle="layer", random_state=0)
    assert res.p_value == pytest.approx(1 / 201)
    assert res.z_score < -5
    assert res.ncut < res.null_ncuts.min()


def test_a_shuffled_network_is_not_significant(planted):
    ws, _ = planted
    shuffled = modcut.shuffle(ws, "layer", random_state=123)[0]
    res = modcut.clusterability(shuffled, k=4, n_shuffles=200, shuffle="layer", random_state=0)
    assert res.p_value > 0.02
    assert abs(res.z_score) < 3


def test_determinism_whatever_n_jobs_and_chunking(planted):
    ws, _ = planted
    kw = dict(k=4, n_shuffles=24, shuffle="layer_nonzero", random_state=5)
    a = modcut.clusterability(ws, n_jobs=1, **kw)
    b = modcut.clusterability(ws, n_jobs=2, chunk_size=5, **kw)
    c = modcut.clusterability(ws, n_jobs=4, chunk_size=24, **kw)
    np.testing.assert_array_equal(a.null_ncuts, b.null_ncuts)
    np.testing.assert_array_equal(a.null_ncuts, c.null_ncuts)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.p_value == b.p_value == c.p_value
    d = modcut.clusterability(ws, n_jobs=2, **{**kw, "random_state": 6})
    assert not np.array_equal(a.null_ncuts, d.null_ncuts)
    # chunks smaller than the thread count run each sample's k-means restarts
    # in parallel (rayon) instead: the same numbers, bit for bit
    e = modcut.clusterability(ws, n_jobs=2, chunk_size=1, **kw)
    f = modcut.clusterability(ws, n_jobs=3, chunk_size=2, **kw)
    assert e.null_ncuts.tobytes() == a.null_ncuts.tobytes() == f.null_ncuts.tobytes()


@pytest.mark.parametrize("method", modcut.SHUFFLE_METHODS)
def test_every_shuffle_method_runs(planted, method):
    ws, _ = planted
    res = modcut.clusterability(ws, k=4, n_shuffles=8, shuffle=method, random_state=0)
    assert res.null_ncuts.shape == (8,)
    assert np.all((res.null_ncuts >= 0) & (res.null_ncuts <= 4))
    assert res.settings["shuffle"] == method


def test_null_ncuts_equal_clustering_each_shuffle_by_hand(planted):
    """The Rust null pipeline = shuffle + cluster (null stream) + ncut, sample by sample."""
    ws, _ = planted
    res = modcut.clusterability(ws, k=4, n_shuffles=4, shuffle="layer", random_state=9)
    from modcut.cluster import spectral_partition

    samples = modcut.shuffle(ws, "layer", n_samples=4, random_state=9)
    for i, net in enumerate(samples):
        labels = spectral_partition(net, k=4, n_init=25, seed=9, stream=i, null=True)
        assert modcut.ncut(net, labels) == pytest.approx(res.null_ncuts[i], rel=1e-12)


def test_result_round_trips_through_json(planted, tmp_path):
    ws, _ = planted
    res = modcut.clusterability(ws, k=4, n_shuffles=10, random_state=0)
    path = tmp_path / "r.json"
    res.to_json(path)
    back = modcut.ClusterabilityResult.from_json(path)
    assert back.ncut == res.ncut and back.p_value == res.p_value
    np.testing.assert_array_equal(back.null_ncuts, res.null_ncuts)
    np.testing.assert_array_equal(back.labels, res.labels)
    d = json.loads(path.read_text())
    assert d["settings"]["k"] == 4 and "per_sample" in d["timings"]
    assert "z = " in res.summary()


def test_arpack_solver_gives_a_null_of_the_same_quality(planted):
    ws, _ = planted
    shuffled = modcut.shuffle(ws, "layer", random_state=1)[0]
    kw = dict(k=4, n_shuffles=30, shuffle="layer", random_state=2)
    a = modcut.clusterability(shuffled, eigen_solver="lanczos", **kw)
    b = modcut.clusterability(shuffled, eigen_solver="arpack", **kw)
    se = np.hypot(a.null_std, b.null_std) / np.sqrt(30)
    assert abs(a.null_mean - b.null_mean) < 4 * se
