"""The one network type: node groups joined by weight matrices (method.md §1).

A network is node groups (the network's input and the outputs of every weight
layer) and edge groups, each a signed weight matrix ``(inputs × outputs)`` from
one node group to another. The graph has one node per neuron of every group and
an edge of weight ``|w|`` for every entry; parallel edge groups between the same
two groups add up. Node ids are global, in group order: group 0's neurons
first, then group 1's, …

A layered network (an MLP, a CNN read as a chain) is the case whose edge groups
form the path ``0 → 1 → … → L``: :meth:`Network.is_chain`; it has
:attr:`Network.layers` (its weight matrices) and :attr:`Network.widths`. Skips,
concatenations and parallel branches add edge groups between other pairs. Every
function of the package takes any network; the Rust core picks the bipartite
SVD shortcut whenever the group graph is 2-colourable (chains always are).

This is the lowest module of the package with :mod:`modcut._validate`: it knows
arrays and SciPy sparse matrices only (never files, torch or the harness;
:mod:`modcut.readers.load` turns those into networks).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from modcut import _core
from modcut._layers import layer_offsets

__all__ = [
    "EdgeGroup",
    "Network",
    "NodeGroup",
    "as_graph",
    "layer_to_csr",
    "network_from_matrices",
    "register_readers",
]

# The readers that turn every other input (files, checkpoints, torch modules, saved graphs,
# model files) into a Network. The core depends on this interface only; modcut.readers.load
# implements it and registers itself when it is imported, which importing modcut always does
# (the dependency points from the readers to the core, never back).
_READ: Callable[..., Network] | None = None
_READ_SAVED: Callable[[Any], Network] | None = None


def register_readers(read: Callable[..., Network], read_saved: Callable[[Any], Network]) -> None:
    """Install the input readers: ``read(obj, *, part)`` for anything a user has (what
    :func:`as_graph` calls) and ``read_saved(path)`` for a file written by
    :meth:`Network.save`. :mod:`modcut.readers.load` registers its own on import."""
    global _READ, _READ_SAVED
    _READ, _READ_SAVED = read, read_saved


def _readers() -> tuple[Callable[..., Network], Callable[[Any], Network]]:
    if _READ is None or _READ_SAVED is None:
        raise RuntimeError(
            "no input reader is registered: import the modcut package (it registers "
            "modcut.readers.load), not modcut.network alone"
        )
    return _READ, _READ_SAVED


def as_graph(network: Any, *, part: str = "all") -> Network:
    """The dispatch of every public function: ``network`` (anything
    :func:`modcut.readers.load.as_graph` takes) as a :class:`Network`, through the
    registered reader."""
    return _readers()[0](network, part=part)


@dataclass(frozen=True)
class NodeGroup:
    """A group of neurons.

    Attributes
    ----------
    name: what produced the group (``"input"``, ``"layer3"`` or a module's qualified name).
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


def layer_to_csr(w: Any, index: int) -> sp.csr_array:
    """One weight matrix as a canonical ``csr_array`` float64 (sorted indices, no
    duplicates; explicit zeros kept). Raises TypeError for other dtypes and
    ValueError for non-2-D or empty shapes and NaN/inf weights, naming matrix ``index``."""
    if sp.issparse(w):
        if w.ndim != 2:
            raise ValueError(f"weight matrix {index} must be 2-D, got {w.ndim}-D")
        if not (np.issubdtype(w.dtype, np.floating) or np.issubdtype(w.dtype, np.integer)):
            raise TypeError(f"weight matrix {index} has unsupported dtype {w.dtype}")
        m = sp.csr_array(w, dtype=np.float64)
        m.sum_duplicates()
        m.sort_indices()
    else:
        if hasattr(w, "detach") and hasattr(w, "cpu"):  # a torch tensor
            w = w.detach().cpu().numpy()
        arr = np.asarray(w)
        if arr.dtype == object or not (
            np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
        ):
            raise TypeError(
                f"weight matrix {index} has dtype {arr.dtype}; expected float32 or float64"
            )
        if arr.ndim != 2:
            raise ValueError(
                f"weight matrix {index} must be 2-D (inputs × outputs), got shape {arr.shape}"
            )
        m = _dense_to_csr(arr)
    if not np.all(np.isfinite(m.data)):
        raise ValueError(f"weight matrix {index} contains NaN or infinite values")
    if m.shape[0] == 0 or m.shape[1] == 0:
        raise ValueError(f"weight matrix {index} has an empty shape {m.shape}")
    return m


def _dense_to_csr(arr: np.ndarray) -> sp.csr_array:
    """``sp.csr_array(arr.astype(float64))`` built directly: the same arrays (row-major,
    sorted indices, zeros dropped, int32 indices while they fit), without SciPy's COO
    intermediate (two int64 index arrays): a 4096 × 11008 transformer matrix converts in
    a fraction of the time and memory."""
    n, m = arr.shape
    dense = np.ascontiguousarray(arr, dtype=np.float64)  # row-major, as CSR is
    nonzero = dense != 0
    counts = nonzero.sum(axis=1, dtype=np.int64)
    nnz = int(counts.sum())
    itype = np.int32 if max(nnz, m) < 2**31 - 1 else np.int64
    indptr = np.zeros(n + 1, dtype=itype)
    np.cumsum(counts, out=indptr[1:])
    if nnz == n * m:  # every row holds every column
        indices = np.tile(np.arange(m, dtype=itype), n)
        data = dense.reshape(-1)
    else:  # column numbers of the non-zeros, row by row (no int64 COO pair)
        indices = np.broadcast_to(np.arange(m, dtype=itype), (n, m))[nonzero]
        data = dense[nonzero]
    return sp.csr_array((data, indices, indptr), shape=(n, m))


def npz_path(path: Any) -> Path:
    """``path`` with ``.npz`` appended when it has another suffix or none (NumPy's rule for
    ``np.savez``), so that :meth:`Network.save` and :meth:`Network.load` name the same file."""
    p = Path(os.fsdecode(path))
    return p if p.suffix.lower() == ".npz" else p.with_name(p.name + ".npz")


def _chain_names(n: int) -> list[str]:
    return [f"layer{i}" for i in range(n)]


@dataclass(frozen=True, eq=False)
class Network:
    """A validated network: node groups and the weight matrices between them.

    Build one with :func:`modcut.as_network` (matrices, files, checkpoints,
    modules), :func:`modcut.network_graph` (any PyTorch model),
    :func:`modcut.mlp_blocks` or :meth:`Network.from_edges`.

    Attributes
    ----------
    groups:
        The node groups, in node order.
    edges:
        The edge groups (weight matrices), in creation order.
    provenance:
        Where the network came from, as plain JSON-able data: ``source`` (a path
        or a description such as ``"weight matrices"``), ``kind`` (``"matrices"``,
        ``"npz"``, ``"npy"``, ``"checkpoint"``, ``"module"``, ``"shuffle"``, ``"npz
        (groups)"``, ``"graph"``…) and, for checkpoints, ``dataset``, ``metrics``,
        ``config`` and ``data_root``. Results carry it
        (:attr:`modcut.ClusterabilityResult.provenance`).

    :attr:`core` is the Rust core's validated copy, built once (on first use) and
    passed to every call into the core. A network pickles as its groups,
    matrices and provenance; the handle is rebuilt on first use after unpickling,
    so it can be sent to other processes.
    """

    groups: tuple[NodeGroup, ...]
    edges: tuple[EdgeGroup, ...]
    provenance: dict[str, Any] = field(default_factory=dict)

    # --- the Rust handle ----------------------------------------------------------
    @cached_property
    def core(self) -> Any:
        """The Rust core's validated copy (built once; it checks the CSR structure,
        finite weights, shapes, canonical rows and node ids that fit int32).

        Weights whose largest magnitude lies outside ``[2**-400, 2**400]`` are held
        multiplied by ``2**core_scale`` (:attr:`core_scale`, an even power of two, so
        the scaling is exact, and so is its square root in ``D^-1/2``): degree and
        volume sums of weights near the float64 limit would overflow (a network scaled
        by 1e306) and subnormal weights (×1e-315) would lose the spectrum. n-cuts,
        partitions and embeddings do not depend on the scale; every network inside
        that range (all trained ones) is passed as it is."""
        scale = self.core_scale
        edges = self.core_edges()
        if scale:
            edges = [(*e[:6], np.ldexp(e[6], scale)) for e in edges]
        return _core.CoreNetwork(list(self.sizes), edges)

    @cached_property
    def core_scale(self) -> int:
        """The even exponent ``e`` with which :attr:`core` holds the weights ``w · 2**e``:
        0 when the largest ``|w|`` lies in ``[2**-400, 2**400]`` (or there is none),
        else the one that brings it to ``[2**-2, 2**1]``."""
        top = max(
            (float(np.max(np.abs(e.weights.data))) for e in self.edges if e.weights.nnz),
            default=0.0,
        )
        if top == 0.0 or not np.isfinite(top) or 2.0**-400 <= top <= 2.0**400:
            return 0
        exponent = math.frexp(top)[1]  # top = m · 2**exponent, m in [0.5, 1)
        return -2 * (exponent // 2)

    def __getstate__(self) -> dict[str, Any]:
        # the cached handle is left out: it would pickle a second copy of every matrix
        return {k: v for k, v in self.__dict__.items() if k not in ("core", "core_scale")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("provenance", {})

    @classmethod
    def from_core(
        cls,
        core: Any,
        provenance: dict[str, Any] | None = None,
        *,
        like: Network | None = None,
        scale: int = 0,
    ) -> Network:
        """Wrap a handle the Rust core returned (a shuffle, a reduction): trusted input,
        not re-checked. Group and edge-group names and kinds come from ``like`` (a
        network of the same structure), else chain names ``layer0 … layerL``. ``scale``
        is the :attr:`core_scale` of the network the handle came from: the result's
        weights are the handle's times ``2**-scale`` (the user's units). The handle
        becomes the result's :attr:`core`."""
        sizes, core_edges = [int(s) for s in core.sizes], core.edges()
        edges = [
            (
                int(src),
                int(dst),
                sp.csr_array(
                    (np.ldexp(data, -scale) if scale else data, indices, indptr), shape=(r, c)
                ),
            )
            for src, dst, r, c, indptr, indices, data in core_edges
        ]
        if like is not None:
            groups = tuple(
                NodeGroup(gr.name, s, gr.kind) for gr, s in zip(like.groups, sizes, strict=True)
            )
            names = [e.name for e in like.edges]
        else:
            chain = _chain_names(len(sizes))
            groups = tuple(
                NodeGroup(chain[i], s, "input" if i == 0 else "group") for i, s in enumerate(sizes)
            )
            names = [chain[dst] for _, dst, _ in edges]
        out = cls(
            groups,
            tuple(
                EdgeGroup(src, dst, w, name)
                for (src, dst, w), name in zip(edges, names, strict=True)
            ),
            dict(provenance or {}),
        )
        out.__dict__["core"] = core  # what cached_property stores; frozen allows no setattr
        out.__dict__["core_scale"] = scale
        return out

    # --- construction -------------------------------------------------------------
    @classmethod
    def from_edges(
        cls,
        groups: Sequence[tuple[str, int] | NodeGroup | int],
        edges: Sequence[tuple[int, int, Any] | tuple[int, int, Any, str] | EdgeGroup],
        provenance: dict[str, Any] | None = None,
    ) -> Network:
        """Validate and build a network.

        Parameters
        ----------
        groups:
            ``(name, size)`` pairs, :class:`NodeGroup` or plain sizes.
        edges:
            ``(src, dst, W)`` or ``(src, dst, W, name)`` with ``W`` of shape
            ``(size[src], size[dst])`` (NumPy or SciPy sparse), or :class:`EdgeGroup`.
        provenance:
            Stored on the result (default ``{"source": "edge groups", "kind": "groups"}``).

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
            m = layer_to_csr(w, e_i)
            if src == dst:  # edges within one group: each undirected edge once, above the diagonal
                rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
                if m.shape[0] != m.shape[1] or np.any(m.indices <= rows):
                    raise ValueError(
                        f"edge group {e_i} ({name!r}) joins group {src} to itself: its matrix "
                        "must be square and strictly upper triangular (each edge within the "
                        "group once, as (i, j) with i < j; no self-loops); use np.triu(W, 1)"
                    )
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
        prov = dict(provenance) if provenance else {"source": "edge groups", "kind": "groups"}
        return cls(tuple(gs), tuple(es), prov)

    @classmethod
    def from_network(cls, network: Any, names: Sequence[str] | None = None) -> Network:
        """A network (anything :func:`modcut.as_network` takes) with its node groups
        renamed ``names`` (default: as they are)."""
        net = as_graph(network)
        if names is None:
            return net
        names = list(names)
        if len(names) != len(net.groups):
            raise ValueError(f"got {len(names)} names for {len(net.groups)} node groups")
        groups = tuple(NodeGroup(n, g.size, g.kind) for n, g in zip(names, net.groups, strict=True))
        edges = tuple(
            EdgeGroup(e.src, e.dst, e.weights, names[e.dst] if net.is_chain() else e.name)
            for e in net.edges
        )
        return cls(groups, edges, dict(net.provenance))

    # --- structure ----------------------------------------------------------------
    @property
    def sizes(self) -> tuple[int, ...]:
        """Neurons per group."""
        return tuple(g.size for g in self.groups)

    @property
    def widths(self) -> tuple[int, ...]:
        """Neurons per group (per layer for a chain, input layer first)."""
        return self.sizes

    @property
    def n_nodes(self) -> int:
        """Total number of neurons (input pixels and outputs included)."""
        return int(sum(self.sizes))

    @property
    def offsets(self) -> np.ndarray:
        """Global id of the first neuron of each group, plus the total: shape ``(G + 1,)``."""
        return layer_offsets(self.sizes)

    def node_group(self) -> np.ndarray:
        """Group (layer) index of every neuron, shape ``(n_nodes,)``."""
        return np.repeat(np.arange(len(self.groups)), self.sizes)

    node_layer = node_group

    def node_index(self) -> np.ndarray:
        """Index of every neuron within its group, shape ``(n_nodes,)``."""
        return np.concatenate([np.arange(s) for s in self.sizes])

    def is_chain(self) -> bool:
        """True when the edge groups are exactly ``0 → 1``, ``1 → 2``, …, in order: a
        layered network."""
        return len(self.edges) == len(self.groups) - 1 and all(
            e.src == i and e.dst == i + 1 for i, e in enumerate(self.edges)
        )

    @property
    def layers(self) -> tuple[sp.csr_array, ...]:
        """The weight matrices of a chain, ``layers[l]`` of shape ``(widths[l],
        widths[l + 1])`` (ValueError for a network with skips or concatenations)."""
        if not self.is_chain():
            raise ValueError(
                "this network is not a chain (it has skips, concatenations or parallel edge "
                "groups): it has no layers; use .edges"
            )
        return tuple(e.weights for e in self.edges)

    def to_network(self) -> Network:
        """This network, checked to be a chain (ValueError otherwise; kept for code
        written when chains and group networks were two types)."""
        _ = self.layers
        return self

    def to_dense(self) -> list[np.ndarray]:
        """The weight matrices of a chain as dense float64 arrays."""
        return [m.toarray() for m in self.layers]

    def colouring(self) -> np.ndarray | None:
        """A 2-colouring of the groups (0/1 per group) along edge groups with a non-zero
        weight, or ``None`` when the group graph has an odd cycle (not bipartite)."""
        c = _core.colouring(self.core)
        return None if c is None else np.asarray(c, dtype=np.int64)

    def is_bipartite(self) -> bool:
        """Whether the neuron graph is bipartite by its group structure (no odd cycle of groups)."""
        return self.colouring() is not None

    def adjacency(self) -> sp.csr_array:
        """Symmetric ``|w|`` adjacency over all neurons (group order), shape ``(n, n)``;
        parallel edge groups add up; no zeros stored."""
        n, indptr, indices, data, _ = _core.adjacency(self.core)
        data = np.ldexp(data, -self.core_scale) if self.core_scale else data
        return sp.csr_array((data, indices, indptr), shape=(n, n))

    def degree(self) -> np.ndarray:
        """Weighted degree ``Σ |w|`` of every neuron, shape ``(n_nodes,)``."""
        d = np.asarray(_core.degrees(self.core))
        return np.ldexp(d, -self.core_scale) if self.core_scale else d

    def core_edges(self) -> list[tuple[int, int, int, int, Any, Any, Any]]:
        """Each edge group as ``(src, dst, rows, cols, indptr, indices, data)``, the form
        the Rust core takes."""
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

    # --- files ----------------------------------------------------------------------
    def save(self, path: Any) -> Path:
        """Write the network to a ``.npz`` file (no pickle) that :meth:`load`, every
        public function (:func:`modcut.cluster`, :func:`modcut.clusterability`, …) and
        ``modcut analyze`` read (:func:`modcut.readers.load.as_graph` recognises it).
        ``.npz`` is appended to a path without it (as NumPy does); returns the path written."""
        path = npz_path(path)
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
        return path

    @classmethod
    def load(cls, path: Any) -> Network:
        """Read a file written by :meth:`save` (:func:`modcut.readers.load.read_group_graph`:
        :class:`modcut.NetworkFileError`, a ``ValueError``, for other or damaged files);
        ``.npz`` is appended to a path without it, as :meth:`save` does."""
        return _readers()[1](npz_path(path))

    def summary(self) -> str:
        """A readable table of the node groups and the edge groups."""
        lines = [
            f"Network: {len(self.groups)} node groups, {self.n_nodes} neurons, "
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
        if self.is_chain():
            return f"Network(widths={self.widths})"
        return (
            f"Network({len(self.groups)} groups, {self.n_nodes} neurons, "
            f"{len(self.edges)} edge groups)"
        )


def network_from_matrices(network: Any, provenance: dict[str, Any] | None = None) -> Network:
    """Validate a sequence of weight matrices and return it as a chain :class:`Network`.

    Parameters
    ----------
    network:
        ``[W1, …, WL]``, ``Wl`` of shape ``(n_{l-1}, n_l)``: NumPy arrays (or
        anything ``np.asarray`` takes, torch tensors included) or SciPy sparse
        matrices; or a :class:`Network`, returned unchanged.
    provenance:
        Stored on the result (default ``{"source": "weight matrices",
        "kind": "matrices"}``).

    Raises
    ------
    TypeError
        Unsupported container or dtype.
    ValueError
        Fewer than one matrix, non-2-D matrices, shapes that do not chain
        (``W[l].shape[1] != W[l+1].shape[0]``), NaN/inf weights, or a network
        whose weights are all zero.
    """
    if isinstance(network, Network):
        return network
    if isinstance(network, np.ndarray) or sp.issparse(network):
        raise TypeError(
            "expected a sequence of weight matrices (one per layer), got a single array; "
            "wrap it in a list: [W]"
        )
    if not isinstance(network, Sequence):
        raise TypeError(
            "expected a sequence of 2-D weight matrices, a torch.nn.Module, a modcut "
            f"checkpoint or run folder, or a .npz/.npy file, got {type(network).__name__}"
        )
    if len(network) == 0:
        raise ValueError("a network needs at least one weight matrix")
    layers = tuple(layer_to_csr(w, i) for i, w in enumerate(network))
    for i in range(len(layers) - 1):
        a, b = layers[i].shape, layers[i + 1].shape
        if a[1] != b[0]:
            raise ValueError(
                f"weight shapes do not chain: matrix {i} has shape {a} ({a[1]} outputs) but "
                f"matrix {i + 1} has shape {b} ({b[0]} inputs); matrices must be "
                "(inputs, outputs): transpose torch Linear weights"
            )
    if all(m.count_nonzero() == 0 for m in layers):
        raise ValueError("all weights are zero: the network has no edges")
    widths = (int(layers[0].shape[0]), *(int(m.shape[1]) for m in layers))
    names = _chain_names(len(widths))
    prov = dict(provenance) if provenance else {"source": "weight matrices", "kind": "matrices"}
    net = Network(
        tuple(NodeGroup(names[i], w, "input" if i == 0 else "group") for i, w in enumerate(widths)),
        tuple(EdgeGroup(i, i + 1, m, names[i + 1]) for i, m in enumerate(layers)),
        prov,
    )
    _ = net.core  # validate in Rust now, as before (errors at construction, not first use)
    return net
