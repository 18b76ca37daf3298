"""``modcut analyze``: clusterability of a network against its shuffles, with a report.

Drives :func:`modcut.study.analyze` (and :func:`modcut.study.lesion_study`
with ``--lesion``).
"""

from __future__ import annotations

import argparse
from typing import Any

from modcut.cli import options

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``modcut analyze`` on ``sub`` (an ``add_subparsers`` object)."""
    p: argparse.ArgumentParser = sub.add_parser(
        "analyze",
        help="clusterability of a network vs its shuffles, with figures and report",
        description="Cluster a network, compare its n-cut with shuffled networks, and write "
        "clusterability.json, summary.txt, figures and report.html.",
    )
    p.add_argument(
        "network",
        help="checkpoint (.pt from modcut train), .npz of weight matrices or of a graph saved by "
        "GroupNetwork.save, or .safetensors (every transformer MLP block)",
    )
    options.add_analysis_options(p)
    options.add_n_init(p)
    p.add_argument(
        "--graph",
        choices=["all", "conv"],
        default="all",
        help="graph of a model: all (default) or conv (a CNN's conv-to-conv channels, as the "
        "reference clustered CNNs)",
    )
    options.add_seed(p, "random seed of the analysis (default 0)")
    options.add_out(p, "output folder (default: next to the input)")
    p.add_argument("--lesion", action="store_true", help="also run the lesion tests (checkpoints)")
    p.add_argument(
        "--random",
        type=int,
        default=100,
        help="random lesions per sub-module with --lesion (default 100)",
    )
    options.add_data_dir(
        p, "data folder of the lesion tests (default: the checkpoint's, else the harness's)"
    )
    options.add_distributed(p)
    options.add_output_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``modcut analyze`` for parsed arguments; returns the exit status."""
    from modcut import distributed
    from modcut.study import analyze, lesion_study

    with distributed.connect(args.scheduler, workers=args.workers) as client:
        paths = analyze(
            args.network,
            args.out,
            k=args.k,
            n_shuffles=args.shuffles,
            shuffle=args.shuffle,
            seed=args.seed,
            n_jobs=args.jobs,
            graph=args.graph,
            n_init=args.n_init,
            progress=options.progress_of(args),
            log=options.log_of(args),
            scheduler=client,
        )
    if args.lesion:
        paths.update(
            lesion_study(
                args.network,
                paths["report"].parent,
                k=args.k,
                seed=args.seed,
                n_random=args.random,
                data_root=args.data_dir,
                progress=options.progress_of(args),
                log=options.log_of(args),
            )
        )
    print(paths["summary"].read_text().rstrip())
    print(f"report: {paths['report']}")
    return 0
