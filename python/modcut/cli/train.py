"""``modcut train``: train (and prune) a network and write a checkpoint.

Drives :func:`modcut.harness.train.train`; :func:`config_from_args` turns the
parsed options into its :class:`~modcut.harness.train.TrainConfig`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from modcut.cli import options
from modcut.harness.data import DATASET_NAMES
from modcut.harness.train import TrainConfig, load_checkpoint, model_defaults, train

__all__ = ["add_parser", "config_from_args", "run"]


def _widths(text: str) -> list[int]:
    """Parse ``256``, ``256,128`` or ``256x4`` into widths."""
    out: list[int] = []
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        if "x" in part:
            w, _, times = part.partition("x")
            out += [int(w)] * int(times)
        else:
            out.append(int(part))
    if not out or any(v < 1 for v in out):
        raise argparse.ArgumentTypeError(f"invalid widths {text!r}")
    return out


def flat_widths(values: Sequence[Sequence[int]] | None) -> tuple[int, ...] | None:
    if values is None:
        return None
    return tuple(v for group in values for v in group)


def add_hidden(p: argparse.ArgumentParser, help: str) -> None:
    """``--hidden W …`` (widths as :func:`_widths` parses them; :func:`flat_widths` joins them)."""
    p.add_argument("--hidden", type=_widths, nargs="+", default=None, metavar="W", help=help)


def add_split_sizes(p: argparse.ArgumentParser, prefix: str) -> None:
    """``--n-train N`` and ``--n-test N`` (default None: the whole split)."""
    p.add_argument("--n-train", type=int, default=None, help=f"{prefix} training examples")
    p.add_argument("--n-test", type=int, default=None, help=f"{prefix} test examples")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``modcut train`` on an ``argparse`` sub-parsers object; returns its parser."""
    p = subparsers.add_parser(
        "train",
        help="train (and prune) a network and write a checkpoint",
        description=(
            "Train an MLP or small CNN as in the paper: Adam, then fine-tuning with magnitude "
            "pruning on a polynomial schedule. Writes OUT/checkpoint.pt and OUT/metrics.json."
        ),
    )
    p.add_argument(
        "--dataset", default="fashion", help=f"one of {', '.join(DATASET_NAMES)} (default fashion)"
    )
    p.add_argument(
        "--base", default=None, help="image set that halves/stacked are built from (default mnist)"
    )
    p.add_argument("--model", default="mlp", choices=["mlp", "cnn"])
    add_hidden(p, "MLP hidden widths: '256 256', '256,256' or '256x4' (default 256x4)")
    p.add_argument(
        "--channels",
        type=_widths,
        nargs="+",
        default=None,
        metavar="C",
        help="CNN conv channels (default 64x3)",
    )
    p.add_argument(
        "--dense",
        type=_widths,
        nargs="+",
        default=None,
        metavar="W",
        help="CNN dense hidden widths (default 128)",
    )
    p.add_argument("--epochs", type=int, default=None, help="training epochs (mlp 20, cnn 10)")
    p.add_argument(
        "--prune-epochs",
        type=int,
        default=None,
        help="fine-tuning epochs while pruning (mlp 20, cnn 10; 0 = unpruned)",
    )
    p.add_argument("--sparsity", type=float, default=0.9, help="final sparsity (default 0.9)")
    p.add_argument(
        "--initial-sparsity", type=float, default=0.5, help="initial sparsity (default 0.5)"
    )
    p.add_argument(
        "--prune-every", type=int, default=10, help="steps between mask updates (default 10)"
    )
    p.add_argument(
        "--prune-scope",
        choices=["layer", "global"],
        default="layer",
        help="prune each weight matrix to the sparsity (default) or all together",
    )
    p.add_argument("--batch-size", type=int, default=None, help="batch size (mlp 128, cnn 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument(
        "--dropout",
        type=float,
        default=None,
        help="dropout after dense hidden layers (mlp 0, cnn 0.5)",
    )
    p.add_argument(
        "--conv-dropout", type=float, default=None, help="dropout after conv blocks (cnn 0.25)"
    )
    p.add_argument(
        "--l1",
        type=float,
        nargs="?",
        const=5e-5,
        default=0.0,
        metavar="RATE",
        help="L1 weight penalty (flag alone: 5e-5)",
    )
    p.add_argument(
        "--l2",
        type=float,
        nargs="?",
        const=5e-5,
        default=0.0,
        metavar="RATE",
        help="L2 weight penalty (flag alone: 5e-5)",
    )
    p.add_argument(
        "--clusterable-init",
        type=int,
        nargs="?",
        const=10,
        default=0,
        metavar="K",
        help="plant K modules in the initial weights, drawn at random per neuron, as the "
        "reference (flag alone: 10)",
    )
    p.add_argument(
        "--init",
        choices=["glorot", "torch"],
        default="glorot",
        help="initialisation: glorot (Glorot-uniform kernels, zero biases: Keras's default, "
        "the reference's; default) or torch (PyTorch's default)",
    )
    p.add_argument(
        "--cluster-reg",
        type=float,
        default=0.0,
        metavar="LAMBDA",
        help="clusterability regulariser weight λ: loss + λ/k · (sum of the k smallest "
        "non-trivial eigenvalues of the normalized Laplacian), hidden neurons rescaled every "
        "step; the reference uses 0.1 (default 0: off)",
    )
    p.add_argument(
        "--cluster-reg-k",
        type=int,
        default=3,
        metavar="K",
        help="eigenvalues in the clusterability penalty (default 3)",
    )
    p.add_argument(
        "--cluster-reg-every",
        type=int,
        default=1,
        metavar="N",
        help="add the clusterability penalty every N steps (default 1: every step)",
    )
    p.add_argument(
        "--cluster-reg-normalize",
        choices=["hidden", "all"],
        default="hidden",
        help="neurons rescaled to incoming norm √2 before every step with --cluster-reg: "
        "hidden (the reference's NormalizeWeights; default) or all (the output neurons too)",
    )
    options.add_seed(p, "seed of the weights, data order and dropout (default 0)")
    add_split_sizes(p, "use/generate this many")
    options.add_data_dir(p)
    p.add_argument("--no-download", action="store_true", help="never download data sets")
    p.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda, cuda:N")
    options.add_jobs(
        p,
        "CPU threads (default: 1 for the MLP, torch's default for the CNN; -1: all cores)",
        default=None,
    )
    p.add_argument(
        "--threads",
        dest="jobs",
        type=int,
        action=options.DeprecatedAlias,
        new="--jobs",
        help=argparse.SUPPRESS,
    )
    options.add_out(p, "run directory (checkpoint goes to OUT/checkpoint.pt)", required=True)
    options.add_output_options(p)
    p.set_defaults(func=run)
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` for parsed ``modcut train`` arguments."""
    defaults = model_defaults(args.model)

    def pick(value: Any, key: str) -> Any:
        return defaults[key] if value is None else value

    kwargs: dict[str, Any] = {
        "dataset": args.dataset,
        "base": args.base,
        "model": args.model,
        "epochs": pick(args.epochs, "epochs"),
        "prune_epochs": pick(args.prune_epochs, "prune_epochs"),
        "sparsity": args.sparsity,
        "initial_sparsity": args.initial_sparsity,
        "prune_every": args.prune_every,
        "prune_scope": args.prune_scope,
        "batch_size": pick(args.batch_size, "batch_size"),
        "lr": args.lr,
        "dropout": pick(args.dropout, "dropout"),
        "conv_dropout": pick(args.conv_dropout, "conv_dropout"),
        "l1": args.l1,
        "l2": args.l2,
        "clusterable_init": args.clusterable_init > 0,
        "init_modules": args.clusterable_init if args.clusterable_init > 0 else 10,
        "init": args.init,
        "seed": args.seed,
        "n_train": args.n_train,
        "n_test": args.n_test,
        "data_root": args.data_dir,
        "download": False if args.no_download else None,
        "device": args.device,
        "threads": options.jobs_or_none(args.jobs),
        "cluster_reg": args.cluster_reg,
        "cluster_reg_k": args.cluster_reg_k,
        "cluster_reg_every": args.cluster_reg_every,
        "cluster_reg_normalize": args.cluster_reg_normalize,
    }
    for key in ("hidden", "channels", "dense"):
        value = flat_widths(getattr(args, key))
        if value is not None:
            kwargs[key] = value
    return TrainConfig(**kwargs)


def run(args: argparse.Namespace) -> int:
    """Run ``modcut train`` for parsed arguments; returns the exit status."""
    config = config_from_args(args)
    path = train(config, args.out, progress=options.progress_of(args), verbose=not args.quiet)
    ckpt = load_checkpoint(path)
    m = ckpt.metrics
    if m.get("test_accuracy") is not None:
        result = f"train accuracy {m['train_accuracy']:.4f}, test accuracy {m['test_accuracy']:.4f}"
    else:
        result = f"train mse {m['train_loss']:.4f}, test mse {m['test_loss']:.4f}"
    print(
        f"{config.model} on {ckpt.dataset}: {result}, sparsity {m['sparsity']:.3f}, "
        f"{m['seconds']:.0f} s on {m['device']}"
    )
    print(f"checkpoint: {path}")
    return 0
