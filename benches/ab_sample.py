"""A/B of two builds of the extension on one graph of the speed bench (issue 22).

On a shared VM the two pipelines of ``make bench-speedup`` drift by 10-20% from run to run,
more than most single kernel changes gain. This compares two builds instead: copies of the
package (``python/modcut`` with its ``_core`` extension, e.g. ``cp -r python/modcut A/``
before and after ``make develop``) run in alternation, each in a fresh interpreter, and each
reports the CPU time (``time.process_time``, which the VM's steal time disturbs less than
wall time) of whole null samples on one thread (``_core.null_ncuts``, as the null runs them).

    python benches/ab_sample.py "ResNet-18" A B --rounds 3 --repeats 2

``GRAPH`` is a substring of a name in ``conftest.speed_graphs``. Both builds must give the
same n-cuts (checked; a difference is an error, not a timing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent

CHILD = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from modcut import _core
from modcut.cluster import default_n_init
from conftest import speed_graphs
want, repeats = sys.argv[2], int(sys.argv[3])
graphs = speed_graphs(want)
names = list(graphs)
if len(names) != 1:
    sys.exit(f"graph {want!r} matches {names}")
net = graphs[names[0]]
reduced, kept = _core.reduce_isolated(net.core)
n_init = default_n_init(int(kept.shape[0]))
times, ncuts = [], None
for _ in range(repeats):
    t = time.process_time()
    out = _core.null_ncuts(reduced, "layer", 12, n_init, 0, 0, 1, 1)
    times.append(time.process_time() - t)
    ncuts = [float(v) for v in out]
print(json.dumps({"graph": names[0], "times": times, "ncuts": ncuts}))
"""


def run(build: Path, graph: str, repeats: int) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(build.resolve()), RAYON_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(HERE), graph, str(repeats)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("graph", help="substring of a speed-bench graph name")
    ap.add_argument("a", type=Path, help="folder holding build A's modcut package")
    ap.add_argument("b", type=Path, help="folder holding build B's modcut package")
    ap.add_argument("--rounds", type=int, default=3, help="alternations A, B")
    ap.add_argument("--repeats", type=int, default=2, help="samples per interpreter")
    args = ap.parse_args(argv)
    for build in (args.a, args.b):
        if not (build / "modcut").is_dir():
            ap.error(f"{build} has no modcut package (copy python/modcut there)")
    times: dict[str, list[float]] = {"A": [], "B": []}
    ncuts: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for tag, build in (("A", args.a), ("B", args.b)):
            r = run(build, args.graph, args.repeats)
            times[tag] += [float(t) for t in r["times"]]
            ncuts[tag] = r["ncuts"]
            shown = ", ".join(f"{1e3 * t:.1f} ms" for t in r["times"])
            print(f"{tag} {r['graph']}: {shown}")
    if ncuts["A"] != ncuts["B"]:
        print(f"the builds disagree: A {ncuts['A']} B {ncuts['B']}", file=sys.stderr)
        return 1
    med = {tag: statistics.median(v) for tag, v in times.items()}
    print(
        f"median CPU s/sample: A {med['A']:.4f}, B {med['B']:.4f}, "
        f"B/A {med['B'] / med['A']:.3f} (same n-cuts)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
