"""General (group) networks in the Rust core: against SciPy eigsh, scikit-learn and NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh
from sklearn.cluster import SpectralClustering
from sklearn.metrics import adjusted_rand_score

import modcut
import reference as ref
from modcut.cluster import spectral_partition
from modcut.network import Network


def residual(n: int, k: int, seed: int, noise: float = 0.0) -> tuple[Network, np.ndarray]:
    """Groups input → h1 → h2 → out with skips input → h2 and h1 → out (odd cycles);
    ``k`` planted modules (neuron i of a group of size n is in module i·k//n)."""
    rng = np.random.default_rng(seed)
    sizes = [n, n, n, n // 2]
    truth = [np.arange(s) * k // s for s in sizes]
    pairs = [(0, 1), (1, 2), (2, 3), (0, 2), (1, 3)]
    edges = []
    for s, d in pairs:
        same = truth[s][:, None] == truth[d][None, :]
        w = rng.uniform(0.5, 1.5, (sizes[s], sizes[d])) * same
        w += noise * rng.uniform(0.0, 1.0, w.shape) * ~same
        w *= rng.choice([-1.0, 1.0], w.shape)
        edges.append((s, d, w))
    g = Network.from_edges([(f"g{i}", s) for i, s in enumerate(sizes)], edges)
    return g, np.concatenate(truth)


def dense_normalized(g: Network) -> tuple[np.ndarray, np.ndarray]:
    a = ref.general_adjacency(list(g.sizes), [(e.src, e.dst, e.weights) for e in g.edges])
    d = a.sum(axis=1)
    inv = 1.0 / np.sqrt(d)
    return a * inv[:, None] * inv[None, :], d


def test_adjacency_degrees_and_ncut_match_numpy():
    g, _ = residual(20, 3, 0, noise=0.1)
    a = ref.general_adjacency(list(g.sizes), [(e.src, e.dst, e.weights) for e in g.edges])
    np.testing.assert_allclose(g.adjacency().toarray(), a, rtol=1e-15)
    assert not g.is_bipartite()
    rng = np.random.default_rng(1)
    for _ in range(5):
        labels = rng.integers(-1, 4, g.n_nodes)
        assert modcut.ncut(g, labels) == pytest.approx(ref.ncut_adjacency(a, labels), rel=1e-12)
        parts = modcut.ncut_parts(g, labels)
        assert parts.cluster_ids.tolist() == sorted(set(labels.tolist()) - {-1})


@pytest.mark.parametrize("n", [16, 90])  # dense path; Lanczos on (I + N)/2
def test_eigenpairs_match_scipy_eigsh(n):
    g, _ = residual(n, 4, 2, noise=0.3)
    k = 6
    emb = modcut.spectral_embedding(g, k, eigen_solver="lanczos")
    nrm, d = dense_normalized(g)
    w, v = eigsh(sp.csr_array(nrm), k=k + 1, which="LA", tol=1e-12, v0=np.ones(nrm.shape[0]))
    order = np.argsort(-w)
    w, v = w[order], v[:, order]
    np.testing.assert_allclose(emb.eigenvalues, w[:k], atol=1e-9)
    assert np.all(np.diff(emb.eigenvalues) <= 1e-12)
    # same invariant subspace: the 4 planted modules give a gap after λ_4
    k = 4
    emb = modcut.spectral_embedding(g, k, eigen_solver="lanczos")
    assert w[k - 1] - w[k] > 1e-2
    x = np.zeros((g.n_nodes, k))
    x[emb.node_ids] = emb.x * np.sqrt(d[emb.node_ids])[:, None]  # undo the row scaling
    np.testing.assert_allclose(x.T @ x, np.eye(k), atol=1e-8)
    p_ours, p_scipy = x @ x.T, v[:, :k] @ v[:, :k].T
    assert np.abs(p_ours - p_scipy).max() < 1e-7
    # the SciPy path of modcut agrees too
    emb2 = modcut.spectral_embedding(g, k, eigen_solver="arpack")
    np.testing.assert_allclose(emb2.eigenvalues, w[:k], atol=1e-9)


def test_large_negative_eigenvalues_do_not_crowd_out_the_top():
    # a nearly bipartite graph (one weak odd cycle) has λ ≈ -1 eigenvalues as large in
    # magnitude as the top ones: the shifted operator keeps only the largest algebraic
    rng = np.random.default_rng(3)
    n = 80
    edges = [
        (0, 1, rng.uniform(0.5, 1.5, (n, n))),
        (1, 2, rng.uniform(0.5, 1.5, (n, n))),
        (0, 2, 1e-3 * rng.uniform(0.5, 1.5, (n, n))),
    ]
    g = Network.from_edges([n, n, n], edges)
    nrm, _ = dense_normalized(g)
    w = np.linalg.eigvalsh(nrm)
    assert w.min() < -0.99
    emb = modcut.spectral_embedding(g, 4, eigen_solver="lanczos")
    np.testing.assert_allclose(emb.eigenvalues, np.sort(w)[::-1][:4], atol=1e-9)


def test_planted_modules_agree_with_scikit_learn_spectral_clustering():
    g, truth = residual(60, 4, 4, noise=0.05)
    labels = modcut.cluster(g, k=4, random_state=0)
    a = g.adjacency().toarray()
    sk = SpectralClustering(
        4,
        affinity="precomputed",
        eigen_solver="arpack",
        assign_labels="kmeans",
        random_state=0,
        n_init=25,
    ).fit_predict(a)
    assert adjusted_rand_score(truth, labels) == 1.0
    assert adjusted_rand_score(sk, labels) == 1.0
    assert modcut.ncut(g, labels) == pytest.approx(ref.ncut_adjacency(a, sk), rel=1e-9)


def test_partition_quality_matches_scikit_learn_on_unstructured_graphs():
    # no planted structure: compare n-cuts of the two pipelines over several graphs
    ours, theirs = [], []
    for seed in range(6):
        g, _ = residual(40, 1, 10 + seed)
        a = g.adjacency().toarray()
        lab = modcut.cluster(g, k=5, random_state=seed)
        sk = SpectralClustering(
            5,
            affinity="precomputed",
            eigen_solver="arpack",
            assign_labels="kmeans",
            random_state=seed,
            n_init=25,
        ).fit_predict(a)
        ours.append(ref.ncut_adjacency(a, lab))
        theirs.append(ref.ncut_adjacency(a, sk))
    assert abs(np.mean(ours) - np.mean(theirs)) < 0.03 * np.mean(theirs)


def test_null_samples_are_shuffle_then_cluster_and_do_not_depend_on_threads():
    g, _ = residual(30, 3, 5, noise=0.2)
    res1 = modcut.clusterability(g, k=3, n_shuffles=12, shuffle="layer", random_state=7, n_jobs=1)
    res2 = modcut.clusterability(
        g, k=3, n_shuffles=12, shuffle="layer", random_state=7, n_jobs=2, chunk_size=5
    )
    np.testing.assert_array_equal(res1.null_ncuts, res2.null_ncuts)
    np.testing.assert_array_equal(res1.labels, res2.labels)
    assert res1.settings["graph"] == "groups" and res1.settings["bipartite"] is False
    # sample i = shuffle each edge group with stream i, then cluster with null stream i
    for i in (0, 5, 11):
        s = modcut.shuffle(g, "layer", 1, random_state=7, start=i)[0]
        assert isinstance(s, Network) and s.sizes == g.sizes
        for e, f in zip(g.edges, s.edges, strict=True):  # a permutation of each matrix
            np.testing.assert_array_equal(
                np.sort(e.weights.toarray(), axis=None), np.sort(f.weights.toarray(), axis=None)
            )
        lab = spectral_partition(s, k=3, n_init=25, seed=7, stream=i, null=True)
        assert modcut.ncut(s, lab) == res1.null_ncuts[i]
    assert res1.ncut < res1.null_mean  # planted modules beat their shuffles


def test_null_distribution_agrees_with_scikit_learn_pipeline():
    g, _ = residual(30, 3, 6, noise=0.3)
    n = 16
    res = modcut.clusterability(g, k=3, n_shuffles=n, shuffle="layer", random_state=1, n_jobs=1)
    sk = []
    for s in modcut.shuffle(g, "layer", n, random_state=1):
        a = s.adjacency().toarray()
        lab = SpectralClustering(
            3,
            affinity="precomputed",
            eigen_solver="arpack",
            assign_labels="kmeans",
            random_state=0,
            n_init=25,
        ).fit_predict(a)
        sk.append(ref.ncut_adjacency(a, lab))
    se = np.sqrt(res.null_std**2 / n + np.var(sk, ddof=1) / n)
    assert abs(res.null_mean - np.mean(sk)) < 4 * se + 1e-9


def test_chain_group_networks_are_bit_identical_to_layered_networks():
    rng = np.random.default_rng(8)
    ws, _ = ref.planted_network([30, 20, 20, 10], 3, rng, noise=0.2)
    g = Network.from_network(ws)
    assert g.is_chain()
    a = modcut.clusterability(ws, k=3, n_shuffles=6, random_state=2, n_jobs=1)
    b = modcut.clusterability(g, k=3, n_shuffles=6, random_state=2, n_jobs=1)
    np.testing.assert_array_equal(a.null_ncuts, b.null_ncuts)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.ncut == b.ncut
    assert "graph" not in b.settings


def test_bipartite_group_networks_use_the_svd_shortcut():
    # two parallel branches (a concatenation): 2-colourable, not a chain
    rng = np.random.default_rng(9)
    edges = [
        (0, 1, rng.normal(size=(50, 40))),
        (0, 2, rng.normal(size=(50, 30))),
        (1, 3, rng.normal(size=(40, 20))),
        (2, 3, rng.normal(size=(30, 20))),
    ]
    g = Network.from_edges([50, 40, 30, 20], edges)
    assert g.is_bipartite() and not g.is_chain()
    emb = modcut.spectral_embedding(g, 5, eigen_solver="lanczos")
    nrm, _ = dense_normalized(g)
    np.testing.assert_allclose(
        emb.eigenvalues, np.sort(np.linalg.eigvalsh(nrm))[::-1][:5], atol=1e-9
    )
    res = modcut.clusterability(g, k=5, n_shuffles=4, random_state=0, n_jobs=1)
    assert res.settings["bipartite"] is True and res.null_ncuts.shape == (4,)


def test_isolated_neurons_and_bad_input():
    g, _ = residual(20, 2, 11)
    w = g.edges[0].weights.toarray()
    w[:, 3] = 0.0  # neuron 3 of g1 loses its input
    edges = [(e.src, e.dst, e.weights) for e in g.edges]
    edges[0] = (0, 1, w)
    g2 = Network.from_edges(list(g.sizes), edges)
    labels = modcut.cluster(g2, k=2)
    assert labels.shape == (g2.n_nodes,)
    res = modcut.clusterability(g2, k=2, n_shuffles=3, shuffle="layer_nonzero", n_jobs=1)
    assert np.isfinite(res.null_ncuts).all()
    with pytest.raises(ValueError, match="labels has length"):
        modcut.ncut(g, np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match=r"at most \d+ \(the non-isolated neurons\), got 10000"):
        modcut.cluster(g, k=10_000)
    with pytest.raises(ValueError, match="joins group 1 to itself"):
        Network.from_edges([3, 3], [(1, 1, np.ones((3, 3)))])
    with pytest.raises(ValueError, match="has shape"):
        Network.from_edges([3, 3], [(0, 1, np.ones((3, 2)))])
    with pytest.raises(ValueError, match="not a chain"):
        modcut.as_network(g)
