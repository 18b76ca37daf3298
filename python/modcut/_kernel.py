"""The calls into the Rust core, one per operation, for any network handle.

The Rust core has one handle, ``CoreNetwork``, for chains and every other network
(``CoreNetwork.chain(layers)`` / ``CoreNetwork(sizes, edges)``), and one function per
operation; this module only builds the handles and passes the calls through.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from modcut import _core


def chain_handle(layers: Sequence[sp.csr_array]) -> Any:
    return _core.CoreNetwork.chain(
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
    return _core.CoreNetwork(sizes, edges)


def adjacency(core: Any) -> Any:
    return _core.adjacency(core)


def degrees(core: Any) -> Any:
    return _core.degrees(core)


def colouring(core: Any) -> list[int] | None:
    return _core.colouring(core)


def reduce_isolated(core: Any) -> tuple[Any, Any]:
    return _core.reduce_isolated(core)


def ncut(core: Any, labels: Any, eps: float) -> Any:
    return _core.ncut(core, labels, eps)


def shuffle(core: Any, method: str, seed: int, start: int, count: int, threads: int) -> Any:
    return _core.shuffle(core, method, seed, start, count, threads)


def observed_labels(core: Any, k: int, n_init: int, seed: int, *, auto: bool) -> Any:
    return _core.observed_labels(core, k, n_init, seed, auto=auto)


def null_labels(core: Any, k: int, n_init: int, seed: int, sample: int, *, auto: bool) -> Any:
    return _core.null_labels(core, k, n_init, seed, sample, auto=auto)


def observed_embedding(core: Any, k: int, seed: int) -> Any:
    return _core.observed_embedding(core, k, seed)


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
    return _core.null_ncuts(core, method, k, n_init, seed, start, count, threads, auto=auto)


def structure(core: Any) -> tuple[list[int], list[Any]]:
    """``(sizes, edges)`` of a handle, edges as ``(src, dst, rows, cols, indptr, indices, data)``."""
    return [int(s) for s in core.sizes], list(core.edges())
