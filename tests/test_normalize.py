"""The authors' weight normalisation (issue 20, item 6): equal to a plain NumPy rescaling
(the reference's normalize_weights_array), the n-cut of a ReLU network invariant to random
per-neuron rescalings when it is on, applied after every shuffle in the null, recorded in
the settings, off by default (numbers unchanged)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modcut
from modcut import _core
from modcut.network import Network
from modcut.normalize import NORMALIZE_EPS, normalize_network


def reference_normalize(weights_torch_layout: list[np.ndarray], eps: float = 1e-5) -> list:
    """The reference (nn-clustering-pytorch graph_utils.normalize_weights_array), in plain
    NumPy, on weights stored out × in as torch does."""
    new = [np.copy(w) for w in weights_torch_layout]
    for idx in range(len(new) - 1):
        this, nxt = new[idx], new[idx + 1]
        n = this.shape[0]
        assert nxt.shape[1] == n
        scales = np.linalg.norm(this.reshape(n, -1), axis=1) + eps
        new[idx] = this / scales[:, None]
        new[idx + 1] = nxt * scales[None, :]
    return new


def _mlp(seed: int, widths=(12, 9, 7, 5), zeros: bool = False) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    ws = [rng.normal(size=(a, b)) for a, b in itertools.pairwise(widths)]
    if zeros:
        for w in ws:
            w[rng.random(w.shape) < 0.4] = 0.0
    return ws


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    widths=st.lists(st.integers(1, 9), min_size=2, max_size=5),
    zeros=st.booleans(),
)
def test_equal_to_the_reference_numpy_rescaling(seed, widths, zeros) -> None:
    ws = _mlp(seed, tuple(widths), zeros)
    if not any(np.any(w) for w in ws):
        return  # a network of zeros is refused before normalising
    got = normalize_network(ws)
    want = [w.T for w in reference_normalize([w.T for w in ws])]
    for g, w in zip(got.layers, want, strict=True):
        np.testing.assert_allclose(g.toarray(), w, rtol=1e-13, atol=1e-300)


def _relu_forward(ws: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    for i, w in enumerate(ws):
        x = x @ w
        if i < len(ws) - 1:
            x = np.maximum(x, 0)
    return x


def test_the_ncut_of_a_relu_network_is_invariant_to_per_neuron_rescaling() -> None:
    ws = _mlp(3, (16, 12, 12, 6))
    rng = np.random.default_rng(4)
    scaled = [w.copy() for w in ws]
    for layer in range(len(ws) - 1):  # hidden neurons of layer `layer + 1`
        a = np.exp(rng.normal(scale=1.5, size=ws[layer].shape[1]))
        scaled[layer] = scaled[layer] * a[None, :]
        scaled[layer + 1] = scaled[layer + 1] / a[:, None]
    x = rng.normal(size=(5, 16))
    np.testing.assert_allclose(_relu_forward(scaled, x), _relu_forward(ws, x), rtol=1e-10)
    labels = modcut.cluster(ws, k=3, normalize=True)
    np.testing.assert_array_equal(modcut.cluster(scaled, k=3, normalize=True), labels)
    # equal up to the reference's eps (1e-5 against norms of order 1)
    assert modcut.ncut(scaled, labels, normalize=True) == pytest.approx(
        modcut.ncut(ws, labels, normalize=True), rel=1e-4
    )
    # without the normalisation the rescaled network is a different graph
    assert modcut.ncut(scaled, labels) != pytest.approx(modcut.ncut(ws, labels), rel=1e-3)


def test_the_null_normalises_every_shuffle_before_clustering() -> None:
    ws = _mlp(5, (14, 10, 8))
    res = modcut.clusterability(ws, k=3, n_shuffles=6, normalize=True, n_jobs=1, progress=False)
    assert res.settings["normalize"] is True
    net = modcut.as_network(ws)
    reduced, _ = _core.reduce_isolated(net.core)
    n_init = res.settings["n_init"]
    for i in range(6):  # sample i by hand: shuffle, normalise, cluster, score
        (shuffled,) = _core.shuffle(reduced, "layer_nonzero", 0, i, 1, 1)
        normed = Network.from_core(_core.normalize(shuffled, NORMALIZE_EPS))
        labels, _ = _core.null_labels(normed.core, 3, n_init, 0, i)
        assert modcut.ncut(normed, labels) == res.null_ncuts[i]
    # the observed side is the normalised network's
    np.testing.assert_array_equal(res.labels, modcut.cluster(ws, k=3, normalize=True))
    assert res.ncut == modcut.ncut(ws, res.labels, normalize=True)
    # ARPACK's null takes the same shuffles and normalisation
    arp = modcut.clusterability(
        ws, k=3, n_shuffles=6, normalize=True, eigen_solver="arpack", n_jobs=1, progress=False
    )
    # (the embeddings agree to rounding; k-means may settle elsewhere on a rare sample)
    close = np.isclose(arp.null_ncuts, res.null_ncuts, rtol=1e-6)
    assert close.sum() >= 4, (arp.null_ncuts, res.null_ncuts)
    plain = modcut.clusterability(
        ws, k=3, n_shuffles=6, eigen_solver="arpack", n_jobs=1, progress=False
    )
    assert not np.isclose(plain.null_ncuts, arp.null_ncuts, rtol=1e-6).any()


def test_off_by_default_and_bad_values_named() -> None:
    ws = _mlp(6)
    plain = modcut.clusterability(ws, k=3, n_shuffles=4, progress=False)
    assert plain.settings["normalize"] is False
    again = modcut.clusterability(ws, k=3, n_shuffles=4, progress=False, normalize=False)
    assert again.null_ncuts.tobytes() == plain.null_ncuts.tobytes()
    normed = modcut.clusterability(ws, k=3, n_shuffles=4, progress=False, normalize=True)
    assert normed.null_ncuts.tobytes() != plain.null_ncuts.tobytes()
    with pytest.raises(TypeError, match="normalize must be True or False, got 'yes'"):
        modcut.cluster(ws, k=3, normalize="yes")
    with pytest.raises(ValueError, match="eps must be > 0"):
        normalize_network(ws, eps=0.0)


def test_a_channel_graph_with_skips_is_normalised_group_by_group() -> None:
    rng = np.random.default_rng(7)
    sizes = [5, 6, 6, 3]
    pairs = [(0, 1), (1, 2), (0, 2), (2, 3)]  # group 2 has two incoming edge groups
    net = Network.from_edges(
        [(f"g{i}", n) for i, n in enumerate(sizes)],
        [(a, b, np.abs(rng.normal(size=(sizes[a], sizes[b])))) for a, b in pairs],
    )
    out = normalize_network(net)
    w = [e.weights.toarray() for e in net.edges]
    # group 1: incoming (0,1); outgoing (1,2)
    c1 = np.linalg.norm(w[0], axis=0) + NORMALIZE_EPS
    w01, w12 = w[0] / c1, w[1] * c1[:, None]
    # group 2: incoming (1,2) as group 1 left it, and (0,2); outgoing (2,3)
    c2 = np.sqrt((w12**2).sum(axis=0) + (w[2] ** 2).sum(axis=0)) + NORMALIZE_EPS
    want = [w01, w12 / c2, w[2] / c2, w[3] * c2[:, None]]
    for e, m in zip(out.edges, want, strict=True):
        np.testing.assert_allclose(e.weights.toarray(), m, rtol=1e-13)
    assert out.provenance["normalized"] is True


def test_the_cli_records_the_normalisation(tmp_path) -> None:
    from modcut.cli import main

    path = tmp_path / "w.npz"
    np.savez(path, *_mlp(8))
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--k", "3", "--shuffles", "4", "--normalize",
                 "--no-progress", "--out", str(out)]) == 0  # fmt: skip
    res = modcut.ClusterabilityResult.from_json(out / "clusterability.json")
    assert res.settings["normalize"] is True
    want = modcut.clusterability(_mlp(8), k=3, n_shuffles=4, normalize=True, progress=False)
    assert res.null_ncuts.tobytes() == want.null_ncuts.tobytes()
