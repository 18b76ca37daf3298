"""One null sample of a network with skips, its k-means restarts on 1 and 2 threads.

The side-by-side of modcut and the published pipeline on this graph (and on the MLP
blocks) is ``benches/test_bench_speedup.py`` (``make bench-speedup``); this bench
measures only what that one does not: a single ResNet-18 null sample (fewer samples
than threads), whose k-means restarts run in parallel inside the sample, and checks
that 1 and 2 threads give the same bits.

Run: python -m pytest benches/test_bench_general.py --benchmark-only
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import speed_graphs
from modcut import _core
from modcut.cluster import default_n_init

K = 12
METHOD = "layer"
GRAPH = "ResNet-18 channel graph"


@pytest.fixture(scope="module")
def resnet18_graph():
    pytest.importorskip("torchvision")
    return speed_graphs(GRAPH)[GRAPH]


@pytest.mark.parametrize("threads", [1, 2])
def test_modcut_resnet18_one_sample_parallel_restarts(benchmark, resnet18_graph, threads):
    """One null sample of the ResNet-18 graph on ``threads`` threads (the restarts in
    parallel); bit-identical for 1 and 2 threads."""
    reduced, kept = _core.reduce_isolated(resnet18_graph.core)
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
