"""``modcut lesion``: lesion tests of a checkpoint's sub-modules.

Drives :func:`modcut.study.lesion_study`.
"""

from __future__ import annotations

import argparse
from typing import Any

from modcut.cli import options

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``modcut lesion`` on ``sub`` (an ``add_subparsers`` object)."""
    p: argparse.ArgumentParser = sub.add_parser(
        "lesion",
        help="lesion tests of a checkpoint's sub-modules",
        description="Lesion every sub-module (one cluster in one hidden layer) of a trained "
        "network, compare with random same-size lesions, then lesion pairs of sub-modules.",
    )
    p.add_argument("checkpoint", help="checkpoint (.pt) written by modcut train")
    options.add_k(p, "clusters (default 12; reuses clusterability.json in --out when k matches)")
    options.add_seed(p, "seed of the clustering and the random lesions (default 0)")
    p.add_argument(
        "--random", type=int, default=100, help="random lesions per sub-module (default 100)"
    )
    p.add_argument(
        "--min-size", type=int, default=None, help="smallest sub-module (default 3 neurons)"
    )
    p.add_argument(
        "--min-fraction",
        type=float,
        default=None,
        help="smallest sub-module as a fraction of its layer (default 0.05)",
    )
    p.add_argument("--no-double", action="store_true", help="skip the double-lesion test")
    p.add_argument(
        "--max-submodules",
        type=int,
        default=16,
        help="pair the N most damaging sub-modules (default 16; 0: all)",
    )
    p.add_argument(
        "--double-random",
        type=int,
        default=0,
        help="random pairs per double lesion, for a null (default 0: none)",
    )
    p.add_argument(
        "--batch-size", type=int, default=8192, help="evaluation batch size (default 8192)"
    )
    options.add_data_dir(p, "data folder of the test set (default: the checkpoint's)")
    options.add_out(p, "output folder (default: analysis/ next to the checkpoint)")
    options.add_output_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``modcut lesion`` for parsed arguments; returns the exit status."""
    from modcut.study import lesion_study

    paths = lesion_study(
        args.checkpoint,
        args.out,
        k=args.k,
        seed=args.seed,
        n_random=args.random,
        double=not args.no_double,
        max_submodules=args.max_submodules or None,
        n_random_double=args.double_random,
        min_size=args.min_size,
        min_fraction=args.min_fraction,
        batch_size=args.batch_size,
        data_root=args.data_dir,
        progress=options.progress_of(args),
        log=options.log_of(args),
    )
    print(
        f"tables: {paths['single_csv']}"
        + (f", {paths['double_csv']}" if "double_csv" in paths else "")
    )
    print(f"report: {paths['report']}")
    return 0
