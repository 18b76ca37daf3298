"""Input validation shared by the whole package.

Everything that takes "a network" accepts:

* a sequence of 2-D weight matrices ``W1 … WL`` where ``Wl`` has shape
  ``(n_{l-1}, n_l)`` (rows = inputs, columns = outputs), each a NumPy array
  (float32 or float64) or a SciPy sparse matrix/array;
* a :class:`Network` (already validated);
* a ``torch.nn.Module`` made of ``nn.Linear`` layers (their ``weight`` is
  ``(out, in)`` and is transposed here), or a modcut checkpoint path/dict
  (handled by :mod:`modcut.harness.extract`).

The result is a :class:`Network`: canonical CSR float64 matrices that the Rust
core takes without further copies.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["Network", "as_network", "check_labels", "check_n_jobs", "check_random_state"]


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
    """

    layers: tuple[sp.csr_array, ...]
    widths: tuple[int, ...]

    @property
    def n_nodes(self) -> int:
        """Total number of neurons (input pixels and outputs included)."""
        return int(sum(self.widths))

    @property
    def offsets(self) -> np.ndarray:
        """Global id of the first neuron of each layer, plus the total: shape ``(L + 2,)``."""
        return np.concatenate([[0], np.cumsum(self.widths)]).astype(np.int64)

    def node_layer(self) -> np.ndarray:
        """Layer index of every neuron, shape ``(n_nodes,)``."""
        return np.repeat(np.arange(len(self.widths)), self.widths)

    def node_index(self) -> np.ndarray:
        """Index of every neuron within its layer, shape ``(n_nodes,)``."""
        return np.concatenate([np.arange(w) for w in self.widths])

    def to_core(self) -> list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]]:
        """The layer list in the form ``modcut._core`` takes."""
        return [
            (
                int(m.shape[0]),
                int(m.shape[1]),
                m.indptr.astype(np.int64, copy=False),
                m.indices.astype(np.int32, copy=False),
                m.data.astype(np.float64, copy=False),
            )
            for m in self.layers
        ]

    @classmethod
    def from_core(cls, layers: Sequence[tuple[int, int, Any, Any, Any]]) -> Network:
        """Inverse of :meth:`to_core` (trusted input from the Rust core)."""
        mats = tuple(
            sp.csr_array((data, indices, indptr), shape=(rows, cols))
            for rows, cols, indptr, indices, data in layers
        )
        widths = (int(mats[0].shape[0]), *(int(m.shape[1]) for m in mats))
        return cls(mats, widths)

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


def as_network(network: Any) -> Network:
    """Validate ``network`` and return it as a :class:`Network`.

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
    from modcut.groupnet import GroupNetwork

    if isinstance(network, GroupNetwork):
        return network.to_network()  # a chain; ValueError for skips (use the general path)
    if _is_torch_module(network):
        from modcut.fxgraph import check_chain
        from modcut.harness.extract import extract_weights

        check_chain(network)  # a model with skips is not read as a chain: ValueError
        network = extract_weights(network)
    elif isinstance(network, (str, bytes)) or hasattr(network, "__fspath__"):
        from modcut.harness.extract import extract_weights

        network = extract_weights(network)
    if isinstance(network, np.ndarray) or sp.issparse(network):
        raise TypeError(
            "expected a sequence of weight matrices (one per layer), got a single array; "
            "wrap it in a list: [W]"
        )
    if not isinstance(network, Sequence):
        raise TypeError(
            "expected a sequence of 2-D weight matrices, a torch.nn.Module of Linear layers "
            f"or a checkpoint path, got {type(network).__name__}"
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
    return Network(layers, widths)


def _is_torch_module(obj: Any) -> bool:
    # A torch module can only exist if torch is already imported: never import it here
    # (a multi-second import that users of plain arrays should not pay).
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def check_labels(labels: Any, n_nodes: int) -> np.ndarray:
    """Validate cluster labels: integers ≥ -1, one per neuron. Returns int64 array."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"labels must be 1-D (one per neuron), got shape {arr.shape}")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(
            arr == np.round(arr)
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
