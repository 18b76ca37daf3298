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
        "Network.save, transformer weights (a Hugging Face model folder, sharded or not, a "
        ".safetensors file, or a Hub model id already in the local cache: every MLP block and "
        "expert, one at a time), a .pt2 written by torch.export.save, or a state dict (.pt, "
        ".safetensors) with --arch",
    )
    p.add_argument(
        "--blocks",
        metavar="LAYERS",
        help="transformer weights: the layer indices to analyze, e.g. 0-5,11 (default: all)",
    )
    p.add_argument(
        "--experts",
        metavar="EXPERTS",
        help="mixture-of-experts models: the experts to analyze in each layer, e.g. 0-7, or "
        "none for the shared experts and dense blocks only (default: all)",
    )
    p.add_argument(
        "--arch",
        metavar="MODULE:CALLABLE",
        help="architecture of a state dict file, e.g. torchvision.models:resnet18 (called with "
        "no arguments, or --arch-kwargs); the state dict is loaded into it strictly and its "
        "graph read from the forward pass",
    )
    p.add_argument(
        "--arch-kwargs",
        metavar="JSON",
        help="keyword arguments of --arch as a JSON object, e.g. '{\"num_classes\": 10}'",
    )
    p.add_argument(
        "--input-shape",
        metavar="SHAPE",
        help="one example's shape without the batch axis for --arch, e.g. 3,224,224 (several "
        "inputs: 3,32,32;10); a .pt2 has its own",
    )
    options.add_analysis_options(p)
    options.add_n_init(p)
    p.add_argument(
        "--normalize",
        action="store_true",
        help="the authors' weight normalisation (nn-clustering-pytorch): every hidden "
        "neuron's incoming weights rescaled to L2 norm 1 (its outgoing weights by the "
        "inverse), in the network and in every shuffle (default: off, the 2021 paper's)",
    )
    p.add_argument(
        "--local",
        action="store_true",
        help="layer-local clustering (Hod et al. 2021): every 3-layer slice clustered on its "
        "own, labels aligned across slices; the same for every shuffle (layered networks)",
    )
    p.add_argument(
        "--device",
        metavar="DEVICE",
        help="compute the null in batches on this torch device, e.g. cuda or cuda:1 (cpu runs "
        "the same torch code on the CPU), in batches of about 8 GiB. The same null "
        "distribution as the default Rust null, with torch's random numbers (default: Rust)",
    )
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
    p.add_argument(
        "--no-resume",
        action="store_true",
        help="do not keep finished null chunks in OUT/null_chunks/ (by default a killed "
        "analysis started again with the same settings computes only the missing ones)",
    )
    p.add_argument(
        "--reuse-null",
        metavar="PATH",
        default=None,
        help="clusterability.json (or analysis folder) of the same network under the other of "
        "the layer/layer_nonzero nulls: taken over where the network has no zero weight "
        "(then both are one null), recorded as settings null_shared_with",
    )
    options.add_output_options(p)
    p.set_defaults(func=run)
    return p


def parse_shape(text: str | None) -> tuple[Any, ...] | None:
    """``"3,224,224"`` -> ``(3, 224, 224)``; ``"3,32,32;10"`` -> ``((3, 32, 32), (10,))``."""
    if text is None:
        return None
    try:
        shapes = [
            tuple(int(d) for d in part.split(",") if d.strip()) for part in str(text).split(";")
        ]
    except ValueError:
        raise ValueError(
            f"--input-shape must be integers separated by commas "
            f"(inputs by ';'), e.g. 3,224,224; got {text!r}"
        ) from None
    if not all(shapes) or any(d <= 0 for s in shapes for d in s):
        raise ValueError(f"--input-shape {text!r} has an empty or non-positive size")
    return shapes[0] if len(shapes) == 1 else tuple(shapes)


def _model_file_args(args: argparse.Namespace) -> dict[str, Any]:
    """``arch``, ``arch_kwargs`` and ``input_shape`` of :func:`modcut.study.analyze`
    from ``--arch``, ``--arch-kwargs`` and ``--input-shape`` (checked here as flags)."""
    import json
    from pathlib import Path

    is_pt2 = Path(args.network).suffix.lower() == ".pt2"
    if args.arch is None and not is_pt2:
        for flag in ("arch_kwargs", "input_shape"):
            if getattr(args, flag) is not None:
                raise ValueError(
                    f"--{flag.replace('_', '-')} needs --arch (a state dict) or a .pt2 file"
                )
    elif args.graph != "all" or args.lesion:
        raise ValueError("--graph conv and --lesion take modcut checkpoints, not model files")
    kwargs = None
    if args.arch_kwargs is not None:
        try:
            kwargs = json.loads(args.arch_kwargs)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--arch-kwargs is not JSON ({exc})") from None
    return {"arch": args.arch, "arch_kwargs": kwargs, "input_shape": parse_shape(args.input_shape)}


def run(args: argparse.Namespace) -> int:
    """Run ``modcut analyze`` for parsed arguments; returns the exit status."""
    from modcut.study import analyze, lesion_study, prepare_lesions

    lesion_input = None
    if args.lesion:  # the checkpoint and its data set, checked before the null runs
        lesion_input = prepare_lesions(
            args.network, data_root=args.data_dir, log=options.log_of(args)
        )
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
        scheduler=args.scheduler,
        workers=args.workers,
        resume=not args.no_resume,
        reuse_null=args.reuse_null,
        blocks=args.blocks,
        experts=args.experts,
        normalize=args.normalize,
        local=args.local,
        device=args.device,
        **_model_file_args(args),
    )
    if lesion_input is not None:
        checkpoint, data = lesion_input
        paths.update(
            lesion_study(
                checkpoint,
                paths["report"].parent,
                data=data,
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
