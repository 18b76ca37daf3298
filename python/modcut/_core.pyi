"""Type stubs for :mod:`modcut._core`, the Rust extension.

A network is passed as a :class:`CoreNetwork`, the core's validated copy of it, built
once: ``CoreNetwork(sizes, edges)`` from node-group sizes and edge groups
``(src, dst, rows, cols, indptr, indices, data)`` (:attr:`modcut.GroupNetwork.core`),
``CoreNetwork.chain(layers)`` from the layers ``(rows, cols, indptr, indices, data)`` of a
layered network (:func:`modcut.as_network`). Every matrix is a canonical CSR matrix
(column indices strictly increasing within each row), ``indptr`` int64, ``indices``
int32, ``data`` float64. Node ids are global and in group order (for a chain: the
``n0`` input neurons first, then layer 1's, and so on). A *chain* (groups
``0 → 1 → … → L``, edge group ``l`` joining groups ``l`` and ``l + 1``) is recognised by
its structure, whichever constructor built it; every function below takes any network.

Every function raises ``ValueError`` for bad input and ``RuntimeError`` for a
numerical failure or an internal error; the GIL is released during the work.
"""

from typing import TypeAlias

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

__version__: str
# the method's constants (rust/src/null.rs, shuffle.rs, kmeans.rs)
KMEANS_MAX_ITER: int
KMEANS_TOL: float
NCUT_EPS: float
KDE_BANDWIDTH: float
AUTO_ROUND: int
AUTO_PATIENCE: int
AUTO_TOL: float

Layer: TypeAlias = tuple[int, int, NDArray[np.int64], NDArray[np.int32], NDArray[np.float64]]
"""One weight matrix: ``(rows, cols, indptr, indices, data)`` in CSR form."""

Edge: TypeAlias = tuple[
    int, int, int, int, NDArray[np.int64], NDArray[np.int32], NDArray[np.float64]
]
"""One edge group: ``(src, dst, rows, cols, indptr, indices, data)``, a CSR matrix from
group ``src`` (rows) to group ``dst`` (columns)."""

Csr: TypeAlias = tuple[int, int, NDArray[np.int64], NDArray[np.int32], NDArray[np.float64]]
"""A sparse matrix ``(nrows, ncols, indptr, indices, data)`` in CSR form."""

class CoreNetwork:
    """A validated network owned by the Rust core (immutable, thread-safe).

    ``CoreNetwork(sizes, edges)`` checks the CSR structure, finite weights, group
    indices (no self-loops), shapes against the group sizes, canonical rows and that
    node ids fit int32, and raises ``ValueError`` naming the edge group otherwise.
    It pickles as ``(sizes, edges)``.
    """

    def __init__(self, sizes: list[int], edges: list[Edge]) -> None: ...
    @staticmethod
    def chain(layers: list[Layer]) -> CoreNetwork:
        """The layered network of ``layers`` (layer ``l`` joins groups ``l`` and ``l + 1``);
        checks as the constructor, and that the layers chain; errors name the layer."""
    @property
    def is_chain(self) -> bool:
        """Whether the groups form the path ``0 → 1 → … → L`` (a layered network)."""
    @property
    def sizes(self) -> list[int]:
        """Neurons per node group (a reduced network may have empty groups)."""
    @property
    def widths(self) -> list[int]:
        """Neurons per layer ``[n0, n1, …, nL]`` of a chain (the group sizes)."""
    @property
    def n_nodes(self) -> int:
        """Total number of neurons."""
    @property
    def nnz(self) -> list[int]:
        """Stored entries of every edge group (a chain's layers)."""
    def layers(self) -> list[Layer]:
        """A chain's layer list (fresh arrays); ``ValueError`` if not a chain."""
    def edges(self) -> list[Edge]:
        """The edge groups ``(src, dst, rows, cols, indptr, indices, data)`` (fresh arrays)."""

# --- graph, cut, shuffle ---

def adjacency(
    net: CoreNetwork,
) -> tuple[int, NDArray[np.int64], NDArray[np.int32], NDArray[np.float64], NDArray[np.float64]]:
    """The symmetric weighted adjacency of the network over all neurons.

    Returns ``(n, indptr, indices, data, degree)``: an ``n × n`` CSR matrix with
    ``A[u, v] = |w|`` for the weight joining neurons ``u`` and ``v`` (no zeros
    stored, sorted column indices, parallel edge groups summed; isolated neurons have
    empty rows) and the
    weighted degree ``Σ |w|`` of every neuron.
    """

def degrees(net: CoreNetwork) -> NDArray[np.float64]:
    """Weighted degree ``Σ |w|`` of every neuron (0 for isolated ones), shape ``(n_nodes,)``."""

def colouring(net: CoreNetwork) -> list[int] | None:
    """A 2-colouring of the groups (0/1 each) along edge groups with a non-zero weight
    (a chain's: the layer parity), or ``None`` when the group graph has an odd cycle."""

def reduce_isolated(net: CoreNetwork) -> tuple[CoreNetwork, NDArray[np.int64]]:
    """Remove the isolated (degree-0) neurons of every group.

    Returns ``(reduced, kept)``: the reduced network (sizes shrink; stored
    zeros between kept neurons are kept) and the ascending global ids, in the
    input network, of the kept neurons (node ``k`` of the result is ``kept[k]``).

    Raises ``ValueError`` if every weight is zero, or if some layer of a chain has no
    connected neuron left (groups of other networks may become empty).
    """

def normalized_bipartite(
    net: CoreNetwork,
) -> tuple[NDArray[np.int64], NDArray[np.int64], Csr]:
    """The even-to-odd block of ``D^-1/2 A D^-1/2`` over non-isolated neurons.

    Returns ``(even, odd, block)``: ``even`` / ``odd`` are the ascending global ids
    of the non-isolated neurons of the groups of colour 0 / 1 (:func:`colouring`; for
    a chain: even-indexed / odd-indexed layers, layer 0, the input, is even);
    ``block`` is the ``len(even) × len(odd)`` CSR matrix with
    ``block[r, c] = A[u, v] / sqrt(deg[u] * deg[v])`` (``u = even[r]``, ``v = odd[c]``).
    Its singular triplets are the eigenpairs of the (bipartite) normalized adjacency.

    Raises ``ValueError`` if the network is not bipartite or has no non-zero weight.
    """

def ncut(
    net: CoreNetwork, labels: NDArray[np.int64], eps: float = 1e-8
) -> tuple[float, NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Normalized cut of a partition of the neurons.

    ``labels`` has one int64 entry per neuron (all groups, group order); ``-1``
    marks an unclustered neuron (edges to it count as leaving a cluster), other
    labels are arbitrary non-negative integers. Returns ``(ncut, cluster_ids,
    cut, volume)`` where, for every non-empty cluster (ascending id), ``cut`` is
    the total ``|w|`` of edges leaving it and ``volume`` the sum of its neurons'
    degrees, and ``ncut = Σ cut / (volume + eps')`` over clusters of positive volume,
    where ``eps' = eps * min(1, total volume)`` (total volume: the sum of all degrees),
    so the n-cut does not depend on the scale of the weights.

    Raises ``ValueError`` for a wrong number of labels, a label below -1, or a
    negative or non-finite ``eps``.
    """

def shuffle(
    net: CoreNetwork, method: str, seed: int, start: int, count: int, n_threads: int
) -> list[CoreNetwork]:
    """Null networks ``start, start + 1, …, start + count - 1``.

    ``method`` is one of ``"layer"`` (permute all entries, zeros included),
    ``"layer_nonzero"`` (permute the non-zero values among the non-zero
    positions), ``"layer_nonzero_distribution"`` (keep the non-zero positions,
    draw values from a Gaussian KDE, bandwidth 0.01, of the layer's non-zero
    values) or ``"layer_all_distribution"`` (``"layer"``, then
    ``"layer_nonzero_distribution"``); each edge group (a chain's layer) is shuffled
    independently, in order.
    Sample ``i`` depends only on ``(seed, i)``: the result is the same for any
    ``n_threads`` (0 = all cores) and any split into batches.

    Raises ``ValueError`` for an unknown method.
    """

# --- k-means (rust/src/kmeans.rs, py_spectral.rs) ---
# Randomness: stream (seed, CLUSTER, stream); kernels use FMA where the CPU has AVX2+FMA,
# so results are reproducible for a seed on a given machine.

def kmeans(
    x: npt.NDArray[np.float64],
    k: int,
    n_init: int,
    max_iter: int = 300,
    tol: float = 1e-4,
    *,
    seed: int,
    stream: int = 0,
    auto: bool = False,
    n_threads: int = 1,
) -> tuple[npt.NDArray[np.int64], float, npt.NDArray[np.float64], int, int]:
    """k-means as scikit-learn's ``KMeans(init="k-means++", algorithm="lloyd")``.

    ``x`` is a 2-D float64 array (n, d). Greedy k-means++ seeding
    (2 + floor(ln k) local trials), Lloyd iterations until the labels stop
    changing or the total squared center shift is at most
    ``tol * mean(var(x, axis=0))``, at most ``max_iter`` iterations; empty
    clusters are relocated to the farthest points; best of ``n_init`` runs by
    inertia. With ``auto`` the restarts run in rounds of 5 and stop once the best
    inertia has improved by at most 1e-3 (relative) in 2 consecutive rounds, or at
    ``n_init`` (rust/src/kmeans.rs); stopping after m restarts gives exactly the
    result of ``n_init=m``. Returns ``(labels (n,) int64, inertia, centers (k, d),
    n_iter, n_runs)`` (``n_runs``: restarts run). ``n_threads`` other than 1 runs
    the restarts in parallel on that many threads (0 = all cores), same result.
    Requires 1 <= k <= n, n_init >= 1, max_iter >= 1, tol >= 0, finite x.
    """

# --- clustering and the null pipeline (rust/src/null.rs, py_null.rs) ---
# Random streams are fixed by the entry point (rust/src/rng.rs): the observed network
# clusters with stream (seed, CLUSTER, 0), null sample ``i`` with (seed, NULL_CLUSTER, i).

def observed_labels(
    net: CoreNetwork, k: int, n_init: int, seed: int, *, auto: bool = False
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Normalized spectral clustering of every neuron of an observed network.

    Returns ``(labels, eigenvalues)``: ``labels`` has one entry per neuron (group
    order), in ``0 … k-1``, ``-1`` for isolated neurons; ``eigenvalues`` are the k
    largest eigenvalues of ``D^-1/2 A D^-1/2`` (descending). Bipartite networks
    (:func:`colouring`) use the SVD shortcut; others, and bipartite non-chains with
    ``k ≥ min(#even, #odd)`` non-isolated neurons, a block Lanczos on ``(I + N)/2`` per
    connected component (small ones dense); a chain with ``k ≥ min(#even, #odd)`` a
    dense eigendecomposition.

    ``auto``: the k-means restarts stop by the rule of :func:`kmeans`, at most
    ``n_init`` of them. Raises ``ValueError`` if ``k`` is 0 or exceeds the
    non-isolated neurons, or ``n_init`` is 0.
    """

def null_labels(
    net: CoreNetwork, k: int, n_init: int, seed: int, sample: int, *, auto: bool = False
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """As :func:`observed_labels` with null sample ``sample``'s random stream: the
    clustering :func:`null_ncuts` runs on that sample's shuffle."""

def observed_embedding(
    net: CoreNetwork, k: int, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """The embedding :func:`observed_labels` runs k-means on: ``(node_ids (m,), x (m, k),
    eigenvalues (k,))``, rows for the non-isolated neurons, divided by ``sqrt(degree)``:
    colour 0 first on the bipartite paths (a chain's even layers), ascending ids
    otherwise."""

def null_ncuts(
    net: CoreNetwork,
    method: str,
    k: int,
    n_init: int,
    seed: int,
    start: int,
    count: int,
    n_threads: int,
    *,
    auto: bool = False,
    normalize: float | None = None,
) -> NDArray[np.float64]:
    """n-cuts of null samples ``start … start + count - 1`` (``auto``: as in
    :func:`observed_labels`; ``normalize``: the ``eps`` of :func:`normalize`, applied to
    every shuffle before it is clustered and scored, ``None``: not normalised).

    Sample ``i``: shuffle ``net`` with stream ``(seed, shuffle, i)``, cluster it
    with stream ``(seed, null clustering, i)``, score it (eps 1e-8, relative as in :func:`ncut`). Pass the
    network with isolated neurons already removed (:func:`reduce_isolated`);
    neurons a shuffle isolates are left out of the clustering. On ``n_threads``
    threads (0 = all cores): samples in parallel when ``count >= n_threads``, else one
    after another with each sample's k-means restarts in parallel; identical for any
    thread count or chunking.
    """

def normalize(net: CoreNetwork, eps: float) -> CoreNetwork:
    """The authors' normalisation (nn-clustering-pytorch ``normalize_weights_array``): every
    hidden neuron's incoming weights divided by ``c = ‖in‖₂ + eps`` and its outgoing weights
    multiplied by ``c``, hidden groups in group order (rust/src/normalize.rs). A new handle.
    Raises ``ValueError`` unless ``eps`` is finite and > 0."""
