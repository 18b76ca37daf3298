"""Figures, tables and the self-contained HTML page (modcut.report)."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from modcut import report
from modcut.null import ClusterabilityResult, null_statistics

# --------------------------------------------------------------------------- fixtures


def block_network(widths=(16, 12, 12, 4), k=4, seed=0, noise=0.0):
    """Weight matrices with k diagonal blocks (plus optional off-block noise) and their labels."""
    rng = np.random.default_rng(seed)
    labels = [np.arange(w) * k // w for w in widths]
    mats = []
    for a, b in itertools.pairwise(labels):
        same = a[:, None] == b[None, :]
        w = rng.normal(size=same.shape) * np.where(same, 1.0, noise)
        mats.append(w)
    return mats, np.concatenate(labels), tuple(widths)


def make_result(labels, widths, ncut=1.2, seed=0, n=200) -> ClusterabilityResult:
    rng = np.random.default_rng(seed)
    null = rng.normal(2.0, 0.1, size=n)
    return ClusterabilityResult(
        ncut=ncut,
        labels=np.asarray(labels, dtype=np.int64),
        null_ncuts=null,
        widths=tuple(widths),
        settings={
            "k": 4,
            "shuffle": "layer_nonzero",
            "n_shuffles": n,
            "n_init": 25,
            "random_state": seed,
            "eigen_solver": "lanczos",
            "n_isolated": 0,
        },
        timings={"observed": 0.1, "null": 2.0, "per_sample": 0.01},
        **null_statistics(ncut, null),
    )


def lesion_results():
    """Single and double lesion results built by hand (no model needed)."""
    from modcut.study.lesion import (
        DoubleLesion,
        DoubleLesionResult,
        SingleLesion,
        SingleLesionResult,
    )

    rng = np.random.default_rng(0)
    les = []
    for layer in (1, 2):
        for c in range(3):
            null = rng.uniform(0, 0.05, size=30)
            drop = 0.2 if c == 0 else 0.01
            les.append(
                SingleLesion(
                    layer=layer,
                    cluster=c,
                    neurons=np.arange(4) + 4 * c,
                    accuracy=0.9 - drop,
                    drop=drop,
                    per_class_drop=rng.normal(0, 0.1, size=10),
                    null_drops=null,
                    null_per_class_drop=np.full(10, 0.01),
                    **{k: v for k, v in _stats(drop, null).items()},
                )
            )
    single = SingleLesionResult(0.9, np.full(10, 0.9), les, {"n_random": 30})
    pairs = []
    for a in les[:3]:
        for b in les[3:]:
            pairs.append(
                DoubleLesion(
                    a=a.name,
                    b=b.name,
                    layer_a=1,
                    cluster_a=a.cluster,
                    layer_b=2,
                    cluster_b=b.cluster,
                    size_a=4,
                    size_b=4,
                    drop_a=a.drop,
                    drop_b=b.drop,
                    joint_drop=a.drop + b.drop - 0.01,
                    interaction=-0.01,
                    per_class_joint_drop=np.zeros(10),
                    null_drops=np.zeros(0),
                )
            )
    double = DoubleLesionResult(0.9, [s.name for s in les], pairs, {"n_random": 0})
    return single, double


def _stats(drop, null):
    from modcut.study.lesion import importance_statistics

    return importance_statistics(drop, null)


# --------------------------------------------------------------------------- figures


def test_every_figure_is_a_valid_png(tmp_path):
    mats, labels, widths = block_network()
    res = make_result(labels, widths)
    single, double = lesion_results()
    paths = [
        report.plot_null_histogram(res, tmp_path / "null_histogram.png"),
        report.plot_network(labels, widths, tmp_path / "network.png", weights=mats),
        report.plot_weight_blocks(mats, labels, widths, tmp_path / "weights.png"),
        report.plot_lesion_importance(single, tmp_path / "lesion_importance.png"),
        report.plot_lesion_classes(single, tmp_path / "lesion_classes.png"),
        report.plot_double_lesion(double, tmp_path / "lesion_double.png"),
    ]
    for p in paths:
        assert p.parent == tmp_path
        assert report.png_ok(p), p
    assert not report.png_ok(tmp_path / "missing.png")
    (tmp_path / "fake.png").write_bytes(b"not a png" * 50)
    assert not report.png_ok(tmp_path / "fake.png")


def test_large_network_drawn_as_strips_with_pixel_grid(tmp_path):
    """784 inputs: a 28 × 28 image of pixel labels plus strips, not a hairball."""
    rng = np.random.default_rng(1)
    widths = (784, 64, 64, 10)
    mats = [
        rng.normal(size=(a, b)) * (rng.random((a, b)) < 0.1) for a, b in itertools.pairwise(widths)
    ]
    labels = rng.integers(-1, 12, size=sum(widths))
    p = report.plot_network(labels, widths, tmp_path / "net.png", weights=mats)
    assert report.png_ok(p)
    p2 = report.plot_weight_blocks(mats, labels, widths, tmp_path / "w.png")
    assert report.png_ok(p2)
    # explicit input shape with 3 channels
    widths3 = (3 * 16 * 16, 32, 10)
    mats3 = [rng.normal(size=(768, 32)), rng.normal(size=(32, 10))]
    lab3 = rng.integers(0, 5, size=sum(widths3))
    assert report.png_ok(
        report.plot_network(
            lab3, widths3, tmp_path / "net3.png", weights=mats3, input_shape=(3, 16, 16)
        )
    )


def test_lesion_figures_handle_empty_results(tmp_path):
    from modcut.study.lesion import DoubleLesionResult, SingleLesionResult

    empty = SingleLesionResult(0.9, np.full(10, 0.9), [], {"n_random": 10})
    assert report.png_ok(report.plot_lesion_importance(empty, tmp_path / "a.png"))
    assert report.png_ok(
        report.plot_double_lesion(DoubleLesionResult(0.9, [], [], {}), tmp_path / "b.png")
    )


# --------------------------------------------------------------------------- tables


def test_within_cluster_share():
    mats, labels, widths = block_network(noise=0.0)
    share = report.within_cluster_share(mats, labels, widths)
    assert share["observed"] == pytest.approx(1.0)
    assert 0.0 < share["expected"] < 0.5
    mats, labels, widths = block_network(noise=1.0, seed=3)
    share = report.within_cluster_share(mats, labels, widths)
    assert share["observed"] == pytest.approx(share["expected"], abs=0.15)


def test_cluster_size_table_and_markdown(tmp_path):
    labels = np.array([0, 1, -1, 0, 0, 1, 1])
    rows = report.cluster_size_table(labels, (3, 2, 2))
    assert rows == [
        {"cluster": "C0", "layer 0": 1, "layer 1": 2, "layer 2": 0, "total": 3},
        {"cluster": "C1", "layer 0": 1, "layer 1": 0, "layer 2": 2, "total": 3},
        {"cluster": "isolated", "layer 0": 1, "layer 1": 0, "layer 2": 0, "total": 1},
    ]
    md = report.markdown_table(rows)
    assert md.splitlines()[0] == "| cluster | layer 0 | layer 1 | layer 2 | total |"
    assert md.splitlines()[1] == "|---|---|---|---|---|"
    assert "| isolated | 1 | 0 | 0 | 1 |" in md
    p = report.write_csv(rows, tmp_path / "t.csv")
    assert p.read_text().splitlines()[0] == "cluster,layer 0,layer 1,layer 2,total"
    assert report.markdown_table([]) == ""
    html_t = report.html_table([{"a": "<b>", "b": 0.000012345}], max_rows=None)
    assert "&lt;b&gt;" in html_t and "1.23e-05" in html_t


# --------------------------------------------------------------------------- HTML


def _write_full_page(out: Path) -> Path:
    mats, labels, widths = block_network()
    res = make_result(labels, widths)
    single, double = lesion_results()
    report.plot_null_histogram(res, out / "null_histogram.png")
    report.plot_network(labels, widths, out / "network.png", weights=mats)
    report.plot_weight_blocks(mats, labels, widths, out / "weights.png")
    report.plot_lesion_importance(single, out / "lesion_importance.png")
    report.plot_lesion_classes(single, out / "lesion_classes.png")
    report.plot_double_lesion(double, out / "lesion_double.png")
    history = [
        {"phase": ph, "epoch": e, "loss": 1.0 / e, "test_loss": 1.2 / e, "cluster_penalty": 2.0 / e}
        for ph, e in [("train", 1), ("train", 2), ("prune", 1), ("prune", 2)]
    ]
    report.plot_training_curves(history, out / "training.png")
    blocks = [  # transformer blocks: two stacks of dense blocks, one MoE layer of 3 experts
        {"stack": st, "layer": i, "expert": None, "ncut": 1.0 + 0.1 * i, "null_mean": 1.2,
         "null_std": 0.05, "z_score": -4.0 + i}
        for st in ("encoder.block", "decoder.block") for i in range(3)
    ] + [
        {"stack": "model.layers", "layer": 0, "expert": e, "ncut": 1.0, "null_mean": 1.1,
         "null_std": 0.1, "z_score": -2.5 if e == "shared" else -1.0 * e}
        for e in (0, 1, 2, "shared")
    ]  # fmt: skip
    report.plot_depth_profile(blocks, out / "depth.png")
    report.plot_expert_heatmap(blocks, out / "experts.png")
    rng = np.random.default_rng(0)
    report.plot_submodule_inputs(
        ["L1:C0", "L2:C3"], [rng.random((5, 784)), rng.random((5, 784))], rng.random((2, 784)),
        [3, 7], out / "submodule_inputs.png",
    )  # fmt: skip
    res.to_json(out / "clusterability.json")
    single.to_csv(out / "lesion_single.csv")
    return report.write_html(
        out,
        title="test <report>",
        summary=res.summary(),
        verdict="More clusterable than chance",
        significant=True,
        sections=[("Clusterability", report.html_table(report.clusterability_rows(res)))],
        appendix=[("Single lesions", report.html_table(single.rows()))],
        settings={"k": 4},
    )


def test_html_is_self_contained(tmp_path):
    page = _write_full_page(tmp_path)
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert "test &lt;report&gt;" in text
    # every figure is embedded, in page order
    imgs = re.findall(r"<img [^>]*src=\"([^\"]+)\"", text)
    assert len(imgs) == len(report.FIGURES)
    assert all(src.startswith("data:image/png;base64,") for src in imgs)
    # no scripts, external style sheets, fonts or remote URLs
    lowered = text.lower()
    for bad in ("<script", "<link", "@import", "url(", "http://", "https://", "//cdn"):
        assert bad not in lowered, bad
    # links point at files next to the page
    for href in re.findall(r"href=['\"]([^'\"]+)['\"]", text):
        assert "/" not in href and (tmp_path / href).is_file(), href
    assert "clusterability.json" in text and "lesion_single.csv" in text


def test_html_without_figures(tmp_path):
    page = report.write_html(tmp_path, title="bare")
    text = page.read_text()
    assert "<img" not in text and "<h1>bare</h1>" in text


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_renders_in_headless_chromium(tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but no chromium on PATH (.ci/run installs it)")
        pytest.skip("chromium not installed")
    page = _write_full_page(tmp_path / "r")
    shot = tmp_path / "shot.png"
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--disable-dev-shm-usage",
        "--window-size=1200,3000",
        f"--screenshot={shot}",
        page.resolve().as_uri(),
    ]
    subprocess.run(
        cmd,
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert shot.is_file() and shot.stat().st_size > 10_000
    import matplotlib.pyplot as plt

    img = plt.imread(shot)
    assert img.shape[0] >= 1000 and img.shape[1] >= 1000
    # not a blank page: the embedded figures put plenty of non-white pixels on it
    non_white = np.mean(img[..., :3].min(axis=-1) < 0.9)
    assert non_white > 0.05
