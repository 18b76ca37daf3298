"""Null networks: per-layer shuffles of the weights (method.md §4).

* ``layer`` — permute all entries of each matrix (zeros included);
* ``layer_nonzero`` — keep the zero pattern, permute the non-zero values;
* ``layer_nonzero_distribution`` — keep the zero pattern, draw non-zero values
  from a Gaussian KDE (bandwidth 0.01) of the layer's non-zero values;
* ``layer_all_distribution`` — ``layer`` then ``layer_nonzero_distribution``.

Sample ``i`` of seed ``s`` is drawn from its own ChaCha8 stream ``(s, i)`` in
Rust, so samples never depend on the thread count or on batching.
"""

from __future__ import annotations

from typing import Any

from modcut import _core
from modcut._params import SHUFFLE_METHODS as SHUFFLE_METHODS  # re-export
from modcut._params import check
from modcut._validate import check_count, check_n_jobs, check_random_state
from modcut.network import Network, as_graph

__all__ = ["SHUFFLE_METHODS", "check_method", "shuffle"]


def check_method(method: Any, name: str = "method") -> str:
    """Validate a shuffle method name (the rule ``RULES["shuffle"]`` of :mod:`modcut._params`)."""
    return str(check(name, method, rule="shuffle"))


def shuffle(
    network: Any,
    method: str = "layer_nonzero",
    n_samples: int = 1,
    random_state: Any = 0,
    n_jobs: int | None = -1,
    *,
    start: int = 0,
) -> list[Network]:
    """Shuffled copies of ``network``.

    Parameters
    ----------
    network:
        Weight matrices ``(n_{l-1}, n_l)``, anything :func:`modcut.as_network` takes, or a
        :class:`modcut.Network` with skips (in memory or saved; :func:`modcut.readers.load.as_graph`).
    method:
        One of :data:`SHUFFLE_METHODS`.
    n_samples:
        Number of shuffled networks.
    random_state:
        Seed (int).
    n_jobs:
        Threads; -1 = all cores. Results do not depend on it.
    start:
        Index of the first sample: ``shuffle(..., n_samples=5)[3]`` equals
        ``shuffle(..., n_samples=1, start=3)[0]``.

    Returns
    -------
    list of :class:`modcut.Network`, each with the shapes of ``network``.
    """
    net = as_graph(network)
    method = check_method(method)
    seed = check_random_state(random_state)
    threads = check_n_jobs(n_jobs)
    n_samples = check_count("n_samples", n_samples)
    start = check_count("start", start)
    samples = _core.shuffle(net.core, method, seed, start, n_samples, threads)
    prov = {
        "source": f"'{method}' shuffle of {net.provenance.get('source', '?')}",
        "kind": "shuffle",
    }
    return [Network.from_core(core, prov, like=net, scale=net.core_scale) for core in samples]
