"""Type stubs for :mod:`modcut._core`, the Rust extension.

A network is passed as a list of layers, each ``(rows, cols, indptr, indices, data)``:
a canonical CSR matrix (column indices strictly increasing within each row) with
``rows`` inputs and ``cols`` outputs, ``indptr`` int64, ``indices`` int32, ``data``
float64 (:meth:`modcut._validate.Network.to_core` builds it). Node ids are global and
in layer order: the ``n0`` input neurons first, then layer 1's, and so on.

Every function raises ``ValueError`` for bad input and ``RuntimeError`` for a
numerical failure or an internal error; the GIL is released during the work.
"""

from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray

__version__: str

Layer: TypeAlias = tuple[int, int, NDArray[np.int64], NDArray[np.int32], NDArray[np.float64]]
"""One weight matrix: ``(rows, cols, indptr, indices, data)`` in CSR form."""

Csr: TypeAlias = tuple[int, int, NDArray[np.int64], NDArray[np.int32], NDArray[np.float64]]
"""A sparse matrix ``(nrows, ncols, indptr, indices, data)`` in CSR form."""

# --- graph, cut, shuffle ---

def adjacency(
    layers: list[Layer],
) -> tuple[int, NDArray[np.int64], NDArray[np.int32], NDArray[np.float64], NDArray[np.float64]]:
    """The symmetric weighted adjacency of the network over all neurons.

    Returns ``(n, indptr, indices, data, degree)``: an ``n × n`` CSR matrix with
    ``A[u, v] = |w|`` for the weight joining neurons ``u`` and ``v`` (no zeros
    stored, sorted column indices; isolated neurons have empty rows) and the
    weighted degree ``Σ |w|`` of every neuron.
    """

def degrees(layers: list[Layer]) -> NDArray[np.float64]:
    """Weighted degree ``Σ |w|`` of every neuron (0 for isolated ones), shape ``(n_nodes,)``."""

def reduce_isolated(layers: list[Layer]) -> tuple[list[Layer], NDArray[np.int64]]:
    """Remove the isolated (degree-0) neurons of every layer.

    Returns ``(layers_out, kept)``: the reduced network (widths shrink; stored
    zeros between kept neurons are kept) and the ascending global ids, in the
    input network, of the kept neurons (node ``k`` of the result is ``kept[k]``).

    Raises ``ValueError`` if some layer has no connected neuron left.
    """

def normalized_bipartite(
    layers: list[Layer],
) -> tuple[NDArray[np.int64], NDArray[np.int64], Csr]:
    """The odd-to-even block of ``D^-1/2 A D^-1/2`` over non-isolated neurons.

    Returns ``(even, odd, block)``: ``even`` / ``odd`` are the ascending global ids
    of the non-isolated neurons of even-indexed / odd-indexed layers (layer 0,
    the input, is even); ``block`` is the ``len(even) × len(odd)`` CSR matrix with
    ``block[r, c] = |w| / sqrt(deg[even[r]] * deg[odd[c]])`` for every edge. Its
    singular triplets are the eigenpairs of the (bipartite) normalized adjacency.

    Raises ``ValueError`` if the network has no non-zero weight.
    """

def ncut(
    layers: list[Layer], labels: NDArray[np.int64], eps: float = 1e-8
) -> tuple[float, NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Normalized cut of a partition of the neurons.

    ``labels`` has one int64 entry per neuron (all layers, layer order); ``-1``
    marks an unclustered neuron (edges to it count as leaving a cluster), other
    labels are arbitrary non-negative integers. Returns ``(ncut, cluster_ids,
    cut, volume)`` where, for every non-empty cluster (ascending id), ``cut`` is
    the total ``|w|`` of edges leaving it and ``volume`` the sum of its neurons'
    degrees, and ``ncut = Σ cut / (volume + eps)`` over clusters of positive volume.

    Raises ``ValueError`` for a wrong number of labels, a label below -1, or a
    negative or non-finite ``eps``.
    """

def shuffle(
    layers: list[Layer], method: str, seed: int, start: int, count: int, n_threads: int
) -> list[list[Layer]]:
    """Null networks ``start, start + 1, …, start + count - 1``.

    ``method`` is one of ``"layer"`` (permute all entries, zeros included),
    ``"layer_nonzero"`` (permute the non-zero values among the non-zero
    positions), ``"layer_nonzero_distribution"`` (keep the non-zero positions,
    draw values from a Gaussian KDE, bandwidth 0.01, of the layer's non-zero
    values) or ``"layer_all_distribution"`` (``"layer"``, then
    ``"layer_nonzero_distribution"``); each layer is shuffled independently.
    Sample ``i`` depends only on ``(seed, i)``: the result is the same for any
    ``n_threads`` (0 = all cores) and any split into batches.

    Raises ``ValueError`` for an unknown method.
    """
