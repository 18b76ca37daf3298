"""Normalized cut of a partition of a network's neurons (method.md §3).

For clusters ``X_1 … X_k``: ``ncut = Σ_c cut(X_c) / (vol(X_c) + eps)`` where
``cut(X_c)`` is the total ``|w|`` of edges leaving ``X_c`` (edges to
unlabelled neurons included) and ``vol(X_c)`` the sum of its neurons'
degrees. Neurons labelled ``-1`` form no cluster. ``0 ≤ ncut ≤`` number of
non-empty clusters; lower is more modular.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modcut import _core
from modcut._params import check
from modcut._validate import check_labels
from modcut.normalize import normalized

__all__ = ["NcutParts", "ncut", "ncut_parts"]

EPS = 1e-8


@dataclass(frozen=True)
class NcutParts:
    """The n-cut and its terms.

    Attributes
    ----------
    ncut: the normalized cut.
    cluster_ids: the non-empty cluster labels, ascending, shape ``(c,)``.
    cut: weight leaving each cluster, shape ``(c,)``.
    volume: degree sum of each cluster, shape ``(c,)``.
    """

    ncut: float
    cluster_ids: np.ndarray
    cut: np.ndarray
    volume: np.ndarray


def ncut_parts(
    network: Any, labels: Any, *, eps: float = EPS, normalize: bool = False
) -> NcutParts:
    """n-cut of ``labels`` on ``network`` with the per-cluster cut and volume.

    Parameters
    ----------
    network:
        Weight matrices ``(n_{l-1}, n_l)``, anything :func:`modcut.as_network` takes, or a
        :class:`modcut.Network` with skips (in memory or saved; :func:`modcut.readers.load.as_graph`).
    labels:
        Integer cluster label per neuron, shape ``(n_nodes,)`` in layer order
        (inputs first); ``-1`` marks neurons outside every cluster.
    eps:
        The reference's ε (1e-8) before scaling: ``eps * min(1, total volume)`` is
        added to every volume, the total volume being the sum of all degrees
        (``2 Σ|w|``), so the n-cut does not depend on the scale of the weights
        (method.md §3); for networks of total volume ≥ 1 exactly ``eps`` is added.
    normalize:
        Score the network after the authors' weight normalisation (:mod:`modcut.normalize`).
    """
    net = normalized(network, normalize)
    lab = check_labels(labels, net.n_nodes)
    check("eps", eps)
    value, ids, cut, vol = _core.ncut(net.core, lab, float(eps))
    cut, vol = np.asarray(cut), np.asarray(vol)
    if net.core_scale:  # weights held at another scale (Network.core): back to the user's
        with np.errstate(over="ignore"):  # volumes beyond float64 are inf in the user's units
            cut, vol = np.ldexp(cut, -net.core_scale), np.ldexp(vol, -net.core_scale)
    return NcutParts(float(value), np.asarray(ids), cut, vol)


def ncut(network: Any, labels: Any, *, eps: float = EPS, normalize: bool = False) -> float:
    """The normalized cut of ``labels`` on ``network`` (see :func:`ncut_parts`)."""
    return ncut_parts(network, labels, eps=eps, normalize=normalize).ncut
