"""How much each detail of the clusterable initialisation (and the init) moves the result.

Short runs on Fashion-MNIST (default 10 + 10 epochs, 2 seeds, 200 shuffles per
null), one ``modcut reproduce`` study folder per setting under OUT, then one
Markdown table of the means over seeds (± 95% CI, Student t)::

    python benches/init_ablation.py OUT [--epochs 10 --prune-epochs 10 --seeds 2 --shuffles 200]

Settings: the reference's clusterable initialisation (10 modules drawn at random
per neuron, first layer unscaled, Glorot init) and, one difference at a time,
4 modules, contiguous modules, the first layer scaled, PyTorch's init; modcut's
earlier variant (4 contiguous modules, PyTorch's init); and the control (no
planted modules) under both inits. Resumes like ``reproduce``.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

REFERENCE: dict[str, Any] = {
    "init": "glorot",
    "init_modules": 10,
    "init_assignment": "random",
    "init_scale_first": False,
}

#: name → (variant, TrainConfig overrides)
SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "reference (m=10, random, first unscaled, glorot)": ("clusterable_init", dict(REFERENCE)),
    "m = 4": ("clusterable_init", {**REFERENCE, "init_modules": 4}),
    "contiguous modules": ("clusterable_init", {**REFERENCE, "init_assignment": "contiguous"}),
    "first layer scaled": ("clusterable_init", {**REFERENCE, "init_scale_first": True}),
    "torch init": ("clusterable_init", {**REFERENCE, "init": "torch"}),
    "modcut's earlier (m=4, contiguous, torch)": (
        "clusterable_init",
        {**REFERENCE, "init_modules": 4, "init_assignment": "contiguous", "init": "torch"},
    ),
    "control, glorot": ("control", {"init": "glorot"}),
    "control, torch": ("control", {"init": "torch"}),
}


def _numbers(row: dict[str, str]) -> dict[str, Any]:
    """A runs.csv row with numbers as floats and empty cells as None."""
    return {
        k: v if k == "variant" else (float(v) if v not in ("", None) else None)
        for k, v in row.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--prune-epochs", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--shuffles", type=int, default=200)
    ap.add_argument("--n-train", type=int, default=None)
    ap.add_argument("--only", default=None, help="comma list of setting indices (0-based)")
    args = ap.parse_args()

    from modcut import report, study
    from modcut.report.table import markdown_rows

    out = Path(args.out)
    picked = [list(SETTINGS)[int(i)] for i in args.only.split(",")] if args.only else list(SETTINGS)
    rows = []
    for name in picked:
        variant, overrides = SETTINGS[name]
        if args.n_train:
            overrides = {**overrides, "n_train": args.n_train}
        folder = out / f"s{list(SETTINGS).index(name)}"
        print(f"=== {name} → {folder}", flush=True)
        study.reproduce(
            "fashion",
            args.seeds,
            [variant],
            folder,
            epochs=args.epochs,
            prune_epochs=args.prune_epochs,
            n_shuffles=args.shuffles,
            n_jobs=1,
            train_overrides=overrides,
            progress=False,
            log=None,
        )
        with (folder / "runs.csv").open() as f:
            runs = list(csv.DictReader(f))
        (table,) = study.aggregate_runs([_numbers(r) for r in runs])
        row = markdown_rows([table])[0]
        row["variant"] = name
        rows.append(row)
    text = (
        f"Fashion-MNIST{f' ({args.n_train} training images)' if args.n_train else ''}, "
        f"{args.epochs} + {args.prune_epochs} epochs, seeds 0…{args.seeds - 1}, "
        f"{args.shuffles} shuffles per null; mean ± 95% CI half-width (Student t).\n"
        f"Command: `python benches/init_ablation.py {args.out} --epochs {args.epochs} "
        f"--prune-epochs {args.prune_epochs} --seeds {args.seeds} --shuffles {args.shuffles}"
        + (f" --n-train {args.n_train}" if args.n_train else "")
        + "`\n\n"
        + report.markdown_table(rows)
    )
    (out / "ablation.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
