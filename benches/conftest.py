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


def speed_graphs(only: str | None = None) -> dict[str, object]:
    """The graphs of issue 22's speed work, as :class:`modcut.Network`: the ResNet-18
    channel graph (random weights, 64×64 inputs; not bipartite), the dense 384-1536-384
    and 768-3072-768 MLP blocks (standard normal / √fan-in) and the pruned
    784-256×4-10 MLP. Shared by ``profile_sample.py``, ``test_bench_speedup.py``,
    ``test_bench_general.py``, ``ab_sample.py`` and ``device_null.py``.

    ``only``: build just the graphs whose name contains it (each graph is the same
    whichever others are built)."""
    import torch
    import torchvision

    import modcut

    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    def block(d: int, f: int) -> list[np.ndarray]:
        return [rng.normal(size=(d, f)) / np.sqrt(d), rng.normal(size=(f, d)) / np.sqrt(f)]

    # the blocks' weights are drawn in this order whichever graphs are built
    blocks = {
        "MLP block 384-1536-384": block(384, 1536),
        "MLP block 768-3072-768": block(768, 3072),
    }
    makers = {
        "ResNet-18 channel graph": lambda: modcut.network_graph(
            torchvision.models.resnet18(weights=None), input_shape=(3, 64, 64)
        ),
        **{name: (lambda w=w: modcut.as_network(w)) for name, w in blocks.items()},
        "pruned MLP 784-256×4-10": lambda: modcut.as_network(
            make_network(hidden=256, sparsity=0.9)
        ),
    }
    return {name: make() for name, make in makers.items() if only is None or only in name}
