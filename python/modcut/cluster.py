"""Normalized spectral clustering of a network's neurons (method.md §2).

Each non-isolated neuron is embedded with the eigenvectors of the ``k``
largest eigenvalues of ``D^-1/2 A D^-1/2``, rows divided by ``sqrt(degree)``
as scikit-learn's ``spectral_embedding`` does, then clustered by k-means
(k-means++, best of ``n_init`` runs). The graph is bipartite (even vs odd
layers), so those eigenvectors are ``[u; v] / √2`` for the top singular
triplets of the normalized odd-to-even block ``B``: a truncated SVD of ``B``
gives the embedding with less work.

Two eigensolvers give the embedding:

* ``"lanczos"`` (default) — restarted Lanczos in Rust; the whole partition is
  computed without the GIL, and it is what every null sample uses;
* ``"arpack"`` — SciPy's ``svds`` (ARPACK), seeded start vector; k-means in
  Rust. Slower; kept to cross-check the Rust solver.

Small graphs (``k ≥ min(#even, #odd)`` nodes) use a dense eigendecomposition
of the whole normalized adjacency instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh, svds

from modcut import _core
from modcut._params import EIGEN_SOLVERS as EIGEN_SOLVERS  # re-export
from modcut._params import check
from modcut._params import check_k as _check_k
from modcut._validate import check_random_state
from modcut.graph import build_graph
from modcut.network import Network, as_graph
from modcut.normalize import normalized

__all__ = [
    "AutoRestarts",
    "Embedding",
    "check_k",
    "cluster",
    "default_n_init",
    "resolve_n_init",
    "spectral_embedding",
]

# Key of NumPy's generator for ARPACK's start vector (``[seed, 3, stream]``); a NumPy
# stream of its own, unrelated to the Rust core's ChaCha streams, kept for reproducibility.
_ARPACK_V0_KEY = 3


def check_k(k: Any, n_active: int) -> int:
    """Validate the number of clusters against the non-isolated neurons
    (:func:`modcut._params.check_k`)."""
    return _check_k(k, n_active)


def default_n_init(n_active: int) -> int:
    """The reference's k-means restarts: 25, or 100 for graphs of over 2,000 nodes."""
    return 100 if n_active > 2000 else 25


class AutoRestarts(int):
    """``n_init="auto"`` resolved for one network: the value is the cap (the
    reference's n_init for that network).

    k-means runs its restarts in rounds of 5 and stops once the best inertia has
    improved by at most 1e-3 (relative) in 2 consecutive rounds, or at the cap
    (``rust/src/kmeans.rs``, ``Restarts::Auto``); stopping after ``m`` restarts
    gives exactly the result of ``n_init=m``, for any thread count. An ``int``,
    so it travels wherever a restart count does (Dask tasks included); the
    calls into Rust pass ``auto=True`` for it.
    """

    def __repr__(self) -> str:
        return f"AutoRestarts({int(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (AutoRestarts, (int(self),))


def resolve_n_init(n_init: Any, n_active: int) -> int:
    """The restarts of a user's ``n_init``: ``None`` → the reference's
    (:func:`default_n_init`), ``"auto"`` → :class:`AutoRestarts` capped there, or
    a positive integer (the rule ``RULES["n_init"]`` of :mod:`modcut._params`)."""
    check("n_init", n_init)
    if n_init is None:
        return default_n_init(n_active)
    if isinstance(n_init, str):  # "auto", the only string the rule takes
        return AutoRestarts(default_n_init(n_active))
    return int(n_init)


def n_init_setting(n_init: int) -> int | str:
    """How a result's settings record ``n_init``: the count, or ``"auto"``."""
    return "auto" if isinstance(n_init, AutoRestarts) else int(n_init)


def _n_active(net: Network) -> int:
    """Number of non-isolated neurons."""
    return int(np.count_nonzero(np.asarray(_core.degrees(net.core))))


@dataclass(frozen=True)
class Embedding:
    """Spectral embedding of a network's non-isolated neurons.

    Attributes
    ----------
    node_ids: global ids (layer order) of the embedded neurons, shape ``(m,)``.
    x: embedding rows, shape ``(m, k)``, already divided by ``sqrt(degree)``.
    eigenvalues: the ``k`` largest eigenvalues of ``D^-1/2 A D^-1/2``, descending.
    """

    node_ids: np.ndarray
    x: np.ndarray
    eigenvalues: np.ndarray


def _arpack_embedding(net: Network, k: int, seed: int, stream: int) -> Embedding:
    """The embedding by SciPy's ARPACK: for a chain, ``svds`` of its normalized
    odd-to-even block (the reference's path); for any other network, ``eigsh``
    (``which="LA"``) of the whole normalized adjacency. Small problems are solved
    densely. The start vector comes from NumPy's stream ``[seed, 3, stream]``."""
    if not net.is_chain():
        return _arpack_general(net, k, seed, stream)
    even, odd, (nr, nc, indptr, indices, data) = _core.normalized_bipartite(net.core)
    even = np.asarray(even)
    odd = np.asarray(odd)
    deg = np.asarray(_core.degrees(net.core))
    if k >= min(nr, nc):
        return _dense_embedding(net, k)
    block = sp.csr_array((data, indices, indptr), shape=(nr, nc))
    v0 = np.random.default_rng([seed, _ARPACK_V0_KEY, stream]).uniform(-1.0, 1.0, min(nr, nc))
    u, s, vt = svds(block, k=k, v0=v0, solver="arpack", tol=1e-10, maxiter=10_000)
    order = np.argsort(-s)
    s, u, v = s[order], u[:, order], vt[order].T
    x = np.vstack([u / np.sqrt(deg[even])[:, None], v / np.sqrt(deg[odd])[:, None]])
    return Embedding(np.concatenate([even, odd]), x / np.sqrt(2.0), s)


def _arpack_general(net: Network, k: int, seed: int, stream: int) -> Embedding:
    n, indptr, indices, data, degree = _core.adjacency(net.core)
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
    return Embedding(active, vecs[:, top] * inv[:, None], w[top])


def _dense_embedding(net: Network, k: int) -> Embedding:

    g = build_graph(net)
    active = np.flatnonzero(g.degree > 0)
    a = g.normalized_adjacency()[active][:, active].toarray()
    w, vecs = np.linalg.eigh(a)
    top = np.argsort(-w, kind="stable")[:k]
    x = vecs[:, top] / np.sqrt(g.degree[active])[:, None]
    return Embedding(active, x, w[top])


def spectral_embedding(
    network: Any, k: int = 12, *, random_state: Any = 0, eigen_solver: str = "arpack"
) -> Embedding:
    """The spectral embedding that :func:`cluster` runs k-means on.

    ``eigen_solver="arpack"`` uses SciPy; ``"lanczos"`` the Rust solver.
    """
    seed = check_random_state(random_state)
    check("eigen_solver", eigen_solver)
    net = as_graph(network)
    k = check_k(k, _n_active(net))
    if eigen_solver == "arpack":
        return _arpack_embedding(net, k, seed, 0)
    ids, x, s = _core.observed_embedding(net.core, k, seed)
    return Embedding(np.asarray(ids), np.asarray(x), np.asarray(s))


def spectral_partition(
    net: Network,
    *,
    k: int,
    n_init: int,
    seed: int,
    eigen_solver: str = "lanczos",
    stream: int = 0,
    null: bool = False,
) -> np.ndarray:
    """Labels of every neuron (``-1`` for isolated ones) of a validated network.

    ``stream``/``null`` name the random stream (observed network: stream 0;
    null sample ``i``: ``null=True, stream=i``), as in the Rust null pipeline.
    ``n_init`` may be an :class:`AutoRestarts` (the stopping rule, capped there).
    """
    auto = isinstance(n_init, AutoRestarts)
    if eigen_solver == "lanczos":
        if null:
            labels, _ = _core.null_labels(net.core, k, n_init, seed, stream, auto=auto)
        elif stream == 0:
            labels, _ = _core.observed_labels(net.core, k, n_init, seed, auto=auto)
        else:
            raise ValueError("an observed network is clustered with stream 0")
        return np.asarray(labels, dtype=np.int64)
    check("eigen_solver", eigen_solver)
    emb = _arpack_embedding(net, k, seed, stream + (1 << 32 if null else 0))
    km_labels, *_ = _core.kmeans(
        np.ascontiguousarray(emb.x),
        k,
        n_init,
        seed=seed,
        stream=stream + (1 << 32 if null else 0),
        auto=auto,
    )
    labels = np.full(net.n_nodes, -1, dtype=np.int64)
    labels[emb.node_ids] = np.asarray(km_labels)
    return labels


def cluster(
    network: Any,
    k: int = 12,
    *,
    n_init: int | str | None = None,
    random_state: Any = 0,
    eigen_solver: str = "lanczos",
    normalize: bool = False,
) -> np.ndarray:
    """Partition a network's neurons by normalized spectral clustering.

    Parameters
    ----------
    network:
        Weight matrices ``W1 … WL`` of shapes ``(n_{l-1}, n_l)`` (NumPy float32/64
        or SciPy sparse), a ``torch.nn.Module`` of Linear layers, a checkpoint, or a
        :class:`modcut.Network` with skips (in memory or a ``.npz`` written by
        :meth:`~modcut.Network.save`; :func:`modcut.readers.load.as_graph`).
    k:
        Number of clusters, ``2 ≤ k ≤`` number of non-isolated neurons.
    n_init:
        k-means restarts (best inertia kept): an int ≥ 1, ``None`` (default: the
        reference's, :func:`default_n_init`) or ``"auto"`` (the stopping rule of
        :class:`AutoRestarts`, capped at the default); the rule ``RULES["n_init"]``
        of :mod:`modcut._params`.
    random_state:
        Seed (int); the same seed gives the same labels.
    eigen_solver:
        ``"lanczos"`` (Rust) or ``"arpack"`` (SciPy).
    normalize:
        Cluster the network after the authors' weight normalisation
        (:mod:`modcut.normalize`; default ``False``, the 2021 paper's).

    Returns
    -------
    labels : ndarray of int64, shape ``(n_nodes,)``
        Cluster of every neuron in layer order (input neurons first), in
        ``0 … k-1``; ``-1`` for isolated neurons.
    """
    seed = check_random_state(random_state)
    check("eigen_solver", eigen_solver)
    net = normalized(network, normalize)
    n_active = _n_active(net)
    k = check_k(k, n_active)
    n_init = resolve_n_init(n_init, n_active)
    return spectral_partition(net, k=k, n_init=n_init, seed=seed, eigen_solver=eigen_solver)
