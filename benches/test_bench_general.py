"""Seconds per null sample on networks with skips and on a transformer MLP block,
modcut against the published pipeline (scikit-learn's SpectralClustering) on the
same graphs: a ResNet-18 channel graph (random weights, 1000 classes; not
bipartite: block Lanczos on (I + N)/2) and a 384-1536-384 MLP block (a chain).

Run: .venv/bin/python -m pytest benches/test_bench_general.py --benchmark-only
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import modcut
import reference_pipeline as ref
from modcut import _core
from modcut.cluster import default_n_init

K = 12
METHOD = "layer"


@pytest.fixture(scope="module")
def resnet18_graph():
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    return modcut.network_graph(torchvision.models.resnet18(weights=None), input_shape=(3, 64, 64))


@pytest.fixture(scope="module")
def mlp_block():
    rng = np.random.default_rng(0)
    return [
        rng.normal(size=(384, 1536)) / np.sqrt(384),
        rng.normal(size=(1536, 384)) / np.sqrt(1536),
    ]


def test_modcut_resnet18_null_sample(benchmark, resnet18_graph):
    g = resnet18_graph
    reduced, kept = _core.reduce_isolated(g.core)
    n_init = default_n_init(int(kept.shape[0]))
    batch = 2
    starts = itertools.count()
    benchmark.group = "null sample: resnet18 channel graph"
    benchmark.extra_info.update(
        pipeline="modcut",
        nodes=g.n_nodes,
        n_init=n_init,
        samples_per_call=batch,
        edge_groups=len(g.edges),
    )
    benchmark.pedantic(
        lambda: _core.null_ncuts(reduced, METHOD, K, n_init, 0, next(starts) * batch, batch, 0),
        rounds=2,
        iterations=1,
        warmup_rounds=0,
    )


def test_reference_resnet18_null_sample(benchmark, resnet18_graph):
    g = resnet18_graph
    edges = [(e.src, e.dst, e.weights.toarray()) for e in g.edges]
    seeds = itertools.count()
    benchmark.group = "null sample: resnet18 channel graph"
    benchmark.extra_info.update(pipeline="reference", nodes=g.n_nodes, samples_per_call=1)
    benchmark.pedantic(
        lambda: ref.group_null_sample(list(g.sizes), edges, METHOD, K, next(seeds)),
        rounds=1,
        iterations=1,
        warmup_rounds=0,
    )


def test_modcut_mlp_block_null_sample(benchmark, mlp_block):
    net = modcut.as_network(mlp_block)
    reduced, kept = _core.reduce_isolated(net.core)
    n_init = default_n_init(int(kept.shape[0]))
    batch = 8
    starts = itertools.count()
    benchmark.group = "null sample: mlp block 384-1536-384"
    benchmark.extra_info.update(pipeline="modcut", n_init=n_init, samples_per_call=batch)
    benchmark.pedantic(
        lambda: _core.null_ncuts(reduced, METHOD, K, n_init, 0, next(starts) * batch, batch, 0),
        rounds=2,
        iterations=1,
        warmup_rounds=0,
    )


def test_reference_mlp_block_null_sample(benchmark, mlp_block):
    seeds = itertools.count()
    benchmark.group = "null sample: mlp block 384-1536-384"
    benchmark.extra_info.update(pipeline="reference", samples_per_call=1)
    benchmark.pedantic(
        lambda: ref.null_sample(mlp_block, METHOD, K, next(seeds)),
        rounds=2,
        iterations=1,
        warmup_rounds=0,
    )


@pytest.mark.parametrize("threads", [1, 2])
def test_modcut_resnet18_one_sample_parallel_restarts(benchmark, resnet18_graph, threads):
    """One null sample of the ResNet-18 graph (fewer samples than threads: the group
    null now runs each sample's k-means restarts in parallel, as the chain's does);
    bit-identical for 1 and 2 threads."""
    g = resnet18_graph
    reduced, kept = _core.reduce_isolated(g.core)
    n_init = default_n_init(int(kept.shape[0]))
    benchmark.group = "one null sample, parallel restarts: resnet18 channel graph"
    benchmark.extra_info.update(pipeline="modcut", n_init=n_init, threads=threads)
    out = benchmark.pedantic(
        lambda: _core.null_ncuts(reduced, METHOD, K, n_init, 0, 0, 1, threads),
        rounds=2,
        iterations=1,
        warmup_rounds=0,
    )
    one = _core.null_ncuts(reduced, METHOD, K, n_init, 0, 0, 1, 1)
    assert np.asarray(out).tobytes() == np.asarray(one).tobytes()
