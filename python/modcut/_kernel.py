"""The calls into the Rust core, one per operation, for any network handle.

Transitional: the Rust core still has two handles (``CoreNetwork`` for chains,
``CoreGroupNetwork`` for the rest); this module is the only place that tells
them apart, so that no other module forks on the kind of network.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from modcut import _core


def chain_handle(layers: Sequence[sp.csr_array]) -> Any:
    return _core.CoreNetwork(
        [
            (
                int(m.shape[0]),
                int(m.shape[1]),
                m.indptr.astype(np.int64, copy=False),
                m.indices.astype(np.int32, copy=False),
                m.data.astype(np.float64, copy=False),
            )
            for m in layers
        ]
    )


def group_handle(sizes: list[int], edges: list[Any]) -> Any:
    return _core.CoreGroupNetwork(sizes, edges)


def _chain(core: Any) -> bool:
    return isinstance(core, _core.CoreNetwork)


def adjacency(core: Any) -> Any:
    return _core.adjacency(core) if _chain(core) else _core.g_adjacency(core)


def degrees(core: Any) -> Any:
    return _core.degrees(core) if _chain(core) else _core.g_degrees(core)


def colouring(core: Any) -> list[int] | None:
    if _chain(core):
        return [i % 2 for i in range(len(core.widths))]
    c = _core.g_colouring(core)
    return None if c is None else [int(x) for x in c]  # a Vec<u8> arrives as bytes


def reduce_isolated(core: Any) -> tuple[Any, Any]:
    return _core.reduce_isolated(core) if _chain(core) else _core.g_reduce_isolated(core)


def ncut(core: Any, labels: Any, eps: float) -> Any:
    return _core.ncut(core, labels, eps) if _chain(core) else _core.g_ncut(core, labels, eps)


def shuffle(core: Any, method: str, seed: int, start: int, count: int, threads: int) -> Any:
    f = _core.shuffle if _chain(core) else _core.g_shuffle
    return f(core, method, seed, start, count, threads)


def observed_labels(core: Any, k: int, n_init: int, seed: int, *, auto: bool) -> Any:
    f = _core.observed_labels if _chain(core) else _core.g_observed_labels
    return f(core, k, n_init, seed, auto=auto)


def null_labels(core: Any, k: int, n_init: int, seed: int, sample: int, *, auto: bool) -> Any:
    f = _core.null_labels if _chain(core) else _core.g_null_labels
    return f(core, k, n_init, seed, sample, auto=auto)


def observed_embedding(core: Any, k: int, seed: int) -> Any:
    f = _core.observed_embedding if _chain(core) else _core.g_observed_embedding
    return f(core, k, seed)


def null_ncuts(
    core: Any,
    method: str,
    k: int,
    n_init: int,
    seed: int,
    start: int,
    count: int,
    threads: int,
    *,
    auto: bool,
) -> Any:
    f = _core.null_ncuts if _chain(core) else _core.g_null_ncuts
    return f(core, method, k, n_init, seed, start, count, threads, auto=auto)


def structure(core: Any) -> tuple[list[int], list[Any]]:
    """``(sizes, edges)`` of a handle, edges as ``(src, dst, rows, cols, indptr, indices, data)``."""
    if _chain(core):
        return [int(w) for w in core.widths], [
            (i, i + 1, *layer) for i, layer in enumerate(core.layers())
        ]
    return [int(s) for s in core.sizes], list(core.edges())
