"""The published pipeline, re-implemented for side-by-side benchmarks.

Filan, Hod et al. (2020/2021) shuffle with NumPy, build a SciPy sparse
adjacency, delete isolated nodes and cluster with scikit-learn's
``SpectralClustering(affinity='precomputed', eigen_solver='arpack',
assign_labels='kmeans', n_init=25)``; the n-cut adds 1e-8 to each volume.
This module reproduces that pipeline (not the authors' code) so both
pipelines run on the same networks in one session.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import SpectralClustering


def adjacency(weights: list[np.ndarray]) -> sp.csr_array:
    """Symmetric |W| adjacency over all neurons (the reference's weights_to_graph)."""
    widths = [weights[0].shape[0]] + [w.shape[1] for w in weights]
    blocks: list[list[sp.sparray | None]] = [[None] * len(widths) for _ in widths]
    for l, w in enumerate(weights):
        aw = sp.csr_array(np.abs(w))
        blocks[l][l + 1] = aw
        blocks[l + 1][l] = aw.T
    for l, n in enumerate(widths):
        blocks[l][l] = sp.csr_array((n, n))
    return sp.csr_array(sp.block_array(blocks))


def delete_isolated(adj: sp.csr_array) -> tuple[sp.csr_array, np.ndarray]:
    keep = np.flatnonzero(np.asarray(adj.sum(axis=1)).ravel() > 0)
    return sp.csr_array(adj[keep][:, keep]), keep


def ncut(adj: sp.csr_array, labels: np.ndarray, eps: float = 1e-8) -> float:
    total = 0.0
    deg = np.asarray(adj.sum(axis=1)).ravel()
    for c in np.unique(labels):
        mask = labels == c
        vol = deg[mask].sum()
        inside = adj[mask][:, mask].sum()
        total += (vol - inside) / (vol + eps)
    return float(total)


def cluster(adj: sp.csr_array, k: int, seed: int, n_init: int | None = None) -> np.ndarray:
    if n_init is None:
        n_init = 100 if adj.shape[0] > 2000 else 25
    sc = SpectralClustering(
        n_clusters=k,
        affinity="precomputed",
        eigen_solver="arpack",
        assign_labels="kmeans",
        n_init=n_init,
        random_state=seed,
    )
    return sc.fit_predict(adj)


def shuffle_layer(w: np.ndarray, method: str, rng: np.random.Generator) -> np.ndarray:
    """NumPy per-layer shuffles as the reference does them."""
    if method == "layer":
        flat = w.ravel().copy()
        rng.shuffle(flat)
        return flat.reshape(w.shape)
    if method == "layer_nonzero":
        out = w.copy()
        nz = np.nonzero(w)
        vals = w[nz].copy()
        rng.shuffle(vals)
        out[nz] = vals
        return out
    raise ValueError(method)


def observed_ncut(weights: list[np.ndarray], k: int = 12, seed: int = 0) -> float:
    adj, _ = delete_isolated(adjacency(weights))
    return ncut(adj, cluster(adj, k, seed))


def null_sample(weights: list[np.ndarray], method: str, k: int, seed: int) -> float:
    """One null sample of the reference pipeline: shuffle, cluster, n-cut."""
    rng = np.random.default_rng(seed)
    reduced_adj, keep = delete_isolated(adjacency(weights))
    del reduced_adj
    # remove isolated neurons before shuffling (as the reference does)
    widths = [weights[0].shape[0]] + [w.shape[1] for w in weights]
    off = np.concatenate([[0], np.cumsum(widths)])
    kept = [keep[(keep >= off[l]) & (keep < off[l + 1])] - off[l] for l in range(len(widths))]
    reduced = [w[np.ix_(kept[l], kept[l + 1])] for l, w in enumerate(weights)]
    shuffled = [shuffle_layer(w, method, rng) for w in reduced]
    adj, _ = delete_isolated(adjacency(shuffled))
    return ncut(adj, cluster(adj, k, seed))


def group_adjacency(sizes: list[int], edges: list[tuple[int, int, np.ndarray]]) -> sp.csr_array:
    """|W| adjacency of node groups joined by ``(src, dst, W)`` edge groups (parallel
    edge groups add up), as the reference's ImageNet code builds it for skips."""
    off = np.concatenate([[0], np.cumsum(sizes)])
    n = int(off[-1])
    parts = []
    for s, d, w in edges:
        c = sp.coo_array(np.abs(w))
        r, q = c.row + off[s], c.col + off[d]
        parts.append((c.data, r, q))
        parts.append((c.data, q, r))
    data = np.concatenate([p[0] for p in parts])
    rows = np.concatenate([p[1] for p in parts])
    cols = np.concatenate([p[2] for p in parts])
    a = sp.csr_array((data, (rows, cols)), shape=(n, n))
    a.indices = a.indices.astype(np.int32)  # scikit-learn takes 32-bit sparse indices only
    a.indptr = a.indptr.astype(np.int32)
    return a


def group_null_sample(
    sizes: list[int], edges: list[tuple[int, int, np.ndarray]], method: str, k: int, seed: int
) -> float:
    """One null sample for a network with skips: shuffle every edge group with NumPy,
    build the adjacency, delete isolated nodes, SpectralClustering, n-cut."""
    rng = np.random.default_rng(seed)
    shuffled = [(s, d, shuffle_layer(w, method, rng)) for s, d, w in edges]
    adj, _ = delete_isolated(group_adjacency(sizes, shuffled))
    return ncut(adj, cluster(adj, k, seed))
