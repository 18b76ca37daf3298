"""Hostile values (issue 19): weights near the float64 limits (every one finite) and results
whose z-score is infinite. A network scaled by 1e306 or by 1e-315 gets the partition of the
unscaled network and its n-cut (the core holds such weights at an exact power-of-two scale);
networks inside [2**-400, 2**400] are passed as they are; z = ±inf keeps its sign through
JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modcut
from modcut.network import Network


def _weights(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(20, 16)), rng.normal(size=(16, 12))]


@pytest.mark.parametrize("scale", [1e306, 1e300, 2.0**401, 2.0**-401, 1e-300, 1e-315], ids=str)
def test_extreme_scales_give_the_unscaled_partition_and_ncut(scale) -> None:
    ws = _weights()
    labels = modcut.cluster(ws, k=3)
    ncut = modcut.ncut(ws, labels)
    scaled = [w * scale for w in ws]
    assert all(np.isfinite(w).all() for w in scaled)
    got = modcut.cluster(scaled, k=3)
    np.testing.assert_array_equal(got, labels)
    # equal up to the rounding of w * scale itself and the reference's ε (1e-8)
    assert modcut.ncut(scaled, labels) == pytest.approx(ncut, rel=1e-7)
    res = modcut.clusterability(scaled, k=3, n_shuffles=8, progress=False)
    assert np.isfinite(res.null_ncuts).all() and res.ncut == pytest.approx(ncut, rel=1e-7)


def test_denormal_weights_do_not_collapse_into_one_cluster() -> None:
    ws = _weights(1)
    tiny = [w * 1e-315 for w in ws]  # every weight subnormal
    assert all((np.abs(w) < np.finfo(np.float64).tiny).all() for w in tiny)
    labels = modcut.cluster(tiny, k=3)
    assert len(np.unique(labels)) == 3
    np.testing.assert_array_equal(labels, modcut.cluster(ws, k=3))


def test_a_network_with_skips_at_an_extreme_scale() -> None:
    rng = np.random.default_rng(3)
    sizes = [12, 12, 12, 6]
    pairs = [(0, 1), (1, 2), (2, 3), (0, 2), (1, 3)]  # skips: odd cycles, not bipartite
    net = Network.from_edges(
        [(f"g{i}", n) for i, n in enumerate(sizes)],
        [(a, b, rng.normal(size=(sizes[a], sizes[b]))) for a, b in pairs],
    )
    labels = modcut.cluster(net, k=3)
    big = Network.from_edges(
        list(net.groups), [(e.src, e.dst, e.weights * 1e305, e.name) for e in net.edges]
    )
    assert big.core_scale != 0
    np.testing.assert_array_equal(modcut.cluster(big, k=3), labels)


def test_scaled_networks_report_in_the_users_units() -> None:
    ws = [w * 1e306 for w in _weights()]
    net = modcut.as_network(ws)
    assert net.core_scale != 0 and net.core_scale % 2 == 0
    (first,) = modcut.shuffle(ws, n_samples=1, random_state=0)
    for a, b in zip(first.layers, net.layers, strict=True):  # "layer" shuffle: same values
        np.testing.assert_array_equal(np.sort(a.data), np.sort(b.data))
    with np.errstate(over="ignore"):
        want = np.abs(ws[0]).sum(axis=1)
    np.testing.assert_allclose(net.degree()[:20], want, rtol=1e-12)
    adj = net.adjacency()
    assert adj.max() == pytest.approx(np.abs(ws[0]).max() if np.abs(ws[0]).max() > np.abs(
        ws[1]).max() else np.abs(ws[1]).max())  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(exponent=st.integers(-399, 400), seed=st.integers(0, 50))
def test_inside_the_range_the_weights_reach_the_core_unchanged(exponent, seed) -> None:
    """The bit-identity guarantee: trained networks (any scale inside [2**-400, 2**400]) get
    core_scale 0, so the core sees exactly the user's weights."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 1.0, size=(5, 4)) * 2.0**exponent
    net = modcut.as_network([w])
    assert net.core_scale == 0
    np.testing.assert_array_equal(net.core.edges()[0][6], net.layers[0].data)


@pytest.mark.parametrize("z", [-np.inf, np.inf, np.nan])
def test_an_infinite_z_score_keeps_its_sign_through_json(tmp_path, z) -> None:
    res = modcut.clusterability(_weights(), k=3, n_shuffles=4, progress=False)
    res = type(res)(**{**res.__dict__, "z_score": z})
    text = res.to_json(tmp_path / "r.json")
    assert json.loads(text)["z_score"] == (
        None if np.isnan(z) else ("Infinity" if z > 0 else "-Infinity")
    )
    back = modcut.ClusterabilityResult.from_json(tmp_path / "r.json")
    if np.isnan(z):
        assert np.isnan(back.z_score)
    else:
        assert back.z_score == z


def test_a_string_that_is_not_an_infinity_is_refused(tmp_path) -> None:
    res = modcut.clusterability(_weights(), k=3, n_shuffles=4, progress=False)
    d = json.loads(res.to_json())
    d["z_score"] = "minus a lot"
    with pytest.raises(ValueError, match="'minus a lot'"):
        modcut.ClusterabilityResult.from_dict(d)
