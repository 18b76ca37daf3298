"""General networks: node groups joined by weight matrices (method.md §1).

A layered network is a chain of neuron layers. A network with skips,
concatenations or parallel branches is a *group network*: node groups (the
network's input and the outputs of every weight layer) and edge groups, each a
weight matrix ``(inputs × outputs)`` from one node group to another. The graph
has one node per neuron of every group and an edge of weight ``|w|`` for every
entry; parallel edge groups between the same two groups add up.

A group network whose edge groups form the chain ``0 → 1 → … → L`` is exactly a
layered network (:meth:`GroupNetwork.to_network`); every other one is analysed by
the general path of the Rust core (the bipartite SVD shortcut when the group
graph is 2-colourable, otherwise a block Lanczos on the whole normalized
adjacency).

Node ids are global, in group order: group 0's neurons first, then group 1's, …
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from modcut._core import CoreNetwork
from modcut._layers import layer_offsets
from modcut._validate import Network, _layer_to_csr, network_from_matrices

__all__ = ["EdgeGroup", "GroupNetwork", "NodeGroup", "as_group_network"]


@dataclass(frozen=True)
class NodeGroup:
    """A group of neurons.

    Attributes
    ----------
    name: what produced the group (``"input"`` or a module's qualified name).
    size: number of neurons (units, or channels of a convolution).
    kind: ``"input"``, ``"Linear"``, ``"Conv2d"``, ``"Conv1D"`` or ``"group"``.
    """

    name: str
    size: int
    kind: str = "group"


@dataclass(frozen=True)
class EdgeGroup:
    """A weight matrix from node group ``src`` to node group ``dst``.

    Attributes
    ----------
    src, dst: group indices (``src != dst``).
    weights: ``csr_array`` float64 of shape ``(size[src], size[dst])``, signed
        weights (the graph uses ``|w|``); shuffled as one matrix in null samples.
    name: the weight layer it comes from.
    """

    src: int
    dst: int
    weights: sp.csr_array
    name: str = ""


@dataclass(frozen=True)
class GroupNetwork:
    """Node groups and the weight matrices between them.

    Build one with :func:`modcut.network_graph` (from a PyTorch model),
    :func:`modcut.mlp_blocks` or :meth:`GroupNetwork.from_edges`.

    :attr:`core` is the Rust core's validated copy, built once (on first use) and
    passed to every ``modcut._core`` call. A ``GroupNetwork`` pickles as its
    groups and matrices only; the handle is rebuilt on first use after unpickling.
    """

    groups: tuple[NodeGroup, ...]
    edges: tuple[EdgeGroup, ...]

    # --- the Rust handle ----------------------------------------------------------
    @cached_property
    def core(self) -> CoreNetwork:
        """The Rust core's validated copy (:class:`modcut._core.CoreNetwork`).

        Built once from the groups and matrices (which it checks: CSR structure,
        finite weights, shapes, canonical rows, node ids that fit int32)."""
        return CoreNetwork(list(self.sizes), self._core_edges())

    def __getstate__(self) -> dict[str, Any]:
        # the cached handle is left out: it would pickle a second copy of every matrix
        return {k: v for k, v in self.__dict__.items() if k != "core"}

    @classmethod
    def from_core(cls, like: GroupNetwork, core: CoreNetwork) -> GroupNetwork:
        """Wrap a handle the Rust core returned (a shuffle, a reduction) with the names
        and kinds of ``like``'s groups and edge groups: trusted input, not re-checked.
        The handle becomes the result's :attr:`core`."""
        groups = tuple(
            NodeGroup(gr.name, int(s), gr.kind)
            for gr, s in zip(like.groups, core.sizes, strict=True)
        )
        edges = tuple(
            EdgeGroup(
                int(src), int(dst), sp.csr_array((data, indices, indptr), shape=(r, c)), e.name
            )
            for e, (src, dst, r, c, indptr, indices, data) in zip(
                like.edges, core.edges(), strict=True
            )
        )
        out = cls(groups, edges)
        out.__dict__["core"] = core  # what cached_property stores; frozen allows no setattr
        return out

    # --- construction -------------------------------------------------------------
    @classmethod
    def from_edges(
        cls,
        groups: Sequence[tuple[str, int] | NodeGroup | int],
        edges: Sequence[tuple[int, int, Any] | tuple[int, int, Any, str] | EdgeGroup],
    ) -> GroupNetwork:
        """Validate and build a group network.

        Parameters
        ----------
        groups:
            ``(name, size)`` pairs, :class:`NodeGroup` or plain sizes.
        edges:
            ``(src, dst, W)`` or ``(src, dst, W, name)`` with ``W`` of shape
            ``(size[src], size[dst])`` (NumPy or SciPy sparse), or :class:`EdgeGroup`.

        Raises
        ------
        ValueError
            Bad group indices, a self-loop, shapes that do not match the groups,
            NaN/inf weights, no edge groups or all weights zero.
        """
        gs: list[NodeGroup] = []
        for i, g in enumerate(groups):
            if isinstance(g, NodeGroup):
                gs.append(g)
            elif isinstance(g, (int, np.integer)) and not isinstance(g, bool):
                gs.append(NodeGroup(f"group{i}", int(g)))
            else:
                name, size = g  # type: ignore[misc]
                gs.append(NodeGroup(str(name), int(size)))
        for i, g in enumerate(gs):
            if g.size < 1:
                raise ValueError(f"node group {i} ({g.name!r}) has size {g.size}; need ≥ 1")
        es: list[EdgeGroup] = []
        for e_i, e in enumerate(edges):
            if isinstance(e, EdgeGroup):
                src, dst, w, name = e.src, e.dst, e.weights, e.name
            else:
                src, dst, w = e[0], e[1], e[2]
                name = str(e[3]) if len(e) > 3 else f"edge{e_i}"
            for end in (src, dst):
                if not isinstance(end, (int, np.integer)) or not 0 <= int(end) < len(gs):
                    raise ValueError(
                        f"edge group {e_i} ({name!r}) names group {end!r}; "
                        f"there are {len(gs)} groups"
                    )
            if src == dst:
                raise ValueError(f"edge group {e_i} ({name!r}) joins group {src} to itself")
            m = _layer_to_csr(w, e_i)
            want = (gs[src].size, gs[dst].size)
            if m.shape != want:
                raise ValueError(
                    f"edge group {e_i} ({name!r}) has shape {m.shape} but joins "
                    f"{gs[src].name!r} ({want[0]}) to {gs[dst].name!r} ({want[1]})"
                )
            es.append(EdgeGroup(int(src), int(dst), m, name))
        if not es:
            raise ValueError("a network needs at least one weight matrix")
        if all(e.weights.count_nonzero() == 0 for e in es):
            raise ValueError("all weights are zero: the network has no edges")
        return cls(tuple(gs), tuple(es))

    @classmethod
    def from_network(cls, network: Any, names: Sequence[str] | None = None) -> GroupNetwork:
        """The chain ``0 → 1 → … → L`` of a layered network."""
        from modcut.load import as_network  # the one input path (files, modules, matrices)

        net = as_network(network)
        names = list(names) if names is not None else [f"layer{i}" for i in range(len(net.widths))]
        groups = [
            NodeGroup(names[i], w, "input" if i == 0 else "group") for i, w in enumerate(net.widths)
        ]
        edges = [EdgeGroup(i, i + 1, m, names[i + 1]) for i, m in enumerate(net.layers)]
        return cls(tuple(groups), tuple(edges))

    # --- structure ----------------------------------------------------------------
    @property
    def sizes(self) -> tuple[int, ...]:
        """Neurons per group."""
        return tuple(g.size for g in self.groups)

    @property
    def widths(self) -> tuple[int, ...]:
        """Alias of :attr:`sizes` (the name layered networks use)."""
        return self.sizes

    @property
    def n_nodes(self) -> int:
        return int(sum(self.sizes))

    @property
    def offsets(self) -> np.ndarray:
        """Global id of each group's first neuron, plus the total: shape ``(G + 1,)``."""
        return layer_offsets(self.sizes)

    def node_group(self) -> np.ndarray:
        """Group index of every neuron, shape ``(n_nodes,)``."""
        return np.repeat(np.arange(len(self.groups)), self.sizes)

    def node_index(self) -> np.ndarray:
        """Index of every neuron within its group, shape ``(n_nodes,)``."""
        return np.concatenate([np.arange(s) for s in self.sizes])

    node_layer = node_group

    def is_chain(self) -> bool:
        """True when the edge groups are exactly ``0 → 1``, ``1 → 2``, …, in order."""
        return len(self.edges) == len(self.groups) - 1 and all(
            e.src == i and e.dst == i + 1 for i, e in enumerate(self.edges)
        )

    def to_network(self) -> Network:
        """The layered :class:`modcut.Network` of a chain (ValueError otherwise)."""
        if not self.is_chain():
            raise ValueError(
                "this group network is not a chain (it has skips, concatenations or parallel "
                "edge groups); analyse it as a GroupNetwork"
            )
        return network_from_matrices([e.weights for e in self.edges])

    def colouring(self) -> np.ndarray | None:
        """A 2-colouring of the groups (0/1 per group) along edge groups with a non-zero
        weight, or ``None`` when the group graph has an odd cycle (not bipartite)."""
        adj: list[list[int]] = [[] for _ in self.groups]
        for e in self.edges:
            if e.weights.count_nonzero():
                adj[e.src].append(e.dst)
                adj[e.dst].append(e.src)
        colour = np.full(len(self.groups), -1, dtype=np.int64)
        for start in range(len(self.groups)):
            if colour[start] >= 0:
                continue
            colour[start] = 0
            stack = [start]
            while stack:
                g = stack.pop()
                for h in adj[g]:
                    if colour[h] < 0:
                        colour[h] = 1 - colour[g]
                        stack.append(h)
                    elif colour[h] == colour[g]:
                        return None
        return colour

    def is_bipartite(self) -> bool:
        """Whether the neuron graph is bipartite by its group structure (no odd cycle of groups)."""
        return self.colouring() is not None

    def adjacency(self) -> sp.csr_array:
        """Symmetric ``|w|`` adjacency over all neurons (group order), shape ``(n, n)``;
        parallel edge groups add up; no zeros stored."""
        off = self.offsets
        n = self.n_nodes
        rows, cols, vals = [], [], []
        for e in self.edges:
            c = e.weights.tocoo()
            keep = c.data != 0
            r, q, v = c.row[keep] + off[e.src], c.col[keep] + off[e.dst], np.abs(c.data[keep])
            rows += [r, q]
            cols += [q, r]
            vals += [v, v]
        a = sp.csr_array(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
        )
        a.sum_duplicates()
        a.sort_indices()
        return a

    def degree(self) -> np.ndarray:
        """Weighted degree ``Σ |w|`` of every neuron, shape ``(n_nodes,)``."""
        return np.asarray(self.adjacency().sum(axis=1)).ravel()

    def _core_edges(self) -> list[tuple[int, int, int, int, Any, Any, Any]]:
        """Each edge group as ``(src, dst, rows, cols, indptr, indices, data)``, the form
        `modcut._core.CoreNetwork(sizes, edges)` takes."""
        return [
            (
                e.src,
                e.dst,
                int(e.weights.shape[0]),
                int(e.weights.shape[1]),
                e.weights.indptr.astype(np.int64, copy=False),
                e.weights.indices.astype(np.int32, copy=False),
                e.weights.data.astype(np.float64, copy=False),
            )
            for e in self.edges
        ]

    def with_weights(self, weights: Sequence[sp.csr_array]) -> GroupNetwork:
        """The same structure with new edge-group matrices (e.g. a shuffle)."""
        return GroupNetwork(
            self.groups,
            tuple(
                EdgeGroup(e.src, e.dst, w, e.name) for e, w in zip(self.edges, weights, strict=True)
            ),
        )

    def save(self, path: Any) -> None:
        """Write the network to a ``.npz`` file (no pickle) that :meth:`load`, every
        public function (:func:`modcut.cluster`, :func:`modcut.clusterability`, …) and
        ``modcut analyze`` read (:func:`modcut.load.as_graph` recognises it)."""
        arrays: dict[str, Any] = {
            "__modcut_groups__": np.array(1),
            "group_names": np.array([g.name for g in self.groups]),
            "group_kinds": np.array([g.kind for g in self.groups]),
            "group_sizes": np.array(self.sizes, dtype=np.int64),
            "edge_ends": np.array([[e.src, e.dst] for e in self.edges], dtype=np.int64),
            "edge_names": np.array([e.name for e in self.edges]),
        }
        for i, e in enumerate(self.edges):
            arrays[f"e{i}_indptr"] = e.weights.indptr
            arrays[f"e{i}_indices"] = e.weights.indices
            arrays[f"e{i}_data"] = e.weights.data
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: Any) -> GroupNetwork:
        """Read a file written by :meth:`save` (:func:`modcut.load.read_group_graph`:
        :class:`modcut.NetworkFileError`, a ``ValueError``, for other or damaged files)."""
        from modcut.load import read_group_graph

        return read_group_graph(path)

    def summary(self) -> str:
        """A readable table of the node groups and the edge groups."""
        lines = [
            f"GroupNetwork: {len(self.groups)} node groups, {self.n_nodes} neurons, "
            f"{len(self.edges)} edge groups; "
            + (
                "chain"
                if self.is_chain()
                else "bipartite"
                if self.is_bipartite()
                else "not bipartite (odd cycles)"
            ),
            "node groups:",
        ]
        wid = max(len(g.name) for g in self.groups)
        for i, g in enumerate(self.groups):
            lines.append(f"  [{i:>3}] {g.name:<{wid}}  {g.kind:<7} {g.size:>6} neurons")
        lines.append("edge groups (src -> dst: shape, non-zeros, Σ|w|):")
        for e in self.edges:
            m = e.weights
            lines.append(
                f"  {self.groups[e.src].name} -> {self.groups[e.dst].name}: "
                f"{m.shape[0]}×{m.shape[1]}, {m.count_nonzero()} non-zero, "
                f"Σ|w| = {np.abs(m.data).sum():.6g}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"GroupNetwork({len(self.groups)} groups, {self.n_nodes} neurons, "
            f"{len(self.edges)} edge groups)"
        )


def as_group_network(obj: Any) -> GroupNetwork:
    """A :class:`GroupNetwork` as is, or the chain of a layered network."""
    if isinstance(obj, GroupNetwork):
        return obj
    return GroupNetwork.from_network(obj)
