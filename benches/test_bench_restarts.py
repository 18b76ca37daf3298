"""Parallel k-means restarts inside one large null sample: 1 vs 2 threads, same result.

Runs only on request (about a minute of CPU)::

    MODCUT_BENCH_RESTARTS=1 python -m pytest benches/test_bench_restarts.py --benchmark-only \\
        --benchmark-json=.benchmarks/restarts.json

``MODCUT_RESTARTS_HIDDEN`` / ``MODCUT_RESTARTS_DENSITY`` (default 8192 / 0.01:
784-8192×4-10, 33,562 neurons, the issue's network) pick the network
(``benches/scale.py make``). Two measurements, each with 1 and 2 threads:

- ``kmeans``: the reference's 100 restarts on the spectral embedding of null
  sample 0 (``_core.kmeans(..., n_threads=t)``: ``kmeans_in_parallel`` on a pool
  of ``t`` threads);
- ``null sample``: the whole sample (shuffle, embedding, k-means, n-cut) as a
  Dask task or ``clusterability`` computes it when a chunk has fewer samples
  than threads (``_core.null_ncuts(..., count=1, n_threads=t)``).

Each asserts that the labels / n-cut are bit-identical to the 1-thread run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

pytestmark = pytest.mark.skipif(
    os.environ.get("MODCUT_BENCH_RESTARTS") != "1",
    reason="large-network bench: set MODCUT_BENCH_RESTARTS=1 to run it",
)
N_INIT = 100
K = 12


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict:
    import modcut
    import scale
    from modcut import _core

    hidden = int(os.environ.get("MODCUT_RESTARTS_HIDDEN", "8192"))
    density = float(os.environ.get("MODCUT_RESTARTS_DENSITY", "0.01"))
    path = tmp_path_factory.mktemp("restarts") / "net.npz"
    scale.make(path, hidden, density)
    net = modcut.as_network(scale.load(path))
    reduced, _ = _core.reduce_isolated(net.core)
    null0 = modcut.shuffle(net, "layer_nonzero", 1, random_state=0)[0]
    x = np.ascontiguousarray(modcut.spectral_embedding(null0, K, eigen_solver="lanczos").x)
    return {"reduced": reduced, "x": x, "neurons": int(net.n_nodes), "ref": {}}


@pytest.mark.parametrize("threads", [1, 2])
def test_kmeans_restarts(benchmark, sample: dict, threads: int) -> None:
    from modcut import _core

    x = sample["x"]
    benchmark.group = f"one null sample's k-means ({x.shape[0]:,} x {K}, n_init {N_INIT})"
    out = benchmark.pedantic(
        lambda: _core.kmeans(x, K, N_INIT, seed=0, stream=0, n_threads=threads),
        rounds=2,
        iterations=1,
        warmup_rounds=0,
    )
    benchmark.extra_info.update(
        {"rows": int(x.shape[0]), "threads": threads, "load": os.getloadavg()}
    )
    ref = sample["ref"].setdefault("kmeans", out)
    np.testing.assert_array_equal(out[0], ref[0])
    assert out[1] == ref[1] and out[4] == N_INIT


@pytest.mark.parametrize("threads", [1, 2])
def test_whole_null_sample(benchmark, sample: dict, threads: int) -> None:
    from modcut import _core

    benchmark.group = f"one whole null sample ({sample['neurons']:,} neurons, n_init {N_INIT})"
    out = benchmark.pedantic(
        lambda: _core.null_ncuts(sample["reduced"], "layer_nonzero", K, N_INIT, 0, 0, 1, threads),
        rounds=1,
        iterations=1,
        warmup_rounds=0,
    )
    benchmark.extra_info.update({"threads": threads, "load": os.getloadavg()})
    ref = sample["ref"].setdefault("null", np.asarray(out))
    assert np.asarray(out).tobytes() == ref.tobytes()
