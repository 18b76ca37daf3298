"""The lesion study of a trained checkpoint's sub-modules (:func:`lesion_study`, method.md §6),
added to an analysis folder and its page."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

import modcut
from modcut import report
from modcut._io import jsonable, to_csv, write_json
from modcut.lesion_results import aggregate_rows
from modcut.null import ClusterabilityResult
from modcut.readers.load import read_checkpoint
from modcut.study.analysis import Log, default_out

_CLASS_NAMES = {
    "fashion": [
        "T-shirt",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Boot",
    ],
    "cifar10": ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
}


def _class_names(dataset: str | None, n: int) -> list[str] | None:
    names = _CLASS_NAMES.get(dataset or "")
    return names if names is not None and len(names) == n else None


_WEIGHT_FILES = (".npz", ".npy", ".safetensors", ".pt2")


def _lesion_target(checkpoint: Any) -> tuple[Any, Any]:
    """``(network, model)`` of what lesion tests run on; anything without a trained model
    (a weight file, a saved graph) is refused naming it."""
    if isinstance(checkpoint, (str, os.PathLike)):
        if Path(checkpoint).suffix.lower() in _WEIGHT_FILES:
            raise ValueError(
                f"lesion tests need a trained model and its data set: pass a modcut checkpoint "
                f"(a .pt written by modcut train, or its run folder), not a weight or model file "
                f"({checkpoint})"
            )
        ckpt = read_checkpoint(checkpoint)
        return modcut.as_network(ckpt), ckpt.model
    if hasattr(checkpoint, "model"):  # a loaded Checkpoint
        return modcut.as_network(checkpoint), checkpoint.model
    if hasattr(checkpoint, "parameters") and hasattr(checkpoint, "modules"):  # nn.Module
        return modcut.as_network(checkpoint), checkpoint
    raise ValueError("lesion tests need a trained model: pass a checkpoint, not bare weights")


def _test_set(prov: dict[str, Any], data_root: str | None, say: Log) -> Any:
    """The test split of the data set a checkpoint names (its own options), classification only."""
    dataset = prov.get("dataset")
    if not dataset:
        raise ValueError("the checkpoint does not name its data set; pass data=")
    from modcut.harness import data as hdata

    cfg = prov.get("config", {})
    say(f"loading the {dataset} test set")
    data = hdata.load_dataset(
        dataset,
        data_root if data_root is not None else prov.get("data_root"),
        train=False,
        seed=int(cfg.get("seed") or 0),
        n=cfg.get("n_test"),
        base=cfg.get("base"),
        download=cfg.get("download"),
    )
    if getattr(data, "n_classes", None) == 0:
        raise ValueError("lesion tests measure classification accuracy; this is a regression task")
    return data


def prepare_lesions(
    checkpoint: Any, data_root: str | None = None, log: Log | None = None
) -> tuple[Any, Any]:
    """Everything lesion tests need, checked before a long analysis starts: the loaded
    checkpoint (``ValueError`` for weight files and anything else without a trained model)
    and its test set (``DatasetNotFoundError`` saying what to do when there is no copy).
    Returns ``(checkpoint, data)`` for :func:`lesion_study` (``checkpoint=``, ``data=``)."""
    say = log or (lambda _m: None)
    if isinstance(checkpoint, (str, os.PathLike)):
        _lesion_target(checkpoint)  # refuses weight files by name before reading anything
        checkpoint = read_checkpoint(checkpoint)
    net, _ = _lesion_target(checkpoint)
    return checkpoint, _test_set(net.provenance, data_root, say)


def lesion_study(
    checkpoint: Any,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    k: int = 12,
    seed: int = 0,
    n_random: int = 100,
    double: bool = True,
    max_submodules: int | None = 16,
    n_random_double: int = 0,
    min_size: int | None = None,
    min_fraction: float | None = None,
    batch_size: int = 8192,
    data: Any = None,
    data_root: str | None = None,
    progress: bool | None = None,
    log: Log | None = None,
) -> dict[str, Path]:
    """Single (and double) lesion tests of a trained network's sub-modules.

    Parameters
    ----------
    checkpoint:
        A checkpoint path or run folder, a loaded
        :class:`~modcut.harness.train.Checkpoint`, or a ``torch.nn.Module`` (then
        pass ``data=``): lesions need the model itself, not only its weights.
    out_dir:
        Output folder (default as for :func:`analyze`). When it holds a
        ``clusterability.json`` (from :func:`analyze`), its clustering is used
        (``ValueError`` if its ``k`` or widths differ); otherwise the network
        is clustered here (:func:`modcut.cluster`, ``random_state=seed``).
    k, seed:
        Clusters, and the seed of the clustering and of the random lesions.
    n_random:
        Random same-size lesions per sub-module.
    double, max_submodules, n_random_double:
        Run the double-lesion test over the ``max_submodules`` most damaging
        sub-modules (``None``: all), with ``n_random_double`` random pairs each.
    min_size, min_fraction:
        Skip tiny sub-modules (defaults: :data:`modcut.study.lesion.MIN_SIZE`,
        :data:`modcut.study.lesion.MIN_FRACTION`).
    data:
        Evaluation set (an object with ``.x``, ``.y``, ``.n_classes``); default:
        the checkpoint's data set, test split.
    data_root:
        Data folder for that default (``None``: the checkpoint's setting).

    Returns
    -------
    dict of written files: ``single_json``, ``single_csv``, ``lesion_importance``,
    ``lesion_classes`` (and ``double_json``, ``double_csv``, ``lesion_double``), ``report``.
    """
    from modcut.study import lesion as les

    say = log or (lambda _m: None)

    net, model = _lesion_target(checkpoint)
    prov = net.provenance
    dataset = prov.get("dataset")
    out = Path(out_dir) if out_dir is not None else default_out(checkpoint)
    out.mkdir(parents=True, exist_ok=True)

    cpath = out / "clusterability.json"
    if cpath.exists():
        prev = ClusterabilityResult.from_json(cpath)
        if prev.settings.get("k") != k or tuple(prev.widths) != net.widths:
            raise ValueError(
                f"{cpath} holds an analysis with k={prev.settings.get('k')} of a network of widths "
                f"{tuple(prev.widths)}; lesion tests with k={k} of widths {net.widths} would not "
                "match it: use the same --k or another --out"
            )
        labels = prev.labels
        say(f"using the clustering in {cpath}")
    else:
        say(f"clustering {prov.get('source', '?')} (k={k})")
        labels = np.asarray(modcut.cluster(net, k=k, random_state=seed), dtype=np.int64)
        meta = {
            "source": prov.get("source"),
            "dataset": dataset,
            "metrics": jsonable(prov.get("metrics", {})),
            "config": prov.get("config", {}),
            "widths": list(net.widths),
            "labels": labels.tolist(),
            "k": k,
            "modcut_version": modcut.__version__,
        }
        write_json(meta, out / "meta.json")

    if data is None:
        data = _test_set(prov, data_root, say)
    n_classes = getattr(data, "n_classes", None) or None
    kw: dict[str, Any] = {}
    if min_size is not None:
        kw["min_size"] = min_size
    if min_fraction is not None:
        kw["min_fraction"] = min_fraction
    ev = les.LesionEvaluator(model, data.x, data.y, n_classes=n_classes, batch_size=batch_size)
    paths: dict[str, Path] = {}
    try:
        subs = les.submodules(labels, net.widths, **kw)
        say(
            f"single lesions: {len(subs)} sub-modules × {n_random} random lesions "
            f"on {ev.y_np.shape[0]} test samples"
            + ("" if ev.fast else " (no cached fast path: full forward passes)")
        )
        t0 = time.perf_counter()
        single = les.single_lesion_test(
            ev,
            None,
            None,
            labels,
            net.widths,
            n_random=n_random,
            seed=seed,
            modules=subs,
            progress=progress,
        )
        n_sig = sum(1 for x in single.lesions if x.p_value < 0.05)
        say(
            f"  {n_sig}/{len(single.lesions)} sub-modules matter more than random lesions (p < 0.05)  [{time.perf_counter() - t0:.1f} s]"
        )
        paths["single_json"] = out / "lesion_single.json"
        single.to_json(paths["single_json"])
        paths["single_csv"] = out / "lesion_single.csv"
        single.to_csv(paths["single_csv"])
        paths["lesion_importance"] = report.plot_lesion_importance(
            single, out / "lesion_importance.png"
        )
        paths["lesion_classes"] = report.plot_lesion_classes(
            single,
            out / "lesion_classes.png",
            class_names=_class_names(dataset, single.n_classes),
        )
        for name in ("lesion_double.json", "lesion_double.csv", "lesion_double.png"):
            (out / name).unlink(missing_ok=True)  # never report a stale double-lesion test
        if double:
            t0 = time.perf_counter()
            say(f"double lesions over the {max_submodules or 'all'} most damaging sub-modules")
            dres = les.double_lesion_test(
                ev,
                None,
                None,
                labels,
                net.widths,
                single=single,
                max_submodules=max_submodules,
                n_random=n_random_double,
                seed=seed,
                progress=progress,
            )
            say(f"  {len(dres.pairs)} pairs  [{time.perf_counter() - t0:.1f} s]")
            paths["double_json"] = out / "lesion_double.json"
            dres.to_json(paths["double_json"])
            paths["double_csv"] = out / "lesion_double.csv"
            dres.to_csv(paths["double_csv"])
            paths["lesion_double"] = report.plot_double_lesion(dres, out / "lesion_double.png")
        # the reference's aggregate tests over all sub-modules (and pairs)
        agg = {"single": single.aggregate(), "double": dres.aggregate() if double else None}
        paths["aggregate_json"] = out / "lesion_aggregate.json"
        write_json(agg, paths["aggregate_json"])
        paths["aggregate_csv"] = out / "lesion_aggregate.csv"
        to_csv(aggregate_rows(single, dres if double else None), paths["aggregate_csv"])
    finally:
        ev.close()
    paths["report"] = report.build_report(out)
    return paths
