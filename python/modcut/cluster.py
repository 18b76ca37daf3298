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
from scipy.optimize import linear_sum_assignment
from scipy.sparse.linalg import eigsh, svds

from modcut import _core
from modcut._layers import split_by_layer
from modcut._params import EIGEN_SOLVERS as EIGEN_SOLVERS  # re-export
from modcut._params import check
from modcut._params import check_k as _check_k
from modcut._validate import check_random_state
from modcut.graph import build_graph
from modcut.network import Network, as_graph, network_from_matrices
from modcut.normalize import normalized

__all__ = [
    "AutoRestarts",
    "Embedding",
    "align_labels",
    "check_k",
    "cluster",
    "default_n_init",
    "local_partition",
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
    local: bool = False,
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
    local:
        Layer-local clustering (:func:`local_partition`: every 3-layer slice of a layered
        network clustered on its own with as many clusters as its middle layer has in the
        global partition, labels aligned across slices by the Hungarian method).

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
    check("local", local)
    if local:
        return local_partition(net, k, n_init=n_init, seed=seed, eigen_solver=eigen_solver)
    return spectral_partition(net, k=k, n_init=n_init, seed=seed, eigen_solver=eigen_solver)


# --------------------------------------------------------------------------- local clustering
# Layer-local clustering (issue 20, item 5; Hod et al. 2021,
# ``local_specialization/src/local_clustering.py``).
#
# Instead of one partition of the whole network, every 3-layer slice ``(l-1, l, l+1)`` of a
# layered network (the two weight matrices around neuron layer ``l``) is clustered on its
# own, and layer ``l`` takes its labels from its slice (the first slice also labels the input
# layer, the last one the output layer). With ``layerwise=True`` (the reference's
# ``local_layerwise`` default) a slice gets as many clusters as its middle layer has in the
# network's global partition; otherwise ``k``. Labels of different slices are independent,
# so they are aligned by the Hungarian method (``scipy.optimize.linear_sum_assignment``):
# slice ``l + 1``'s clusters are matched to slice ``l``'s by the neurons both label (layers
# ``l`` and ``l + 1``), most shared neurons first; unmatched clusters get fresh ids. The
# result is one partition of the network, which :func:`modcut.ncut` scores like any other.
#
# ``modcut.cluster(w, k, local=True)`` and ``modcut.clusterability(w, k, local=True)`` use it;
# in the null every shuffle is clustered locally in the same way (its slices with the null
# sample's random stream), so observed and null n-cuts are comparable.


def align_labels(reference: np.ndarray, labels: np.ndarray, start: int) -> np.ndarray:
    """``labels`` renamed to agree with ``reference`` on their common prefix.

    ``reference`` labels the first ``len(reference)`` items of ``labels``; the clusters of
    ``labels`` are matched to ``reference``'s by the Hungarian method on the items both
    label (≥ 0), most shared items first, and every item of ``labels`` is renamed by that
    matching; a cluster without a match gets a fresh id from ``start`` on. ``-1`` stays."""
    n = reference.shape[0]
    head = labels[:n]
    both = (reference >= 0) & (head >= 0)
    ref_ids, lab_ids = np.unique(reference[both]), np.unique(labels[labels >= 0])
    mapping: dict[int, int] = {}
    if ref_ids.size and lab_ids.size:
        table = np.zeros((lab_ids.size, ref_ids.size))
        np.add.at(
            table,
            (np.searchsorted(lab_ids, head[both]), np.searchsorted(ref_ids, reference[both])),
            1.0,
        )
        rows, cols = linear_sum_assignment(-table)
        mapping = {int(lab_ids[r]): int(ref_ids[c]) for r, c in zip(rows, cols, strict=True)
                   if table[r, c] > 0}  # fmt: skip
    out = np.full_like(labels, -1)
    fresh = start
    for lab in lab_ids:
        if int(lab) not in mapping:
            mapping[int(lab)] = fresh
            fresh += 1
        out[labels == lab] = mapping[int(lab)]
    return out


def local_partition(
    net: Network,
    k: int,
    *,
    n_init: Any,
    seed: int,
    eigen_solver: str = "lanczos",
    stream: int = 0,
    null: bool = False,
    layerwise: bool = True,
) -> np.ndarray:
    """Layer-local labels of every neuron of a layered network (``-1``: isolated in its
    slice), see the module docstring. ``stream``/``null`` name the random streams as
    :func:`~modcut.cluster.spectral_partition` does (every slice draws from them)."""
    if not net.is_chain() or len(net.layers) < 2:
        raise ValueError(
            "local clustering takes a layered network with at least two weight matrices "
            "(each 3-layer slice is clustered on its own)"
        )
    layers = net.layers
    widths = net.widths
    if layerwise:
        whole = spectral_partition(
            net, k=k, n_init=n_init, seed=seed, eigen_solver=eigen_solver, stream=stream, null=null
        )
        per_layer = split_by_layer(whole, widths)
        ks = [
            int(np.unique(per_layer[m][per_layer[m] >= 0]).size) for m in range(1, len(widths) - 1)
        ]
    else:
        ks = [k] * (len(widths) - 2)
    parts: list[np.ndarray] = []  # the slices' labels of layers (l-1, l, l+1)
    for m in range(1, len(widths) - 1):
        sub = network_from_matrices([layers[m - 1], layers[m]])
        n_active = int(np.count_nonzero(sub.degree()))
        k_m = min(max(ks[m - 1], 2), n_active)
        if n_active < 2:
            lab = np.where(sub.degree() > 0, 0, -1).astype(np.int64)
        else:
            lab = spectral_partition(
                sub,
                k=check_k(k_m, n_active),
                n_init=n_init
                if isinstance(n_init, AutoRestarts)
                else resolve_n_init(n_init, n_active),
                seed=seed,
                eigen_solver=eigen_solver,
                stream=stream,
                null=null,
            )
        parts.append(lab)
    # align slice m to slice m-1 on the two layers they share (m and m+1 in layer numbers)
    aligned = [parts[0]]
    next_id = int(parts[0].max(initial=-1)) + 1
    for m in range(1, len(parts)):
        shared_prev = aligned[-1][widths[m - 1] :]  # the previous slice's layers m, m+1
        full = align_labels(shared_prev, parts[m], next_id)
        next_id = max(next_id, int(full.max(initial=-1)) + 1)
        aligned.append(full)
    # layer l from its slice; the input layer from the first, the output from the last
    labels = [split_by_layer(aligned[0], widths[0:3])[0]]
    for m in range(1, len(widths) - 1):
        labels.append(split_by_layer(aligned[m - 1], widths[m - 1 : m + 2])[1])
    labels.append(split_by_layer(aligned[-1], widths[-3:])[2])
    return np.concatenate(labels).astype(np.int64)
