"""Bad input raises a clear Python exception naming the problem."""

from __future__ import annotations

import numpy as np
import pytest

import modcut

RNG = np.random.default_rng(0)
GOOD = [RNG.normal(size=(6, 5)), RNG.normal(size=(5, 3))]
N = 6 + 5 + 3


def test_shapes_that_do_not_chain():
    with pytest.raises(ValueError, match="do not chain"):
        modcut.ncut([np.ones((6, 5)), np.ones((4, 3))], np.zeros(14, dtype=int))


@pytest.mark.parametrize("bad", [np.ones(5), np.ones((2, 3, 4))])
def test_non_2d_arrays(bad):
    with pytest.raises(ValueError, match="2-D"):
        modcut.build_graph([bad])


def test_single_array_instead_of_list():
    with pytest.raises(TypeError, match="sequence"):
        modcut.build_graph(np.ones((3, 3)))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_weights(value):
    w = [x.copy() for x in GOOD]
    w[1][2, 1] = value
    with pytest.raises(ValueError, match="NaN or infinite"):
        modcut.cluster(w, k=2)


def test_non_numeric_dtype():
    with pytest.raises(TypeError, match="dtype"):
        modcut.build_graph([np.array([["a", "b"]])])


def test_all_zero_network():
    with pytest.raises(ValueError, match="all weights are zero"):
        modcut.cluster([np.zeros((4, 3)), np.zeros((3, 2))], k=2)


def test_empty_network():
    with pytest.raises(ValueError, match="at least one"):
        modcut.build_graph([])


@pytest.mark.parametrize("labels", [np.zeros(N - 1, dtype=int), np.zeros(N + 3, dtype=int)])
def test_labels_of_the_wrong_length(labels):
    with pytest.raises(ValueError, match="length"):
        modcut.ncut(GOOD, labels)


def test_labels_of_the_wrong_type():
    with pytest.raises(TypeError, match="integers"):
        modcut.ncut(GOOD, np.full(N, 0.5))
    with pytest.raises(TypeError, match="integers"):
        modcut.ncut(GOOD, np.array(["a"] * N))


def test_labels_below_minus_one():
    with pytest.raises(ValueError, match="-1"):
        modcut.ncut(GOOD, np.full(N, -2))


def test_labels_2d():
    with pytest.raises(ValueError, match="1-D"):
        modcut.ncut(GOOD, np.zeros((N, 1), dtype=int))


@pytest.mark.parametrize("k", [0, 1, -3])
def test_k_too_small(k):
    with pytest.raises(ValueError, match="at least 2"):
        modcut.cluster(GOOD, k=k)


def test_k_larger_than_non_isolated_neurons():
    w = [np.zeros((6, 5)), np.zeros((5, 3))]
    w[0][0, 0] = 1.0
    w[1][0, 0] = 1.0  # 3 connected neurons
    with pytest.raises(ValueError, match="non-isolated"):
        modcut.cluster(w, k=4)


def test_k_not_an_int():
    with pytest.raises(TypeError, match="k must be an int"):
        modcut.cluster(GOOD, k=2.5)


def test_unknown_shuffle_method():
    with pytest.raises(ValueError, match="method must be one of 'layer'"):
        modcut.shuffle(GOOD, "columns")
    with pytest.raises(ValueError, match="shuffle must be one of 'layer'"):
        modcut.clusterability(GOOD, k=2, n_shuffles=4, shuffle="global")


def test_unknown_eigen_solver():
    with pytest.raises(ValueError, match="eigen_solver"):
        modcut.cluster(GOOD, k=2, eigen_solver="lobpcg")


def test_random_state_none_is_refused():
    with pytest.raises(ValueError, match="reproducible"):
        modcut.cluster(GOOD, k=2, random_state=None)


def test_bad_n_jobs_and_n_shuffles():
    with pytest.raises(ValueError, match="n_jobs"):
        modcut.shuffle(GOOD, n_jobs=0)
    with pytest.raises(ValueError, match="n_shuffles"):
        modcut.clusterability(GOOD, k=2, n_shuffles=1)


def test_rust_core_rejects_malformed_csr_without_crashing():
    from modcut import _core

    indptr = np.array([0, 2, 1], dtype=np.int64)  # decreasing
    layer = (2, 2, indptr, np.array([0, 1], dtype=np.int32), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="indptr"):
        _core.CoreNetwork.chain([layer])
    layer = (
        2,
        2,
        np.array([0, 1, 2], dtype=np.int64),
        np.array([0, 7], dtype=np.int32),
        np.array([1.0, 2.0]),
    )
    with pytest.raises(ValueError, match="out of range"):
        _core.CoreNetwork.chain([layer])
