"""``modcut demo``: train, analyze and lesion one short pruned MLP on Fashion-MNIST.

Drives :func:`modcut.study.demo`.
"""

from __future__ import annotations

import argparse
from typing import Any

from modcut.cli import options

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``modcut demo`` on ``sub`` (an ``add_subparsers`` object)."""
    p: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="train, analyze and lesion one short pruned MLP on Fashion-MNIST",
        description="The whole pipeline in a few minutes on a laptop: train a pruned MLP "
        "(short settings), test its clusterability against 1,000 shuffles, run the lesion "
        "tests, and write an HTML report.",
    )
    options.add_out(p, "output folder (default demo)", default="demo")
    p.add_argument("--epochs", type=int, default=2, help="training epochs (default 2)")
    p.add_argument("--prune-epochs", type=int, default=2, help="pruning epochs (default 2)")
    options.add_analysis_options(p)
    p.add_argument(
        "--random", type=int, default=50, help="random lesions per sub-module (default 50)"
    )
    options.add_seed(p, "seed of training and analysis (default 0)")
    options.add_data_dir(p)
    options.add_output_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``modcut demo`` for parsed arguments; returns the exit status."""
    from modcut.study import demo

    demo(
        args.out,
        epochs=args.epochs,
        prune_epochs=args.prune_epochs,
        n_shuffles=args.shuffles,
        shuffle=args.shuffle,
        n_random=args.random,
        k=args.k,
        n_jobs=args.jobs,
        seed=args.seed,
        data_root=args.data_dir,
        progress=options.progress_of(args),
        log=options.log_of(args),
    )
    return 0
