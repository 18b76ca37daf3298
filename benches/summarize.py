"""Turn a pytest-benchmark JSON file into the README's tables.

Usage: python benches/summarize.py .benchmarks/latest.json
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def _cell(v: float | None) -> str:
    return f"{v:.4g}" if v else "-"


def _ratio(ref: float | None, v: float | None) -> str:
    return f"{ref / v:.0f}×" if ref and v else "-"


def main(path: str) -> None:
    data = json.loads(open(path).read())
    per_sample: dict[str, dict[str, float]] = defaultdict(dict)
    print(
        f"machine: {data['machine_info'].get('cpu', {}).get('brand_raw', '?')}, "
        f"{data['machine_info'].get('cpu', {}).get('count', '?')} cores\n"
    )
    for b in data["benchmarks"]:
        info = b["extra_info"]
        median = b["stats"]["median"]
        if b["name"].startswith(("test_reference_null_sample", "test_modcut_null_sample")):
            per_sample[info["network"]][info["pipeline"]] = median / info["samples_per_call"]
    if per_sample:
        print("| network | reference s/sample | modcut s/sample | speed-up |")
        print("|---|---|---|---|")
        for net, d in per_sample.items():
            r, m = d.get("reference"), d.get("modcut")
            ratio = f"{r / m:.0f}x" if r and m else "-"
            print(f"| {net} | {r or float('nan'):.4f} | {m or float('nan'):.4f} | {ratio} |")
        print()
    speed: dict[str, dict[str, float]] = defaultdict(dict)
    for b in data["benchmarks"]:
        info = b["extra_info"]
        if b["name"].startswith(("test_reference[", "test_modcut[")):
            speed[info["graph"]][info["pipeline"]] = b["stats"]["median"] / info["samples_per_call"]
    if speed:
        print(
            "| graph | reference s/sample | modcut s/sample | speed-up "
            "| modcut n_init=auto s/sample | speed-up |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        for g, d in speed.items():
            r, m, a = d.get("reference"), d.get("modcut"), d.get("modcut auto")
            print(
                f"| {g} | {_cell(r)} | {_cell(m)} | {_ratio(r, m)} | {_cell(a)} | {_ratio(r, a)} |"
            )
        print()
    rows = [b for b in data["benchmarks"] if b["name"].startswith("test_scaling_with_size")]
    if rows:
        print("| hidden width | nodes | nonzeros | modcut s/sample |")
        print("|---|---|---|---|")
        for b in sorted(rows, key=lambda b: b["extra_info"]["hidden"]):
            i = b["extra_info"]
            print(
                f"| {i['hidden']} | {i['nodes']} | {i['nnz']} | "
                f"{b['stats']['median'] / i['samples_per_call']:.4f} |"
            )
        print()
    for b in data["benchmarks"]:
        if b["name"].startswith("test_graph_and_ncut"):
            print(f"graph + ncut of the pruned network: {b['stats']['median'] * 1e3:.2f} ms")
        if b["name"].startswith("test_ten_thousand"):
            print(f"10,000 null samples: {b['stats']['median']:.1f} s")
        if b["name"].startswith("test_pipelines_agree"):
            print("agreement: " + json.dumps(b["extra_info"], indent=1))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".benchmarks/latest.json")
