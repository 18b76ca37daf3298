"""Speed of modcut's null pipeline against the published one, on the same networks.

Run with ``make bench`` (pytest-benchmark); ``benches/summarize.py`` turns the
JSON into the README's table (seconds per null sample and the speed-up).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import modcut
import reference_pipeline as ref
from conftest import make_network
from modcut import _core
from modcut.cluster import default_n_init

K = 12
METHOD = "layer"  # the published tables' shuffle


def _reduced(ws):
    net = modcut.as_network(ws)
    reduced, kept = _core.reduce_isolated(net.core)
    return reduced, int(kept.shape[0])


def test_reference_null_sample(benchmark, network):
    name, ws = network
    seeds = itertools.count()
    benchmark.group = f"null sample: {name}"
    benchmark.extra_info.update(pipeline="reference", network=name, samples_per_call=1)
    rounds = 5 if name == "pruned-256" else 2
    benchmark.pedantic(
        lambda: ref.null_sample(ws, METHOD, K, next(seeds)),
        rounds=rounds,
        iterations=1,
        warmup_rounds=0,
    )


def test_modcut_null_sample(benchmark, network):
    name, ws = network
    reduced, n_active = _reduced(ws)
    n_init = default_n_init(n_active)
    batch = 64 if name != "pruned-1024" else 8
    starts = itertools.count()
    benchmark.group = f"null sample: {name}"
    benchmark.extra_info.update(
        pipeline="modcut", network=name, samples_per_call=batch, n_init=n_init, threads="all"
    )
    benchmark.pedantic(
        lambda: _core.null_ncuts(reduced, METHOD, K, n_init, 0, next(starts) * batch, batch, 0),
        rounds=5,
        iterations=1,
        warmup_rounds=1,
    )


def test_graph_and_ncut_of_pruned_network(benchmark, pruned_network):
    """Issue 2: a pruned 784-256x4-10 network → graph → n-cut, in milliseconds."""
    ws = pruned_network
    labels = np.random.default_rng(0).integers(0, K, size=784 + 4 * 256 + 10)
    benchmark.group = "graph + ncut"
    benchmark.extra_info.update(network="pruned-256", samples_per_call=1)

    def run():
        g = modcut.build_graph(ws)
        return g.n_edges, modcut.ncut(ws, labels)

    benchmark(run)


@pytest.mark.parametrize("hidden", [128, 256, 512, 1024, 2304])
def test_scaling_with_size(benchmark, hidden):
    """Time per null sample against network size (4 hidden layers, 90% pruned)."""
    ws = make_network(hidden=hidden, sparsity=0.9)
    reduced, n_active = _reduced(ws)
    n_init = default_n_init(n_active)
    nnz = sum(int(np.count_nonzero(w)) for w in ws)
    batch = 8 if hidden >= 1024 else 32
    starts = itertools.count()
    benchmark.group = "scaling"
    benchmark.extra_info.update(
        pipeline="modcut",
        hidden=hidden,
        nodes=n_active,
        nnz=nnz,
        n_init=n_init,
        samples_per_call=batch,
    )
    benchmark.pedantic(
        lambda: _core.null_ncuts(reduced, METHOD, K, n_init, 0, next(starts) * batch, batch, 0),
        rounds=3,
        iterations=1,
        warmup_rounds=0,
    )


def test_ten_thousand_null_samples(benchmark, pruned_network):
    """The headline target: 10,000 null samples of the pruned network."""
    benchmark.group = "10,000 null samples"
    benchmark.extra_info.update(network="pruned-256", samples_per_call=10_000)
    res = benchmark.pedantic(
        lambda: modcut.clusterability(
            pruned_network, k=K, n_shuffles=10_000, shuffle=METHOD, random_state=0, progress=False
        ),
        rounds=1,
        iterations=1,
    )
    benchmark.extra_info.update(null_mean=res.null_mean, null_std=res.null_std)


def test_pipelines_agree_statistically(benchmark, pruned_network):
    """Both pipelines give the same null distribution and observed n-cut quality.

    50 null samples each on the pruned network: the null means must agree within
    4 standard errors; the observed n-cuts within 5%.
    """
    n = 50
    ws = pruned_network
    benchmark.group = "agreement"

    def run():
        ref_null = np.array([ref.null_sample(ws, METHOD, K, 1000 + i) for i in range(n)])
        res = modcut.clusterability(
            ws, k=K, n_shuffles=n, shuffle=METHOD, random_state=0, progress=False
        )
        return ref_null, res

    ref_null, res = benchmark.pedantic(run, rounds=1, iterations=1)
    ref_obs = ref.observed_ncut(ws, K, seed=0)
    se = np.hypot(ref_null.std(ddof=1), res.null_std) / np.sqrt(n)
    benchmark.extra_info.update(
        reference_null_mean=float(ref_null.mean()),
        reference_null_std=float(ref_null.std(ddof=1)),
        modcut_null_mean=res.null_mean,
        modcut_null_std=res.null_std,
        difference_in_standard_errors=float((res.null_mean - ref_null.mean()) / se),
        reference_observed=ref_obs,
        modcut_observed=res.ncut,
    )
    assert abs(res.null_mean - ref_null.mean()) < 4 * se
    assert abs(res.ncut - ref_obs) < 0.05 * ref_obs
