"""Spectral clustering on networks whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import adjusted_rand_score

import modcut
import reference as ref


@pytest.mark.parametrize("solver", ["lanczos", "arpack"])
@pytest.mark.parametrize("k", [2, 3, 5])
def test_disjoint_subnetworks_are_recovered_exactly(solver, k):
    rng = np.random.default_rng(k)
    ws, truth = ref.planted_network([40, 30, 30, 20], k, rng)
    assert modcut.ncut(ws, truth) == pytest.approx(0.0, abs=1e-9)
    labels = modcut.cluster(ws, k=k, random_state=0, eigen_solver=solver)
    assert labels.shape == truth.shape
    assert adjusted_rand_score(truth, labels) == pytest.approx(1.0)
    assert modcut.ncut(ws, labels) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("solver", ["lanczos", "arpack"])
def test_weak_noise_between_modules_still_recovers_them(solver):
    rng = np.random.default_rng(42)
    ws, truth = ref.planted_network([60, 48, 48, 48, 12], 4, rng, noise=0.05)
    labels = modcut.cluster(ws, k=4, random_state=3, eigen_solver=solver)
    assert adjusted_rand_score(truth, labels) > 0.95
    assert modcut.ncut(ws, labels) <= modcut.ncut(ws, truth) + 1e-9


def test_isolated_neurons_are_labelled_minus_one():
    rng = np.random.default_rng(1)
    ws, truth = ref.planted_network([20, 16, 8], 2, rng)
    ws[0][3, :] = 0.0  # dead input pixel
    ws[0][:, 5] = 0.0  # pruned-away hidden neuron...
    ws[1][5, :] = 0.0  # ...with its outputs
    labels = modcut.cluster(ws, k=2, random_state=0)
    assert labels[3] == -1
    assert labels[20 + 5] == -1
    assert np.count_nonzero(labels == -1) == 2
    keep = labels >= 0
    assert adjusted_rand_score(truth[keep], labels[keep]) == pytest.approx(1.0)


def test_cluster_is_deterministic_and_seed_dependent():
    rng = np.random.default_rng(7)
    ws = [rng.normal(size=(50, 40)) * (rng.uniform(size=(50, 40)) < 0.3), rng.normal(size=(40, 10))]
    a = modcut.cluster(ws, k=4, random_state=11)
    b = modcut.cluster(ws, k=4, random_state=11)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= set(range(4))


def test_lanczos_and_arpack_embeddings_agree():
    rng = np.random.default_rng(3)
    ws = [
        sp.random_array((120, 80), density=0.2, random_state=rng),
        sp.random_array((80, 60), density=0.2, random_state=rng),
        sp.random_array((60, 10), density=0.5, random_state=rng),
    ]
    a = modcut.spectral_embedding(ws, k=6, eigen_solver="arpack")
    b = modcut.spectral_embedding(ws, k=6, eigen_solver="lanczos")
    np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, rtol=1e-7)
    np.testing.assert_array_equal(np.sort(a.node_ids), np.sort(b.node_ids))
    # same subspace: compare projectors after aligning the row order
    xa = a.x[np.argsort(a.node_ids)]
    xb = b.x[np.argsort(b.node_ids)]
    qa, _ = np.linalg.qr(xa)
    qb, _ = np.linalg.qr(xb)
    np.testing.assert_allclose(qa @ qa.T, qb @ qb.T, atol=1e-6)


def test_sparse_dense_float32_inputs_give_the_same_partition():
    rng = np.random.default_rng(5)
    ws, _ = ref.planted_network([30, 24, 12], 3, rng, noise=0.1)
    dense = modcut.cluster(ws, k=3, random_state=0)
    sparse = modcut.cluster([sp.csr_array(w) for w in ws], k=3, random_state=0)
    f32 = modcut.cluster([w.astype(np.float32) for w in ws], k=3, random_state=0)
    assert adjusted_rand_score(dense, sparse) == pytest.approx(1.0)
    assert adjusted_rand_score(dense, f32) == pytest.approx(1.0)
