"""The study end to end: analyze a network, lesion its clusters, reproduce the table.

* :func:`analyze` — clusterability of one network against its null
  distribution, written as JSON, a text summary, figures and an HTML page.
* :func:`lesion_study` — single and double lesion tests of a trained
  checkpoint's sub-modules (method.md §6), added to the same page.
* :func:`reproduce` — train the variants of method.md §5 over several seeds,
  analyze each and write the study's table (CSV and Markdown); resumable.
* :func:`demo` — one short pruned MLP on Fashion-MNIST, analyzed, lesioned
  and reported, printing each step.

The ``modcut analyze|lesion|reproduce|demo`` commands that drive these live
in :mod:`modcut.cli`; the HTML page is :func:`modcut.report.build_report`.

Output folder of an analysis (fixed names, so steps can be re-run and add to
one another)::

    clusterability.json   ClusterabilityResult (ClusterabilityResult.from_json reads it)
    meta.json             source, dataset, test accuracy, widths, within-cluster weight share
    summary.txt           the human-readable summary
    clusters.csv          neurons per cluster and layer
    null_histogram.png, network.png, weights.png
    lesion_single.json/.csv, lesion_double.json/.csv, lesion_*.png   (after lesion tests)
    report.html           everything above on one self-contained page
"""

from __future__ import annotations

import html
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modcut._io import jsonable, read_json, write_json
from modcut._params import check, check_each
from modcut.readers.load import as_graph, config_dict

__all__ = [
    "STUDY_SHUFFLES",
    "VARIANTS",
    "aggregate_runs",
    "analyze",
    "demo",
    "lesion_study",
    "reproduce",
    "variant_config",
]

#: Training variants of method.md §5, as overrides of ``harness.train.TrainConfig``.
#: ``control`` is the pruned baseline; every variant except ``unpruned`` and
#: ``untrained`` is pruned. ``clusterable_init`` is the reference's (10 modules drawn
#: at random per neuron, first layer unscaled); ``untrained`` / ``untrained_pruned``
#: are the 2020 paper's baselines: the seeded initialisation (the weights ``control``
#: starts from), not trained, unpruned / magnitude-pruned to the study's sparsity.
VARIANTS: dict[str, dict[str, Any]] = {
    "control": {},
    "dropout": {"dropout": 0.5},
    "unpruned": {"prune_epochs": 0},
    "l1": {"l1": 5e-5},
    "l2": {"l2": 5e-5},
    "clusterable_init": {"clusterable_init": True},
    "untrained_pruned": {"untrained": True},
    "untrained": {"untrained": True, "prune_epochs": 0},
    # the clusterability regulariser (method.md §7) as measured for the full-size MLP
    # (README, "The clusterability regulariser"): 3 eigenvalues as the reference's small-MLP
    # setting, λ = 0.05 instead of its 0.1, and the output neurons normalised too (with the
    # reference's hidden-only normalisation the output layer's weights grow about 85× and
    # dominate the graph); ``modcut reproduce --cluster-reg/--cluster-reg-k/
    # --cluster-reg-normalize`` change them
    "cluster_reg": {"cluster_reg": 0.05, "cluster_reg_k": 3, "cluster_reg_normalize": "all"},
}

#: The nulls ``reproduce`` tests every network against by default (method.md §4:
#: ``layer`` as the published tables, ``layer_nonzero`` the stricter test).
STUDY_SHUFFLES = ("layer", "layer_nonzero")

Log = Callable[[str], None]


def _print(msg: str) -> None:
    print(msg, flush=True)


def _default_out(source: Any) -> Path:
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        return (
            p.parent / "analysis" if p.stem == "checkpoint" else p.with_name(p.stem + "_analysis")
        )
    return Path("analysis")


# --------------------------------------------------------------------------- analyze


def analyze(
    network: Any,
    out_dir: str | os.PathLike[str] | None = None,
    k: int = 12,
    n_shuffles: int = 1000,
    shuffle: str = "layer_nonzero",
    seed: int = 0,
    n_jobs: int | None = -1,
    *,
    graph: str = "all",
    n_init: int | str | None = None,
    progress: bool | None = None,
    log: Log | None = None,
    scheduler: Any = None,
    workers: int | None = None,
    resume: bool = True,
    source: str | None = None,
    reuse_null: str | os.PathLike[str] | None = None,
    arch: str | None = None,
    arch_kwargs: dict[str, Any] | None = None,
    input_shape: Any = None,
) -> dict[str, Path]:
    """Clusterability of a network against its shuffles, with figures and a report.

    Every input goes through the same path (:func:`_read_input`, then
    :func:`_analyze_one`), so every option below means the same thing for all of
    them and is recorded in the result's ``settings``; a ``.safetensors`` file of
    transformer blocks is a loop over that path, one sub-folder per block.

    Parameters
    ----------
    network:
        Anything :func:`modcut.readers.load.as_graph` takes: a checkpoint path or run folder,
        a ``.npz``/``.npy`` file of weight matrices, a ``.npz`` written by
        :meth:`modcut.GroupNetwork.save`, a ``.pt2`` written by ``torch.export.save``,
        a ``torch.nn.Module``, weight matrices, a :class:`modcut.Network` or a
        :class:`modcut.GroupNetwork`; a state dict file (``.pt``, ``.safetensors``)
        with ``arch``; or a ``.safetensors`` file without ``arch``: every transformer
        MLP block in it (:func:`modcut.mlp_blocks`).
    out_dir:
        Output folder (default: ``analysis/`` next to a ``checkpoint.pt``,
        ``<stem>_analysis/`` next to another file, else ``./analysis``).
    k, n_shuffles, shuffle, seed, n_jobs:
        Passed to :func:`modcut.clusterability` (``seed`` is its ``random_state``).
    graph:
        Part of a model's graph to analyze: ``"all"`` (default) or ``"conv"`` (a
        CNN's conv-to-conv channel graph, as the reference clustered CNNs); only
        ``"all"`` for group networks and model files. Recorded as ``settings["part"]``
        (``settings["graph"]`` of a group network's result says ``"groups"``).
    n_init:
        k-means restarts of :func:`modcut.clusterability` (default: the
        reference's; ``"auto"``: the stopping rule).
    progress:
        Progress bar for the null distribution (default: when stderr is a terminal).
    log:
        Called with one line per step (default: silent).
    scheduler, workers:
        Compute the null on Dask: a ``dask.distributed.Client`` or an address, or
        ``workers`` single-threaded local worker processes
        (:func:`modcut.distributed.connect`; one cluster for every block).
    resume:
        Keep finished null chunks in ``out_dir/null_chunks/`` so that a killed
        analysis started again with the same settings computes only the
        missing ones (:mod:`modcut.store`), for every kind of input.
    source:
        What to record as the network's source (``provenance["source"]`` and
        ``meta.json``) for a network handed in memory (e.g. the file it was read from).
    reuse_null:
        A ``clusterability.json`` (or the folder holding it; for blocks, the folder
        of the blocks' analysis) of the same network under the other of the
        ``"layer"``/``"layer_nonzero"`` nulls. For a network without a single zero
        weight the two nulls are the same null, sample for sample (both permute
        every weight of each layer or edge group, with the same random draws;
        tested), so its result is taken over (with ``settings["shuffle"]`` set to
        ``shuffle`` and ``settings["null_shared_with"]`` naming the other) instead of
        being computed again. Used only when that holds and its k, n_shuffles, seed,
        n_init, widths and source are these; otherwise the null is computed as usual.
    arch, arch_kwargs, input_shape:
        A state dict file's architecture (``"MODULE:CALLABLE"``), its keyword
        arguments and the input shape of its forward pass
        (:func:`modcut.readers.load.model_file_graph`); ``input_shape`` also checks a
        ``.pt2``'s recorded shape.

    Every result's ``settings`` holds, besides :func:`modcut.clusterability`'s
    (``k``, ``n_init`` incl. ``"auto"`` and ``n_init_max``, ``shuffle``,
    ``n_shuffles``, ``random_state``, ``n_jobs``, …): ``part``, ``scheduler``
    (``None``, ``"local"`` for ``workers``, or the scheduler's address),
    ``workers`` (Dask workers in use, or ``None``), ``resume``, ``store``
    (``"null_chunks"``, relative to the analysis folder, or ``None``) and, for a
    shared null, ``null_shared_with``; its ``provenance`` says where the network
    came from (``source``, ``kind``; a block adds ``block`` and ``layout``).

    Returns
    -------
    dict of written files: ``json``, ``meta``, ``summary``, ``clusters``,
    ``null_histogram``, ``report`` and, for layered networks, ``network`` and
    ``weights`` (and ``training`` for a checkpoint trained with the regulariser).
    For transformer blocks: ``csv`` (blocks.csv), ``json`` (blocks.json),
    ``report``, ``summary`` and, per block, ``block:<name>`` (the ``report.html``
    of its analysis folder ``out_dir/<name>/``).
    """
    from modcut import distributed

    check_each(k=k, n_shuffles=n_shuffles, shuffle=shuffle, seed=seed, n_jobs=n_jobs, n_init=n_init)
    say = log or (lambda _m: None)
    out = Path(out_dir) if out_dir is not None else _default_out(network)
    inputs, blocks = _read_input(
        network,
        graph=graph,
        source=source,
        arch=arch,
        arch_kwargs=arch_kwargs,
        input_shape=input_shape,
    )
    with distributed.connect(scheduler, workers=workers) as client:
        run = _Run(
            k=k,
            n_shuffles=n_shuffles,
            shuffle=shuffle,
            seed=seed,
            n_jobs=n_jobs,
            n_init=n_init,
            progress=progress,
            client=client,
            store=STORE if resume else None,
            options=_run_options(graph, client, scheduler, workers, resume),
        )
        if blocks:
            return _analyze_blocks(inputs, out, run, say, reuse_null)
        (one,) = inputs
        paths, _ = _analyze_one(one, out, run, say, reuse_null, history=network)
        return paths


#: Folder of the finished null chunks inside an analysis folder (``resume``).
STORE = "null_chunks"


@dataclass(frozen=True)
class _Input:
    """One network to analyze: the network, where it came from, and for a
    transformer block its name and layout."""

    net: Any  # a modcut.Network
    provenance: dict[str, Any]
    name: str = ""
    layout: str = ""


@dataclass(frozen=True)
class _Run:
    """The options of one :func:`analyze` call, the same for every network it analyzes."""

    k: int
    n_shuffles: int
    shuffle: str
    seed: int
    n_jobs: int | None
    n_init: int | str | None
    progress: bool | None
    client: Any
    store: str | None
    options: dict[str, Any]  # added to every result's settings


def _run_options(
    graph: str, client: Any, scheduler: Any, workers: int | None, resume: bool
) -> dict[str, Any]:
    """The analysis options recorded in every result's ``settings`` (see :func:`analyze`)."""
    where: str | None = None
    n_workers: int | None = None
    if client is not None:
        if workers is not None:
            client.wait_for_workers(int(workers), timeout=120)
            where = "local"
        else:
            where = scheduler if isinstance(scheduler, str) else str(client.scheduler.address)
        n_workers = len(client.nthreads())  # every worker (scheduler_info may list a few)
    return {
        "part": graph,
        "scheduler": where,
        "workers": n_workers,
        "resume": bool(resume),
        "store": STORE if resume else None,
    }


def _read_input(
    network: Any,
    *,
    graph: str,
    source: str | None,
    arch: str | None,
    arch_kwargs: dict[str, Any] | None,
    input_shape: Any,
) -> tuple[list[_Input], bool]:
    """The networks of an input and whether they are transformer blocks (a loop)."""
    from modcut.readers.load import model_file_graph

    path = Path(network) if isinstance(network, (str, os.PathLike)) else None
    suffix = path.suffix.lower() if path is not None else ""
    model_file = arch is not None or suffix == ".pt2"
    if not model_file and (arch_kwargs is not None or input_shape is not None):
        raise ValueError("arch_kwargs and input_shape need arch (a state dict file) or a .pt2 file")
    if (model_file or suffix == ".safetensors") and graph != "all":
        raise ValueError(
            f"graph={graph!r} takes modcut checkpoints and modules; model files and "
            "transformer blocks are analyzed whole (graph='all')"
        )
    if model_file:
        if path is None:
            raise TypeError(f"arch needs a state dict file, got {type(network).__name__}")
        g = model_file_graph(path, arch=arch, arch_kwargs=arch_kwargs, input_shape=input_shape)
        prov: dict[str, Any] = {
            "source": str(network),
            "kind": "pt2" if arch is None else "state dict",
        }
        if arch is not None:
            prov.update(arch=arch, arch_kwargs=dict(arch_kwargs or {}))
        return [_Input(as_graph(g), prov)], False
    if path is not None and suffix == ".safetensors":
        from modcut.readers.blocks import mlp_blocks

        return [
            _Input(
                b.network,
                {
                    "source": str(network),
                    "kind": "safetensors",
                    "block": b.name,
                    "layout": b.layout,
                },
                b.name,
                b.layout,
            )
            for b in mlp_blocks(path)
        ], True
    net = as_graph(network, part=graph)
    if not net.is_chain():
        prov = (
            {"source": str(network), "kind": "npz (groups)"}
            if path is not None
            else {"source": source or "Network (in memory)", "kind": "groups"}
        )
    else:
        prov = dict(net.provenance)
        if source is not None and path is None:
            prov["source"] = source
    return [_Input(net, prov)], False


def _analyze_one(
    item: _Input,
    out: Path,
    run: _Run,
    say: Log,
    reuse_null: str | os.PathLike[str] | None,
    history: Any = None,
) -> tuple[dict[str, Path], Any]:
    """The analysis of one network into ``out``: ``(paths, ClusterabilityResult)``."""
    from dataclasses import replace

    import modcut
    from modcut import report

    net, prov = item.net, item.provenance
    # the one place that decides what applies to layered chains only: the layered
    # network and weight-block figures, the within-cluster share, planted modules and
    # the training curves (a checkpoint's)
    layered = net.is_chain()
    out.mkdir(parents=True, exist_ok=True)
    shape = (
        f"widths {' × '.join(map(str, net.widths))}"
        if layered
        else f"{len(net.groups)} node groups, {net.n_nodes} neurons"
    )
    say(
        f"clustering {prov.get('source', '?')} (k={run.k}) and {run.n_shuffles} "
        f"'{run.shuffle}' shuffles ({shape})"
    )
    t0 = time.perf_counter()
    shared = None
    if reuse_null is not None:
        twin = Path(reuse_null)
        twin = twin / "clusterability.json" if twin.is_dir() else twin
        shared = _shared_null(net, prov, twin, run)
    if shared is not None:
        result = shared
        say(
            f"  the network has no zero weight: the '{run.shuffle}' null is the "
            f"'{result.settings['null_shared_with']}' null, taken over from {reuse_null}"
        )
    else:
        result = modcut.clusterability(
            net,
            k=run.k,
            n_shuffles=run.n_shuffles,
            shuffle=run.shuffle,
            random_state=run.seed,
            n_jobs=run.n_jobs,
            n_init=run.n_init,
            progress=run.progress,
            scheduler=run.client,
            store=out / run.store if run.store is not None else None,
        )
        result = replace(result, settings={**result.settings, **run.options}, provenance=dict(prov))
    say(f"  {result.summary().splitlines()[0]}  [{time.perf_counter() - t0:.1f} s]")
    paths: dict[str, Path] = {"json": out / "clusterability.json"}
    result.to_json(paths["json"])
    meta: dict[str, Any] = {
        "source": prov.get("source"),
        "dataset": prov.get("dataset"),
        "metrics": jsonable(prov.get("metrics", {})),
        "config": prov.get("config", {}),
        "widths": list(net.widths),
    }
    if layered:
        meta["within_cluster_share"] = report.within_cluster_share(
            list(net.layers), result.labels, net.widths
        )
    else:
        meta["groups"] = [g.name for g in net.groups]
        meta["summary_graph"] = net.summary()
    meta["graph"] = prov.get("graph", "all")
    meta["modcut_version"] = modcut.__version__
    planted = prov.get("planted") if layered else None
    if planted:
        from modcut.planted import planted_agreement
        from modcut.readers.extract import part_offset

        meta["planted"] = {
            **planted_agreement(
                result.labels,
                net.widths,
                planted,
                offset=part_offset(prov.get("graph", "all")),
                n_layers=prov.get("n_layers"),
            ),
            "k": planted.get("k"),
            "assignment": planted.get("assignment"),
        }
    paths["meta"] = out / "meta.json"
    write_json(meta, paths["meta"])
    paths["clusters"] = report.write_csv(
        report.cluster_size_table(result.labels, net.widths), out / "clusters.csv"
    )
    say("  drawing figures")
    paths["null_histogram"] = report.plot_null_histogram(result, out / "null_histogram.png")
    if layered:
        weights = list(net.layers)  # sparse: no dense round trip
        paths["network"] = report.plot_network(
            result.labels, net.widths, out / "network.png", weights=weights
        )
        paths["weights"] = report.plot_weight_blocks(
            weights, result.labels, net.widths, out / "weights.png"
        )
        hist = _training_history(history, prov)
        if any(h.get("cluster_penalty") is not None for h in hist):
            paths["training"] = report.plot_training_curves(hist, out / "training.png")
    paths["report"] = report.build_report(out)
    paths["summary"] = out / "summary.txt"
    return paths, result


def _block_folders(names: Sequence[str]) -> list[str]:
    """One folder name per block (its name, with characters other than letters,
    digits, ``.``, ``_`` and ``-`` replaced; made unique)."""
    import re

    seen: set[str] = set()
    out = []
    for name in names:
        base = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip(".") or "block"
        folder, i = base, 1
        while folder in seen:
            i += 1
            folder = f"{base}-{i}"
        seen.add(folder)
        out.append(folder)
    return out


def _analyze_blocks(
    inputs: list[_Input],
    out: Path,
    run: _Run,
    say: Log,
    reuse_null: str | os.PathLike[str] | None,
) -> dict[str, Path]:
    """Every transformer block through :func:`_analyze_one`, each into its own
    sub-folder (so each resumes and runs on Dask), then one table and one page."""
    import modcut
    from modcut import report

    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    paths: dict[str, Path] = {}
    folders = _block_folders([b.name for b in inputs])
    for b, folder in zip(inputs, folders, strict=True):
        say(f"block {b.name} ({b.layout}, widths {' × '.join(map(str, b.net.widths))})")
        twin = Path(reuse_null) / folder if reuse_null is not None else None
        sub, res = _analyze_one(b, out / folder, run, lambda m: say("  " + m), twin)
        paths[f"block:{b.name}"] = sub["report"]
        rows.append(
            {
                "block": b.name,
                "layout": b.layout,
                "widths": "x".join(map(str, b.net.widths)),
                "ncut": res.ncut,
                "null_mean": res.null_mean,
                "null_std": res.null_std,
                "z_score": res.z_score,
                "p_value": res.p_value,
                "percentile": res.percentile,
                "seconds": res.timings["observed"] + res.timings["null"],
            }
        )
    paths["csv"] = report.write_csv(rows, out / "blocks.csv")
    paths["json"] = out / "blocks.json"
    settings = {
        "source": inputs[0].provenance["source"],
        "k": run.k,
        "n_shuffles": run.n_shuffles,
        "shuffle": run.shuffle,
        "seed": run.seed,
        "n_init": run.n_init,
        "n_jobs": run.n_jobs if run.n_jobs is not None else -1,
        **run.options,
        "modcut_version": modcut.__version__,
    }
    write_json({"settings": settings, "blocks": rows}, paths["json"])
    n_sig = sum(1 for r in rows if float(r["p_value"]) <= 0.05)
    summary = "\n".join(
        f"{r['block']:<24} n-cut {r['ncut']:.4f}  null {r['null_mean']:.4f} ± "
        f"{r['null_std']:.4f}  z = {r['z_score']:.2f}  p = {r['p_value']:.4g}"
        for r in rows
    )
    links = "".join(
        f"<li><a href='{html.escape(f)}/report.html'>{html.escape(b.name)}</a></li>"
        for b, f in zip(inputs, folders, strict=True)
    )
    paths["report"] = report.write_html(
        out,
        title=f"MLP blocks of {settings['source']}",
        summary=summary,
        verdict=f"{n_sig} of {len(rows)} blocks are more clusterable than their shuffles "
        f"(one-sided p ≤ 0.05)",
        significant=n_sig > 0,
        sections=[("Blocks", report.html_table(rows) + f"<ul>{links}</ul>")],
        settings=settings,
    )
    (out / "summary.txt").write_text(summary + "\n")
    paths["summary"] = out / "summary.txt"
    return paths


_SAME_NULL_WHEN_DENSE = ("layer", "layer_nonzero")


def _shared_null(net: Any, prov: dict[str, Any], path: Path, run: _Run) -> Any:
    """The result in ``path`` relabelled as the ``run.shuffle`` null, or ``None`` where
    it is not provably this network's null (see :func:`analyze`'s ``reuse_null``)."""
    from dataclasses import replace

    from modcut.null import ClusterabilityResult

    if run.shuffle not in _SAME_NULL_WHEN_DENSE or not path.is_file():
        return None
    weights = [e.weights for e in net.edges]
    if any(w.count_nonzero() != w.shape[0] * w.shape[1] for w in weights):
        return None  # a zero weight: layer_nonzero keeps it in place, layer moves it
    raw = read_json(path, what="a clusterability result")
    other = raw.get("settings", {}).get("shuffle")
    if not (
        other in _SAME_NULL_WHEN_DENSE
        and other != run.shuffle
        and _settings_match(raw, run.k, run.n_shuffles, str(other), run.seed, run.n_init)
        and tuple(raw.get("widths", ())) == tuple(net.widths)
        and raw.get("provenance", {}).get("source") == prov.get("source")
    ):
        return None
    saved = ClusterabilityResult.from_dict(raw)
    return replace(
        saved,
        settings={
            **saved.settings,
            **run.options,
            "shuffle": run.shuffle,
            "null_shared_with": other,
        },
    )


def _training_history(network: Any, prov: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-epoch training history of a checkpoint input (empty for other inputs)."""
    hist = getattr(network, "history", None)  # a loaded Checkpoint
    if hist is None and isinstance(network, dict):
        hist = network.get("history")
    if hist is None and prov.get("kind") == "checkpoint":
        source = Path(str(prov.get("source")))
        if source.exists():
            from modcut.readers.load import read_checkpoint

            hist = read_checkpoint(source).history
    return [dict(h) for h in (hist or []) if isinstance(h, dict)]


# --------------------------------------------------------------------------- lesion


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
    import modcut
    from modcut import report
    from modcut.null import ClusterabilityResult
    from modcut.study import lesion as les

    say = log or (lambda _m: None)
    from modcut.readers.load import read_checkpoint

    if isinstance(checkpoint, (str, os.PathLike)):
        if Path(checkpoint).suffix.lower() in (".npz", ".npy"):
            raise ValueError(
                f"lesion tests need a trained model: pass a checkpoint, not bare weights "
                f"({checkpoint})"
            )
        ckpt = read_checkpoint(checkpoint)
        net = modcut.as_network(ckpt)
        model = ckpt.model
    elif hasattr(checkpoint, "model"):  # a loaded Checkpoint
        net, model = modcut.as_network(checkpoint), checkpoint.model
    elif hasattr(checkpoint, "parameters") and hasattr(checkpoint, "modules"):  # nn.Module
        net, model = modcut.as_network(checkpoint), checkpoint
    else:
        raise ValueError("lesion tests need a trained model: pass a checkpoint, not bare weights")
    prov = net.provenance
    dataset = prov.get("dataset")
    out = Path(out_dir) if out_dir is not None else _default_out(checkpoint)
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
    finally:
        ev.close()
    paths["report"] = report.build_report(out)
    return paths


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


# --------------------------------------------------------------------------- reproduce


def variant_config(
    variant: str,
    dataset: str,
    seed: int,
    *,
    variant_options: dict[str, dict[str, Any]] | None = None,
    **overrides: Any,
) -> Any:
    """The ``harness.train.TrainConfig`` of a study variant (see :data:`VARIANTS`).

    Starts from the model's reference settings (``harness.train.model_defaults``:
    the CNN's 10 + 10 epochs, batch 64 and dropout), then ``overrides`` (None
    values ignored; they lose to the variant's own settings), then the variant's own
    settings; ``variant_options[variant]`` (e.g. ``{"cluster_reg": {"cluster_reg": 1.0}}``)
    replaces the variant's own settings (None values are ignored).
    """
    from modcut.harness import train

    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    kw: dict[str, Any] = {"dataset": dataset, "seed": int(seed)}
    kw.update(train.model_defaults(str(overrides.get("model") or "mlp")))
    kw.update({k: v for k, v in overrides.items() if v is not None})
    kw.update(VARIANTS[variant])
    own = (variant_options or {}).get(variant, {})
    kw.update({k: v for k, v in own.items() if v is not None})
    return train.TrainConfig(**kw)


def _same_config(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two run configs are the same run; fields one of them lacks (added to
    ``TrainConfig`` later) count as their defaults, so new options that are off do
    not retrain finished runs."""
    from modcut.harness.train import TrainConfig

    def canonical(d: dict[str, Any]) -> Any:
        try:
            d = TrainConfig.from_dict(d).to_dict()
        except (TypeError, ValueError):
            pass
        return jsonable(d)

    return bool(canonical(a) == canonical(b))


def _trained(config: Any, run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a finished run of ``config``."""
    ckpt, marker = run_dir / "checkpoint.pt", run_dir / "run_config.json"
    return (
        ckpt.exists() and marker.exists() and _same_config(read_json(marker), config_dict(config))
    )


def _ensure_trained(config: Any, run_dir: Path, say: Log, progress: bool | None) -> Path:
    """Train unless ``run_dir`` already holds a finished run of the same config."""
    from modcut.harness import train

    ckpt = run_dir / "checkpoint.pt"
    marker = run_dir / "run_config.json"
    want = config_dict(config)
    if _trained(config, run_dir):
        say(f"  reusing {ckpt}")
        return ckpt
    if ckpt.exists() and marker.exists():
        say(f"  {run_dir} was trained with other settings: training again")
    run_dir.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    t0 = time.perf_counter()
    path = Path(train.train(config, run_dir, progress=progress))
    write_json(want, marker)  # written last: marks the run finished
    say(f"  trained in {time.perf_counter() - t0:.0f} s → {path}")
    return path


def _train_task(config: Any, run_dir: str) -> str:
    """One (variant, seed) training as a Dask task (resumes from its last epoch)."""
    return str(_ensure_trained(config, Path(run_dir), lambda _m: None, False))


def _train_on_dask(scheduler: Any, jobs: Sequence[tuple[Any, str]], say: Log) -> None:
    """Train every ``(config, run_dir)`` of ``jobs`` as one task each on ``scheduler``."""
    from modcut import distributed

    with distributed.connect(scheduler) as client:
        say(f"training {len(jobs)} runs on Dask ({client.scheduler.address})")
        distributed.run_tasks(
            client,
            _train_task,
            jobs,
            lambda i, path: say(f"  trained {path}"),
            name="modcut-train",
        )


def _analysis_done(
    adir: Path,
    ckpt: Path,
    k: int,
    n_shuffles: int,
    shuffle: str,
    seed: int,
    graph: str = "all",
    n_init: int | str | None = None,
) -> bool:
    """Whether ``adir`` holds a finished analysis of ``ckpt`` with these settings
    (``n_init=None``: the reference's default for the network's non-isolated neurons,
    :func:`modcut.cluster.default_n_init`)."""
    cpath, mpath = adir / "clusterability.json", adir / "meta.json"
    if not (cpath.exists() and mpath.exists() and (adir / "report.html").exists()):
        return False
    if cpath.stat().st_mtime < ckpt.stat().st_mtime:
        return False
    if read_json(mpath).get("graph", "all") != graph:
        return False
    return _settings_match(read_json(cpath), k, n_shuffles, shuffle, seed, n_init)


def _settings_match(
    saved: dict[str, Any],
    k: int,
    n_shuffles: int,
    shuffle: str,
    seed: int,
    n_init: int | str | None,
) -> bool:
    """Whether a saved clusterability result (its JSON dict) has these settings
    (``n_init=None``: the reference's default for its non-isolated neurons)."""
    s = saved.get("settings", {})
    if n_init is None:
        from modcut.cluster import default_n_init

        n_active = int(sum(saved.get("widths", []))) - int(s.get("n_isolated", 0))
        n_init = default_n_init(n_active)
    return bool(
        s.get("k") == k
        and s.get("n_shuffles") == n_shuffles
        and s.get("shuffle") == shuffle
        and s.get("random_state") == seed
        and s.get("n_init") == n_init
    )


def _lesion_done(adir: Path, n_random: int, seed: int) -> bool:
    single, double = adir / "lesion_single.json", adir / "lesion_double.json"
    cpath = adir / "clusterability.json"
    if not (single.exists() and double.exists() and cpath.exists()):
        return False
    if single.stat().st_mtime < cpath.stat().st_mtime:
        return False
    s = read_json(single).get("settings", {})
    return bool(s.get("n_random") == n_random and s.get("seed") == seed)


def _run_row(
    variant: str, seed: int, adirs: dict[str, Path], shuffles: Sequence[str]
) -> dict[str, Any]:
    """One run's row (see :mod:`modcut.report.table`) from its analyses, one folder per null."""
    from modcut.report.table import NULL_FIELDS, null_column

    first = adirs[shuffles[0]]
    meta = read_json(first / "meta.json")
    metrics = meta.get("metrics") or {}
    planted = meta.get("planted") or {}
    row: dict[str, Any] = {"variant": variant, "seed": seed}
    results = {s: read_json(adirs[s] / "clusterability.json") for s in shuffles}
    row["ncut"] = results[shuffles[0]]["ncut"]
    row["test_accuracy"] = metrics.get("test_accuracy")
    row["sparsity"] = metrics.get("sparsity")
    row["ari"] = planted.get("ari")
    for s in shuffles:
        for f in NULL_FIELDS:
            row[null_column(f, s)] = results[s][f]
    return row


def aggregate_runs(
    rows: Sequence[dict[str, Any]],
    variants: Sequence[str] | None = None,
    shuffles: Sequence[str] = STUDY_SHUFFLES,
) -> list[dict[str, Any]]:
    """The study's table (:func:`modcut.report.table.aggregate_runs`): per variant, means over
    seeds with 95% Student-t confidence intervals, both nulls side by side."""
    from modcut.report.table import aggregate_runs as aggregate

    return aggregate(rows, variants, shuffles)


def _rounded(rows: Sequence[dict[str, Any]], digits: int = 4) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        out.append(
            {
                k: (round(v, digits) if isinstance(v, float) and math.isfinite(v) else v)
                for k, v in r.items()
            }
        )
    return out


def _shuffle_suffix(shuffle: str) -> str:
    """Folder suffix of an analysis: none for ``layer_nonzero``, ``-<method>`` else.

    Analyses with different nulls of the same trained run live side by side
    (``analysis/`` and ``analysis-layer/``), as method.md §4 recommends reporting
    both ``layer`` and ``layer_nonzero``.
    """
    return "" if shuffle == "layer_nonzero" else f"-{shuffle}"


def _write_tables(
    out: Path,
    rows: list[dict[str, Any]],
    variants: Sequence[str],
    header: str,
    shuffles: Sequence[str],
) -> dict[str, Path]:
    from modcut import report
    from modcut.report.table import markdown_rows

    order = {v: i for i, v in enumerate(variants)}
    rows = sorted(rows, key=lambda r: (order.get(r["variant"], len(order)), r["seed"]))
    table = aggregate_runs(rows, variants, shuffles)
    paths = {
        "runs_csv": report.write_csv(_rounded(rows, 6), out / "runs.csv"),
        "table_csv": report.write_csv(_rounded(table, 6), out / "table.csv"),
        "table_md": out / "table.md",
    }
    runs_md = [
        {k: r[k] for k in ("variant", "seed", "ncut")}
        | {f"z ({s})": r[f"z_score_{s}"] for s in shuffles}
        | {f"p ({s})": r[f"p_value_{s}"] for s in shuffles}
        | {"test acc.": r["test_accuracy"], "ARI planted": "" if r["ari"] is None else r["ari"]}
        for r in _rounded(rows)
    ]
    paths["table_md"].write_text(
        header
        + "\n"
        + report.markdown_table(markdown_rows(table, shuffles))
        + "\nRuns:\n\n"
        + report.markdown_table(runs_md)
    )
    links = "".join(
        f"<li><a href='{html.escape(link)}'>{html.escape(r['variant'])}, seed {r['seed']}, "
        f"{html.escape(sh)}</a></li>"
        for r in rows
        for sh in shuffles
        for link in [f"{r['variant']}/seed{r['seed']}/analysis{_shuffle_suffix(sh)}/report.html"]
    )
    paths["report"] = report.write_html(
        out,
        filename="report.html",
        title=f"modcut study — {out.name}",
        summary=header,
        sections=[
            ("Means over seeds (± 95% CI)", report.html_table(markdown_rows(table, shuffles))),
            ("Runs", report.html_table(_rounded(rows)) + f"<ul>{links}</ul>"),
        ],
    )
    return paths


def _study_shuffles(shuffle: str | Sequence[str]) -> list[str]:
    names = (
        [x.strip() for x in shuffle.split(",") if x.strip()]
        if isinstance(shuffle, str)
        else [str(x) for x in shuffle]
    )
    if not names:
        raise ValueError("need at least one shuffle method")
    return list(dict.fromkeys(names))


def reproduce(
    dataset: str = "fashion",
    seeds: int | Sequence[int] = 5,
    variants: Sequence[str] = ("control", "dropout"),
    out_dir: str | os.PathLike[str] | None = None,
    *,
    epochs: int | None = None,
    prune_epochs: int | None = None,
    k: int = 12,
    n_shuffles: int = 1000,
    shuffle: str | Sequence[str] = STUDY_SHUFFLES,
    n_jobs: int | None = -1,
    n_init: int | str | None = None,
    data_root: str | None = None,
    model: str = "mlp",
    base: str | None = None,
    graph: str = "auto",
    init: str | None = None,
    train_overrides: dict[str, Any] | None = None,
    variant_options: dict[str, dict[str, Any]] | None = None,
    tables_only: bool = False,
    progress: bool | None = None,
    log: Log | None = _print,
    command: str | None = None,
    scheduler: Any = None,
) -> dict[str, Path]:
    """Train every variant × seed, analyze each against every null, and write the table.

    Parameters
    ----------
    dataset:
        Data set name for ``harness.data.load_dataset`` (``"fashion"``, ``"mnist"``,
        ``"halves"``, …).
    seeds:
        Number of seeds (``0 … seeds-1``; default 5, as the reference ran the study)
        or the seeds themselves; the seed is
        used for training and for the analysis.
    variants:
        Names from :data:`VARIANTS`.
    out_dir:
        Study folder (default ``runs/reproduce-<dataset>[-<base>][-cnn]``): runs go
        to ``<variant>/seed<seed>/`` (``checkpoint.pt``, ``run_config.json``, one
        analysis folder per null: ``analysis/`` for ``layer_nonzero``,
        ``analysis-<shuffle>/`` for the others); tables to ``runs.csv`` (one row per
        run, every null's columns), ``table.csv``, ``table.md`` and ``report.html``.
    epochs, prune_epochs:
        Override the training lengths (default: the model's, method.md §5).
    k, n_shuffles, n_jobs, n_init:
        Analysis settings (:func:`analyze`).
    shuffle:
        The nulls (a sequence or a comma list; default both ``layer`` and
        ``layer_nonzero``); each run is analyzed against each.
    model:
        ``"mlp"`` or ``"cnn"`` (with the CNN's own defaults, ``model_defaults``).
    base:
        Image set the derived sets (``halves`` …) are built from.
    graph:
        ``"auto"`` (default: ``"conv"`` for the CNN, ``"all"`` for the MLP), ``"conv"``
        or ``"all"``: the part of the graph analyzed (:func:`analyze`).
    init:
        ``"glorot"`` or ``"torch"`` (default: ``TrainConfig``'s, glorot).
    train_overrides:
        Further ``TrainConfig`` fields for every run (e.g. ``hidden``,
        ``n_train``); the variant's own settings still win.
    variant_options:
        Per-variant settings that replace the variant's own, e.g.
        ``{"cluster_reg": {"cluster_reg": 1.0, "cluster_reg_k": 3}}`` (λ and k of the
        ``cluster_reg`` variant; ``modcut reproduce --cluster-reg/--cluster-reg-k``).
    tables_only:
        Train and analyze nothing: write the tables from the runs already finished
        (trained with these settings and analyzed against every null), e.g. while
        another process is still working through the study.
    command:
        The command line to record in ``table.md``.
    scheduler:
        Run on Dask (a ``dask.distributed.Client`` or an address): every
        (variant, seed) training is one task (the study folder must be visible
        to the workers), then every analysis's null chunks are tasks.

    Runs go seed by seed (every variant of seed 0, then of seed 1, …), so a
    partial study has the same seeds for every variant. Resuming: a run whose
    ``run_config.json`` matches is not retrained; an analysis whose JSON is newer
    than the checkpoint and has the same settings is not redone. The tables are
    rewritten after every run.

    Returns
    -------
    dict with ``runs_csv``, ``table_csv``, ``table_md`` and ``report`` (an HTML
    page with the tables and links to every run's report).
    """
    say = log or (lambda _m: None)
    seed_list = (
        list(range(int(seeds))) if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
    )
    if not seed_list:
        raise ValueError("need at least one seed")
    variants = list(variants)
    for v in variants:
        if v not in VARIANTS:
            raise ValueError(f"unknown variant {v!r}; choose from {', '.join(VARIANTS)}")
    shuffles = _study_shuffles(shuffle)
    check_each(k=k, n_shuffles=n_shuffles, n_jobs=n_jobs, n_init=n_init)
    for method in shuffles:
        check("shuffle", method)
    if graph == "auto":
        graph = "conv" if model == "cnn" else "all"
    from modcut.readers.extract import part_offset

    part_offset(graph)  # validates
    if graph == "conv" and model != "cnn":
        raise ValueError("graph='conv' needs model='cnn' (an MLP has no conv layers)")
    if out_dir is None:
        name = (
            f"reproduce-{dataset}"
            + (f"-{base}" if base else "")
            + ("-cnn" if model == "cnn" else "")
        )
        out = Path("runs") / name
    else:
        out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    overrides: dict[str, Any] = {
        "epochs": epochs,
        "prune_epochs": prune_epochs,
        "data_root": data_root,
        "model": model,
        "base": base,
        "init": init,
        **(train_overrides or {}),
    }
    first = variant_config("control", dataset, seed_list[0], **overrides)
    arch = (
        f"hidden {'-'.join(str(h) for h in first.hidden)}"
        if first.model == "mlp"
        else f"conv {'-'.join(str(c) for c in first.channels)}, dense "
        f"{'-'.join(str(d) for d in first.dense)}, '{graph}' graph"
    )
    header = (
        f"Clusterability of {dataset}{f' ({base})' if base else ''} networks "
        f"({first.model.upper()}, {arch}, {first.init} init; {first.epochs} epochs + "
        f"{first.prune_epochs} pruning epochs to {first.sparsity:.0%} sparsity): means over "
        f"seeds {seed_list} ± half-width of the 95% confidence interval of the mean "
        f"(Student t, n − 1 degrees of freedom); k = {k}, {n_shuffles} shuffles per network "
        f"for each null ({', '.join(shuffles)}).\n" + (f"Command: `{command}`\n" if command else "")
    )
    if scheduler is not None and not tables_only:  # every (variant, seed) training is one Dask task
        jobs = [
            (
                variant_config(v, dataset, s, variant_options=variant_options, **overrides),
                str(out / v / f"seed{s}"),
            )
            for s in seed_list
            for v in variants
        ]
        _train_on_dask(scheduler, jobs, say)
    rows: list[dict[str, Any]] = []
    total = len(variants) * len(seed_list)
    i = 0
    paths: dict[str, Path] = {}
    for s in seed_list:
        for v in variants:
            i += 1
            run_dir = out / v / f"seed{s}"
            say(f"[{i}/{total}] {v}, seed {s}")
            # variant settings win over the overrides (``unpruned`` keeps prune_epochs=0)
            config = variant_config(v, dataset, s, variant_options=variant_options, **overrides)
            if tables_only:
                ckpt = run_dir / "checkpoint.pt"
                adirs = {sh: run_dir / f"analysis{_shuffle_suffix(sh)}" for sh in shuffles}
                if _trained(config, run_dir) and all(
                    _analysis_done(adirs[sh], ckpt, k, n_shuffles, sh, s, graph, n_init)
                    for sh in shuffles
                ):
                    rows.append(_run_row(v, s, adirs, shuffles))
                else:
                    say("  not finished: left out")
                continue
            ckpt = _ensure_trained(config, run_dir, say, progress)
            adirs = {}
            for sh in shuffles:
                adir = adirs[sh] = run_dir / f"analysis{_shuffle_suffix(sh)}"
                if _analysis_done(adir, ckpt, k, n_shuffles, sh, s, graph, n_init):
                    say(f"  reusing {adir / 'clusterability.json'}")
                    continue
                # for a network without zero weights layer and layer_nonzero are one null
                twin = next(
                    (
                        adirs[o] / "clusterability.json"
                        for o in _SAME_NULL_WHEN_DENSE
                        if o != sh
                        and o in adirs
                        and sh in _SAME_NULL_WHEN_DENSE
                        and _analysis_done(adirs[o], ckpt, k, n_shuffles, o, s, graph, n_init)
                    ),
                    None,
                )
                analyze(
                    ckpt,
                    adir,
                    k=k,
                    n_shuffles=n_shuffles,
                    shuffle=sh,
                    seed=s,
                    n_jobs=n_jobs,
                    graph=graph,
                    n_init=n_init,
                    progress=progress,
                    log=lambda m: say("  " + m),
                    scheduler=scheduler,
                    reuse_null=twin,
                )
            rows.append(_run_row(v, s, adirs, shuffles))
            paths = _write_tables(out, rows, variants, header, shuffles)
    if tables_only:
        if not rows:
            raise ValueError(f"no finished runs in {out} for these settings")
        paths = _write_tables(out, rows, variants, header, shuffles)
    say(f"table: {paths['table_md']}")
    say(paths["table_md"].read_text())
    return paths


# --------------------------------------------------------------------------- demo


def demo(
    out_dir: str | os.PathLike[str] = "demo",
    *,
    epochs: int = 2,
    prune_epochs: int = 2,
    n_shuffles: int = 1000,
    shuffle: str = "layer_nonzero",
    n_random: int = 50,
    k: int = 12,
    n_jobs: int | None = -1,
    seed: int = 0,
    data_root: str | None = None,
    train_overrides: dict[str, Any] | None = None,
    progress: bool | None = None,
    log: Log | None = _print,
) -> dict[str, Path]:
    """Train one pruned MLP on Fashion-MNIST with short settings, analyze, lesion, report.

    Writes ``<out_dir>/run/checkpoint.pt`` and ``<out_dir>/analysis/`` (see the
    module docstring); re-running reuses a finished training run and analysis.
    ``train_overrides``: further ``TrainConfig`` fields (tests use a smaller network).

    Returns
    -------
    The files written by :func:`analyze` and :func:`lesion_study`.
    """
    say = log or (lambda _m: None)
    out = Path(out_dir)
    t_all = time.perf_counter()
    say(f"modcut demo: output in {out.resolve()}")
    config = variant_config(
        "control",
        "fashion",
        seed,
        epochs=epochs,
        prune_epochs=prune_epochs,
        data_root=data_root,
        **(train_overrides or {}),
    )
    hidden = "-".join(str(h) for h in config.hidden)
    say(
        f"[1/3] training a pruned MLP ({hidden} hidden units) on Fashion-MNIST "
        f"({config.epochs} epochs + {config.prune_epochs} pruning epochs, seed {seed})"
    )
    ckpt = _ensure_trained(config, out / "run", say, progress)
    adir = out / "analysis"
    say(f"[2/3] clusterability with {n_shuffles} '{shuffle}' shuffles")
    if _analysis_done(adir, ckpt, k, n_shuffles, shuffle, seed):
        say(f"  reusing {adir / 'clusterability.json'}")
        paths: dict[str, Path] = {"report": adir / "report.html"}
    else:
        paths = analyze(
            ckpt,
            adir,
            k=k,
            n_shuffles=n_shuffles,
            shuffle=shuffle,
            seed=seed,
            n_jobs=n_jobs,
            progress=progress,
            log=lambda m: say("  " + m),
        )
    say(f"[3/3] lesion tests ({n_random} random lesions per sub-module)")
    if _lesion_done(adir, n_random, seed):
        say(f"  reusing {adir / 'lesion_single.json'}")
        from modcut.report import build_report

        build_report(adir)
    else:
        paths.update(
            lesion_study(
                ckpt,
                adir,
                k=k,
                seed=seed,
                n_random=n_random,
                progress=progress,
                log=lambda m: say("  " + m),
            )
        )
    say((adir / "summary.txt").read_text().rstrip())
    say(f"done in {time.perf_counter() - t_all:.0f} s")
    say(f"report: {paths['report'].resolve()}")
    say(
        f"open it with: xdg-open {paths['report'].resolve()}  (or file://{paths['report'].resolve()})"
    )
    return paths


# --------------------------------------------------------------------------- CLI
