"""The validated network and the checks shared by the whole package.

This is the lowest module of the package: it knows arrays and SciPy sparse
matrices only (never files, torch or the harness; :mod:`modcut.load` turns
those into matrices). :func:`network_from_matrices` takes

* a sequence of 2-D weight matrices ``W1 … WL`` where ``Wl`` has shape
  ``(n_{l-1}, n_l)`` (rows = inputs, columns = outputs), each a NumPy array
  (float or integer) or a SciPy sparse matrix/array (kept sparse);
* a :class:`Network` (already validated, returned as is).

The result is a :class:`Network`: canonical CSR float64 matrices plus the
Rust core's handle on them (:class:`modcut._core.CoreNetwork`), built once and
passed to every call into the core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from modcut._core import CoreNetwork
from modcut._layers import layer_offsets

__all__ = [
    "Network",
    "check_count",
    "check_labels",
    "check_n_jobs",
    "check_random_state",
    "network_from_matrices",
]


@dataclass(frozen=True)
class Network:
    """A validated layered network.

    Attributes
    ----------
    layers:
        ``L`` SciPy ``csr_array`` of dtype float64; ``layers[l]`` has shape
        ``(widths[l], widths[l + 1])``. Stored entries may include zeros.
    widths:
        Neurons per layer, ``(n0, n1, …, nL)``, input layer first.
    core:
        The Rust core's validated copy (:class:`modcut._core.CoreNetwork`), the
        argument of every ``modcut._core`` function.
    provenance:
        Where the network came from, as plain JSON-able data: ``source`` (a
        path or a description such as ``"weight matrices"``), ``kind``
        (``"matrices"``, ``"npz"``, ``"npy"``, ``"checkpoint"``, ``"module"``,
        ``"shuffle"``) and, for checkpoints, ``dataset``, ``metrics``,
        ``config`` and ``data_root``. Results carry it
        (:attr:`modcut.ClusterabilityResult.provenance`).

    A ``Network`` pickles as its matrices and provenance; unpickling rebuilds
    (and re-validates) the Rust handle, so it can be sent to other processes.
    """

    layers: tuple[sp.csr_array, ...]
    widths: tuple[int, ...]
    core: CoreNetwork = field(repr=False, compare=False)
    provenance: dict[str, Any] = field(default_factory=dict, compare=False)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.layers, self.provenance))

    @property
    def n_nodes(self) -> int:
        """Total number of neurons (input pixels and outputs included)."""
        return int(sum(self.widths))

    @property
    def offsets(self) -> np.ndarray:
        """Global id of the first neuron of each layer, plus the total: shape ``(L + 2,)``."""
        return layer_offsets(self.widths)

    def node_layer(self) -> np.ndarray:
        """Layer index of every neuron, shape ``(n_nodes,)``."""
        return np.repeat(np.arange(len(self.widths)), self.widths)

    def node_index(self) -> np.ndarray:
        """Index of every neuron within its layer, shape ``(n_nodes,)``."""
        return np.concatenate([np.arange(w) for w in self.widths])

    @classmethod
    def from_core(cls, core: CoreNetwork, provenance: dict[str, Any] | None = None) -> Network:
        """Wrap a handle the Rust core returned (a shuffle, a reduction): trusted input."""
        mats = tuple(
            sp.csr_array((data, indices, indptr), shape=(rows, cols))
            for rows, cols, indptr, indices, data in core.layers()
        )
        return cls(mats, tuple(int(w) for w in core.widths), core, dict(provenance or {}))

    def to_dense(self) -> list[np.ndarray]:
        """The weight matrices as dense float64 arrays."""
        return [m.toarray() for m in self.layers]


def _layer_to_csr(w: Any, index: int) -> sp.csr_array:
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
        m = sp.csr_array(arr.astype(np.float64, copy=False))
    if not np.all(np.isfinite(m.data)):
        raise ValueError(f"weight matrix {index} contains NaN or infinite values")
    if m.shape[0] == 0 or m.shape[1] == 0:
        raise ValueError(f"weight matrix {index} has an empty shape {m.shape}")
    return m


def _core_layers(
    layers: Sequence[sp.csr_array],
) -> list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]]:
    return [
        (
            int(m.shape[0]),
            int(m.shape[1]),
            m.indptr.astype(np.int64, copy=False),
            m.indices.astype(np.int32, copy=False),
            m.data.astype(np.float64, copy=False),
        )
        for m in layers
    ]


def _rebuild(layers: tuple[sp.csr_array, ...], provenance: dict[str, Any]) -> Network:
    """Unpickle a :class:`Network`: rebuild its Rust handle."""
    widths = (int(layers[0].shape[0]), *(int(m.shape[1]) for m in layers))
    return Network(tuple(layers), widths, CoreNetwork.chain(_core_layers(layers)), dict(provenance))


def network_from_matrices(network: Any, provenance: dict[str, Any] | None = None) -> Network:
    """Validate a sequence of weight matrices and return it as a :class:`Network`.

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
    layers = tuple(_layer_to_csr(w, i) for i, w in enumerate(network))
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
    prov = dict(provenance) if provenance else {"source": "weight matrices", "kind": "matrices"}
    return Network(layers, widths, CoreNetwork.chain(_core_layers(layers)), prov)


def check_count(name: str, value: Any, minimum: int) -> int:
    """An integer argument (Python int or NumPy integer, not bool) ``≥ minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return int(value)


def check_labels(labels: Any, n_nodes: int) -> np.ndarray:
    """Validate cluster labels: integers ≥ -1, one per neuron. Returns int64 array."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"labels must be 1-D (one per neuron), got shape {arr.shape}")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        if (
            np.issubdtype(arr.dtype, np.floating)
            and np.all(np.isfinite(arr))
            and np.all(arr == np.round(arr))
        ):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"labels must be integers, got dtype {arr.dtype}")
    if arr.shape[0] != n_nodes:
        raise ValueError(
            f"labels has length {arr.shape[0]} but the network has {n_nodes} neurons "
            "(all layers, inputs and outputs included)"
        )
    if arr.size and arr.min() < -1:
        raise ValueError("labels must be ≥ -1 (-1 marks unclustered neurons)")
    return arr.astype(np.int64, copy=False)


def check_random_state(random_state: Any) -> int:
    """A seed for the Rust core: an int in [0, 2**64) or a numpy Generator (one draw)."""
    if random_state is None:
        raise ValueError(
            "random_state=None is not allowed: modcut results must be reproducible; pass an int"
        )
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63))
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(
        random_state, (int, np.integer)
    ):
        raise TypeError(f"random_state must be an int, got {type(random_state).__name__}")
    if not 0 <= int(random_state) < 2**64:
        raise ValueError("random_state must be in [0, 2**64)")
    return int(random_state)


def check_n_jobs(n_jobs: int | None) -> int:
    """Threads for the Rust core: -1 or None = all cores, otherwise ≥ 1. Returns 0 for 'all'."""
    if n_jobs is None or n_jobs == -1:
        return 0
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive int or -1 (all cores), got {n_jobs!r}")
    return int(n_jobs)
