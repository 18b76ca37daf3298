"""How far one machine goes: seconds and peak memory per null sample of a large network.

Two steps, so that the measured process holds only what a Dask worker holds (the
reduced network and one null sample at a time)::

    python benches/scale.py make NET.npz --hidden 25000 --density 0.0025
    python benches/scale.py run NET.npz --samples 2 --threads 1

``make`` writes a random 784-H×4-10 network, every matrix sparse with the given
density (standard-normal weights), as ``.npz`` of CSR parts. ``run`` loads it in a
fresh process, reduces it, computes the observed partition and ``--samples`` null
samples with ``modcut._core.null_ncuts`` (the function every Dask task runs) and
prints one JSON line: sizes, seconds (load, observed, each null sample, wall
clock and CPU time of the process: on a shared machine the CPU time is what a
dedicated core would take) and peak
resident memory (``getrusage`` ``ru_maxrss``: Python, the network and the Rust
buffers of one sample together) after loading and at the end.
``benches/test_bench_scale.py`` runs both steps (on request only).
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def make(path: Path, hidden: int, density: float, n_hidden: int = 4, seed: int = 0) -> dict:
    """Write the network; returns its widths and weight count."""
    rng = np.random.default_rng(seed)
    widths = [784] + [hidden] * n_hidden + [10]
    parts: dict[str, np.ndarray] = {}
    nnz = 0
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        # at least one weight per output neuron of the 10-wide last layer
        dens = max(density, 2.0 / a) if b <= 10 else density
        m = sp.random_array(
            (a, b), density=dens, format="csr", rng=rng, data_sampler=rng.standard_normal
        )
        m.sum_duplicates()
        nnz += m.nnz
        parts[f"l{i}_shape"] = np.asarray(m.shape)
        parts[f"l{i}_indptr"] = m.indptr.astype(np.int64)
        parts[f"l{i}_indices"] = m.indices.astype(np.int32)
        parts[f"l{i}_data"] = m.data.astype(np.float64)
    np.savez(path, n_layers=np.asarray(len(widths) - 1), **parts)
    return {"widths": widths, "weights": nnz}


def load(path: Path) -> list[sp.csr_array]:
    z = np.load(path)
    out = []
    for i in range(int(z["n_layers"])):
        shape = tuple(int(v) for v in z[f"l{i}_shape"])
        out.append(
            sp.csr_array((z[f"l{i}_data"], z[f"l{i}_indices"], z[f"l{i}_indptr"]), shape=shape)
        )
    return out


def run(
    path: Path,
    samples: int,
    threads: int,
    n_init: int | None,
    k: int = 12,
    method: str = "layer_nonzero",
) -> dict:
    import modcut
    from modcut import _core
    from modcut.cluster import default_n_init, spectral_partition

    t0 = time.perf_counter()
    net = modcut.as_network(load(path))
    reduced, kept = _core.reduce_isolated(net.core)
    n_active = int(kept.shape[0])
    n_init = default_n_init(n_active) if n_init is None else n_init
    t_load = time.perf_counter() - t0
    peak_loaded = _peak_mib()
    t0 = time.perf_counter()
    labels = spectral_partition(net, k=k, n_init=n_init, seed=0)
    observed = modcut.ncut(net, labels)
    t_obs = time.perf_counter() - t0
    per_sample = []
    cpu_per_sample = []
    values = []
    for i in range(samples):
        t0, c0 = time.perf_counter(), time.process_time()
        values.append(float(_core.null_ncuts(reduced, method, k, n_init, 0, i, 1, threads)[0]))
        per_sample.append(time.perf_counter() - t0)
        cpu_per_sample.append(time.process_time() - c0)
    return {
        "widths": list(net.widths),
        "neurons": int(net.n_nodes),
        "active_neurons": n_active,
        "weights": int(sum(m.nnz for m in net.layers)),
        "k": k,
        "n_init": n_init,
        "threads": threads,
        "method": method,
        "seconds_load": t_load,
        "seconds_observed": t_obs,
        "seconds_per_sample": per_sample,
        "cpu_seconds_per_sample": cpu_per_sample,
        "observed_ncut": float(observed),
        "null_ncuts": values,
        "peak_mib_loaded": peak_loaded,
        "peak_mib": _peak_mib(),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("path", type=Path)
    m.add_argument("--hidden", type=int, default=25000)
    m.add_argument("--density", type=float, default=0.0025)
    r = sub.add_parser("run")
    r.add_argument("path", type=Path)
    r.add_argument("--samples", type=int, default=2)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--n-init", type=int, default=None)
    args = p.parse_args(argv)
    if args.cmd == "make":
        print(json.dumps(make(args.path, args.hidden, args.density)))
    else:
        print(json.dumps(run(args.path, args.samples, args.threads, args.n_init)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
