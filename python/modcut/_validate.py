"""The checks of arguments shared by the whole package (arrays and SciPy only).

:class:`~modcut.network.Network` and :func:`~modcut.network.network_from_matrices`
live in :mod:`modcut.network` and are re-exported here for older imports.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modcut._params import RULES, check, count_rule
from modcut.network import Network, network_from_matrices

__all__ = [
    "Network",
    "check_count",
    "check_labels",
    "check_n_jobs",
    "check_random_state",
    "network_from_matrices",
]


def check_count(name: str, value: Any, minimum: int | None = None) -> int:
    """A count (Python int or NumPy integer, not bool): the rule ``RULES[name]`` of
    :mod:`modcut._params`, or an int ``≥ minimum`` when ``minimum`` is given."""
    if minimum is None:
        return int(check(name, value))
    return int(count_rule(minimum).check(name, value))


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
    RULES["random_state"].check("random_state", random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63))
    return int(random_state)


def check_n_jobs(n_jobs: int | None) -> int:
    """Threads for the Rust core: -1 or None = all cores, otherwise ≥ 1. Returns 0 for 'all'."""
    check("n_jobs", n_jobs)
    return 0 if n_jobs is None or n_jobs == -1 else int(n_jobs)
