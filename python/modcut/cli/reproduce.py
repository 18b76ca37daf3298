"""``modcut reproduce``: train the study's variants over seeds, analyze them, write the table.

Drives :func:`modcut.study.reproduce`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from modcut.cli import options

__all__ = ["add_parser", "run"]


def _variants_arg(text: str) -> list[str]:
    from modcut.study import VARIANTS

    names = [v.strip() for v in text.split(",") if v.strip()]
    if names == ["all"]:
        return list(VARIANTS)
    bad = [v for v in names if v not in VARIANTS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown variant(s) {', '.join(bad) or '(none)'}; choose from {', '.join(VARIANTS)} or 'all'"
        )
    return names


def _seeds_arg(text: str) -> int | list[int]:
    try:
        if "," in text:
            return [int(s) for s in text.split(",") if s.strip()]
        n = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected a count or a comma list of seeds, got {text!r}"
        ) from exc
    if n < 1:
        raise argparse.ArgumentTypeError("need at least one seed")
    return n


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``modcut reproduce`` on ``sub`` (an ``add_subparsers`` object)."""
    from modcut.study import VARIANTS

    p: argparse.ArgumentParser = sub.add_parser(
        "reproduce",
        help="train the study's variants over seeds, analyze them, write the table",
        description="Train each variant × seed (resuming finished runs), analyze each network "
        "and write runs.csv, table.csv and table.md.",
    )
    p.add_argument(
        "--dataset",
        default="fashion",
        help="data set: fashion (default), mnist, cifar10, halves, …",
    )
    p.add_argument(
        "--seeds",
        type=_seeds_arg,
        default=2,
        help="number of seeds (default 2: seeds 0 and 1), or a comma list of seeds",
    )
    p.add_argument(
        "--variants",
        type=_variants_arg,
        default=["control", "dropout"],
        help=f"comma list of {','.join(VARIANTS)}, or 'all' (default control,dropout)",
    )
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 20)")
    p.add_argument("--prune-epochs", type=int, default=None, help="pruning epochs (default 20)")
    p.add_argument(
        "--cluster-reg",
        type=float,
        default=None,
        metavar="LAMBDA",
        help="λ of the cluster_reg variant (default 0.1, the reference's small-MLP setting)",
    )
    p.add_argument(
        "--cluster-reg-k",
        type=int,
        default=None,
        metavar="K",
        help="eigenvalues in the cluster_reg variant's penalty (default 3)",
    )
    options.add_analysis_options(p)
    options.add_data_dir(p)
    options.add_out(p, "study folder (default runs/reproduce-<dataset>)")
    options.add_distributed(p)
    options.add_output_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``modcut reproduce`` for parsed arguments; returns the exit status."""
    from modcut import distributed
    from modcut.study import reproduce

    command = "modcut " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["reproduce"] else None
    with distributed.connect(args.scheduler, workers=args.workers) as client:
        reproduce(
            args.dataset,
            args.seeds,
            args.variants,
            args.out,
            epochs=args.epochs,
            prune_epochs=args.prune_epochs,
            k=args.k,
            n_shuffles=args.shuffles,
            shuffle=args.shuffle,
            n_jobs=args.jobs,
            data_root=args.data_dir,
            variant_options={
                "cluster_reg": {
                    "cluster_reg": args.cluster_reg,
                    "cluster_reg_k": args.cluster_reg_k,
                }
            },
            progress=options.progress_of(args),
            log=options.log_of(args),
            command=command,
            scheduler=client,
        )
    return 0
