"""Issue 22's side-by-side: seconds per null sample of modcut and of the published
pipeline on the same four graphs, in one session (``make bench-speedup``).

Graphs (``conftest.speed_graphs``): the ResNet-18 channel graph (5,803 nodes, not
bipartite), the dense 384-1536-384 and 768-3072-768 MLP blocks, the pruned
784-256×4-10 MLP; k = 12, ``layer`` shuffles. The reference is
``benches/reference_pipeline.py`` (NumPy shuffles + scikit-learn
``SpectralClustering(eigen_solver='arpack', assign_labels='kmeans')`` at the
reference's n_init: 100 above 2,000 nodes, else 25), one sample at a time as it ran,
with NumPy/SciPy's own threads. modcut runs batches of samples in Rust on all cores,
at the reference's n_init and with ``n_init="auto"`` (its stopping rule, capped there).
``benches/summarize.py`` prints the table of ratios.
"""

from __future__ import annotations

import itertools

import pytest

import reference_pipeline as ref
from conftest import speed_graphs
from modcut import _core
from modcut.cluster import default_n_init

K = 12
METHOD = "layer"
#: graph → (reference rounds, modcut samples per call, modcut rounds)
PLAN = {
    "ResNet-18 channel graph": (1, 2, 2),
    "MLP block 384-1536-384": (2, 8, 2),
    "MLP block 768-3072-768": (1, 4, 2),
    "pruned MLP 784-256×4-10": (3, 64, 3),
}


@pytest.fixture(scope="module")
def graphs():
    pytest.importorskip("torchvision")
    return speed_graphs()


@pytest.mark.parametrize("name", list(PLAN))
def test_reference(benchmark, graphs, name):
    net = graphs[name]
    rounds = PLAN[name][0]
    seeds = itertools.count()
    if net.is_chain():
        weights = [w.toarray() for w in net.layers]

        def one() -> float:
            return ref.null_sample(weights, METHOD, K, next(seeds))
    else:
        edges = [(e.src, e.dst, e.weights.toarray()) for e in net.edges]

        def one() -> float:
            return ref.group_null_sample(list(net.sizes), edges, METHOD, K, next(seeds))

    benchmark.group = f"speed-up: {name}"
    benchmark.extra_info.update(graph=name, pipeline="reference", samples_per_call=1)
    benchmark.pedantic(one, rounds=rounds, iterations=1, warmup_rounds=0)


@pytest.mark.parametrize("auto", [False, True], ids=["n_init", "auto"])
@pytest.mark.parametrize("name", list(PLAN))
def test_modcut(benchmark, graphs, name, auto):
    reduced, kept = _core.reduce_isolated(graphs[name].core)
    n_init = default_n_init(int(kept.shape[0]))
    _, batch, rounds = PLAN[name]
    starts = itertools.count()
    benchmark.group = f"speed-up: {name}"
    benchmark.extra_info.update(
        graph=name,
        pipeline="modcut auto" if auto else "modcut",
        samples_per_call=batch,
        n_init=n_init,
    )
    benchmark.pedantic(
        lambda: _core.null_ncuts(
            reduced, METHOD, K, n_init, 0, next(starts) * batch, batch, 0, auto=auto
        ),
        rounds=rounds,
        iterations=1,
        warmup_rounds=1,
    )
