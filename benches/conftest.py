"""Networks shared by the benchmarks: random layered networks of the study's shapes.

Weights are standard normal; "pruned" networks keep the 10% largest-magnitude
weights of every matrix (as magnitude pruning to 90% sparsity does).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest


def make_network(
    hidden: int,
    n_hidden: int = 4,
    sparsity: float = 0.9,
    seed: int = 0,
    n_in: int = 784,
    n_out: int = 10,
) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    widths = [n_in] + [hidden] * n_hidden + [n_out]
    ws = []
    for a, b in itertools.pairwise(widths):
        w = rng.normal(size=(a, b)) / np.sqrt(a)
        if sparsity > 0:
            cut = np.quantile(np.abs(w), sparsity)
            w[np.abs(w) < cut] = 0.0
        ws.append(w)
    return ws


NETWORKS = {
    "pruned-256": dict(hidden=256, sparsity=0.9),
    "unpruned-256": dict(hidden=256, sparsity=0.0),
    "pruned-1024": dict(hidden=1024, sparsity=0.9),
}


@pytest.fixture(scope="session", params=list(NETWORKS))
def network(request):
    return request.param, make_network(**NETWORKS[request.param])


@pytest.fixture(scope="session")
def pruned_network():
    return make_network(hidden=256, sparsity=0.9)
