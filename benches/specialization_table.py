"""The README's structure-and-function table from ``modcut specialization`` runs.

Reads ``ROOT/<variant>/seed<k>/specialization.csv`` and ``agreement.csv`` (as written by
``modcut specialization CHECKPOINT --out ROOT/<variant>/seed<k>``) and prints one Markdown
row per variant, partition and measure: seeds, the median and range over seeds of
Fisher's combined p and of the chi² p, the seeds with Fisher p < 0.05, and the mean effect
(importance: effect factor, 0.5 = as random lesions; coherence: effect size, 1 = as random
unit sets, median over sub-modules) ± its standard deviation over seeds; then the agreement (ARI, NMI, mean over hidden layers)
between the two partitions.

Run: ``python benches/specialization_table.py /work/runs/spec``
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np


def _sd(v: np.ndarray) -> float:
    return float(v.std(ddof=1)) if len(v) > 1 else 0.0


def main(root: str) -> int:
    rows: dict[tuple[str, str, str], list[dict[str, str]]] = defaultdict(list)
    agree: dict[str, list[dict[str, str]]] = defaultdict(list)
    for spec in sorted(Path(root).glob("*/seed*/specialization.csv")):
        variant = spec.parent.parent.name
        for r in csv.DictReader(open(spec)):
            rows[(variant, r["partition"], r["measure"])].append(r)
        pooled = list(csv.DictReader(open(spec.parent / "agreement.csv")))[-1]
        agree[variant].append(pooled)
    print("| variant | partition | measure | seeds | Fisher p: median (range) | χ² p: median "
          "| seeds with Fisher p < 0.05 | effect (mean ± sd) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for (variant, part, measure), rs in rows.items():
        f = np.array([float(r["fisher_p"]) for r in rs])
        c = np.array([float(r["chi2_p"]) for r in rs])
        e = np.array([float(r["effect"]) for r in rs])
        print(
            f"| {variant} | {part} | {measure} | {len(rs)} | {np.median(f):.2g} "
            f"({f.min():.2g}–{f.max():.2g}) | {np.median(c):.2g} | {int((f < 0.05).sum())}/{len(rs)} "
            f"| {e.mean():.3f} ± {e.std(ddof=1) if len(e) > 1 else 0:.3f} |"
        )
    print()
    print(
        "| variant | seeds | ARI weights vs activations (mean ± sd) | p ≤ 0.05 | NMI (mean ± sd) |"
    )
    print("|---|---|---|---|---|")
    for variant, rs in agree.items():
        ari = np.array([float(r["ari"]) for r in rs])
        nmi = np.array([float(r["nmi"]) for r in rs])
        sig = sum(float(r["ari_p"]) <= 0.05 for r in rs)
        print(f"| {variant} | {len(rs)} | {ari.mean():.3f} ± {_sd(ari):.3f} | {sig}/{len(rs)} "
              f"| {nmi.mean():.3f} ± {_sd(nmi):.3f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "/work/runs/spec"))
