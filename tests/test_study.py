"""The study layer: analyze, lesion, reproduce (resume, tables), demo, and their CLI."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import modcut  # noqa: E402
from modcut import report, study  # noqa: E402
from modcut.cli import analyze as cli_analyze  # noqa: E402
from modcut.cli import build_parser, main  # noqa: E402
from modcut.cli import demo as cli_demo  # noqa: E402
from modcut.cli import lesion as cli_lesion  # noqa: E402
from modcut.harness import train  # noqa: E402

TINY = {"hidden": (16, 16), "n_train": 384, "n_test": 200, "batch_size": 64}


@pytest.fixture(autouse=True)
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def planted_weights(seed=0, k=3, widths=(24, 18, 18, 6), noise=0.05):
    """A network with k planted blocks (weak off-block weights), as inputs × outputs matrices."""
    rng = np.random.default_rng(seed)
    labels = [np.arange(w) * k // w for w in widths]
    mats = []
    for a, b in itertools.pairwise(labels):
        same = a[:, None] == b[None, :]
        mats.append(rng.uniform(0.5, 1.0, size=same.shape) * np.where(same, 1.0, noise))
    return mats


# --------------------------------------------------------------------------- CLI


def test_cli_parses_study_commands():
    parser = build_parser()
    a = parser.parse_args(["analyze", "net.npz"])
    assert (a.k, a.shuffles, a.shuffle, a.seed, a.jobs, a.out, a.lesion) == (
        12,
        1000,
        "layer_nonzero",
        0,
        -1,
        None,
        False,
    )
    assert a.func is cli_analyze.run
    a = parser.parse_args(
        [
            "analyze",
            "c.pt",
            "--k",
            "4",
            "--shuffles",
            "50",
            "--shuffle",
            "layer",
            "--seed",
            "3",
            "--jobs",
            "2",
            "--out",
            "o",
            "--lesion",
        ]
    )
    assert (a.k, a.shuffles, a.shuffle, a.seed, a.jobs, a.out, a.lesion) == (
        4,
        50,
        "layer",
        3,
        2,
        "o",
        True,
    )
    a = parser.parse_args(["lesion", "c.pt", "--random", "20", "--no-double", "--min-size", "5"])
    assert (a.random, a.no_double, a.min_size, a.min_fraction) == (20, True, 5, None)
    assert a.func is cli_lesion.run
    a = parser.parse_args(["reproduce"])
    assert (a.dataset, a.seeds, a.variants, a.epochs, a.prune_epochs) == (
        "fashion",
        5,
        ["control", "dropout"],
        None,
        None,
    )
    a = parser.parse_args(
        [
            "reproduce",
            "--dataset",
            "mnist",
            "--seeds",
            "3",
            "--variants",
            "control,l1,unpruned",
            "--epochs",
            "1",
            "--prune-epochs",
            "1",
            "--shuffles",
            "10",
            "--out",
            "x",
        ]
    )
    assert (a.dataset, a.seeds, a.variants, a.epochs, a.prune_epochs, a.shuffles, a.out) == (
        "mnist",
        3,
        ["control", "l1", "unpruned"],
        1,
        1,
        10,
        "x",
    )
    assert parser.parse_args(["reproduce", "--seeds", "4,7"]).seeds == [4, 7]
    assert parser.parse_args(["reproduce", "--variants", "all"]).variants == list(study.VARIANTS)
    a = parser.parse_args(["demo"])
    assert (a.out, a.epochs, a.prune_epochs, a.shuffles, a.random) == ("demo", 2, 2, 1000, 50)
    assert a.func is cli_demo.run
    for bad in (
        ["reproduce", "--variants", "control,nope"],
        ["reproduce", "--seeds", "0"],
        ["analyze", "x", "--shuffle", "nope"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_variant_configs_follow_the_method():
    c = study.variant_config("control", "fashion", 1)
    assert (c.epochs, c.prune_epochs, c.dropout, c.l1, c.l2, c.seed) == (20, 20, 0.0, 0.0, 0.0, 1)
    assert c.pruned
    assert study.variant_config("dropout", "fashion", 0).dropout == 0.5
    assert study.variant_config("l1", "fashion", 0).l1 == 5e-5
    assert study.variant_config("l2", "fashion", 0).l2 == 5e-5
    assert study.variant_config("clusterable_init", "fashion", 0).clusterable_init
    u = study.variant_config("unpruned", "fashion", 0, epochs=3, prune_epochs=3)
    assert not u.pruned and u.epochs == 3  # the variant wins over the override
    with pytest.raises(ValueError):
        study.variant_config("nope", "fashion", 0)


# --------------------------------------------------------------------------- tables


def _run(variant, seed, ncut, acc, nulls, ari=None):
    row = {"variant": variant, "seed": seed, "ncut": ncut, "test_accuracy": acc, "sparsity": 0.9}
    row["ari"] = ari
    for shuffle, (mean, std, z, p) in nulls.items():
        row |= {
            f"null_mean_{shuffle}": mean,
            f"null_std_{shuffle}": std,
            f"z_score_{shuffle}": z,
            f"p_value_{shuffle}": p,
        }
    return row


def test_aggregate_runs_means_and_intervals_over_seeds():
    from scipy import stats

    rows = [
        _run(
            "control",
            0,
            1.0,
            0.8,
            {"layer": (2.0, 0.1, -10.0, 0.001), "layer_nonzero": (1.2, 0.1, -2.0, 0.04)},
        ),
        _run(
            "control",
            1,
            2.0,
            0.9,
            {"layer": (3.0, 0.3, -4.0, 0.003), "layer_nonzero": (2.2, 0.2, -1.0, 0.2)},
        ),
        _run(
            "control",
            2,
            1.5,
            0.7,
            {"layer": (2.6, 0.2, -7.0, 0.002), "layer_nonzero": (1.6, 0.3, -0.1, 0.4)},
        ),
        _run(
            "dropout",
            0,
            1.5,
            None,
            {"layer": (1.6, 0.2, -0.5, 0.3), "layer_nonzero": (1.6, 0.2, -0.5, 0.3)},
            ari=0.5,
        ),
    ]
    table = study.aggregate_runs(rows, ["dropout", "control", "l1"])
    assert [r["variant"] for r in table] == ["dropout", "control"]
    d, c = table
    assert c["seeds"] == 3
    half = stats.t.ppf(0.975, 2) * np.std([1.0, 2.0, 1.5], ddof=1) / np.sqrt(3)
    assert c["ncut"] == pytest.approx(1.5) and c["ncut_ci95"] == pytest.approx(half)
    lo, hi = stats.t.interval(0.95, 2, loc=np.mean([-10, -4, -7]), scale=stats.sem([-10, -4, -7]))
    assert c["z_score_layer"] == pytest.approx(-7.0)
    assert c["z_score_layer_ci95"] == pytest.approx((hi - lo) / 2)
    assert c["null_mean_layer_nonzero"] == pytest.approx(5.0 / 3)
    assert c["null_std_layer"] == pytest.approx(0.2) and c["p_value_layer"] == pytest.approx(0.002)
    assert c["test_accuracy"] == pytest.approx(0.8) and np.isnan(c["ari"])
    assert d["seeds"] == 1 and np.isnan(d["ncut_ci95"]) and np.isnan(d["test_accuracy"])
    assert d["ari"] == 0.5
    from modcut.report.table import markdown_rows

    md = markdown_rows(table)
    assert md[1]["n-cut"] == f"1.5 ± {half:.2g}" and md[0]["n-cut"] == "1.5"
    assert list(md[0])[:5] == ["variant", "seeds", "n-cut", "null mean (layer)", "z (layer)"]


def test_mean_ci_against_scipy():
    from scipy import stats

    from modcut.report.table import mean_ci

    rng = np.random.default_rng(0)
    for n in (2, 3, 5, 12):
        x = rng.normal(size=n)
        mean, half, k = mean_ci(x)
        lo, hi = stats.t.interval(0.95, n - 1, loc=x.mean(), scale=stats.sem(x))
        assert k == n and mean == pytest.approx(x.mean())
        assert mean - half == pytest.approx(lo) and mean + half == pytest.approx(hi)
        lo90, hi90 = stats.t.interval(0.9, n - 1, loc=x.mean(), scale=stats.sem(x))
        assert mean_ci(x, 0.9)[1] == pytest.approx((hi90 - lo90) / 2)
    assert mean_ci([None, float("nan"), 2.0])[:2] == (2.0, pytest.approx(float("nan"), nan_ok=True))
    assert np.isnan(mean_ci([])[0])
    with pytest.raises(ValueError, match="level"):
        mean_ci([1.0, 2.0], level=1.5)


# --------------------------------------------------------------------------- analyze


def test_analyze_npz_end_to_end(tmp_path):
    mats = planted_weights()
    npz = tmp_path / "planted.npz"
    np.savez(npz, *mats)
    paths = study.analyze(npz, k=3, n_shuffles=20, seed=1, n_jobs=1, progress=False)
    out = tmp_path / "planted_analysis"
    assert paths["report"] == out / "report.html"
    for key in ("json", "meta", "summary", "clusters", "null_histogram", "network", "weights"):
        assert paths[key].is_file(), key
    for key in ("null_histogram", "network", "weights"):
        assert report.png_ok(paths[key])
    res = modcut.ClusterabilityResult.from_json(paths["json"])
    assert res.widths == (24, 18, 18, 6) and res.n_shuffles == 20
    assert res.settings["k"] == 3 and res.settings["random_state"] == 1
    # three planted blocks are far more clusterable than their shuffles
    assert res.p_value == pytest.approx(1 / 21) and res.z_score < -3
    summary = paths["summary"].read_text()
    assert summary.startswith("More clusterable than chance")
    assert "n-cut" in summary and "|W| inside clusters" in summary
    page = paths["report"].read_text()
    assert "More clusterable than chance" in page and page.count("data:image/png;base64,") == 3
    meta = json.loads(paths["meta"].read_text())
    assert meta["widths"] == [24, 18, 18, 6] and meta["within_cluster_share"]["observed"] > 0.8


def test_cli_analyze_runs(tmp_path, capsys):
    npz = tmp_path / "w.npz"
    np.savez(npz, *planted_weights(seed=2))
    out = tmp_path / "o"
    rc = main(
        [
            "analyze",
            str(npz),
            "--k",
            "3",
            "--shuffles",
            "5",
            "--jobs",
            "1",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert f"report: {out / 'report.html'}" in printed
    assert (out / "clusterability.json").is_file()
    # lesion tests need a model
    assert main(["lesion", str(npz), "--out", str(out)]) == 2
    assert "need a trained model" in capsys.readouterr().err


# --------------------------------------------------------------------------- lesion on a checkpoint


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny real training run on the generated LINE data set (no files needed)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = train.TrainConfig(dataset="line", epochs=2, prune_epochs=1, seed=0, **TINY)
        return train.train(cfg, tmp_path_factory.mktemp("run"), progress=False)
    finally:
        torch.set_num_threads(n)


def test_analyze_then_lesion_checkpoint(tiny_checkpoint, tmp_path):
    out = tmp_path / "analysis"
    lines: list[str] = []
    paths = study.analyze(
        tiny_checkpoint, out, k=4, n_shuffles=10, n_jobs=1, progress=False, log=lines.append
    )
    assert lines and "clustering" in lines[0]
    meta = json.loads(paths["meta"].read_text())
    assert meta["dataset"] == "line" and meta["metrics"]["test_accuracy"] is not None
    lpaths = study.lesion_study(
        tiny_checkpoint, out, k=4, n_random=8, progress=False, log=lines.append
    )
    assert any("using the clustering" in m for m in lines)  # reused analyze's labels
    for key in ("single_json", "single_csv", "lesion_importance", "lesion_classes", "report"):
        assert lpaths[key].is_file(), key
    single = json.loads(lpaths["single_json"].read_text())
    assert single["settings"]["n_random"] == 8 and single["settings"]["n_samples"] == TINY["n_test"]
    res = modcut.ClusterabilityResult.from_json(out / "clusterability.json")
    subs = {(s["layer"], s["cluster"]) for s in single["lesions"]}
    from modcut.study.lesion import submodules

    assert subs == {(s.layer, s.cluster) for s in submodules(res.labels, res.widths)}
    page = lpaths["report"].read_text()
    assert "Single lesions" in page and "lesion_single.csv" in page
    assert page.count("data:image/png;base64,") >= 5
    with pytest.raises(ValueError, match="k=4"):
        study.lesion_study(tiny_checkpoint, out, k=5, n_random=2, progress=False)
    # the acc. in the lesion test equals the harness's own evaluation of the test set
    ck = train.load_checkpoint(tiny_checkpoint)
    assert single["base_accuracy"] == pytest.approx(ck.metrics["test_accuracy"], abs=1e-9)


def test_lesion_without_analysis_clusters_itself(tiny_checkpoint, tmp_path):
    out = tmp_path / "les"
    paths = study.lesion_study(tiny_checkpoint, out, k=3, n_random=3, double=False, progress=False)
    assert "double_json" not in paths and paths["report"].is_file()
    meta = json.loads((out / "meta.json").read_text())
    assert len(meta["labels"]) == sum(meta["widths"])
    assert "Neurons per cluster" in paths["report"].read_text()


def test_cli_analyze_with_lesion_and_lesion_command(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["analyze", str(tiny_checkpoint), "--k", "3", "--shuffles", "4", "--jobs", "1"]
    assert main([*argv, "--out", str(out), "--lesion", "--random", "3", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "single lesions:" in printed and f"report: {out / 'report.html'}" in printed
    assert (out / "lesion_single.json").is_file() and (out / "lesion_double.json").is_file()
    # the aggregate importance tests over all sub-modules: file, table and report section
    import csv as _csv

    agg = list(_csv.DictReader(open(out / "lesion_aggregate.csv")))
    assert [r["test"] for r in agg] == [
        "single lesions: accuracy",
        "single lesions: class specificity",
        "double lesions: accuracy",
    ]
    assert float(agg[0]["n"]) >= 1 and 0 < float(agg[0]["fisher_p"]) <= 1
    assert "Importance over all sub-modules" in (out / "report.html").read_text()
    # `modcut lesion` alone, into the same folder: reuses the clustering, skips doubles
    (out / "lesion_double.json").unlink()
    rc = main(
        [
            "lesion",
            str(tiny_checkpoint),
            "--k",
            "3",
            "--random",
            "2",
            "--no-double",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "using the clustering" in printed and "tables: " in printed
    # --quiet: the results only, no log lines
    assert (
        main(
            [
                "lesion",
                str(tiny_checkpoint),
                "--k",
                "3",
                "--random",
                "2",
                "--no-double",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "using the clustering" not in printed and "tables: " in printed
    assert json.loads((out / "lesion_single.json").read_text())["settings"]["n_random"] == 2


# --------------------------------------------------------------------------- reproduce


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_reproduce_resumes_and_writes_tables(tmp_path, monkeypatch):
    calls = {"train": 0, "analyze": 0}
    real_train, real_cl = train.train, modcut.clusterability
    fail_at = {"n": 3}

    def counting_train(config, out_dir, **kw):
        calls["train"] += 1
        if calls["train"] == fail_at["n"]:
            raise RuntimeError("simulated crash")
        return real_train(config, out_dir, **kw)

    def counting_cl(*a, **kw):
        calls["analyze"] += 1
        return real_cl(*a, **kw)

    monkeypatch.setattr(train, "train", counting_train)
    monkeypatch.setattr(modcut, "clusterability", counting_cl)
    kw = dict(
        dataset="line",
        seeds=2,
        variants=["control", "dropout"],
        out_dir=tmp_path,
        epochs=1,
        prune_epochs=1,
        k=3,
        n_shuffles=4,
        n_jobs=1,
        train_overrides=TINY,
        progress=False,
        log=None,
        command="modcut reproduce --dataset line --seeds 2",
    )
    # a crash in the third run (seed-major order: control 0, dropout 0, control 1) leaves the
    # finished runs, each analyzed against both nulls, in a partial table
    with pytest.raises(RuntimeError, match="simulated"):
        study.reproduce(**kw)
    assert calls == {"train": 3, "analyze": 4}
    partial = _read_csv(tmp_path / "runs.csv")
    assert [(r["variant"], r["seed"]) for r in partial] == [("control", "0"), ("dropout", "0")]
    assert _read_csv(tmp_path / "table.csv")[0]["seeds"] == "1"

    fail_at["n"] = -1
    paths = study.reproduce(**kw)
    assert calls == {"train": 5, "analyze": 8}  # only the two seed-1 runs were new
    runs = _read_csv(paths["runs_csv"])
    assert [(r["variant"], r["seed"]) for r in runs] == [
        ("control", "0"),
        ("control", "1"),
        ("dropout", "0"),
        ("dropout", "1"),
    ]
    for r in runs:  # both nulls of the same trained network, side by side
        for sh in ("layer", "layer_nonzero"):
            res = json.loads(
                (
                    tmp_path
                    / r["variant"]
                    / f"seed{r['seed']}"
                    / ("analysis" if sh == "layer_nonzero" else "analysis-layer")
                    / "clusterability.json"
                ).read_text()
            )
            assert res["settings"]["shuffle"] == sh
            assert float(r[f"z_score_{sh}"]) == pytest.approx(res["z_score"], abs=1e-5)
            assert float(r["ncut"]) == pytest.approx(res["ncut"], abs=1e-5)
    table = _read_csv(paths["table_csv"])
    assert [r["variant"] for r in table] == ["control", "dropout"]
    for row in table:
        mine = [r for r in runs if r["variant"] == row["variant"]]
        assert int(row["seeds"]) == 2
        cols = ["ncut", "test_accuracy"] + [
            f"{f}_{sh}"
            for f in ("null_mean", "null_std", "z_score", "p_value")
            for sh in ("layer", "layer_nonzero")
        ]
        for col in cols:
            assert float(row[col]) == pytest.approx(
                np.mean([float(r[col]) for r in mine]), abs=1e-4
            )
        assert float(row["ncut_ci95"]) > 0
    page = paths["report"].read_text()
    for r in runs:
        for folder in ("analysis", "analysis-layer"):
            link = f"{r['variant']}/seed{r['seed']}/{folder}/report.html"
            assert link in page and (tmp_path / link).is_file()
    md = paths["table_md"].read_text()
    assert "`modcut reproduce --dataset line --seeds 2`" in md and "Student t" in md
    assert "| variant | seeds | n-cut | null mean (layer) |" in md and "| dropout | 2 |" in md
    dropout_cfg = json.loads((tmp_path / "dropout" / "seed1" / "run_config.json").read_text())
    assert dropout_cfg["dropout"] == 0.5 and dropout_cfg["seed"] == 1

    # everything finished: nothing is redone
    study.reproduce(**kw)
    assert calls == {"train": 5, "analyze": 8}
    # a marker written before a TrainConfig field existed still matches (the field's default)
    marker = tmp_path / "dropout" / "seed0" / "run_config.json"
    old = json.loads(marker.read_text())
    marker.write_text(json.dumps({k: v for k, v in old.items() if k != "untrained"}))
    study.reproduce(**kw)
    assert calls == {"train": 5, "analyze": 8}
    # tables only: the finished runs' tables, nothing trained or analyzed, unfinished left out
    (tmp_path / "dropout" / "seed1" / "run_config.json").unlink()
    only = study.reproduce(**kw, tables_only=True)
    assert calls == {"train": 5, "analyze": 8}
    assert [r["seed"] for r in _read_csv(only["runs_csv"]) if r["variant"] == "dropout"] == ["0"]
    study.reproduce(**kw)  # retrains the unmarked run
    assert calls == {"train": 6, "analyze": 10}
    # other analysis settings: re-analyze, do not retrain
    study.reproduce(**{**kw, "n_shuffles": 5})
    assert calls == {"train": 6, "analyze": 18}
    # a run whose training settings changed is retrained (and re-analyzed against both nulls)
    cfg_file = tmp_path / "control" / "seed0" / "run_config.json"
    cfg_file.write_text(json.dumps({**json.loads(cfg_file.read_text()), "lr": 0.5}))
    study.reproduce(**{**kw, "n_shuffles": 5})
    assert calls == {"train": 7, "analyze": 20}
    # one null only: reuses its analyses, the table has only its columns
    layer = study.reproduce(**{**kw, "n_shuffles": 5, "shuffle": "layer"})
    assert calls == {"train": 7, "analyze": 20}
    header = list(_read_csv(layer["table_csv"])[0])
    assert "z_score_layer" in header and "z_score_layer_nonzero" not in header


# --------------------------------------------------------------------------- demo


def test_demo_small(tmp_path, capsys, fake_data_dir):
    """The demo's pipeline on tiny generated Fashion-MNIST files (conftest.fake_data_dir)."""
    kw = dict(
        epochs=1,
        prune_epochs=1,
        n_shuffles=10,
        n_random=3,
        k=6,
        n_jobs=1,
        data_root=str(fake_data_dir),
        train_overrides={"hidden": (32, 32)},
        progress=False,
    )
    paths = study.demo(tmp_path / "demo", **kw)
    printed = capsys.readouterr().out
    for step in ("[1/3]", "[2/3]", "[3/3]", "report: "):
        assert step in printed
    assert paths["report"] == tmp_path / "demo" / "analysis" / "report.html"
    assert paths["report"].is_file() and (tmp_path / "demo" / "run" / "checkpoint.pt").is_file()
    assert "Single lesions" in paths["report"].read_text()
    # running it again reuses the training run and the analysis
    study.demo(tmp_path / "demo", **kw)
    assert capsys.readouterr().out.count("reusing") == 3  # training, analysis, lesions


def test_specialization_of_a_checkpoint(tiny_checkpoint, tmp_path, capsys):
    """Weight and activation partitions, importance, coherence and agreement, end to end."""
    out = tmp_path / "spec"
    argv = ["specialization", str(tiny_checkpoint), "--k", "3", "--random", "4", "--top", "5",
            "--coherence-random", "4", "--permutations", "20", "--activation-examples", "200",
            "--corr", "pearson", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "weights" in printed and "activations" in printed and "agreement" in printed
    rows = list(csv.DictReader(open(out / "specialization.csv")))
    assert [(r["partition"], r["measure"]) for r in rows] == [
        (p, m)
        for p in ("weights", "activations")
        for m in (
            "importance (accuracy)",
            "importance (class specificity)",
            "coherence (top examples' labels)",
            "coherence (optimised input: prediction entropy)",
            "coherence (optimised input: activation dispersion)",
        )
    ]
    data = json.loads((out / "specialization.json").read_text())
    assert data["settings"]["k"] == 3 and len(data["partitions"]["activations"]) == sum(
        data["settings"]["widths"]
    )
    agreement = list(csv.DictReader(open(out / "agreement.csv")))
    assert agreement[-1]["layer"] == "mean over layers" and 0 < float(agreement[-1]["ari_p"]) <= 1
    for name in ("importance_weights.csv", "coherence_activations.csv", "features_weights.csv",
                 "report.html"):  # fmt: skip
        assert (out / name).is_file(), name
    # bad arguments are named before any work
    with pytest.raises(ValueError, match="n_permutations must be"):
        study.specialization(tiny_checkpoint, out, k=3, n_permutations=0)


def test_reproduce_with_specialization_writes_its_table_and_reuses_it(tmp_path):
    kw = dict(
        dataset="line",
        seeds=1,
        variants=["control"],
        out_dir=tmp_path,
        epochs=1,
        prune_epochs=1,
        k=3,
        n_shuffles=3,
        shuffle="layer_nonzero",
        n_jobs=1,
        train_overrides=TINY,
        progress=False,
        specialization=True,
    )
    lines: list[str] = []
    paths = study.reproduce(**kw, log=lines.append)
    rows = _read_csv(paths["specialization_csv"])
    assert {r["partition"] for r in rows} == {"weights", "activations"}
    assert all(r["variant"] == "control" and r["seeds"] == "1" for r in rows)
    assert "Importance and coherence" in paths["specialization_md"].read_text()
    agreement = _read_csv(paths["specialization_agreement_csv"])
    assert agreement[0]["variant"] == "control"
    lines.clear()
    again = study.reproduce(**kw, log=lines.append)
    assert any("reusing" in m and "specialization.json" in m for m in lines)
    assert _read_csv(again["specialization_csv"]) == rows
    tables = study.reproduce(**kw, log=None, tables_only=True)
    assert _read_csv(tables["specialization_csv"]) == rows
