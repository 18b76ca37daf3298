"""``modcut reproduce``: train the study's variants over seeds, analyze them, write the table.

Drives :func:`modcut.study.reproduce`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from modcut.cli import options
from modcut.cli.train import add_hidden, add_split_sizes, flat_widths

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


def _shuffles_arg(text: str) -> list[str]:
    known = options.shuffle_choices()
    names = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in names if v not in known]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown shuffle method(s) {', '.join(bad) or '(none)'}; choose from {', '.join(known)}"
        )
    return list(dict.fromkeys(names))


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
    from modcut.study import STUDY_SHUFFLES, VARIANTS

    p: argparse.ArgumentParser = sub.add_parser(
        "reproduce",
        help="train the study's variants over seeds, analyze them, write the table",
        description="Train each variant × seed (resuming finished runs), analyze each network "
        "against each null and write runs.csv, table.csv and table.md (means over seeds with "
        "95% Student-t confidence intervals, the nulls side by side).",
    )
    p.add_argument(
        "--dataset",
        default="fashion",
        help="data set: fashion (default), mnist, cifar10, halves, …",
    )
    p.add_argument(
        "--seeds",
        type=_seeds_arg,
        default=5,
        help="number of seeds (default 5, as the reference: seeds 0-4), or a comma list of seeds",
    )
    p.add_argument(
        "--variants",
        type=_variants_arg,
        default=["control", "dropout"],
        help=f"comma list of {','.join(VARIANTS)}, or 'all' (default control,dropout)",
    )
    p.add_argument(
        "--model",
        choices=["mlp", "cnn"],
        default="mlp",
        help="mlp (default) or cnn (the small CNN with its own defaults: 10 + 10 epochs, "
        "batch 64, dropout 0.25/0.5)",
    )
    p.add_argument(
        "--base",
        default=None,
        help="image set halves/halves_same/stacked/stacked_same are built from (default mnist)",
    )
    p.add_argument(
        "--graph",
        choices=["auto", "conv", "all"],
        default="auto",
        help="graph analyzed: auto (default: conv for the CNN, all for the MLP), conv "
        "(conv-to-conv channels only, as the reference) or all (conv and dense)",
    )
    p.add_argument(
        "--init",
        choices=["glorot", "torch"],
        default=None,
        help="initialisation (default glorot: Keras's, the reference's)",
    )
    p.add_argument("--epochs", type=int, default=None, help="training epochs (mlp 20, cnn 10)")
    p.add_argument("--prune-epochs", type=int, default=None, help="pruning epochs (mlp 20, cnn 10)")
    add_hidden(p, "MLP hidden widths of every run, as for modcut train (default 256x4)")
    add_split_sizes(p, "every run uses this many")
    p.add_argument(
        "--cluster-reg",
        type=float,
        default=None,
        metavar="LAMBDA",
        help="λ of the cluster_reg variant (default 0.05, measured for the full-size MLP; the "
        "reference's small-MLP setting is 0.1)",
    )
    p.add_argument(
        "--cluster-reg-k",
        type=int,
        default=None,
        metavar="K",
        help="eigenvalues in the cluster_reg variant's penalty (default 3)",
    )
    p.add_argument(
        "--cluster-reg-normalize",
        choices=["hidden", "all"],
        default=None,
        help="neurons the cluster_reg variant rescales every step: all (hidden and output "
        "neurons; default, measured in the README) or hidden (the reference's)",
    )
    options.add_k(p)
    p.add_argument(
        "--shuffles", type=int, default=1000, metavar="N", help="null networks (default 1000)"
    )
    p.add_argument(
        "--shuffle",
        type=_shuffles_arg,
        default=list(STUDY_SHUFFLES),
        help="comma list of nulls, each run analyzed against each (default layer,layer_nonzero)",
    )
    options.add_n_init(p)
    options.add_jobs(p)
    options.add_data_dir(p)
    options.add_out(p, "study folder (default runs/reproduce-<dataset>[-<base>][-cnn])")
    p.add_argument(
        "--tables-only",
        action="store_true",
        help="train and analyze nothing: write the tables from the runs already finished",
    )
    p.add_argument(
        "--specialization",
        action="store_true",
        help="also run modcut specialization on every network (weight and activation "
        "partitions: importance, coherence, agreement) and write specialization_table.md/.csv",
    )
    options.add_distributed(p)
    options.add_output_options(p)
    p.set_defaults(func=run)
    return p


def _train_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``--hidden``, ``--n-train`` and ``--n-test`` as ``TrainConfig`` fields (given ones only)."""
    out: dict[str, Any] = {
        "hidden": flat_widths(args.hidden),
        "n_train": args.n_train,
        "n_test": args.n_test,
    }
    return {key: value for key, value in out.items() if value is not None}


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
            n_init=args.n_init,
            data_root=args.data_dir,
            variant_options={
                "cluster_reg": {
                    "cluster_reg": args.cluster_reg,
                    "cluster_reg_k": args.cluster_reg_k,
                    "cluster_reg_normalize": args.cluster_reg_normalize,
                }
            },
            model=args.model,
            base=args.base,
            graph=args.graph,
            init=args.init,
            train_overrides=_train_overrides(args),
            tables_only=args.tables_only,
            progress=options.progress_of(args),
            log=options.log_of(args),
            command=command,
            scheduler=client,
            specialization=args.specialization,
        )
    return 0
