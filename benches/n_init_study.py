"""How the observed n-cut and the null mean move with the number of k-means restarts.

For each network, the spectral embedding (Rust Lanczos) of the observed network
and of ``--samples`` null networks (``layer_nonzero`` shuffles, sample ``i``
from ``random_state=i``) is computed once; k-means then runs on each embedding
with n_init = 1, 5, 10, 25, 100 and ``auto`` (the stopping rule of
``rust/src/kmeans.rs``, capped at the reference's n_init). Every n_init uses
the same random stream (observed network: ``(seed, CLUSTER, 0)`` for each
k-means seed; null sample ``i``: ``(0, CLUSTER, i)``), so n_init = m runs the
first m restarts of one sequence and the comparison between settings is
paired. Reported per network and n_init:

- the observed n-cut over ``--seeds`` k-means seeds: the best (lowest) and the
  mean ± sd;
- the null mean ± its standard error over the samples;
- the paired change of the null samples against the reference's n_init (25 up
  to 2,000 non-isolated neurons, 100 above): mean ± standard error and the
  largest change, so a shift can be told from noise;
- for ``auto``, the mean number of restarts it ran (observed and null).

One command reproduces the README table (``docs/distributed.md``)::

    RAYON_NUM_THREADS=1 python benches/n_init_study.py --out n_init.jsonl \\
        --networks /work/runs/fashion/control/seed0/checkpoint.pt pruned-1024 pruned-2304 sparse-4096 \\
        --samples 40 --seeds 10
    python benches/n_init_study.py --table n_init.jsonl

Network names: ``pruned-W`` (random 784-W×4-10, 90% magnitude-pruned, as in
``benches/conftest.py``), ``sparse-W`` (784-W×4-10 at 1% density, as
``benches/scale.py make``), a ``.npz`` written by ``benches/scale.py make``, or
any file :func:`modcut.as_network` reads (a checkpoint).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import modcut
from modcut import _core
from modcut.cluster import default_n_init

N_INITS: tuple[int | str, ...] = (1, 5, 10, 25, 100, "auto")
K = 12


def _network(name: str) -> Any:
    sys.path.insert(0, str(Path(__file__).parent))
    if name.endswith(".npz"):
        import scale

        return scale.load(Path(name))
    if Path(name).exists():
        return name
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


def _kmeans_ncuts(
    net: modcut.Network, emb: modcut.cluster.Embedding, cap: int, seed: int, stream: int
) -> dict[int | str, tuple[float, int]]:
    """(n-cut, restarts run) per n_init on one embedding, all from one random stream."""
    x = np.ascontiguousarray(emb.x)
    out: dict[int | str, tuple[float, int]] = {}
    for m in N_INITS:
        auto = m == "auto"
        km, _, _, _, runs = _core.kmeans(
            x, K, cap if auto else int(m), seed=seed, stream=stream, auto=auto
        )
        labels = np.full(net.n_nodes, -1, dtype=np.int64)
        labels[emb.node_ids] = np.asarray(km)
        out[m] = (float(modcut.ncut(net, labels)), int(runs))
    return out


def study(name: str, samples: int, seeds: int) -> list[dict]:
    net = modcut.as_network(_network(name))
    n_active = int(np.count_nonzero(np.asarray(_core.degrees(net.core))))
    ref = default_n_init(n_active)
    t0 = time.perf_counter()
    emb = modcut.spectral_embedding(net, K, eigen_solver="lanczos")
    observed = [_kmeans_ncuts(net, emb, ref, seed, 0) for seed in range(seeds)]
    nulls = []
    for i in range(samples):
        s = modcut.shuffle(net, "layer_nonzero", 1, random_state=i)[0]
        nulls.append(
            _kmeans_ncuts(s, modcut.spectral_embedding(s, K, eigen_solver="lanczos"), ref, 0, i)
        )
    seconds = time.perf_counter() - t0
    base = np.array([n[ref][0] for n in nulls])
    rows = []
    for m in N_INITS:
        obs = np.array([o[m][0] for o in observed])
        vals = np.array([n[m][0] for n in nulls])
        diff = vals - base
        rows.append(
            {
                "network": name,
                "neurons": int(net.n_nodes),
                "active_neurons": n_active,
                "weights": int(sum(layer.nnz for layer in net.layers)),
                "reference_n_init": ref,
                "n_init": m,
                "observed_ncut_best": float(obs.min()),
                "observed_ncut_mean": float(obs.mean()),
                "observed_ncut_sd": float(obs.std(ddof=1)) if seeds > 1 else None,
                "null_mean": float(vals.mean()),
                "null_sem": float(vals.std(ddof=1) / np.sqrt(samples)) if samples > 1 else None,
                "paired_change_mean": float(diff.mean()),
                "paired_change_sem": float(diff.std(ddof=1) / np.sqrt(samples))
                if samples > 1
                else None,
                "paired_change_max": float(np.max(np.abs(diff))),
                "restarts_observed_mean": float(np.mean([o[m][1] for o in observed])),
                "restarts_null_mean": float(np.mean([n[m][1] for n in nulls])),
                "samples": samples,
                "seeds": seeds,
                "seconds_total": seconds,
            }
        )
    return rows


def _fmt_table(rows: list[dict]) -> str:
    out = [
        "| network (active neurons, ref n_init) | n_init | restarts run (obs / null mean) "
        "| observed n-cut best / mean ± sd | null mean ± s.e. "
        "| paired null change vs ref ± s.e. (largest) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        net = (
            Path(r["network"]).parent.parent.name + "/" + Path(r["network"]).parent.name
            if r["network"].endswith(".pt")
            else r["network"]
        )
        out.append(
            f"| {net} ({r['active_neurons']:,}, {r['reference_n_init']}) | {r['n_init']} "
            f"| {r['restarts_observed_mean']:.1f} / {r['restarts_null_mean']:.1f} "
            f"| {r['observed_ncut_best']:.4f} / {r['observed_ncut_mean']:.4f} ± {r['observed_ncut_sd']:.4f} "
            f"| {r['null_mean']:.4f} ± {r['null_sem']:.4f} "
            f"| {r['paired_change_mean']:+.4f} ± {r['paired_change_sem']:.4f} "
            f"({r['paired_change_max']:.4f}) |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--networks", nargs="+", default=["pruned-256", "pruned-1024"])
    p.add_argument("--samples", type=int, default=40)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--out", type=Path, help="append the JSON lines to this file too")
    p.add_argument("--table", type=Path, help="print the markdown table of a JSON-lines file")
    args = p.parse_args(argv)
    if args.table:
        rows = [json.loads(line) for line in args.table.read_text().splitlines() if line]
        print(_fmt_table(rows))
        return 0
    for name in args.networks:
        for row in study(name, args.samples, args.seeds):
            line = json.dumps(row)
            print(line, flush=True)
            if args.out:
                with args.out.open("a") as f:
                    f.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
