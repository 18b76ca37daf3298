"""How the observed n-cut and the null mean move with the number of k-means restarts.

For each network, the spectral embedding (Rust Lanczos) of the observed network
and of ``--samples`` null networks (``layer_nonzero`` shuffles) is computed once;
k-means then runs on it with n_init = 1, 5, 10, 25, 100 (random stream
``(seed, CLUSTER, 0)`` for all, so n_init = m runs the first m restarts of one
sequence: a larger n_init can only lower the inertia). Printed per network and
n_init: the observed n-cut (mean over ``--seeds`` k-means seeds), the null
mean, the largest paired change of a null sample against n_init = 100, and the
null's standard error, so a change can be read against the noise::

    python benches/n_init_study.py --networks pruned-256 pruned-1024 sparse-4096 --samples 4
    python benches/n_init_study.py --networks NET.npz --samples 2   # a benches/scale.py network
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import modcut
from modcut import _core

N_INITS = (1, 5, 10, 25, 100)
K = 12


def _network(name: str) -> list:
    sys.path.insert(0, str(Path(__file__).parent))
    if name.endswith(".npz"):
        import scale

        return scale.load(Path(name))
    from conftest import make_network

    kind, width = name.rsplit("-", 1)
    if kind == "pruned":
        return make_network(hidden=int(width), sparsity=0.9)
    if kind == "sparse":  # 1% density, like the 33,562-neuron network
        import tempfile

        import scale

        with tempfile.TemporaryDirectory() as d:
            scale.make(Path(d) / "n.npz", int(width), 0.01)
            return scale.load(Path(d) / "n.npz")
    raise ValueError(f"unknown network {name!r}")


def _ncuts(net: modcut.Network, seeds: int) -> dict[int, list[float]]:
    """n-cut per n_init (one per k-means seed) on the network's embedding."""
    emb = modcut.spectral_embedding(net, K, eigen_solver="lanczos")
    x = np.ascontiguousarray(emb.x)
    out: dict[int, list[float]] = {m: [] for m in N_INITS}
    for seed in range(seeds):
        for m in N_INITS:
            km, *_ = _core.kmeans(x, K, m, seed=seed, stream=0)
            labels = np.full(net.n_nodes, -1, dtype=np.int64)
            labels[emb.node_ids] = np.asarray(km)
            out[m].append(float(modcut.ncut(net, labels)))
    return out


def study(name: str, samples: int, seeds: int) -> list[dict]:
    net = modcut.as_network(_network(name))
    t0 = time.perf_counter()
    observed = _ncuts(net, seeds)
    nulls = [
        _ncuts(modcut.shuffle(net, "layer_nonzero", 1, random_state=i)[0], 1)
        for i in range(samples)
    ]
    seconds = time.perf_counter() - t0
    rows = []
    ref = np.array([n[100][0] for n in nulls])
    for m in N_INITS:
        vals = np.array([n[m][0] for n in nulls])
        rows.append(
            {
                "network": name,
                "neurons": net.n_nodes,
                "weights": int(sum(layer.nnz for layer in net.layers)),
                "n_init": m,
                "observed_ncut": float(np.mean(observed[m])),
                "observed_sd_over_seeds": float(np.std(observed[m], ddof=1)) if seeds > 1 else None,
                "null_mean": float(vals.mean()),
                "null_sem": float(vals.std(ddof=1) / np.sqrt(len(vals))) if samples > 1 else None,
                "max_paired_change_vs_100": float(np.max(np.abs(vals - ref))),
                "samples": samples,
                "seconds_total": seconds,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--networks", nargs="+", default=["pruned-256", "pruned-1024"])
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args(argv)
    for name in args.networks:
        for row in study(name, args.samples, args.seeds):
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
