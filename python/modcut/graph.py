"""Network → graph of neurons (method.md §1).

One node per neuron of every layer (inputs and outputs included), an
undirected edge of weight ``|W_l[i, j]|`` between neuron ``i`` of layer
``l-1`` and neuron ``j`` of layer ``l``. Biases are not edges. The Rust core
assembles the symmetric CSR adjacency; this module wraps it as SciPy arrays.
A group network (skips, concatenations) gives the same kind of graph with its
node groups in place of layers (parallel edge groups add up).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from modcut import _core
from modcut.network import as_graph

__all__ = ["Graph", "build_graph"]


@dataclass(frozen=True)
class Graph:
    """The weighted graph of a layered network (or of a group network: "layer" then
    means node group, in group order).

    Attributes
    ----------
    adjacency:
        Symmetric ``csr_array`` of shape ``(n_nodes, n_nodes)``, entries ``|w|``,
        nodes in layer order (layer 0's neurons first).
    degree:
        Weighted degree of every node, shape ``(n_nodes,)``.
    widths:
        Neurons per layer.
    node_layer, node_index:
        Layer of every node and its index within the layer, shape ``(n_nodes,)``.
    """

    adjacency: sp.csr_array
    degree: np.ndarray
    widths: tuple[int, ...]
    node_layer: np.ndarray
    node_index: np.ndarray

    @property
    def n_nodes(self) -> int:
        return int(self.degree.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of undirected edges with non-zero weight."""
        return int(self.adjacency.nnz // 2)

    @property
    def isolated(self) -> np.ndarray:
        """Boolean mask of degree-0 nodes (dead pixels, pruned-away neurons)."""
        return self.degree == 0

    def node(self, i: int) -> tuple[int, int]:
        """``(layer, index within layer)`` of global node ``i``."""
        return int(self.node_layer[i]), int(self.node_index[i])

    def normalized_adjacency(self) -> sp.csr_array:
        """``D^-1/2 A D^-1/2`` (rows and columns of isolated nodes are zero)."""
        with np.errstate(divide="ignore"):
            inv = np.where(self.degree > 0, 1.0 / np.sqrt(self.degree), 0.0)
        d = sp.diags_array(inv)
        return sp.csr_array(d @ self.adjacency @ d)

    def laplacian(self, normed: bool = True) -> sp.csr_array:
        """Graph Laplacian ``D - A`` or, when ``normed``, ``I - D^-1/2 A D^-1/2``
        restricted to non-isolated diagonal entries (as ``scipy.sparse.csgraph``)."""
        if normed:
            eye = sp.diags_array((self.degree > 0).astype(np.float64))
            return sp.csr_array(eye - self.normalized_adjacency())
        return sp.csr_array(sp.diags_array(self.degree) - self.adjacency)


def build_graph(network: Any) -> Graph:
    """Build the graph of ``network`` (any input :func:`modcut.as_network` takes, or a
    :class:`modcut.Network` with skips, in memory or saved: :func:`modcut.readers.load.as_graph`)."""
    net = as_graph(network)
    n, indptr, indices, data, degree = _core.adjacency(net.core)
    adj = sp.csr_array((data, indices, indptr), shape=(n, n))
    return Graph(
        adjacency=adj,
        degree=np.asarray(degree),
        widths=net.widths,
        node_layer=net.node_layer(),
        node_index=net.node_index(),
    )
