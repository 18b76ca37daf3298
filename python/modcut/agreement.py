"""Agreement between two partitions of the same neurons (issue 20, item 4).

:func:`adjusted_rand_index` and :func:`normalized_mutual_info` compare two labelings;
:func:`partition_agreement` compares, layer by layer, two partitions of a network's
neurons (the weight partition and the activation partition, say) and tests each layer's
agreement against a null in which one partition's labels are permuted within the layer
(the cluster sizes of each layer kept): ``p = (#{null ≥ observed} + 1) / (n + 1)``. Units
either partition leaves out (label ``-1``: isolated, or not a unit of the other graph) are
left out of that layer's comparison. NumPy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from modcut._params import check

__all__ = ["adjusted_rand_index", "normalized_mutual_info", "partition_agreement"]


def _table(a: Any, b: Any) -> np.ndarray:
    x, y = np.asarray(a), np.asarray(b)
    if x.ndim != 1 or y.shape != x.shape:
        raise ValueError(f"labelings must be 1-D of the same length, got {x.shape} and {y.shape}")
    _, xi = np.unique(x, return_inverse=True)
    _, yi = np.unique(y, return_inverse=True)
    table = np.zeros((int(xi.max(initial=-1)) + 1, int(yi.max(initial=-1)) + 1), dtype=np.int64)
    np.add.at(table, (xi, yi), 1)
    return table


def _comb2(x: np.ndarray) -> float:
    x = x.astype(np.float64)
    return float((x * (x - 1.0) / 2.0).sum())


def adjusted_rand_index(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> float:
    """Adjusted Rand index (Hubert & Arabie) of two labelings of the same items.

    Parameters
    ----------
    a, b:
        Integer labels, shape ``(n,)`` each (any ids; only equality matters).

    Returns
    -------
    float
        ``(index − expected) / (max − expected)``; 1.0 when both labelings are
        identical up to renaming (also when both put everything in one cluster or
        every item alone). ``nan`` for fewer than 2 items.
    """
    table = _table(a, b)
    n = int(table.sum())
    if n < 2:
        return float("nan")
    index = _comb2(table)
    rows, cols = _comb2(table.sum(axis=1)), _comb2(table.sum(axis=0))
    expected = rows * cols / (n * (n - 1) / 2.0)
    best = (rows + cols) / 2.0
    if best == expected:  # both trivial partitions of the same kind
        return 1.0
    return float((index - expected) / (best - expected))


def normalized_mutual_info(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> float:
    """Normalized mutual information of two labelings, normalised by the arithmetic mean
    of their entropies (scikit-learn's default): 1 for the same partition, 0 for
    independent ones; 1.0 when both put everything in one cluster; ``nan`` for no items."""
    table = _table(a, b)
    n = float(table.sum())
    if n == 0:
        return float("nan")
    if table.shape[0] == table.shape[1] == 1:
        return 1.0
    p = table / n
    pa, pb = p.sum(axis=1), p.sum(axis=0)
    nz = p > 0
    mi = float(np.sum(p[nz] * (np.log(p[nz]) - np.log(np.outer(pa, pb)[nz]))))
    if mi <= 0.0:
        return 0.0
    ha = float(-np.sum(pa[pa > 0] * np.log(pa[pa > 0])))
    hb = float(-np.sum(pb[pb > 0] * np.log(pb[pb > 0])))
    return float(mi / max((ha + hb) / 2.0, np.finfo(np.float64).eps))


def partition_agreement(
    a: Any,
    b: Any,
    widths: Sequence[int],
    *,
    names: Sequence[str] | None = None,
    n_permutations: int = 1000,
    random_state: Any = 0,
) -> list[dict[str, Any]]:
    """Layer-by-layer agreement of two partitions of the same neurons, with a null.

    Parameters
    ----------
    a, b:
        Integer labels per neuron, shape ``(sum(widths),)`` each, in layer order; ``-1``
        for neurons outside the partition (left out of the comparison).
    widths:
        Neurons per layer (group).
    names:
        Layer names for the rows (default ``"layer <l>"``).
    n_permutations:
        Null samples per layer: ``b``'s labels permuted among the layer's compared
        neurons (≥ 1).
    random_state:
        Seed (int) of the permutations; layer ``l`` draws from stream ``(seed, l)``.

    Returns
    -------
    One row per layer with at least 2 neurons labelled in both partitions, then a
    ``"mean over layers"`` row (the layers' ARI and NMI averaged, tested against the
    average of the layers' permutations; its counts are sums): ``layer``, ``n`` (neurons
    compared), ``clusters_a``, ``clusters_b``, ``ari``, ``ari_null_mean``, ``ari_p``,
    ``nmi``, ``nmi_null_mean``, ``nmi_p``.
    """
    check("n_permutations", n_permutations)
    seed = (
        int(check("random_state", random_state))
        if not isinstance(random_state, np.random.Generator)
        else int(random_state.integers(2**63))
    )
    x, y = np.asarray(a), np.asarray(b)
    total = int(sum(int(w) for w in widths))
    for what, v in (("a", x), ("b", y)):
        if v.shape != (total,):
            raise ValueError(
                f"labels {what} have shape {v.shape}; the widths {tuple(widths)} need ({total},)"
            )
    names = list(names) if names is not None else [f"layer {i}" for i in range(len(widths))]
    if len(names) != len(widths):
        raise ValueError(f"got {len(names)} names for {len(widths)} layers")
    off = np.concatenate([[0], np.cumsum([int(w) for w in widths])])
    rows: list[dict[str, Any]] = []
    nulls: list[tuple[float, float, np.ndarray, np.ndarray]] = []
    counts = [0, 0, 0]
    for layer in range(len(widths)):
        xs, ys = x[off[layer] : off[layer + 1]], y[off[layer] : off[layer + 1]]
        keep = (xs >= 0) & (ys >= 0)
        xs, ys = xs[keep], ys[keep]
        if xs.size < 2:
            continue
        rng = np.random.default_rng([seed, layer])
        perms = [rng.permutation(ys) for _ in range(int(n_permutations))]
        ari, nmi = adjusted_rand_index(xs, ys), normalized_mutual_info(xs, ys)
        null_ari = np.array([adjusted_rand_index(xs, p) for p in perms])
        null_nmi = np.array([normalized_mutual_info(xs, p) for p in perms])
        nulls.append((ari, nmi, null_ari, null_nmi))
        counts = [
            counts[0] + int(xs.size),
            counts[1] + len(np.unique(xs)),
            counts[2] + len(np.unique(ys)),
        ]
        rows.append(_row(names[layer], int(xs.size), np.unique(xs).size, np.unique(ys).size,
                         ari, nmi, null_ari, null_nmi))  # fmt: skip
    if rows:  # the mean over layers, against the mean of the layers' permutations
        rows.append(
            _row(
                "mean over layers",
                counts[0],
                counts[1],
                counts[2],
                float(np.mean([n[0] for n in nulls])),
                float(np.mean([n[1] for n in nulls])),
                np.mean([n[2] for n in nulls], axis=0),
                np.mean([n[3] for n in nulls], axis=0),
            )
        )
    return rows


def _row(
    name: str,
    n: int,
    clusters_a: int,
    clusters_b: int,
    ari: float,
    nmi: float,
    null_ari: np.ndarray,
    null_nmi: np.ndarray,
) -> dict[str, Any]:
    m = null_ari.shape[0]
    return {
        "layer": name,
        "n": int(n),
        "clusters_a": int(clusters_a),
        "clusters_b": int(clusters_b),
        "ari": float(ari),
        "ari_null_mean": float(null_ari.mean()),
        "ari_p": float((np.sum(null_ari >= ari) + 1) / (m + 1)),
        "nmi": float(nmi),
        "nmi_null_mean": float(null_nmi.mean()),
        "nmi_p": float((np.sum(null_nmi >= nmi) + 1) / (m + 1)),
    }
