"""The analysis of one network (:func:`analyze`): read any input, test it against its null,
write the result files, figures and page; transformer blocks are a loop over it."""

from __future__ import annotations

import html
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import modcut
from modcut import distributed, report
from modcut._io import jsonable, read_json, write_json
from modcut._params import check_each
from modcut.cluster import default_n_init
from modcut.null import ClusterabilityResult, check_device_null
from modcut.planted import planted_agreement
from modcut.readers.blocks import find_blocks
from modcut.readers.load import as_graph, model_file_graph, read_checkpoint
from modcut.readers.modelfolder import is_hub_id, is_model_folder

Log = Callable[[str], None]


def print_step(msg: str) -> None:
    print(msg, flush=True)


def default_out(source: Any) -> Path:
    if isinstance(source, str) and is_hub_id(source):
        return Path(source.replace("/", "--") + "_analysis")
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
    blocks: str | None = None,
    experts: str | None = None,
    normalize: bool = False,
    local: bool = False,
    device: str | None = None,
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
        :meth:`modcut.Network.save`, a ``.pt2`` written by ``torch.export.save``,
        a ``torch.nn.Module``, weight matrices, a :class:`modcut.Network` or a
        :class:`modcut.Network` with skips; a state dict file (``.pt``, ``.safetensors``)
        with ``arch``; or transformer weights without ``arch``: a Hugging Face model
        folder (sharded or not), a ``.safetensors`` file or a Hub model id in the local
        cache, every MLP block (and expert) in it, one at a time in memory
        (:func:`modcut.readers.blocks.find_blocks`).
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
    blocks, experts:
        For transformer weights: the layer indices (``"0-5,11"``) and the experts of
        mixture-of-experts layers (indices, or ``"none"``) to analyze (default: all).
    normalize:
        The authors' weight normalisation (:mod:`modcut.normalize`) of the network and
        of every shuffle (:func:`modcut.clusterability`'s ``normalize``).
    local:
        Layer-local clustering of the network and of every shuffle
        (:func:`modcut.clusterability`'s ``local``; layered networks).
    device:
        Compute the null in batches on this torch device (``"cuda"``; ``"cpu"`` runs the
        same torch code on the CPU): :func:`modcut.clusterability`'s ``device``. Recorded
        as ``settings["device"]``; a finished result is taken over only from the same device.

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
    ``report``, ``summary``, ``depth`` (depth profile figure, with more than one layer),
    ``experts`` (per-expert heatmap, for mixture-of-experts models) and, per block,
    ``block:<name>`` (the ``report.html`` of its analysis folder ``out_dir/<name>/``).
    A block whose folder already holds a finished analysis with the same settings is
    taken over without reading its weights, so a killed run resumes with the
    unfinished blocks.
    """

    check_each(
        k=k,
        n_shuffles=n_shuffles,
        shuffle=shuffle,
        seed=seed,
        n_jobs=n_jobs,
        n_init=n_init,
        normalize=normalize,
        local=local,
        device=device,
    )
    if device is not None:
        device = check_device_null(device, normalize=normalize, local=local, eigen_solver="lanczos")
    say = log or (lambda _m: None)
    out = Path(out_dir) if out_dir is not None else default_out(network)
    inputs, is_blocks = _read_input(
        network,
        graph=graph,
        source=source,
        arch=arch,
        arch_kwargs=arch_kwargs,
        input_shape=input_shape,
        blocks=blocks,
        experts=experts,
    )
    with distributed.connect(scheduler, workers=workers) as client:
        run = _Run(
            k=k,
            n_shuffles=n_shuffles,
            shuffle=shuffle,
            seed=seed,
            n_jobs=n_jobs,
            n_init=n_init,
            normalize=normalize,
            local=local,
            device=device,
            progress=progress,
            client=client,
            store=STORE if resume else None,
            options=_run_options(graph, client, scheduler, workers, resume),
        )
        if is_blocks:
            return _analyze_blocks(inputs, out, run, say, reuse_null)
        (one,) = inputs
        paths, _ = _analyze_one(one, out, run, say, reuse_null, history=network)
        return paths


#: Folder of the finished null chunks inside an analysis folder (``resume``).
STORE = "null_chunks"


@dataclass(frozen=True)
class _Input:
    """One network to analyze: the network (or, for a transformer block, the
    :class:`~modcut.readers.blocks.BlockSpec` that reads it when it is analyzed, so one
    block is in memory at a time), where it came from, and a block's name and layout."""

    net: Any  # a modcut.Network, or None for a block read on demand
    provenance: dict[str, Any]
    name: str = ""
    layout: str = ""
    spec: Any = None  # a BlockSpec

    def load(self) -> Any:
        return self.net if self.net is not None else self.spec.load()


@dataclass(frozen=True)
class _Run:
    """The options of one :func:`analyze` call, the same for every network it analyzes."""

    k: int
    n_shuffles: int
    shuffle: str
    seed: int
    n_jobs: int | None
    n_init: int | str | None
    normalize: bool
    local: bool
    device: str | None  # canonical torch device name of the null, or None (Rust)
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
    blocks: str | None = None,
    experts: str | None = None,
) -> tuple[list[_Input], bool]:
    """The networks of an input and whether they are transformer blocks (a loop)."""

    path = Path(network) if isinstance(network, (str, os.PathLike)) else None
    suffix = path.suffix.lower() if path is not None else ""
    transformer = arch is None and (
        suffix == ".safetensors"
        or (path is not None and is_model_folder(path))
        or (isinstance(network, str) and is_hub_id(network))
    )
    if not transformer and (blocks is not None or experts is not None):
        raise ValueError(
            "blocks and experts select transformer blocks: they take a model folder, a "
            ".safetensors file or a Hub model id"
        )
    model_file = arch is not None or suffix == ".pt2"
    if not model_file and (arch_kwargs is not None or input_shape is not None):
        raise ValueError("arch_kwargs and input_shape need arch (a state dict file) or a .pt2 file")
    if (model_file or transformer) and graph != "all":
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
    if transformer:
        return [
            _Input(
                None,
                {
                    "source": str(network),
                    "kind": "safetensors",
                    "block": b.name,
                    "layout": b.layout,
                    "layer": b.layer,
                    "expert": b.expert,
                },
                b.name,
                b.layout,
                b,
            )
            for b in find_blocks(network, blocks=blocks, experts=experts)
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

    net, prov = item.load(), item.provenance
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
            normalize=run.normalize,
            local=run.local,
            device=run.device,
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

    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    paths: dict[str, Path] = {}
    folders = _block_folders([b.name for b in inputs])
    for b, folder in zip(inputs, folders, strict=True):
        spec = b.spec
        say(
            f"block {b.name} ({b.layout}, widths {' × '.join(map(str, spec.widths))}, "
            f"{spec.n_weights:,} weights)"
        )
        t0 = time.perf_counter()
        res = _finished_block(out / folder, b, run)
        if res is not None:
            say("  finished in an earlier run: taken over")
            paths[f"block:{b.name}"] = out / folder / "report.html"
        else:
            twin = Path(reuse_null) / folder if reuse_null is not None else None
            sub, res = _analyze_one(b, out / folder, run, lambda m: say("  " + m), twin)
            paths[f"block:{b.name}"] = sub["report"]
        peak = _peak_rss_mib()
        say(f"  peak resident memory of this process so far: {peak:,.0f} MiB")
        rows.append(
            {
                "block": b.name,
                "stack": spec.stack,
                "layer": spec.layer,
                "expert": spec.expert,
                "layout": b.layout,
                "widths": "x".join(map(str, spec.widths)),
                "weights": spec.n_weights,
                "shuffle": run.shuffle,
                "ncut": res.ncut,
                "null_mean": res.null_mean,
                "null_std": res.null_std,
                "z_score": res.z_score,
                "p_value": res.p_value,
                "percentile": res.percentile,
                "seconds": res.timings["observed"] + res.timings["null"],
                "wall_seconds": time.perf_counter() - t0,
                "peak_rss_mib": round(peak, 1),
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
        "normalize": run.normalize,
        "local": run.local,
        "device": run.device,
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
    ) + (
        f"\npeak resident memory: {max(r['peak_rss_mib'] for r in rows):,.0f} MiB "
        "(this process, one block in memory at a time)"
    )
    links = "".join(
        f"<li><a href='{html.escape(f)}/report.html'>{html.escape(b.name)}</a></li>"
        for b, f in zip(inputs, folders, strict=True)
    )
    if len({(r["stack"], r["layer"]) for r in rows}) > 1:
        paths["depth"] = report.plot_depth_profile(rows, out / "depth.png")
    if any(isinstance(r["expert"], int) for r in rows):
        paths["experts"] = report.plot_expert_heatmap(rows, out / "experts.png")
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


def _peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (``getrusage``)."""
    import resource

    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib / 1024.0 if sys.platform != "darwin" else kib / 2**20


def _finished_block(folder: Path, item: _Input, run: _Run) -> Any:
    """The result of a block already analyzed in ``folder`` by an earlier run with these
    settings (same source, block, widths, k, shuffles, seed, n_init), else ``None``."""
    path = folder / "clusterability.json"
    if not path.is_file() or not (folder / "report.html").is_file():
        return None
    try:
        raw = read_json(path, what="a clusterability result")
        if not (
            settings_match(
                raw,
                run.k,
                run.n_shuffles,
                run.shuffle,
                run.seed,
                run.n_init,
                run.normalize,
                run.local,
                run.device,
            )
            and raw.get("provenance", {}).get("source") == item.provenance.get("source")
            and raw.get("provenance", {}).get("block") == item.name
            and tuple(raw.get("widths", ())) == tuple(item.spec.widths)
        ):
            return None
        return ClusterabilityResult.from_dict(raw)
    except ValueError:  # damaged: analyze the block again
        return None


SAME_NULL_WHEN_DENSE = ("layer", "layer_nonzero")


def _shared_null(net: Any, prov: dict[str, Any], path: Path, run: _Run) -> Any:
    """The result in ``path`` relabelled as the ``run.shuffle`` null, or ``None`` where
    it is not provably this network's null (see :func:`analyze`'s ``reuse_null``)."""
    from dataclasses import replace

    if run.shuffle not in SAME_NULL_WHEN_DENSE or not path.is_file():
        return None
    weights = [e.weights for e in net.edges]
    if any(w.count_nonzero() != w.shape[0] * w.shape[1] for w in weights):
        return None  # a zero weight: layer_nonzero keeps it in place, layer moves it
    raw = read_json(path, what="a clusterability result")
    other = raw.get("settings", {}).get("shuffle")
    if not (
        other in SAME_NULL_WHEN_DENSE
        and other != run.shuffle
        and settings_match(
            raw,
            run.k,
            run.n_shuffles,
            str(other),
            run.seed,
            run.n_init,
            run.normalize,
            run.local,
            run.device,
        )
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
            hist = read_checkpoint(source).history
    return [dict(h) for h in (hist or []) if isinstance(h, dict)]


# --------------------------------------------------------------------------- lesion


def settings_match(
    saved: dict[str, Any],
    k: int,
    n_shuffles: int,
    shuffle: str,
    seed: int,
    n_init: int | str | None,
    normalize: bool = False,
    local: bool = False,
    device: str | None = None,
) -> bool:
    """Whether a saved clusterability result (its JSON dict) has these settings
    (``n_init=None``: the reference's default for its non-isolated neurons; a result
    from before ``normalize``/``local``/``device`` existed used neither)."""
    s = saved.get("settings", {})
    if n_init is None:
        n_active = int(sum(saved.get("widths", []))) - int(s.get("n_isolated", 0))
        n_init = default_n_init(n_active)
    return bool(
        s.get("k") == k
        and s.get("n_shuffles") == n_shuffles
        and s.get("shuffle") == shuffle
        and s.get("random_state") == seed
        and s.get("n_init") == n_init
        and bool(s.get("normalize", False)) == bool(normalize)
        and bool(s.get("local", False)) == bool(local)
        and s.get("device") == device
    )
