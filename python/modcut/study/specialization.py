"""Structure and function in one command (issue 20, item 7): ``modcut specialization``.

For a trained checkpoint, :func:`specialization` partitions the hidden neurons twice, from
the **weights** (:func:`modcut.cluster` of the weight graph) and from the **activations**
(:func:`modcut.activation_graph` over training examples, then :func:`modcut.cluster`),
and asks of each partition's sub-modules (one cluster within one hidden layer) what Hod,
Filan, Casper, Critch and Russell (2021) asked:

* **importance** — single lesions against random same-size lesions of the same layer, with
  the aggregate tests over all sub-modules (:meth:`SingleLesionResult.aggregate`);
* **coherence** — do the top-activating test examples of a sub-module share their label
  more than random same-size unit sets' (:func:`modcut.study.coherence.dataset_coherence`);
* **agreement** — adjusted Rand index and NMI between the two partitions, per hidden layer,
  against labels permuted within each layer (:func:`modcut.agreement.partition_agreement`).

It writes ``specialization.json`` (everything), ``specialization.csv`` (one row per
partition and measure: the aggregate p-values and effect sizes), ``importance_<p>.csv``,
``coherence_<p>.csv``, ``agreement.csv`` and ``report.html``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

import modcut
from modcut import report
from modcut._io import to_csv, write_json
from modcut._params import check_each
from modcut.agreement import partition_agreement
from modcut.readers.load import read_checkpoint
from modcut.study.analysis import Log

__all__ = ["specialization", "specialization_done", "specialization_tables"]


def _data(prov: dict[str, Any], data_root: str | None, train: bool, n: int | None) -> Any:
    from modcut.harness import data as hdata

    dataset = prov.get("dataset")
    if not dataset:
        raise ValueError("the checkpoint does not name its data set")
    cfg = prov.get("config", {})
    return hdata.load_dataset(
        dataset,
        data_root if data_root is not None else prov.get("data_root"),
        train=train,
        seed=int(cfg.get("seed") or 0),
        n=n if n is not None else (cfg.get("n_train") if train else cfg.get("n_test")),
        base=cfg.get("base"),
        download=cfg.get("download"),
    )


def specialization(
    checkpoint: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    k: int = 12,
    seed: int = 0,
    corr: str = "spearman",
    n_activation_examples: int = 5000,
    n_random: int = 100,
    n_top: int = 10,
    n_random_coherence: int = 19,
    n_permutations: int = 1000,
    normalize: bool = False,
    feature_steps: int = 128,
    data_root: str | None = None,
    progress: bool | None = None,
    log: Log | None = None,
) -> dict[str, Path]:
    """Weight and activation partitions of a checkpoint, their importance, coherence and
    agreement (see the module docstring).

    Parameters
    ----------
    checkpoint:
        A modcut checkpoint (``.pt`` written by ``modcut train``, or its run folder).
    out_dir:
        Output folder (default: ``specialization/`` next to the checkpoint).
    k, seed, normalize:
        Clusters, seed of everything random, and the authors' weight normalisation of the
        weight partition (:mod:`modcut.normalize`).
    corr, n_activation_examples:
        Correlation of the activation graph (the reference's default: Spearman) and the
        training examples it is measured on (the reference's 5,000; the first ones of the
        checkpoint's seeded training split).
    n_random:
        Random lesions per sub-module (importance).
    n_top, n_random_coherence:
        Top test examples per sub-module and random unit sets (coherence; the reference's
        10 and 19).
    n_permutations:
        Null permutations of the agreement.
    feature_steps:
        Adam steps of the feature visualisation (0: skip it).
    """
    check_each(k=k, seed=seed, n_random=n_random, n_permutations=n_permutations)
    say = log or (lambda _m: None)
    # torch is needed here only (``modcut.study`` imports without it)
    from modcut.readers.activations import activation_graph, activation_layers
    from modcut.study import lesion as les
    from modcut.study.coherence import dataset_coherence
    from modcut.study.featurevis import feature_visualization

    ckpt = read_checkpoint(checkpoint)
    net = modcut.as_network(ckpt)
    model = ckpt.model
    prov = net.provenance
    widths = net.widths
    if out_dir is not None:
        out = Path(out_dir)
    else:  # next to the checkpoint, or inside its run folder
        ck = Path(checkpoint)
        out = (ck if ck.is_dir() else ck.parent) / "specialization"
    out.mkdir(parents=True, exist_ok=True)
    act_layers = activation_layers(model)
    test = _data(prov, data_root, False, None)
    if [int(w) for w in widths[1:-1]] != _unit_widths(model, act_layers, test.x[:2]):
        raise ValueError(
            f"the activation modules {act_layers} of {type(model).__name__} do not match its "
            f"hidden layers {tuple(widths[1:-1])}: specialization compares partitions of the "
            "same hidden neurons"
        )
    t0 = time.perf_counter()
    say(f"weight partition (k={k})")
    weight_labels = np.asarray(
        modcut.cluster(net, k=k, random_state=seed, normalize=normalize), dtype=np.int64
    )
    say(f"activation partition ({corr}, {n_activation_examples} training examples)")
    train = _data(prov, data_root, True, None)
    xs = train.x[:n_activation_examples]
    agraph = activation_graph(model, xs, corr=corr, layers=act_layers)
    act_hidden = np.asarray(modcut.cluster(agraph, k=k, random_state=seed), dtype=np.int64)
    act_labels = np.concatenate(
        [np.full(widths[0], -1), act_hidden, np.full(widths[-1], -1)]
    ).astype(np.int64)
    partitions = {"weights": weight_labels, "activations": act_labels}
    ev = les.LesionEvaluator(model, test.x, test.y, n_classes=test.n_classes)
    results: dict[str, Any] = {
        "settings": {
            "source": str(checkpoint),
            "k": k,
            "seed": seed,
            "corr": corr,
            "n_activation_examples": len(xs),
            "n_random": n_random,
            "n_top": n_top,
            "n_random_coherence": n_random_coherence,
            "n_permutations": n_permutations,
            "normalize": normalize,
            "feature_steps": feature_steps,
            "widths": list(widths),
            "modcut_version": modcut.__version__,
        },
        "partitions": {p: v for p, v in partitions.items()},
    }
    summary_rows: list[dict[str, Any]] = []
    paths: dict[str, Path] = {}
    try:
        for name, labels in partitions.items():
            say(
                f"importance of the {name} partition's sub-modules ({n_random} random lesions each)"
            )
            single = les.single_lesion_test(
                ev, None, None, labels, widths, n_random=n_random, seed=seed, progress=progress
            )
            agg = single.aggregate()
            paths[f"importance_{name}"] = out / f"importance_{name}.csv"
            single.to_csv(paths[f"importance_{name}"])
            say(f"coherence of the {name} partition's sub-modules (top {n_top} test examples)")
            coh = dataset_coherence(
                model,
                test.x,
                labels,
                widths,
                targets=test.y,
                n_top=n_top,
                n_random=n_random_coherence,
                seed=seed,
            )
            paths[f"coherence_{name}"] = out / f"coherence_{name}.csv"
            to_csv(coh.table(), paths[f"coherence_{name}"])
            cagg = coh.aggregate()
            fv = None
            if feature_steps:
                say(f"feature visualisation of the {name} partition's sub-modules")
                xs_all = np.asarray(test.x)
                fv = feature_visualization(
                    model,
                    labels,
                    widths,
                    input_shape=xs_all.shape[1:],
                    value_range=(float(xs_all.min()), float(xs_all.max())),
                    n_random=n_random_coherence,
                    steps=feature_steps,
                    seed=seed,
                )
                paths[f"features_{name}"] = out / f"features_{name}.csv"
                to_csv(fv.table(), paths[f"features_{name}"])
                if name == "weights":  # one figure: the weight partition's sub-modules
                    import torch

                    with torch.no_grad():
                        pred = model(torch.as_tensor(fv.inputs)).argmax(1).tolist()
                    tops = [np.asarray(test.x)[r["top_examples"][:5]] for r in coh.rows]
                    names_ = [f"L{r['layer']}:C{r['cluster']}" for r in coh.rows]
                    paths["submodule_inputs"] = report.plot_submodule_inputs(
                        names_, tops, fv.inputs, pred, out / "submodule_inputs.png"
                    )
            results[name] = {
                "importance": {"lesions": single.to_dict(), "aggregate": agg},
                "coherence": {
                    "rows": coh.rows,
                    "settings": coh.settings,
                    "aggregate": cagg,
                },
                "features": None
                if fv is None
                else {"rows": fv.rows, "settings": fv.settings, "aggregate": fv.aggregate()},
            }
            summary_rows += [
                {
                    "partition": name,
                    "measure": "importance (accuracy)",
                    "submodules": agg["n_submodules"],
                    "chi2_p": agg["chi2_p_means"],
                    "fisher_p": agg["fisher_p_means"],
                    "effect": agg["mean_effect_factor_means"],
                },
                {
                    "partition": name,
                    "measure": "importance (class specificity)",
                    "submodules": agg["n_submodules"],
                    "chi2_p": agg["chi2_p_ranges"],
                    "fisher_p": agg["fisher_p_ranges"],
                    "effect": agg["mean_effect_factor_ranges"],
                },
                {
                    "partition": name,
                    "measure": "coherence (top examples' labels)",
                    "submodules": cagg["n_submodules"],
                    "chi2_p": cagg["chi2_p"],
                    "fisher_p": cagg["fisher_p"],
                    "effect": cagg["median_effect_size"],
                },
            ]
            if fv is not None:
                fagg = fv.aggregate()
                summary_rows += [
                    {
                        "partition": name,
                        "measure": f"coherence (optimised input: prediction {m})"
                        if m == "entropy"
                        else f"coherence (optimised input: activation {m})",
                        "submodules": fagg["n_submodules"],
                        "chi2_p": fagg[f"chi2_p_{m}"],
                        "fisher_p": fagg[f"fisher_p_{m}"],
                        "effect": fagg[f"mean_effect_{m}"],
                    }
                    for m in ("entropy", "dispersion")
                ]
    finally:
        ev.close()
    say("agreement between the partitions")
    agreement = partition_agreement(
        weight_labels[widths[0] : -widths[-1]],
        act_hidden,
        widths[1:-1],
        names=[f"hidden {i}" for i in range(1, len(widths) - 1)],
        n_permutations=n_permutations,
        random_state=seed,
    )
    results["agreement"] = agreement
    paths["agreement"] = out / "agreement.csv"
    to_csv(agreement, paths["agreement"])
    paths["csv"] = out / "specialization.csv"
    to_csv(summary_rows, paths["csv"])
    paths["json"] = out / "specialization.json"
    write_json(results, paths["json"])
    pooled = agreement[-1] if agreement else {}  # the mean over layers
    summary = "\n".join(
        f"{r['partition']:<12} {r['measure']:<34} fisher p = {r['fisher_p']:.3g}  "
        f"chi2 p = {r['chi2_p']:.3g}  effect = {r['effect']:.3f}  ({r['submodules']} sub-modules)"
        for r in summary_rows
    )
    if pooled:
        summary += (
            f"\nagreement (mean over hidden layers): ARI {pooled['ari']:.3f} (p = "
            f"{pooled['ari_p']:.3g}), NMI {pooled['nmi']:.3f} (p = {pooled['nmi_p']:.3g})"
        )
    summary += f"\n[{time.perf_counter() - t0:.0f} s]"
    (out / "summary.txt").write_text(summary + "\n")
    paths["summary"] = out / "summary.txt"
    paths["report"] = report.write_html(
        out,
        title=f"Specialization of {checkpoint}",
        summary=summary,
        sections=[
            ("Importance and coherence", report.html_table(summary_rows)),
            ("Agreement between the partitions", report.html_table(agreement)),
        ],
        settings=results["settings"],
    )
    return paths


def _unit_widths(model: Any, layers: list[str], x: Any) -> list[int]:
    """Units of each activation module, from one forward pass of the examples ``x``."""
    from modcut.readers.activations import unit_activations

    for _names, widths, _acts in unit_activations(model, x, layers=layers):
        return [int(w) for w in widths]
    return []


def specialization_done(spec_dir: Path, checkpoint: Path, k: int, seed: int) -> bool:
    """Whether ``spec_dir`` holds a specialization of ``checkpoint`` with these ``k`` and
    ``seed``, written after the checkpoint (a rerun of ``reproduce`` reuses it)."""
    from modcut._io import read_json

    path = spec_dir / "specialization.json"
    if not path.is_file() or path.stat().st_mtime < checkpoint.stat().st_mtime:
        return False
    try:
        s = read_json(path, what="a specialization").get("settings", {})
    except ValueError:
        return False
    return bool(s.get("k") == k and s.get("seed") == seed)


def _sd(v: np.ndarray) -> float:
    return float(v.std(ddof=1)) if len(v) > 1 else 0.0


def specialization_tables(
    runs: dict[str, list[Path]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Summary tables over the seeds of each variant from ``specialization`` folders
    (``runs``: variant → folders): one row per variant, partition and measure (seeds,
    median and range of Fisher's combined p, median χ² p, seeds with Fisher p < 0.05, the
    effect's mean and standard deviation over seeds), and one row per variant of the
    agreement between the partitions (mean over hidden layers)."""
    import csv

    by: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    agree: dict[str, list[dict[str, str]]] = {}
    for variant, dirs in runs.items():
        for d in dirs:
            for r in csv.DictReader(open(d / "specialization.csv", encoding="utf-8")):
                by.setdefault((variant, r["partition"], r["measure"]), []).append(r)
            agree.setdefault(variant, []).append(
                list(csv.DictReader(open(d / "agreement.csv", encoding="utf-8")))[-1]
            )
    rows = []
    for (variant, part, measure), rs in by.items():
        f = np.array([float(r["fisher_p"]) for r in rs])
        c = np.array([float(r["chi2_p"]) for r in rs])
        e = np.array([float(r["effect"]) for r in rs])
        rows.append(
            {
                "variant": variant,
                "partition": part,
                "measure": measure,
                "seeds": len(rs),
                "fisher_p_median": float(np.median(f)),
                "fisher_p_min": float(f.min()),
                "fisher_p_max": float(f.max()),
                "chi2_p_median": float(np.median(c)),
                "seeds_fisher_p_below_0.05": int((f < 0.05).sum()),
                "effect_mean": float(e.mean()),
                "effect_sd": _sd(e),
            }
        )
    agreement = []
    for variant, rs in agree.items():
        ari = np.array([float(r["ari"]) for r in rs])
        nmi = np.array([float(r["nmi"]) for r in rs])
        agreement.append(
            {
                "variant": variant,
                "seeds": len(rs),
                "ari_mean": float(ari.mean()),
                "ari_sd": _sd(ari),
                "seeds_ari_p_at_most_0.05": int(sum(float(r["ari_p"]) <= 0.05 for r in rs)),
                "nmi_mean": float(nmi.mean()),
                "nmi_sd": _sd(nmi),
                "seeds_nmi_p_at_most_0.05": int(sum(float(r["nmi_p"]) <= 0.05 for r in rs)),
            }
        )
    return rows, agreement
