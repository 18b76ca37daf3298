"""``modcut specialization``: weight and activation partitions of a checkpoint, the
importance and coherence of their sub-modules, and their agreement.

Drives :func:`modcut.study.specialization`.
"""

from __future__ import annotations

import argparse
from typing import Any

from modcut.cli import options

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``modcut specialization`` on ``sub`` (an ``add_subparsers`` object)."""
    p: argparse.ArgumentParser = sub.add_parser(
        "specialization",
        help="are a checkpoint's modules functional? importance, coherence, agreement",
        description="Partition a trained network's hidden neurons from its weights and from "
        "its activations, test each partition's sub-modules for importance (lesions) and "
        "coherence (top-activating examples), and compare the two partitions.",
    )
    p.add_argument("checkpoint", help="checkpoint (.pt) written by modcut train, or its run folder")
    options.add_k(p, "clusters of both partitions (default 12)")
    options.add_seed(p, "seed of the clusterings, lesions, unit sets and permutations (default 0)")
    p.add_argument(
        "--corr",
        choices=["spearman", "pearson"],
        default="spearman",
        help="correlation of the activation graph (default spearman, the reference's)",
    )
    p.add_argument(
        "--activation-examples",
        type=int,
        default=5000,
        help="training examples the activation graph is measured on (default 5000)",
    )
    p.add_argument(
        "--random", type=int, default=100, help="random lesions per sub-module (default 100)"
    )
    p.add_argument("--top", type=int, default=10, help="top examples per sub-module (default 10)")
    p.add_argument(
        "--coherence-random",
        type=int,
        default=19,
        help="random unit sets per sub-module for coherence (default 19, the reference's)",
    )
    p.add_argument(
        "--permutations",
        type=int,
        default=1000,
        help="null permutations of the agreement (default 1000)",
    )
    p.add_argument(
        "--feature-steps",
        type=int,
        default=128,
        help="Adam steps of the feature visualisation (default 128; 0: skip it)",
    )
    p.add_argument(
        "--normalize",
        action="store_true",
        help="the authors' weight normalisation before the weight partition",
    )
    options.add_data_dir(p, "data folder (default: the checkpoint's)")
    options.add_out(p, "output folder (default: specialization/ next to the checkpoint)")
    options.add_output_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``modcut specialization`` for parsed arguments; returns the exit status."""
    from modcut.study import specialization

    paths = specialization(
        args.checkpoint,
        args.out,
        k=args.k,
        seed=args.seed,
        corr=args.corr,
        n_activation_examples=args.activation_examples,
        n_random=args.random,
        n_top=args.top,
        n_random_coherence=args.coherence_random,
        n_permutations=args.permutations,
        normalize=args.normalize,
        feature_steps=args.feature_steps,
        data_root=args.data_dir,
        progress=options.progress_of(args),
        log=options.log_of(args),
    )
    print(paths["summary"].read_text().rstrip())
    print(f"report: {paths['report']}")
    return 0
