"""Clustering, n-cut, shuffles and the null test for general (group) networks.

The public functions :func:`modcut.cluster`, :func:`modcut.ncut`,
:func:`modcut.shuffle`, :func:`modcut.spectral_embedding` and
:func:`modcut.clusterability` hand a :class:`~modcut.groupnet.GroupNetwork` that
is not a chain to this module (a chain goes through the layered path, bit for bit
as before). The Rust core (``rust/src/gnet.rs``) does the work:

* bipartite group graphs (2-colourable: parallel branches, concatenations, skips
  over an odd number of layers) use the same truncated-SVD shortcut as chains;
* other graphs (a skip over an even number of layers closes an odd cycle) use a
  seeded block Lanczos on the shifted normalized adjacency ``(I + N)/2`` (its
  largest eigenvalues are the largest algebraic ones of ``N``), connected
  components one by one, small ones densely;
* the same k-means (k-means++, ``n_init`` restarts) and n-cut; null samples
  shuffle each edge group on its own, from the streams chain networks use, so
  results do not depend on ``n_jobs``.

``eigen_solver="arpack"`` computes the embedding with SciPy's ``eigsh``
(``which="LA"``, seeded start vector) instead, to cross-check the Rust solver.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh

from modcut import _core
from modcut._validate import check_labels
from modcut.groupnet import GroupNetwork

__all__ = [
    "group_cluster",
    "group_clusterability",
    "group_embedding",
    "group_ncut_parts",
    "group_shuffle",
]

_ARPACK_V0_KEY = 3  # NumPy stream key of the ARPACK cross-check's start vector (as cluster.py)


def _n_active(g: GroupNetwork) -> int:
    return int(np.count_nonzero(np.asarray(_core.degrees(g.core))))


def group_embedding(
    g: GroupNetwork, k: int, *, seed: int, eigen_solver: str = "lanczos", stream: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(node_ids, x, eigenvalues)`` of the non-isolated neurons (rows divided by
    ``sqrt(degree)``; eigenvalues of ``D^-1/2 A D^-1/2``, descending)."""
    if eigen_solver == "lanczos":
        if stream != 0:
            raise ValueError("the Rust embedding of a group network is the observed one (stream 0)")
        ids, x, s = _core.observed_embedding(g.core, k, seed)
        return np.asarray(ids), np.asarray(x), np.asarray(s)
    if eigen_solver != "arpack":
        raise ValueError(f"unknown eigen_solver {eigen_solver!r}; use 'lanczos' or 'arpack'")
    n, indptr, indices, data, degree = _core.adjacency(g.core)
    a = sp.csr_array((data, indices, indptr), shape=(n, n))
    deg = np.asarray(degree)
    active = np.flatnonzero(deg > 0)
    inv = 1.0 / np.sqrt(deg[active])
    nrm = sp.csr_array(sp.diags_array(inv) @ a[active][:, active] @ sp.diags_array(inv))
    if k >= active.size - 1:
        w, vecs = np.linalg.eigh(nrm.toarray())
    else:
        v0 = np.random.default_rng([seed, _ARPACK_V0_KEY, stream]).uniform(-1.0, 1.0, active.size)
        w, vecs = eigsh(nrm, k=k, which="LA", v0=v0, tol=1e-10, maxiter=100_000)
    top = np.argsort(-w, kind="stable")[:k]
    return active, vecs[:, top] * inv[:, None], w[top]


def group_cluster(
    g: GroupNetwork,
    *,
    k: int,
    n_init: int,
    seed: int,
    eigen_solver: str = "lanczos",
    stream: int = 0,
    null: bool = False,
) -> np.ndarray:
    """Labels of every neuron (``-1`` for isolated ones) of a group network
    (``n_init`` may be a :class:`~modcut.cluster.AutoRestarts`)."""
    from modcut.cluster import AutoRestarts

    auto = isinstance(n_init, AutoRestarts)
    if eigen_solver == "lanczos":
        if null:
            labels, _ = _core.null_labels(g.core, k, n_init, seed, stream, auto=auto)
        elif stream == 0:
            labels, _ = _core.observed_labels(g.core, k, n_init, seed, auto=auto)
        else:
            raise ValueError("an observed group network is clustered with stream 0")
        return np.asarray(labels, dtype=np.int64)
    ids, x, _ = group_embedding(
        g, k, seed=seed, eigen_solver=eigen_solver, stream=stream + (1 << 32 if null else 0)
    )
    km, *_ = _core.kmeans(
        np.ascontiguousarray(x),
        k,
        n_init,
        seed=seed,
        stream=stream + (1 << 32 if null else 0),
        auto=auto,
    )
    labels = np.full(g.n_nodes, -1, dtype=np.int64)
    labels[ids] = np.asarray(km)
    return labels


def group_ncut_parts(g: GroupNetwork, labels: Any, eps: float) -> tuple[float, Any, Any, Any]:
    """``(ncut, cluster_ids, cut, volume)`` of ``labels`` on a group network."""
    lab = check_labels(labels, g.n_nodes)
    if not (isinstance(eps, (int, float)) and np.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number ≥ 0, got {eps!r}")
    v, ids, cut, vol = _core.ncut(g.core, lab, float(eps))
    return float(v), np.asarray(ids), np.asarray(cut), np.asarray(vol)


def group_shuffle(
    g: GroupNetwork, method: str, n_samples: int, seed: int, threads: int, start: int = 0
) -> list[GroupNetwork]:
    """Null networks: every edge group shuffled on its own (``method`` as for chains)."""
    out = _core.shuffle(g.core, method, seed, start, n_samples, threads)
    return [GroupNetwork.from_core(g, core) for core in out]


def group_null_chunk(
    reduced: GroupNetwork,
    method: str,
    k: int,
    n_init: int,
    seed: int,
    eigen_solver: str,
    start: int,
    count: int,
    threads: int,
) -> np.ndarray:
    """n-cuts of null samples ``start … start + count - 1`` of a group network without
    isolated neurons, shape ``(count,)`` (the unit of work, as ``null.null_chunk``)."""
    if eigen_solver == "lanczos":
        from modcut.cluster import AutoRestarts

        return np.asarray(
            _core.null_ncuts(
                reduced.core,
                method,
                k,
                n_init,
                seed,
                start,
                count,
                threads,
                auto=isinstance(n_init, AutoRestarts),
            )
        )
    out = np.empty(count)
    for i, s in enumerate(group_shuffle(reduced, method, count, seed, threads, start)):
        lab = group_cluster(
            s, k=k, n_init=n_init, seed=seed, eigen_solver="arpack", stream=start + i, null=True
        )
        out[i] = group_ncut_parts(s, lab, 1e-8)[0]
    return out


def group_clusterability(
    g: GroupNetwork,
    k: int,
    n_shuffles: int,
    shuffle: str,
    random_state: Any,
    n_jobs: int | None,
    *,
    n_init: int | str | None,
    eigen_solver: str,
    progress: bool | None,
    chunk_size: int | None,
    scheduler: Any = None,
    store: Any = None,
) -> Any:
    """:func:`modcut.clusterability` for a group network that is not a chain (same
    chunked null loop: local or on Dask, resumable with ``store``)."""
    from modcut.cluster import check_k, resolve_n_init
    from modcut.distributed import run_null_chunks
    from modcut.null import check_null_args, chunk_store, make_result, null_settings
    from modcut.store import network_fingerprint

    method, seed, threads, n_shuffles, chunk_size = check_null_args(
        shuffle, random_state, n_jobs, n_shuffles, eigen_solver, chunk_size
    )
    reduced_core, kept = _core.reduce_isolated(g.core)
    reduced = GroupNetwork.from_core(g, reduced_core)
    n_active = int(np.asarray(kept).shape[0])
    k = check_k(k, n_active)
    n_init = resolve_n_init(n_init, n_active)
    t0 = time.perf_counter()
    labels = group_cluster(g, k=k, n_init=n_init, seed=seed, eigen_solver=eigen_solver)
    observed = group_ncut_parts(g, labels, 1e-8)[0]
    t_obs = time.perf_counter() - t0
    sizes_r, edges_r = reduced_core.sizes, reduced_core.edges()
    fingerprint = (
        network_fingerprint([e[2:] for e in edges_r]) + str(sizes_r) + str([e[:2] for e in edges_r])
    )
    cstore = chunk_store(store, fingerprint, method, k, n_init, seed, eigen_solver)
    t1 = time.perf_counter()
    null = run_null_chunks(
        group_null_chunk,
        reduced,
        (method, k, n_init, seed, eigen_solver),
        n_shuffles,
        chunk_size,
        threads=threads,
        scheduler=scheduler,
        store=cstore,
        progress=progress,
        desc=f"null ({method})",
    )
    t_null = time.perf_counter() - t1
    settings = {
        **null_settings(
            k, n_init, method, n_shuffles, seed, eigen_solver, n_jobs, g.n_nodes - n_active
        ),
        "graph": "groups",
        "bipartite": g.is_bipartite(),
        "groups": [gr.name for gr in g.groups],
        "edge_groups": [[e.src, e.dst] for e in g.edges],
    }
    return make_result(observed, labels, null, g.sizes, settings, t_obs, t_null)
