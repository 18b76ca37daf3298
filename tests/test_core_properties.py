"""Property tests of graph assembly, n-cut and shuffles against the NumPy reference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modcut
import reference as ref

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def networks(draw, min_layers=1, max_layers=4, max_width=9):
    n_layers = draw(st.integers(min_layers, max_layers))
    widths = draw(st.lists(st.integers(1, max_width), min_size=n_layers + 1, max_size=n_layers + 1))
    seed = draw(st.integers(0, 2**32 - 1))
    density = draw(st.sampled_from([0.2, 0.6, 1.0]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    sparse = draw(st.booleans())
    rng = np.random.default_rng(seed)
    ws = []
    for a, b in itertools.pairwise(widths):
        w = rng.normal(size=(a, b)) * (rng.uniform(size=(a, b)) < density)
        ws.append(w.astype(dtype))
    if all(np.count_nonzero(w) == 0 for w in ws):
        ws[0][0, 0] = 1.0
    if sparse:
        ws = [sp.csr_array(w) for w in ws]
    return ws


@st.composite
def networks_and_labels(draw):
    ws = draw(networks())
    n = sum([ws[0].shape[0]] + [w.shape[1] for w in ws])
    labels = draw(st.lists(st.integers(-1, 5), min_size=n, max_size=n))
    return ws, np.array(labels)


@SETTINGS
@given(networks_and_labels())
def test_ncut_matches_reference(case):
    ws, labels = case
    # modcut's eps is the reference's 1e-8 scaled by min(1, total volume) (method.md §3):
    # the reference's own value for networks of total volume >= 1
    total_volume = 2.0 * sum(float(np.abs(w).sum()) for w in ws)
    expected = ref.ncut(ws, labels, eps=1e-8 * min(1.0, total_volume))
    assert modcut.ncut(ws, labels) == pytest.approx(expected, rel=1e-10, abs=1e-12)
    if total_volume >= 1.0:
        assert modcut.ncut(ws, labels) == pytest.approx(ref.ncut(ws, labels), rel=1e-10, abs=1e-12)


@SETTINGS
@given(networks_and_labels())
def test_ncut_bounds(case):
    ws, labels = case
    value = modcut.ncut(ws, labels)
    n_clusters = len(set(labels.tolist()) - {-1})
    assert 0.0 <= value <= n_clusters + 1e-9


@SETTINGS
@given(networks_and_labels(), st.integers(0, 2**32 - 1))
def test_ncut_invariant_to_renaming_clusters(case, seed):
    ws, labels = case
    rng = np.random.default_rng(seed)
    ids = np.arange(7)
    new_ids = rng.permutation(100)[:7] + 3
    renamed = np.where(labels >= 0, new_ids[np.clip(labels, 0, None)], -1)
    assert not np.array_equal(ids, new_ids)
    assert modcut.ncut(ws, renamed) == pytest.approx(modcut.ncut(ws, labels), rel=1e-12)


@SETTINGS
@given(networks_and_labels(), st.integers(0, 2**32 - 1))
def test_ncut_invariant_to_permuting_a_hidden_layer(case, seed):
    ws, labels = case
    if len(ws) < 2:
        return
    rng = np.random.default_rng(seed)
    dense = ref.dense_layers(ws)
    layer = int(rng.integers(1, len(dense)))  # a hidden neuron layer
    perm = rng.permutation(dense[layer - 1].shape[1])
    permuted = [w.copy() for w in dense]
    permuted[layer - 1] = dense[layer - 1][:, perm]
    permuted[layer] = dense[layer][perm, :]
    widths = [dense[0].shape[0]] + [w.shape[1] for w in dense]
    off = np.concatenate([[0], np.cumsum(widths)])
    new_labels = labels.copy()
    new_labels[off[layer] : off[layer + 1]] = labels[off[layer] : off[layer + 1]][perm]
    assert modcut.ncut(permuted, new_labels) == pytest.approx(modcut.ncut(ws, labels), rel=1e-10)


@SETTINGS
@given(networks())
def test_graph_matches_reference(ws):
    g = modcut.build_graph(ws)
    expected = ref.adjacency(ws)
    np.testing.assert_allclose(g.adjacency.toarray(), expected, rtol=1e-12)
    np.testing.assert_allclose(g.degree, expected.sum(axis=1), rtol=1e-12)
    assert g.n_edges == np.count_nonzero(np.triu(expected))
    deg = expected.sum(axis=1)
    with np.errstate(divide="ignore"):
        inv = np.where(deg > 0, 1 / np.sqrt(deg), 0.0)
    np.testing.assert_allclose(
        g.normalized_adjacency().toarray(), inv[:, None] * expected * inv[None, :], atol=1e-12
    )


def _assert_same_multiset(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_array_equal(np.sort(a, axis=None), np.sort(b, axis=None))


@SETTINGS
@given(networks(), st.sampled_from(modcut.SHUFFLE_METHODS), st.integers(0, 2**63))
def test_shuffles_keep_layer_values_and_shapes(ws, method, seed):
    original = ref.dense_layers(ws)
    samples = modcut.shuffle(ws, method, n_samples=3, random_state=seed)
    assert len(samples) == 3
    for net in samples:
        shuffled = net.to_dense()
        assert [w.shape for w in shuffled] == [w.shape for w in original]
        for w0, w1 in zip(original, shuffled, strict=True):
            if method == "layer":
                _assert_same_multiset(w0, w1)
            elif method == "layer_nonzero":
                np.testing.assert_array_equal(w0 != 0, w1 != 0)
                _assert_same_multiset(w0[w0 != 0], w1[w1 != 0])
            elif method == "layer_nonzero_distribution":
                # kernel density draws: same support pattern, values near the originals
                np.testing.assert_array_equal(w0 == 0, w1 == 0)
                if np.any(w0):
                    nz = w0[w0 != 0]
                    dist = np.abs(w1[w1 != 0][:, None] - nz[None, :]).min(axis=1)
                    assert np.all(dist < 0.01 * 8)
            else:  # layer_all_distribution: as many non-zeros, values near the originals
                assert np.count_nonzero(w1) == np.count_nonzero(w0)


@settings(max_examples=25, deadline=None)
@given(networks(), st.sampled_from(modcut.SHUFFLE_METHODS), st.integers(0, 2**63))
def test_shuffle_same_seed_any_thread_count(ws, method, seed):
    one = modcut.shuffle(ws, method, n_samples=6, random_state=seed, n_jobs=1)
    many = modcut.shuffle(ws, method, n_samples=6, random_state=seed, n_jobs=4)
    tail = modcut.shuffle(ws, method, n_samples=2, random_state=seed, n_jobs=3, start=4)
    for a, b in zip(one, many, strict=True):
        for wa, wb in zip(a.to_dense(), b.to_dense(), strict=True):
            np.testing.assert_array_equal(wa, wb)
    for a, b in zip(one[4:], tail, strict=True):
        for wa, wb in zip(a.to_dense(), b.to_dense(), strict=True):
            np.testing.assert_array_equal(wa, wb)


def test_layer_shuffle_moves_zeros():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(30, 20)) * (rng.uniform(size=(30, 20)) < 0.3)
    (net,) = modcut.shuffle([w], "layer", random_state=1)
    moved = net.to_dense()[0]
    assert not np.array_equal(moved != 0, w != 0)
    _assert_same_multiset(moved, w)


def test_different_seeds_give_different_shuffles():
    rng = np.random.default_rng(0)
    w = [rng.normal(size=(10, 8)), rng.normal(size=(8, 4))]
    a = modcut.shuffle(w, "layer_nonzero", random_state=1)[0].to_dense()
    b = modcut.shuffle(w, "layer_nonzero", random_state=2)[0].to_dense()
    assert not np.array_equal(a[0], b[0])
