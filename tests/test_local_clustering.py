"""Layer-local clustering (issue 20, item 5): every 3-layer slice clustered on its own, with
the global partition's cluster count of its middle layer, labels aligned across slices by
the Hungarian method; in the null every shuffle is clustered the same way."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import modcut
from modcut import _core
from modcut.agreement import adjusted_rand_index
from modcut.cluster import align_labels, local_partition
from modcut.network import Network


def _planted(seed: int = 0, widths=(24, 24, 24, 24, 24), m: int = 3) -> list[np.ndarray]:
    """Modules shared across layers: neuron i of every layer is in module i·m//width."""
    rng = np.random.default_rng(seed)
    out = []
    for a, b in itertools.pairwise(widths):
        ma, mb = np.arange(a) * m // a, np.arange(b) * m // b
        w = rng.uniform(0.5, 1.5, (a, b)) * (ma[:, None] == mb[None, :])
        w += 0.01 * rng.uniform(size=(a, b))
        out.append(w)
    return out


def test_align_labels_undoes_a_renaming_and_names_new_clusters_fresh():
    ref = np.array([0, 0, 1, 1, 2, 2])
    lab = np.array([5, 5, 3, 3, 9, 9, 7, 7])  # 8 items: the last two only in `lab`
    out = align_labels(ref, lab, start=10)
    np.testing.assert_array_equal(out, [0, 0, 1, 1, 2, 2, 10, 10])
    np.testing.assert_array_equal(
        align_labels(ref, np.array([-1, 3, 3, 3, 4, 4]), 9), [-1, 1, 1, 1, 2, 2]
    )


def test_each_layer_takes_its_own_slice_partition():
    rng = np.random.default_rng(1)
    ws = [rng.normal(size=(14, 12)), rng.normal(size=(12, 10)), rng.normal(size=(10, 8))]
    labels = modcut.cluster(ws, k=4, local=True)
    net = modcut.as_network(ws)
    glob = modcut.cluster(ws, k=4)
    off = np.cumsum([0, *net.widths])
    for m in (1, 2):  # hidden layer m: the slice (m-1, m, m+1)
        k_m = len(np.unique(glob[off[m] : off[m + 1]][glob[off[m] : off[m + 1]] >= 0]))
        sub = modcut.cluster([ws[m - 1], ws[m]], k=k_m)
        mine = labels[off[m] : off[m + 1]]
        theirs = sub[net.widths[m - 1] : net.widths[m - 1] + net.widths[m]]
        assert adjusted_rand_index(mine, theirs) == pytest.approx(1.0)


def test_planted_modules_get_the_same_ids_in_every_layer():
    ws = _planted()
    labels = modcut.cluster(ws, k=3, local=True)
    truth = np.concatenate([np.arange(24) * 3 // 24] * 5)
    assert adjusted_rand_index(labels, truth) == pytest.approx(1.0)  # aligned across slices
    assert modcut.ncut(ws, labels) == pytest.approx(modcut.ncut(ws, truth))


def test_the_null_clusters_every_shuffle_locally():
    ws = _planted(2)
    res = modcut.clusterability(ws, k=3, n_shuffles=4, local=True, n_jobs=1, progress=False)
    assert res.settings["local"] is True
    net = modcut.as_network(ws)
    reduced, _ = _core.reduce_isolated(net.core)
    n_init = res.settings["n_init"]
    for i in range(4):
        (core,) = _core.shuffle(reduced, "layer_nonzero", 0, i, 1, 1)
        shuffled = Network.from_core(core)
        lab = local_partition(shuffled, 3, n_init=n_init, seed=0, stream=i, null=True)
        assert modcut.ncut(shuffled, lab) == res.null_ncuts[i]
    assert res.ncut < res.null_ncuts.min()  # planted modules: far below the null
    plain = modcut.clusterability(ws, k=3, n_shuffles=4, n_jobs=1, progress=False)
    assert "local" not in plain.settings


def test_local_clustering_needs_a_layered_network():
    with pytest.raises(ValueError, match="at least two weight matrices"):
        modcut.cluster([np.ones((4, 3))], k=2, local=True)
    g = Network.from_edges([3, 3, 3], [(0, 1, np.ones((3, 3))), (0, 2, np.ones((3, 3)))])
    with pytest.raises(ValueError, match="layered network"):
        modcut.cluster(g, k=2, local=True)
    with pytest.raises(TypeError, match="local must be True or False"):
        modcut.cluster(_planted(), k=2, local="yes")


def test_the_cli_runs_and_records_local_clustering(tmp_path):
    from modcut.cli import main

    path = tmp_path / "w.npz"
    np.savez(path, *_planted(3))
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--k", "3", "--shuffles", "4", "--local",
                 "--no-progress", "--out", str(out)]) == 0  # fmt: skip
    res = modcut.ClusterabilityResult.from_json(out / "clusterability.json")
    assert res.settings["local"] is True
    want = modcut.clusterability(_planted(3), k=3, n_shuffles=4, local=True, progress=False)
    assert res.null_ncuts.tobytes() == want.null_ncuts.tobytes()
