"""Seconds per null sample of the batched null on a torch device (``device=``), on the
graphs of the speed profile (``conftest.speed_graphs``), next to the Rust null of the
same graph on this machine's CPU.

Run on a machine with a GPU:  ``python benches/device_null.py --device cuda``
(``--device cpu`` runs the same torch code on the CPU; ``--graphs`` picks graphs by a
word of their name, e.g. ``--graphs pruned 384``). Each line: the graph, the batch size,
seconds per sample on the device (median of ``--repeats`` batches after one warm-up
batch), and the Rust null's seconds per sample on all CPU cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from modcut import _core, batched
from modcut.cluster import default_n_init

K = 12
METHOD = "layer"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--graphs", nargs="*", default=[], help="words of the graph names to run")
    ap.add_argument("--batch", type=int, default=None, help="samples per batch (default: modcut's)")
    args = ap.parse_args(argv)
    from conftest import speed_graphs

    device = batched.check_device(args.device)
    print(f"device: {device} ({batched.device_name(device)})")
    print("| graph | nodes | batch | device s/sample | Rust CPU s/sample |")
    print("|---|---:|---:|---:|---:|")
    for name, net in speed_graphs().items():
        if args.graphs and not any(w.lower() in name.lower() for w in args.graphs):
            continue
        reduced, kept = _core.reduce_isolated(net.core)
        n = int(kept.shape[0])
        n_init = default_n_init(n)
        batch = args.batch or batched.default_batch(n)
        times = []
        for r in range(args.repeats + 1):  # the first batch warms up (kernels, allocator)
            t0 = time.perf_counter()
            batched.device_null_chunk(
                reduced, METHOD, K, n_init, 0, device, False, r * batch, batch, 0
            )
            times.append((time.perf_counter() - t0) / batch)
        t0 = time.perf_counter()
        _core.null_ncuts(reduced, METHOD, K, n_init, 0, 0, 4, 0)
        cpu = (time.perf_counter() - t0) / 4
        print(
            f"| {name} | {n:,} | {batch} | {float(np.median(times[1:])):.4g} | {cpu:.4g} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
