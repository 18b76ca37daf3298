"""What a null sample of a transformer MLP block costs at real shapes (issue 21).

For the feed-forward blocks of GPT-2 small (768-3072-768), Pythia-1B (2048-8192-2048) and
LLaMA-7B (gated 4096-11008-4096), with random weights written as a one-block model folder
in F16 (as such models ship), each in a fresh process:

* reading the block (one block's tensors, memory-mapped, converted to float32 → float64);
* one null sample split into its steps, on one thread, with the core's own functions:
  shuffle (``_core.shuffle``), the spectral embedding (``_core.observed_embedding`` of the
  shuffled network), k-means (``_core.kmeans`` with the reference's ``n_init``: 100 above
  2,000 neurons) and the n-cut (``_core.ncut``); and the whole sample as the null runs it
  (``_core.null_ncuts``, one thread);
* the process's peak resident memory (``getrusage``) after the sample: the working set
  of one block and one null-sample thread;
* Dask workers (single-threaded, as ``--workers`` starts them) that a 1,000-sample
  analysis of every block of such a model needs to finish in one hour:
  ``ceil(blocks × 1000 × seconds per sample / 3600)``.

Run: ``python benches/blocks_scale.py [--shapes gpt2,pythia,llama] [--json out.json]``
(``make bench-blocks``). Prints a Markdown table (the README's).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHAPES = {
    # name: (label, d, hidden, gated, blocks in the model)
    "gpt2": ("GPT-2 small", 768, 3072, False, 12),
    "pythia": ("Pythia-1B", 2048, 8192, False, 16),
    "llama": ("LLaMA-7B (gated)", 4096, 11008, True, 32),
}
K = 12
SAMPLES = 1000
HOUR = 3600.0


def _write_block(folder: Path, d: int, h: int, gated: bool) -> None:
    import numpy as np
    import torch
    from safetensors.torch import save_file

    rng = np.random.default_rng(0)

    def lin(out: int, inp: int) -> torch.Tensor:  # F16, as such models ship
        return torch.from_numpy(rng.standard_normal((out, inp), dtype=np.float32)).half()

    if gated:
        t = {
            "model.layers.0.mlp.gate_proj.weight": lin(h, d),
            "model.layers.0.mlp.up_proj.weight": lin(h, d),
            "model.layers.0.mlp.down_proj.weight": lin(d, h),
        }
        cfg = {"model_type": "llama", "hidden_size": d, "intermediate_size": h}
    else:
        t = {
            "gpt_neox.layers.0.mlp.dense_h_to_4h.weight": lin(h, d),
            "gpt_neox.layers.0.mlp.dense_4h_to_h.weight": lin(d, h),
        }
        cfg = {"model_type": "gpt_neox", "hidden_size": d, "intermediate_size": h}
    folder.mkdir(parents=True, exist_ok=True)
    save_file(t, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(cfg))


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(name: str, folder: Path) -> dict[str, object]:
    """One shape, in this process (run it in a fresh one for a clean peak)."""
    import numpy as np

    from modcut import _core
    from modcut.cluster import default_n_init
    from modcut.readers.blocks import find_blocks

    label, d, h, _gated, n_blocks = SHAPES[name]
    base = _peak_mib()
    t0 = time.perf_counter()
    (spec,) = find_blocks(folder)
    net = spec.load()
    core = net.core
    reduced, _ = _core.reduce_isolated(core)
    t_read = time.perf_counter() - t0
    n_init = default_n_init(net.n_nodes)
    seed, sample = 0, 0

    t0 = time.perf_counter()
    (shuffled,) = _core.shuffle(reduced, "layer_nonzero", seed, sample, 1, 1)
    t_shuffle = time.perf_counter() - t0
    t0 = time.perf_counter()
    ids, x, _ = _core.observed_embedding(shuffled, K, seed)
    t_embed = time.perf_counter() - t0
    t0 = time.perf_counter()
    km_labels, *_ = _core.kmeans(np.ascontiguousarray(x), K, n_init, seed=seed, stream=sample)
    t_kmeans = time.perf_counter() - t0
    labels = np.full(net.n_nodes, -1, dtype=np.int64)
    labels[np.asarray(ids)] = km_labels
    t0 = time.perf_counter()
    _core.ncut(shuffled, labels, 1e-8)
    t_ncut = time.perf_counter() - t0
    del shuffled
    t0 = time.perf_counter()
    _core.null_ncuts(reduced, "layer_nonzero", K, n_init, seed, 1, 1, 1)
    t_sample = time.perf_counter() - t0
    peak = _peak_mib()
    workers = math.ceil(n_blocks * SAMPLES * t_sample / HOUR)
    return {
        "model": label,
        "shape": f"{d}-{h}-{d}",
        "weights": spec.n_weights,
        "n_init": n_init,
        "read_s": t_read,
        "shuffle_s": t_shuffle,
        "embedding_s": t_embed,
        "kmeans_s": t_kmeans,
        "ncut_s": t_ncut,
        "sample_s": t_sample,
        "peak_rss_mib": peak,
        "python_base_mib": base,
        "blocks": n_blocks,
        "workers_1000_samples_1h": workers,
    }


def table(rows: list[dict[str, object]]) -> str:
    head = (
        "| block | weights | read | shuffle | embedding | k-means | n-cut | sample (1 thread) "
        "| peak memory | blocks | workers for 1,000 samples of every block in 1 h |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    body = "".join(
        f"| {r['model']} {r['shape']} | {r['weights'] / 1e6:.1f} M | {r['read_s']:.2f} s "
        f"| {r['shuffle_s']:.2f} s | {r['embedding_s']:.2f} s | {r['kmeans_s']:.2f} s "
        f"| {r['ncut_s']:.3f} s | {r['sample_s']:.2f} s | {float(r['peak_rss_mib']) / 1024:.2f} GiB "
        f"| {r['blocks']} | {r['workers_1000_samples_1h']} |\n"
        for r in rows
    )
    return head + body


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", default=",".join(SHAPES), help="gpt2,pythia,llama")
    ap.add_argument("--json", default=None, help="also write the rows here")
    ap.add_argument("--one", nargs=2, metavar=("SHAPE", "FOLDER"), help=argparse.SUPPRESS)
    ap.add_argument(
        "--keep",
        metavar="DIR",
        help="write each shape's one-block model folder to DIR/SHAPE and keep it (e.g. to run "
        "`modcut analyze DIR/llama` on it), instead of a temporary folder",
    )
    args = ap.parse_args(argv)
    if args.one:  # the child: measure one shape, print its row as JSON
        print(json.dumps(measure(args.one[0], Path(args.one[1]))))
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="modcut-scale-") as tmp:
        for name in args.shapes.split(","):
            label, d, h, gated, _ = SHAPES[name]
            folder = Path(args.keep or tmp) / name
            _write_block(folder, d, h, gated)
            env = {**os.environ, "RAYON_NUM_THREADS": "1"}
            proc = subprocess.run(
                [sys.executable, __file__, "--one", name, str(folder)],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"{label}: {row['sample_s']:.2f} s per sample, peak "
                  f"{float(row['peak_rss_mib']) / 1024:.2f} GiB", file=sys.stderr)  # fmt: skip
            if not args.keep:
                shutil_rm(folder)
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


def shutil_rm(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
