"""Where a null sample's time goes (issue 22, item 1), for the graphs users wait on.

For each graph one null sample is split into the core's own steps, on one thread, with the
functions the null pipeline runs (``rust/src/null.rs``): the shuffle (``_core.shuffle``),
the graph assembly (``_core.normalized_bipartite`` for bipartite graphs, else
``_core.adjacency``), the spectral embedding (``_core.observed_embedding``, which assembles
the graph again inside), k-means (``_core.kmeans`` with the reference's ``n_init``) and the
n-cut (``_core.ncut``); then the whole sample as the null runs it (``_core.null_ncuts``).
Each step is the median of ``--repeats`` runs on the same shuffle.

Graphs: the ResNet-18 channel graph (random weights, 64 × 64 inputs, not bipartite), the
384-1536-384 and 768-3072-768 MLP blocks (standard normal / √fan-in) and the pruned
784-256×4-10 MLP of the speed table (standard normal, 90% of each matrix pruned by
magnitude, ``benches/conftest.make_network``).

Run: ``python benches/profile_sample.py [--repeats 3]`` (prints the README's table).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("RAYON_NUM_THREADS", "1")

from modcut import _core
from modcut.cluster import default_n_init

K = 12
METHOD = "layer"


def _graphs() -> dict[str, Any]:
    from conftest import speed_graphs

    return speed_graphs()


def _median(f: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def profile(net: Any, repeats: int) -> dict[str, Any]:
    reduced, kept = _core.reduce_isolated(net.core)
    n_init = default_n_init(int(kept.shape[0]))
    bipartite = _core.colouring(reduced) is not None
    t_shuffle, samples = _median(lambda: _core.shuffle(reduced, METHOD, 0, 0, 1, 1), repeats)
    (shuffled,) = samples
    assemble = _core.normalized_bipartite if bipartite else _core.adjacency
    t_graph, _ = _median(lambda: assemble(shuffled), repeats)
    t_embed, emb = _median(lambda: _core.observed_embedding(shuffled, K, 0), repeats)
    ids, x, _ = emb
    x = np.ascontiguousarray(x)
    t_kmeans, km = _median(lambda: _core.kmeans(x, K, n_init, seed=0, stream=0), repeats)
    labels = np.full(int(sum(shuffled.sizes)), -1, dtype=np.int64)
    labels[np.asarray(ids)] = km[0]
    t_ncut, _ = _median(lambda: _core.ncut(shuffled, labels, 1e-8), repeats)
    t_sample, _ = _median(lambda: _core.null_ncuts(reduced, METHOD, K, n_init, 0, 0, 1, 1), repeats)
    return {
        "nodes": int(kept.shape[0]),
        "weights": int(sum(reduced.nnz)),
        "bipartite": bipartite,
        "n_init": n_init,
        "shuffle": t_shuffle,
        "graph": t_graph,
        "embedding": t_embed,
        "kmeans": t_kmeans,
        "ncut": t_ncut,
        "sample": t_sample,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    print(
        "| graph | nodes | weights | n_init | shuffle | graph assembly | embedding (incl. assembly) "
        "| k-means | n-cut | whole sample | embedding share | k-means share |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, net in _graphs().items():
        r = profile(net, args.repeats)
        ms = {k: 1e3 * r[k] for k in ("shuffle", "graph", "embedding", "kmeans", "ncut", "sample")}
        print(
            f"| {name} | {r['nodes']:,} | {r['weights']:,} | {r['n_init']} | {ms['shuffle']:.1f} ms "
            f"| {ms['graph']:.1f} ms | {ms['embedding']:.1f} ms | {ms['kmeans']:.1f} ms "
            f"| {ms['ncut']:.2f} ms | {ms['sample']:.1f} ms "
            f"| {r['embedding'] / r['sample']:.0%} | {r['kmeans'] / r['sample']:.0%} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
