"""Figures, tables and a self-contained HTML page for a modcut analysis.

Every plotting function takes plain results (a
:class:`~modcut.ClusterabilityResult`, weight matrices, lesion results), writes
one PNG with matplotlib's Agg backend and returns its path; matplotlib is the
``report`` extra (``pip install 'modcut[report]'``), imported by the first plot, so
the tables and the HTML page work without it. :func:`write_html`
puts whatever figures and tables exist into a single page whose images are
embedded as base64 ``data:`` URIs: it opens offline, from anywhere, with no
scripts, fonts or style sheets fetched.

File names inside an output folder are fixed (:data:`FIGURES`), so a later
step (``modcut lesion`` after ``modcut analyze``) can add its figures and
regenerate the page.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modcut._io import read_json, write_csv
from modcut._layers import split_by_layer
from modcut._optional import require
from modcut.lesion_results import DoubleLesionResult, SingleLesionResult, aggregate_rows
from modcut.null import ClusterabilityResult

__all__ = [
    "FIGURES",
    "build_report",
    "cluster_colors",
    "cluster_size_table",
    "clusterability_rows",
    "html_table",
    "markdown_table",
    "plot_depth_profile",
    "plot_double_lesion",
    "plot_expert_heatmap",
    "plot_lesion_classes",
    "plot_lesion_importance",
    "plot_network",
    "plot_null_histogram",
    "plot_submodule_inputs",
    "plot_training_curves",
    "plot_weight_blocks",
    "png_ok",
    "within_cluster_share",
    "write_csv",
    "write_html",
]

_agg_selected = False


def _mpl() -> Any:
    """matplotlib with pyplot, collections and colors loaded, on the Agg backend.

    Imported at the first plot (not with this module), so that the tables and the HTML page
    work without matplotlib; :class:`~modcut._optional.MissingExtraError` naming
    ``modcut[report]`` when it is not installed.
    """
    global _agg_selected
    mpl = require("matplotlib", extra="report", purpose="modcut's figures")
    if not _agg_selected:
        mpl.use("Agg")
        _agg_selected = True
    for sub in ("pyplot", "collections", "colors"):
        require(f"matplotlib.{sub}", extra="report", purpose="modcut's figures")
    return mpl


#: Figure file names in an output folder → caption, in page order.
FIGURES: dict[str, str] = {
    "submodule_inputs.png": (
        "What excites each sub-module (rows: layer L, cluster C). Left: the test examples with "
        "the largest summed |activation| over its units; right: the input optimised to "
        "maximise its units' mean activation (feature visualisation), with the network's "
        "predicted class."
    ),
    "depth.png": (
        "Transformer MLP blocks by depth. Top: the observed n-cut of each block (solid) and its "
        "null's mean ± 2 standard deviations (dashed line and band) against the layer index. "
        "Bottom: z = (n-cut − null mean) / null std; below the dotted line a block is more "
        "clusterable than its shuffles at p ≈ 0.05 (one-sided)."
    ),
    "experts.png": (
        "Mixture-of-experts layers: z of every expert's MLP (columns; shared experts last) in "
        "every layer (rows). Blue: more clusterable than its shuffles; blank: not analyzed."
    ),
    "null_histogram.png": (
        "n-cut of the observed network (red line) against the n-cuts of its shuffled copies. "
        "Lower n-cut = more modular; a line left of the histogram means more clusterable than chance."
    ),
    "network.png": (
        "The network layer by layer, neurons coloured by cluster (grey: isolated). Each layer's "
        "neurons are sorted by cluster; bands between layers carry the total |weight| between "
        "two clusters (coloured when both ends are in the same cluster)."
    ),
    "weights.png": (
        "Each weight matrix |W| (rows: inputs, columns: outputs) with neurons reordered by cluster; "
        "lines mark cluster boundaries. Modularity shows as weight concentrated in diagonal blocks."
    ),
    "training.png": (
        "Training curves from the checkpoint's history, one point per epoch: task loss (training "
        "mean over the epoch's batches, and on the test set) and, for a network trained with the "
        "clusterability regulariser, the penalty (sum of the k smallest non-trivial eigenvalues "
        "of the normalized Laplacian, mean over the epoch's penalised steps). The dotted line "
        "marks the start of fine-tuning with pruning."
    ),
    "lesion_importance.png": (
        "Accuracy drop when each sub-module (layer L, cluster C) is lesioned (dots) against random "
        "lesions of the same size in the same layer (boxes: quartiles, whiskers: 5–95%). "
        "* : p < 0.05, ** : p < 0.01."
    ),
    "lesion_classes.png": (
        "Per-class accuracy drop for each sub-module's lesion (left) and the same minus the mean "
        "per-class drop of the random lesions (right)."
    ),
    "lesion_double.png": (
        "Pairs of sub-modules in different layers lesioned together: joint accuracy drop (left) and "
        "interaction = joint drop − (sum of the single drops) (right)."
    ),
}

_GREY = (0.82, 0.82, 0.82, 1.0)


# --------------------------------------------------------------------------- helpers


def cluster_colors(n: int) -> np.ndarray:
    """RGBA colours for cluster labels ``0 … n-1``, shape ``(n, 4)`` (tab10/tab20, then hsv)."""
    plt = _mpl().pyplot
    if n <= 10:
        return np.asarray(plt.get_cmap("tab10")(np.arange(max(n, 1))))[:n]
    if n <= 20:
        return np.asarray(plt.get_cmap("tab20")(np.arange(n)))
    return np.asarray(plt.get_cmap("hsv")(np.linspace(0, 1, n, endpoint=False)))


def _label_colors(labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """RGBA per label, grey for -1; shape ``labels.shape + (4,)``."""
    pal = np.vstack([cluster_colors(n_clusters), [_GREY]])
    idx = np.where(labels >= 0, labels, n_clusters)
    return np.asarray(pal[idx])


def _cluster_order(lab: np.ndarray) -> np.ndarray:
    """Indices sorting neurons by cluster label, isolated (-1) last, stable."""
    key = np.where(lab < 0, np.iinfo(np.int64).max, lab)
    return np.argsort(key, kind="stable")


def _dense(w: Any) -> np.ndarray:
    if hasattr(w, "toarray"):
        return np.asarray(w.toarray(), dtype=np.float64)
    if hasattr(w, "detach"):
        w = w.detach().cpu().numpy()
    return np.asarray(w, dtype=np.float64)


def _n_clusters(labels: np.ndarray) -> int:
    return int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 0


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    plt = _mpl().pyplot
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return p


def _input_grid_shape(width: int, input_shape: Sequence[int] | None) -> tuple[int, int, int] | None:
    """``(channels, H, W)`` to draw the input layer as images, or None."""
    if input_shape is not None:
        shape = tuple(int(s) for s in input_shape)
        if len(shape) == 3 and math.prod(shape) == width:
            return shape[0], shape[1], shape[2]
        if len(shape) == 2 and math.prod(shape) == width:
            return 1, shape[0], shape[1]
    for c in (1, 3):
        side = math.isqrt(width // c) if width % c == 0 else 0
        if side >= 8 and c * side * side == width:
            return c, side, side
    return None


# --------------------------------------------------------------------------- figures


def plot_null_histogram(result: ClusterabilityResult, path: str | os.PathLike[str]) -> Path:
    """Histogram of ``result.null_ncuts`` with the observed n-cut marked."""
    plt = _mpl().pyplot
    null = np.asarray(result.null_ncuts, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(7, 4))
    lo = min(float(null.min()), result.ncut)
    hi = max(float(null.max()), result.ncut)
    pad = 0.05 * (hi - lo or 1.0)
    bins = np.linspace(lo - pad, hi + pad, min(60, max(10, null.size // 10)) + 1)
    ax.hist(
        null,
        bins=list(bins),
        color="#7a9cc6",
        edgecolor="white",
        label=f"null ({null.size} shuffles)",
    )
    ax.axvline(result.ncut, color="#c0392b", lw=2.5, label=f"observed n-cut = {result.ncut:.3f}")
    ax.axvline(
        result.null_mean,
        color="#2c3e50",
        lw=1,
        ls="--",
        label=f"null mean = {result.null_mean:.3f}",
    )
    s = result.settings
    ax.set_xlabel("normalized cut (lower = more modular)")
    ax.set_ylabel("null networks")
    ax.set_title(
        f"k = {s.get('k')}, shuffle '{s.get('shuffle')}': z = {result.z_score:.2f}, "
        f"p = {result.p_value:.3g}"
    )
    ax.legend(loc="best", fontsize=8, frameon=False)
    return _save(fig, path)


def plot_training_curves(
    history: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]
) -> Path:
    """Per-epoch loss and, when recorded, the clusterability penalty, side by side.

    Parameters
    ----------
    history:
        A checkpoint's ``history``: one dict per epoch with ``phase``, ``loss``,
        ``test_loss`` and, for regularised runs, ``cluster_penalty``.
    path:
        PNG to write.
    """
    if not history:
        return _empty_figure("no training history", path)
    x = np.arange(1, len(history) + 1)

    def col(key: str) -> np.ndarray:
        return np.array(
            [np.nan if h.get(key) is None else float(h[key]) for h in history], dtype=np.float64
        )

    pen = col("cluster_penalty")
    panels = 2 if np.isfinite(pen).any() else 1
    plt = _mpl().pyplot
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.6), squeeze=False)
    ax = axes[0, 0]
    ax.plot(x, col("loss"), "o-", ms=3, color="#2c3e50", label="training loss")
    ax.plot(x, col("test_loss"), "s--", ms=3, color="#7a9cc6", label="test loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("task loss")
    ax.legend(loc="best", fontsize=8, frameon=False)
    starts = [
        i + 1
        for i in range(1, len(history))
        if history[i].get("phase") != history[i - 1].get("phase")
    ]
    for a in axes[0]:
        for s0 in starts:
            a.axvline(s0 - 0.5, color="grey", ls=":", lw=1)
    if panels == 2:
        ax2 = axes[0, 1]
        ax2.plot(x, pen, "o-", ms=3, color="#c0392b")
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("clusterability penalty (lower = more clusterable)")
    fig.tight_layout()
    return _save(fig, path)


def plot_network(
    labels: Any,
    widths: Sequence[int],
    path: str | os.PathLike[str],
    *,
    weights: Sequence[Any] | None = None,
    input_shape: Sequence[int] | None = None,
    max_graph_nodes: int = 300,
    max_edges: int = 3000,
) -> Path:
    """Draw the network layer by layer with neurons coloured by cluster.

    Parameters
    ----------
    labels:
        Cluster label per neuron, shape ``(sum(widths),)``, ``-1`` = isolated.
    widths:
        Neurons per layer.
    weights:
        The weight matrices ``(n_{l-1}, n_l)``; used to draw edges (small
        networks) or cluster-to-cluster weight bands (large ones).
    input_shape:
        ``(C, H, W)`` or ``(H, W)`` of the inputs; when given (or guessed from a
        square input width) the input layer is also drawn as an image of
        pixel labels.
    max_graph_nodes:
        Up to this many neurons, every neuron is a dot and the strongest
        ``max_edges`` edges are drawn; above it each layer is a strip of
        neurons sorted by cluster and only cluster-to-cluster bands are drawn.
    """
    mpl = _mpl()
    plt = mpl.pyplot
    widths = [int(w) for w in widths]
    per_layer = split_by_layer(labels, widths)
    all_lab = np.concatenate(per_layer)
    k = _n_clusters(all_lab)
    mats = [np.abs(_dense(w)) for w in weights] if weights is not None else None
    grid = _input_grid_shape(widths[0], input_shape) if sum(widths) > max_graph_nodes else None

    n_cols = 1 + (grid[0] if grid else 0)
    fig = plt.figure(figsize=(3.2 * (n_cols - 1) + max(6.0, 1.6 * len(widths)), 5.5))
    gs = fig.add_gridspec(
        1, n_cols, width_ratios=[1.0] * (n_cols - 1) + [max(2.0, 0.6 * len(widths))]
    )
    if grid is not None:
        c, h, w = grid
        pix = _label_colors(per_layer[0], k).reshape(c, h, w, 4)
        for ch in range(c):
            ax_in = fig.add_subplot(gs[0, ch])
            ax_in.imshow(pix[ch], interpolation="nearest")
            ax_in.set_title(f"input pixels{f' (channel {ch})' if c > 1 else ''}", fontsize=9)
            ax_in.set_xticks([])
            ax_in.set_yticks([])
    ax = fig.add_subplot(gs[0, n_cols - 1])

    orders = [_cluster_order(lab) for lab in per_layer]
    # y position in [0, 1] of every neuron (rank within its layer, sorted by cluster)
    ypos = []
    for lab, order in zip(per_layer, orders, strict=True):
        y = np.empty(lab.shape[0])
        y[order] = (np.arange(lab.shape[0]) + 0.5) / lab.shape[0]
        ypos.append(1.0 - y)
    if sum(widths) <= max_graph_nodes:
        if mats is not None:
            segs: list[list[tuple[float, float]]] = []
            vals: list[float] = []
            for li, m in enumerate(mats):
                nz_r, nz_c = np.nonzero(m)
                for i, j in zip(nz_r.tolist(), nz_c.tolist(), strict=True):
                    segs.append([(li, float(ypos[li][i])), (li + 1, float(ypos[li + 1][j]))])
                    vals.append(float(m[i, j]))
            if segs:
                v = np.asarray(vals)
                keep = np.argsort(-v)[:max_edges]
                v = v[keep] / v.max()
                lc = mpl.collections.LineCollection(
                    [segs[i] for i in keep],
                    colors=[(0.3, 0.3, 0.3, 0.05 + 0.5 * a) for a in v],
                    linewidths=0.3 + 1.2 * v,
                    zorder=1,
                )
                ax.add_collection(lc)
        for li, lab in enumerate(per_layer):
            ax.scatter(
                np.full(lab.shape[0], li),
                ypos[li],
                c=_label_colors(lab, k),
                s=max(6.0, min(60.0, 3000.0 / max(widths))),
                edgecolors="k",
                linewidths=0.3,
                zorder=2,
            )
    else:
        half = 0.12
        for li, (lab, order) in enumerate(zip(per_layer, orders, strict=True)):
            strip = _label_colors(lab[order], k)[:, None, :]
            ax.imshow(
                strip,
                extent=(li - half, li + half, 0, 1),
                aspect="auto",
                interpolation="nearest",
                zorder=2,
            )
        if mats is not None:
            bands: list[list[tuple[float, float]]] = []
            masses: list[float] = []
            cols: list[int] = []
            for li, m in enumerate(mats):
                a_lab, b_lab = per_layer[li], per_layer[li + 1]
                start = len(masses)
                for a in np.unique(a_lab[a_lab >= 0]).tolist():
                    ra = np.flatnonzero(a_lab == a)
                    ya = float(ypos[li][ra].mean())
                    sub = m[ra]
                    for b in np.unique(b_lab[b_lab >= 0]).tolist():
                        cb = np.flatnonzero(b_lab == b)
                        mass = float(sub[:, cb].sum())
                        if mass > 0:
                            yb = float(ypos[li + 1][cb].mean())
                            bands.append([(li + half, ya), (li + 1 - half, yb)])
                            masses.append(mass)
                            cols.append(a if a == b else -1)
                # widths relative to the strongest band of the same weight matrix
                top = max(masses[start:], default=0.0)
                for i in range(start, len(masses)):
                    masses[i] /= top
            if bands:
                v = np.asarray(masses)
                show = np.flatnonzero(v >= 0.03)
                pal = np.vstack([cluster_colors(max(k, 1)), [(0.45, 0.45, 0.45, 1.0)]])
                colors = [
                    (*pal[cols[i] if cols[i] >= 0 else len(pal) - 1][:3], 0.2 + 0.5 * float(v[i]))
                    for i in show
                ]
                lc = mpl.collections.LineCollection(
                    [bands[i] for i in show],
                    colors=colors,
                    linewidths=0.4 + 6.0 * v[show],
                    zorder=1,
                )
                ax.add_collection(lc)
    ax.set_xlim(-0.6, len(widths) - 0.4)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xticks(range(len(widths)))
    names = ["input"] + [f"hidden {i}" for i in range(1, len(widths) - 1)] + ["output"]
    ax.set_xticklabels([f"{n}\n({w})" for n, w in zip(names, widths, strict=True)], fontsize=8)
    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"{k} clusters, neurons sorted by cluster within each layer", fontsize=10)
    if k:
        handles = [
            plt.Line2D([], [], marker="s", ls="", color=cluster_colors(k)[c], label=f"C{c}")
            for c in range(k)
        ]
        handles.append(plt.Line2D([], [], marker="s", ls="", color=_GREY, label="isolated"))
        ax.legend(
            handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False
        )
    return _save(fig, path)


def plot_weight_blocks(
    weights: Sequence[Any],
    labels: Any,
    widths: Sequence[int],
    path: str | os.PathLike[str],
    *,
    gamma: float = 0.5,
) -> Path:
    """Each |W| with rows and columns reordered by cluster, cluster boundaries drawn.

    Parameters
    ----------
    weights:
        Weight matrices ``W_l`` of shape ``(n_{l-1}, n_l)``.
    labels, widths:
        The clustering (one label per neuron of all layers) and layer widths.
    gamma:
        Power-law colour scaling of |W| (0.5 brings small weights up).
    """
    mpl = _mpl()
    plt = mpl.pyplot
    mats = [np.abs(_dense(w)) for w in weights]
    per_layer = split_by_layer(labels, widths)
    k = _n_clusters(np.concatenate(per_layer))
    n = len(mats)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 4.4 * nrows), squeeze=False)
    pal = _label_colors(np.arange(-1, k), k)
    for li, m in enumerate(mats):
        ax = axes[li // ncols][li % ncols]
        ro, co = _cluster_order(per_layer[li]), _cluster_order(per_layer[li + 1])
        block = m[np.ix_(ro, co)]
        vmax = float(block.max()) or 1.0
        ax.imshow(
            block,
            aspect="auto",
            interpolation="nearest",
            cmap="Greys",
            norm=mpl.colors.PowerNorm(gamma, vmin=0.0, vmax=vmax),
        )
        for lab, order, axis in ((per_layer[li], ro, "row"), (per_layer[li + 1], co, "col")):
            sorted_lab = lab[order]
            cuts = np.flatnonzero(np.diff(sorted_lab)) + 0.5
            for c in cuts:
                if axis == "row":
                    ax.axhline(c, color="#c0392b", lw=0.5, alpha=0.7)
                else:
                    ax.axvline(c, color="#c0392b", lw=0.5, alpha=0.7)
        # colour bars along the edges: which cluster each row / column belongs to
        rl = per_layer[li][ro]
        cl = per_layer[li + 1][co]
        cmap = mpl.colors.ListedColormap(pal)
        ax.imshow(
            (rl + 1)[:, None],
            extent=(-0.03 * m.shape[1] - 0.5, -0.5, m.shape[0] - 0.5, -0.5),
            aspect="auto",
            cmap=cmap,
            vmin=-0.5,
            vmax=k + 0.5,
            interpolation="nearest",
        )
        ax.imshow(
            (cl + 1)[None, :],
            extent=(-0.5, m.shape[1] - 0.5, -0.5, -0.03 * m.shape[0] - 0.5),
            aspect="auto",
            cmap=cmap,
            vmin=-0.5,
            vmax=k + 0.5,
            interpolation="nearest",
        )
        ax.set_xlim(-0.03 * m.shape[1] - 0.5, m.shape[1] - 0.5)
        ax.set_ylim(m.shape[0] - 0.5, -0.03 * m.shape[0] - 0.5)
        ax.set_title(f"|W{li + 1}|  {m.shape[0]}×{m.shape[1]}", fontsize=10)
        ax.set_xlabel(f"layer {li + 1} neurons (by cluster)", fontsize=8)
        ax.set_ylabel(f"layer {li} neurons (by cluster)", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    for j in range(n, nrows * ncols):
        axes[j // ncols][j % ncols].axis("off")
    fig.tight_layout()
    return _save(fig, path)


def plot_lesion_importance(single: SingleLesionResult, path: str | os.PathLike[str]) -> Path:
    """Per sub-module: the lesion's accuracy drop against its random-lesion null."""
    plt = _mpl().pyplot
    les = single.lesions
    fig, ax = plt.subplots(figsize=(max(6.0, 0.38 * len(les) + 2), 4.5))
    if les:
        k = max(s.cluster for s in les) + 1
        pal = cluster_colors(k)
        pos = np.arange(len(les))
        ax.boxplot(
            [s.null_drops for s in les],
            positions=pos,
            widths=0.6,
            whis=(5, 95),
            showfliers=False,
            patch_artist=True,
            boxprops={"facecolor": "#dfe6ee", "edgecolor": "#7f8c8d"},
            medianprops={"color": "#7f8c8d"},
        )
        ax.scatter(
            pos,
            [s.drop for s in les],
            c=[pal[s.cluster] for s in les],
            s=45,
            edgecolors="k",
            zorder=3,
            label="sub-module lesion",
        )
        top = max(max(s.drop for s in les), max(float(np.max(s.null_drops)) for s in les))
        for i, s in enumerate(les):
            star = "**" if s.p_value < 0.01 else "*" if s.p_value < 0.05 else ""
            if star:
                ax.text(i, s.drop + 0.03 * (top or 1), star, ha="center", fontsize=10)
        ax.set_xticks(pos)
        ax.set_xticklabels([f"{s.name}\n({s.size})" for s in les], rotation=90, fontsize=7)
        # separate layers
        for i in range(1, len(les)):
            if les[i].layer != les[i - 1].layer:
                ax.axvline(i - 0.5, color="k", lw=0.5, alpha=0.4)
    else:
        ax.text(
            0.5, 0.5, "no sub-module large enough to lesion", ha="center", transform=ax.transAxes
        )
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylabel("test accuracy drop")
    ax.set_title(
        f"Single lesions (intact accuracy {single.base_accuracy:.3f}; "
        f"{single.settings.get('n_random', '?')} random lesions each)",
        fontsize=10,
    )
    return _save(fig, path)


def plot_lesion_classes(
    single: SingleLesionResult,
    path: str | os.PathLike[str],
    *,
    class_names: Sequence[str] | None = None,
) -> Path:
    """Heatmaps sub-module × class of per-class accuracy drops (raw and minus the null mean)."""
    mpl = _mpl()
    plt = mpl.pyplot
    les = single.lesions
    if not les:
        return _empty_figure("no sub-module large enough to lesion", path)
    raw = single.per_class_drop_matrix()
    rel = raw - np.stack([s.null_per_class_drop for s in les])
    n_classes = single.n_classes
    names = list(class_names) if class_names is not None else [str(c) for c in range(n_classes)]
    fig, axes = plt.subplots(
        1, 2, figsize=(2 * max(4.0, 0.45 * n_classes + 2), max(3.0, 0.28 * len(les) + 1.5))
    )
    for ax, mat, title in (
        (axes[0], raw, "per-class drop"),
        (axes[1], rel, "drop − random-lesion mean"),
    ):
        finite = mat[np.isfinite(mat)]
        lim = float(np.max(np.abs(finite))) if finite.size else 1.0
        lim = lim or 1.0
        im = ax.imshow(
            np.nan_to_num(mat),
            aspect="auto",
            cmap="RdBu_r",
            norm=mpl.colors.TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim),
            interpolation="nearest",
        )
        ax.set_xticks(range(n_classes))
        ax.set_xticklabels(names, rotation=90 if max(len(n) for n in names) > 2 else 0, fontsize=7)
        ax.set_yticks(range(len(les)))
        ax.set_yticklabels([s.name for s in les], fontsize=7)
        ax.set_title(title, fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return _save(fig, path)


def _empty_figure(text: str, path: str | os.PathLike[str]) -> Path:
    plt = _mpl().pyplot
    fig, ax = plt.subplots(figsize=(6, 1.5))
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.axis("off")
    return _save(fig, path)


def plot_double_lesion(double: DoubleLesionResult, path: str | os.PathLike[str]) -> Path:
    """Sub-module × sub-module matrices of joint drop and interaction."""
    mpl = _mpl()
    plt = mpl.pyplot
    names = double.submodules
    if not double.pairs:
        return _empty_figure("no pairs of sub-modules in different layers", path)
    fig, axes = plt.subplots(
        1, 2, figsize=(2 * max(4.5, 0.35 * len(names) + 2), max(4.0, 0.3 * len(names) + 1.5))
    )
    for ax, key in ((axes[0], "joint_drop"), (axes[1], "interaction")):
        mat = double.matrix(key)
        finite = mat[np.isfinite(mat)]
        lim = float(np.max(np.abs(finite))) if finite.size else 1.0
        norm = mpl.colors.TwoSlopeNorm(vcenter=0.0, vmin=-(lim or 1.0), vmax=lim or 1.0)
        im = ax.imshow(np.ma.masked_invalid(mat), cmap="RdBu_r", norm=norm, interpolation="nearest")
        ax.set_facecolor("#dddddd")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=90, fontsize=7)
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels(names, fontsize=7)
        ax.set_title(key.replace("_", " "), fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle(f"Double lesions ({len(double.pairs)} pairs; grey: same layer)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


# --------------------------------------------------------------------------- tables


def within_cluster_share(
    weights: Sequence[Any], labels: Any, widths: Sequence[int]
) -> dict[str, float]:
    """Fraction of total |W| on edges whose two ends share a cluster.

    Returns ``{"observed": share, "expected": share expected if weight ignored
    clusters}``, where the expectation is ``Σ_l Σ_c rows_c · cols_c · mean|W_l|``
    over the total — the share of a uniform matrix with the same cluster sizes.
    """
    per_layer = split_by_layer(labels, widths)
    within = expected = total = 0.0
    for li, w in enumerate(weights):
        m = np.abs(_dense(w))
        a, b = per_layer[li], per_layer[li + 1]
        tot = float(m.sum())
        total += tot
        same = (a[:, None] == b[None, :]) & (a[:, None] >= 0)
        within += float(m[same].sum())
        expected += tot * float(same.mean())
    return {
        "observed": within / total if total else float("nan"),
        "expected": expected / total if total else float("nan"),
    }


def cluster_size_table(labels: Any, widths: Sequence[int]) -> list[dict[str, Any]]:
    """One row per cluster (and one for isolated neurons): neurons per layer and in total."""
    per_layer = split_by_layer(labels, widths)
    k = _n_clusters(np.concatenate(per_layer))
    rows = []
    for c in [*range(k), -1]:
        row: dict[str, Any] = {"cluster": f"C{c}" if c >= 0 else "isolated"}
        for li, lab in enumerate(per_layer):
            row[f"layer {li}"] = int(np.count_nonzero(lab == c))
        row["total"] = sum(v for key, v in row.items() if key.startswith("layer"))
        rows.append(row)
    return rows


def clusterability_rows(result: ClusterabilityResult) -> list[dict[str, Any]]:
    """Key / value rows of a clusterability result and its settings."""
    s = result.settings
    rows: list[tuple[str, Any]] = [
        ("n-cut (observed)", f"{result.ncut:.4f}"),
        ("null mean", f"{result.null_mean:.4f}"),
        ("null std", f"{result.null_std:.4f}"),
        ("z-score", f"{result.z_score:.2f}"),
        ("p-value (one-sided)", f"{result.p_value:.4g}"),
        ("percentile", f"{result.percentile:.1f}%"),
        ("clusters k", s.get("k")),
        ("shuffle method", s.get("shuffle")),
        ("null samples", result.n_shuffles),
        ("k-means restarts", s.get("n_init")),
        ("eigen solver", s.get("eigen_solver")),
        ("seed", s.get("random_state")),
        ("isolated neurons", s.get("n_isolated")),
        ("layer widths", " × ".join(str(w) for w in result.widths)),
    ]
    t = result.timings
    if t:
        rows.append(("time: observed clustering", f"{t.get('observed', float('nan')):.2f} s"))
        rows.append(("time: null distribution", f"{t.get('null', float('nan')):.2f} s"))
    return [{"quantity": a, "value": b} for a, b in rows]


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not math.isfinite(f):
            return str(f)
        return f"{f:.4g}" if abs(f) >= 1e-3 or f == 0 else f"{f:.2e}"
    return str(v)


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows (dicts with the same keys) as a GitHub-flavoured Markdown table."""
    if not rows:
        return ""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "|".join("---" for _ in keys) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(k, "")) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def html_table(rows: Sequence[Mapping[str, Any]], *, max_rows: int | None = None) -> str:
    """Rows as an escaped HTML ``<table>`` (at most ``max_rows``, with a note when cut)."""
    if not rows:
        return "<p><em>(empty)</em></p>"
    keys = list(rows[0])
    shown = rows if max_rows is None else rows[:max_rows]
    out = ["<table><thead><tr>"]
    out += [f"<th>{html.escape(str(k))}</th>" for k in keys]
    out.append("</tr></thead><tbody>")
    for r in shown:
        out.append(
            "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(k, '')))}</td>" for k in keys) + "</tr>"
        )
    out.append("</tbody></table>")
    if len(shown) < len(rows):
        out.append(
            f"<p class='note'>first {len(shown)} of {len(rows)} rows; all in the CSV file.</p>"
        )
    return "".join(out)


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
pre{background:#f6f8fa;padding:.8em;border-radius:4px;white-space:pre-wrap}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f0f3f6}
td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#555;margin-top:.3em}.note{font-size:.85em;color:#666}
.scroll{max-height:28em;overflow:auto;display:inline-block}
.verdict{font-size:1.1em;padding:.6em .8em;background:#eef6ee;border-left:4px solid #4a9a4a}
.verdict.no{background:#f7f0e6;border-left-color:#c98a2b}
"""


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def write_html(
    out_dir: str | os.PathLike[str],
    *,
    title: str,
    summary: str = "",
    verdict: str | None = None,
    significant: bool | None = None,
    sections: Sequence[tuple[str, str]] = (),
    appendix: Sequence[tuple[str, str]] = (),
    settings: Mapping[str, Any] | None = None,
    filename: str = "report.html",
) -> Path:
    """Write a self-contained HTML page into ``out_dir``.

    Parameters
    ----------
    out_dir:
        Folder holding the figures (names from :data:`FIGURES`; the ones that
        exist are embedded as base64 images, in that order) and data files
        (``*.json``, ``*.csv``, ``*.md``, ``*.txt``: listed with relative links).
    title:
        Page title.
    summary:
        Plain text shown in a preformatted block.
    verdict, significant:
        A one-line conclusion, highlighted green (significant) or amber.
    sections, appendix:
        ``(heading, html)`` sections placed before / after the figures (e.g.
        tables from :func:`html_table`); ``html`` is inserted as is.
    settings:
        Key/value pairs shown in a table.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if verdict:
        cls = "verdict" if significant else "verdict no"
        parts.append(f"<p class='{cls}'>{html.escape(verdict)}</p>")
    if summary:
        parts.append(f"<h2>Summary</h2><pre>{html.escape(summary)}</pre>")
    for heading, body in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>{body}")
    figs = [(name, cap) for name, cap in FIGURES.items() if (out / name).is_file()]
    if figs:
        parts.append("<h2>Figures</h2>")
        for name, cap in figs:
            parts.append(
                f"<figure>{_img(out / name)}<figcaption>{html.escape(cap)}</figcaption></figure>"
            )
    for heading, body in appendix:
        parts.append(f"<h2>{html.escape(heading)}</h2>{body}")
    if settings:
        parts.append("<h2>Settings</h2>")
        parts.append(html_table([{"setting": k, "value": v} for k, v in settings.items()]))
    files = sorted(
        p.name
        for p in out.iterdir()
        if p.is_file() and p.suffix in {".json", ".csv", ".md", ".txt"}
    )
    if files:
        parts.append("<h2>Data files</h2><ul>")
        parts += [f"<li><a href='{html.escape(f)}'>{html.escape(f)}</a></li>" for f in files]
        parts.append("</ul>")
    parts.append(
        "<p class='note'>Generated by modcut. Self-contained page: no external resources.</p>"
    )
    parts.append("</body></html>")
    path = out / filename
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def png_ok(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a readable, non-empty PNG image."""
    plt = _mpl().pyplot
    p = Path(path)
    if not p.is_file() or p.stat().st_size < 100:
        return False
    if p.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        return False
    try:
        img = plt.imread(io.BytesIO(p.read_bytes()), format="png")
    except Exception:
        return False
    return bool(img.size > 0)


# --------------------------------------------------------------------------- the analysis page


def _summary_text(
    result: Any,
    meta: dict[str, Any],
    single: Any = None,
    double: Any = None,
) -> tuple[str, str, bool]:
    """(summary text, one-line verdict, significant?)."""
    s = result.settings
    lines = [f"Network: {meta.get('source', '?')}"]
    if meta.get("dataset"):
        lines.append(f"Data set: {meta['dataset']}")
    widths = " × ".join(str(w) for w in result.widths)
    lines.append(f"Layer widths: {widths} ({sum(result.widths)} neurons)")
    acc = meta.get("metrics", {}).get("test_accuracy")
    if acc is not None:
        lines.append(f"Test accuracy: {float(acc):.4f}")
    sparsity = meta.get("metrics", {}).get("sparsity")
    if sparsity is not None:
        lines.append(f"Weight sparsity: {float(sparsity):.3f}")
    lines.append(f"Isolated neurons (removed before clustering): {s.get('n_isolated', '?')}")
    lines.append("")
    lines.append(result.summary())
    planted = meta.get("planted")
    if planted and planted.get("n_neurons"):
        lines.append(
            f"Planted modules ({planted.get('k')}, {planted.get('assignment')}): adjusted Rand "
            f"index {float(planted['ari']):.3f} over {planted['n_neurons']} hidden neurons "
            "(per hidden layer: "
            + ", ".join(f"{a:.3f}" for a in planted.get("per_layer", []))
            + ")"
        )
    share = meta.get("within_cluster_share")
    if share:
        lines.append(
            f"|W| inside clusters: {100 * share['observed']:.1f}% "
            f"(cluster sizes alone would give {100 * share['expected']:.1f}%)"
        )
    significant = bool(result.p_value < 0.05)
    if significant:
        verdict = (
            f"More clusterable than chance: n-cut {result.ncut:.3f} is below "
            f"{100 - result.percentile:.1f}% of {result.n_shuffles} '{s.get('shuffle')}' shuffles "
            f"(z = {result.z_score:.2f}, p = {result.p_value:.3g})."
        )
    else:
        verdict = (
            f"Not more clusterable than chance at p < 0.05: n-cut {result.ncut:.3f} vs null "
            f"{result.null_mean:.3f} ± {result.null_std:.3f} (z = {result.z_score:.2f}, "
            f"p = {result.p_value:.3g})."
        )
    if single is not None:
        les = single.lesions
        n_sig = sum(1 for x in les if x.p_value < 0.05)
        n_random = int(single.settings.get("n_random") or 0)
        lines.append("")
        lines.append(
            f"Single lesions: {len(les)} sub-modules, {n_sig} hurt accuracy more than "
            f"{n_random} random same-size lesions (p < 0.05); "
            f"intact accuracy {single.base_accuracy:.4f}."
        )
        if n_random and 1 / (n_random + 1) >= 0.05:
            lines.append(
                f"(With {n_random} random lesions no p-value can go below "
                f"1/{n_random + 1} = {1 / (n_random + 1):.3f}: use at least 19 for p < 0.05.)"
            )
        if les:
            worst = max(les, key=lambda x: x.drop)
            lines.append(
                f"Largest drop: {worst.name} ({worst.size} neurons) −{worst.drop:.4f} "
                f"(random: {worst.null_mean:.4f} ± {worst.null_std:.4f}, p = {worst.p_value:.3g})."
            )
    if double is not None and double.pairs:
        inter = np.array([p.interaction for p in double.pairs])
        lines.append(
            f"Double lesions: {len(double.pairs)} pairs; interaction (joint − sum of singles) "
            f"mean {inter.mean():+.4f}, range {inter.min():+.4f} … {inter.max():+.4f}."
        )
    return "\n".join(lines) + "\n", verdict, significant


def build_report(out_dir: str | os.PathLike[str], *, title: str | None = None) -> Path:
    """(Re)write ``html`` and ``summary.txt`` in ``out_dir`` from the files there.

    Uses ``clusterability.json`` and ``meta.json`` (from :func:`analyze`) and,
    when present, ``lesion_single.json`` / ``lesion_double.json`` (from
    :func:`lesion_study`); figures that exist are embedded.
    """
    out = Path(out_dir)
    meta = read_json(out / "meta.json") if (out / "meta.json").exists() else {}
    result = (
        ClusterabilityResult.from_json(out / "clusterability.json")
        if (out / "clusterability.json").exists()
        else None
    )
    single = (
        SingleLesionResult.from_json(out / "lesion_single.json")
        if (out / "lesion_single.json").exists()
        else None
    )
    double = (
        DoubleLesionResult.from_json(out / "lesion_double.json")
        if (out / "lesion_double.json").exists()
        else None
    )
    sections: list[tuple[str, str]] = []
    appendix: list[tuple[str, str]] = []
    summary, verdict, significant = "", None, None
    labels = widths = None
    if result is not None:
        summary, verdict, significant = _summary_text(result, meta, single, double)
        (out / "summary.txt").write_text(verdict + "\n\n" + summary)
        sections.append(("Clusterability", html_table(clusterability_rows(result))))
        labels, widths = result.labels, result.widths
    elif meta.get("labels") is not None:
        labels, widths = np.asarray(meta["labels"]), tuple(meta["widths"])
    if labels is not None and widths is not None:
        appendix.append(
            (
                "Neurons per cluster and layer",
                "<div class='scroll'>" + html_table(cluster_size_table(labels, widths)) + "</div>",
            )
        )
    if single is not None:
        rows = single.rows()
        short = [{k: v for k, v in r.items() if not k.startswith("drop_class_")} for r in rows]
        appendix.insert(
            0,
            (
                "Single lesions",
                f"<p>Intact test accuracy {single.base_accuracy:.4f}; "
                f"{single.settings.get('n_random')} random lesions of the same size in the same "
                "layer per sub-module; p-value = (#{random drop ≥ drop} + 1) / (n + 1). "
                "Per-class drops in lesion_single.csv.</p>"
                "<div class='scroll'>" + html_table(short) + "</div>",
            ),
        )
    if single is not None:
        appendix.insert(
            0,
            (
                "Importance over all sub-modules",
                "<p>The aggregate tests of Hod et al. (2021, local_specialization): each "
                "sub-module's rank among its random lesions (accuracy: lower is more important; "
                "class specificity: the range of its normalised per-class drops, higher is more "
                "specific), tested against uniform ranks by chi² and by Fisher's combined p; "
                "effect factor t/(r+t) of the sub-module's and the random lesions' mean effect "
                "(0.5: as random). Per sub-module values in lesion_aggregate.json.</p>"
                + html_table(aggregate_rows(single, double)),
            ),
        )
    if double is not None:
        rows = sorted(double.rows(), key=lambda r: -abs(float(r["interaction"])))
        appendix.insert(
            1 if single is not None else 0,
            (
                "Double lesions",
                "<p>Pairs sorted by |interaction| = |joint drop − (drop a + drop b)|.</p>"
                "<div class='scroll'>" + html_table(rows, max_rows=60) + "</div>",
            ),
        )
    settings: dict[str, Any] = {}
    if meta:
        settings["source"] = meta.get("source")
        if meta.get("dataset"):
            settings["dataset"] = meta["dataset"]
        for key, val in (meta.get("config") or {}).items():
            settings[f"training: {key}"] = val
        settings["modcut version"] = meta.get("modcut_version")
    if result is not None:
        for key, val in result.settings.items():
            settings[f"analysis: {key}"] = val
    if single is not None:
        for key, val in single.settings.items():
            settings[f"single lesions: {key}"] = val
    if double is not None:
        for key, val in double.settings.items():
            settings[f"double lesions: {key}"] = val
    name = title or f"modcut analysis — {Path(str(meta.get('source', out))).name}"
    return write_html(
        out,
        title=name,
        summary=summary,
        verdict=verdict,
        significant=significant,
        sections=sections,
        appendix=appendix,
        settings=settings,
    )


def plot_depth_profile(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Transformer blocks by depth: n-cut with the null's mean ± 2 std band (top) and z
    (bottom) against the layer index, one line per stack (T5's encoder and decoder, …)
    for the dense blocks (experts are in :func:`plot_expert_heatmap`).

    ``rows``: the rows of ``blocks.csv`` (``stack``, ``layer``, ``expert``, ``ncut``,
    ``null_mean``, ``null_std``, ``z_score``)."""
    plt = _mpl().pyplot
    dense = [r for r in rows if r.get("expert") in (None, "")]
    use = dense or list(rows)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    stacks = sorted({str(r.get("stack", "")) for r in use})
    for i, stack in enumerate(stacks):
        part = sorted(
            (r for r in use if str(r.get("stack", "")) == stack), key=lambda r: r["layer"]
        )
        x = np.array([float(r["layer"]) for r in part])
        y = np.array([float(r["ncut"]) for r in part])
        m = np.array([float(r["null_mean"]) for r in part])
        sd = np.array([float(r["null_std"]) for r in part])
        z = np.array([float(r["z_score"]) for r in part])
        c = plt.cm.tab10(i % 10)
        name = stack or "blocks"
        top.fill_between(x, m - 2 * sd, m + 2 * sd, color=c, alpha=0.2, lw=0)
        top.plot(x, m, color=c, ls="--", lw=1, label=f"{name}: null mean ± 2 std")
        top.plot(x, y, color=c, marker="o", lw=2, label=f"{name}: observed n-cut")
        bottom.plot(x, np.clip(z, -50, 50), color=c, marker="o", label=name)
    top.set_ylabel("n-cut (lower = more modular)")
    top.legend(fontsize=8)
    bottom.axhline(0, color="grey", lw=0.8)
    bottom.axhline(-1.645, color="#c0392b", lw=0.8, ls=":", label="z = -1.645 (p ≈ 0.05)")
    bottom.set_xlabel("layer index")
    bottom.set_ylabel("z (clipped to ±50)")
    bottom.legend(fontsize=8)
    fig.suptitle("Clusterability of the MLP blocks by depth")
    return _save(fig, path)


def plot_expert_heatmap(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Mixture-of-experts blocks: z of every (layer, expert) as a heatmap (shared experts
    in the last column); blank where an expert was not analyzed."""
    plt = _mpl().pyplot
    moe = [r for r in rows if r.get("expert") not in (None, "")]
    layers = sorted({int(r["layer"]) for r in moe})
    experts = sorted({str(r["expert"]) for r in moe}, key=lambda e: (not e.isdigit(), _num(e)))
    grid = np.full((len(layers), len(experts)), np.nan)
    for r in moe:
        grid[layers.index(int(r["layer"])), experts.index(str(r["expert"]))] = float(r["z_score"])
    fig, ax = plt.subplots(
        figsize=(max(5, 0.4 * len(experts) + 2), max(3, 0.35 * len(layers) + 1.5))
    )
    finite = grid[np.isfinite(grid)]
    lim = float(np.max(np.abs(finite))) if finite.size else 1.0
    im = ax.imshow(np.clip(grid, -lim, lim), cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(experts)), experts, fontsize=7)
    ax.set_yticks(range(len(layers)), [str(v) for v in layers], fontsize=7)
    ax.set_xlabel("expert")
    ax.set_ylabel("layer index")
    fig.colorbar(im, ax=ax, label="z (negative: more modular than the null)")
    ax.set_title("Clusterability of each expert")
    return _save(fig, path)


def _num(e: str) -> int:
    return int(e) if e.isdigit() else 0


def _as_image(v: np.ndarray) -> np.ndarray | None:
    """One input as a 2-D image: (H, W), (C, H, W) averaged over channels, or a flat
    vector of a square size; ``None`` otherwise."""
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 2:
        return v
    if v.ndim == 3:
        return v.mean(axis=0)
    side = math.isqrt(v.size)
    return v.reshape(side, side) if side * side == v.size else None


def plot_submodule_inputs(
    names: Sequence[str],
    examples: Sequence[np.ndarray],
    optimised: np.ndarray | None,
    predictions: Sequence[int] | None,
    path: str | os.PathLike[str],
    *,
    max_rows: int = 16,
) -> Path:
    """Image grid: per sub-module (``names``), its top examples (``examples[i]``: shape
    ``(n_top, *input_shape)``) and its optimised input (``optimised[i]``) with the
    predicted class; inputs that are not images get a note instead."""
    plt = _mpl().pyplot
    rows = min(len(names), max_rows)
    n_top = max((len(e) for e in examples[:rows]), default=0)
    cols = n_top + (1 if optimised is not None else 0)
    if rows == 0 or cols == 0 or _as_image(np.asarray(examples[0][0])) is None:
        return _empty_figure("no sub-module, or inputs that are not images", path)
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols + 1, 1.1 * rows + 0.6), squeeze=False)
    for i in range(rows):
        for j in range(cols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(examples[i]):
                img = _as_image(np.asarray(examples[i][j]))
            elif optimised is not None and j == cols - 1:
                img = _as_image(optimised[i])
                if predictions is not None:
                    ax.set_title(f"→ {predictions[i]}", fontsize=7)
            else:
                img = None
            if img is not None:
                ax.imshow(img, cmap="gray")
        axes[i, 0].set_ylabel(names[i], fontsize=7)
    if optimised is not None:
        axes[0, cols - 1].set_xlabel("optimised", fontsize=7)
    fig.suptitle("Top examples and optimised inputs of each sub-module", fontsize=9)
    return _save(fig, path)
