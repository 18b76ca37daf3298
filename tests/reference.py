"""Plain NumPy reference implementations the Rust core is tested against.

Written for clarity, not speed: dense matrices, explicit loops over clusters.
"""

from __future__ import annotations

import numpy as np


def dense_layers(weights: list) -> list[np.ndarray]:
    out = []
    for w in weights:
        out.append(np.asarray(w.toarray() if hasattr(w, "toarray") else w, dtype=np.float64))
    return out


def adjacency(weights: list) -> np.ndarray:
    """Block-tridiagonal |W| adjacency over all neurons, layer order."""
    ws = dense_layers(weights)
    widths = [ws[0].shape[0]] + [w.shape[1] for w in ws]
    off = np.concatenate([[0], np.cumsum(widths)])
    a = np.zeros((off[-1], off[-1]))
    for l, w in enumerate(ws):
        a[off[l] : off[l + 1], off[l + 1] : off[l + 2]] = np.abs(w)
        a[off[l + 1] : off[l + 2], off[l] : off[l + 1]] = np.abs(w).T
    return a


def general_adjacency(sizes: list[int], edges: list) -> np.ndarray:
    """|W| adjacency of node groups ``sizes`` joined by ``(src, dst, W)`` edge groups
    (W of shape (sizes[src], sizes[dst])); parallel edge groups add up."""
    off = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    a = np.zeros((off[-1], off[-1]))
    for s, d, w in edges:
        w = np.abs(np.asarray(w.toarray() if hasattr(w, "toarray") else w, dtype=np.float64))
        a[off[s] : off[s + 1], off[d] : off[d + 1]] += w
        a[off[d] : off[d + 1], off[s] : off[s + 1]] += w.T
    return a


def ncut(weights: list, labels: np.ndarray, eps: float = 1e-8) -> float:
    """Σ_c cut(X_c, rest) / (vol(X_c) + eps), -1 labels form no cluster."""
    return ncut_adjacency(adjacency(weights), labels, eps)


def ncut_adjacency(a: np.ndarray, labels: np.ndarray, eps: float = 1e-8) -> float:
    """The n-cut of ``labels`` on a symmetric adjacency ``a`` (dense, or SciPy sparse for
    graphs too large to hold densely: the same formula with sparse row/column selection)."""
    if hasattr(a, "tocsr"):
        a = a.tocsr()
        labels = np.asarray(labels)
        total = 0.0
        for c in np.unique(labels):
            if c == -1:
                continue
            mask = labels == c
            rows = a[np.flatnonzero(mask)]
            vol = rows.sum()
            cut = rows[:, np.flatnonzero(~mask)].sum()
            total += cut / (vol + eps) if vol > 0 else 0.0
        return float(total)
    labels = np.asarray(labels)
    total = 0.0
    for c in np.unique(labels):
        if c == -1:
            continue
        mask = labels == c
        cut = a[mask][:, ~mask].sum()
        vol = a[mask].sum()
        total += cut / (vol + eps) if vol > 0 else 0.0
    return float(total)


def planted_network(
    widths: list[int], k: int, rng: np.random.Generator, noise: float = 0.0
) -> tuple[list[np.ndarray], np.ndarray]:
    """A network made of ``k`` disjoint sub-networks (plus optional weak noise).

    Neuron ``i`` of a layer of width ``n`` belongs to module ``i * k // n``.
    Returns the weights and the true module of every neuron.
    """
    ws = []
    truth = [np.arange(w) * k // w for w in widths]
    for l in range(len(widths) - 1):
        same = truth[l][:, None] == truth[l + 1][None, :]
        w = rng.uniform(0.5, 1.5, size=(widths[l], widths[l + 1])) * same
        w += noise * rng.uniform(0.0, 1.0, size=w.shape) * ~same
        w *= rng.choice([-1.0, 1.0], size=w.shape)
        ws.append(w)
    return ws, np.concatenate(truth)
