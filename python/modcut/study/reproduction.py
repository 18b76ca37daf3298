"""The published study (:func:`reproduce`): train the variants of method.md §5 over several
seeds, analyze each against its nulls and write the study's table; resumable."""

from __future__ import annotations

import html
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modcut import distributed, report
from modcut._io import jsonable, read_json, to_csv, write_json
from modcut._params import check, check_each
from modcut.readers.load import config_dict
from modcut.report.table import NULL_FIELDS, markdown_rows, null_column
from modcut.report.table import aggregate_runs as aggregate
from modcut.study.analysis import SAME_NULL_WHEN_DENSE, Log, analyze, print_step, settings_match
from modcut.study.specialization import specialization as study_specialization
from modcut.study.specialization import specialization_done, specialization_tables

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


def ensure_trained(config: Any, run_dir: Path, say: Log, progress: bool | None) -> Path:
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
    return str(ensure_trained(config, Path(run_dir), lambda _m: None, False))


def _train_on_dask(scheduler: Any, jobs: Sequence[tuple[Any, str]], say: Log) -> None:
    """Train every ``(config, run_dir)`` of ``jobs`` as one task each on ``scheduler``."""

    with distributed.connect(scheduler) as client:
        say(f"training {len(jobs)} runs on Dask ({client.scheduler.address})")
        distributed.run_tasks(
            client,
            _train_task,
            jobs,
            lambda i, path: say(f"  trained {path}"),
            name="modcut-train",
        )


def analysis_done(
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
    return settings_match(read_json(cpath), k, n_shuffles, shuffle, seed, n_init)


def lesion_done(adir: Path, n_random: int, seed: int) -> bool:
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
    log: Log | None = print_step,
    command: str | None = None,
    scheduler: Any = None,
    specialization: bool = False,
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

    With ``specialization`` every network also gets :func:`modcut.study.specialization`
    (in ``<variant>/seed<seed>/specialization/``, reused when done) and the study a table
    over seeds of its importance, coherence and agreement results.

    Returns
    -------
    dict with ``runs_csv``, ``table_csv``, ``table_md`` and ``report`` (an HTML
    page with the tables and links to every run's report); with ``specialization``
    also ``specialization_csv``, ``specialization_md`` and ``specialization_agreement_csv``.
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
    spec_runs: dict[str, list[Path]] = {}
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
                    analysis_done(adirs[sh], ckpt, k, n_shuffles, sh, s, graph, n_init)
                    for sh in shuffles
                ):
                    rows.append(_run_row(v, s, adirs, shuffles))
                    sdir = run_dir / "specialization"
                    if specialization and specialization_done(sdir, ckpt, k, s):
                        spec_runs.setdefault(v, []).append(sdir)
                else:
                    say("  not finished: left out")
                continue
            ckpt = ensure_trained(config, run_dir, say, progress)
            adirs = {}
            for sh in shuffles:
                adir = adirs[sh] = run_dir / f"analysis{_shuffle_suffix(sh)}"
                if analysis_done(adir, ckpt, k, n_shuffles, sh, s, graph, n_init):
                    say(f"  reusing {adir / 'clusterability.json'}")
                    continue
                # for a network without zero weights layer and layer_nonzero are one null
                twin = next(
                    (
                        adirs[o] / "clusterability.json"
                        for o in SAME_NULL_WHEN_DENSE
                        if o != sh
                        and o in adirs
                        and sh in SAME_NULL_WHEN_DENSE
                        and analysis_done(adirs[o], ckpt, k, n_shuffles, o, s, graph, n_init)
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
            if specialization:
                sdir = run_dir / "specialization"
                if specialization_done(sdir, ckpt, k, s):
                    say(f"  reusing {sdir / 'specialization.json'}")
                else:
                    study_specialization(
                        ckpt, sdir, k=k, seed=s, data_root=data_root, progress=progress,
                        log=lambda m: say("  " + m),
                    )  # fmt: skip
                spec_runs.setdefault(v, []).append(sdir)
                paths.update(_write_specialization_tables(out, spec_runs, header))
    if tables_only:
        if not rows:
            raise ValueError(f"no finished runs in {out} for these settings")
        paths = _write_tables(out, rows, variants, header, shuffles)
        if spec_runs:
            paths.update(_write_specialization_tables(out, spec_runs, header))
    say(f"table: {paths['table_md']}")
    say(paths["table_md"].read_text())
    return paths


def _write_specialization_tables(
    out: Path, runs: dict[str, list[Path]], header: str
) -> dict[str, Path]:
    """``specialization_table.csv``/``.md`` and ``specialization_agreement.csv`` from the
    runs' ``specialization/`` folders (:func:`modcut.study.specialization.specialization_tables`)."""
    rows, agreement = specialization_tables(runs)
    paths = {
        "specialization_csv": out / "specialization_table.csv",
        "specialization_md": out / "specialization_table.md",
        "specialization_agreement_csv": out / "specialization_agreement.csv",
    }
    to_csv(rows, paths["specialization_csv"])
    to_csv(agreement, paths["specialization_agreement_csv"])
    paths["specialization_md"].write_text(
        "Importance and coherence of the weight and activation partitions' sub-modules "
        "(modcut specialization), over seeds.\n" + header + "\n"
        + report.markdown_table(rows) + "\n\n" + report.markdown_table(agreement) + "\n"
    )  # fmt: skip
    return paths


# --------------------------------------------------------------------------- demo
