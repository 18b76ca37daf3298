"""Agreement between the modules clustering finds and the modules a network was built with.

A clusterable initialisation (:func:`modcut.harness.models.clusterable_init_`)
plants one module id per neuron of each neuron layer; the ids are shared across
layers (module ``c`` of one layer is wired up to module ``c`` of the next). After
training, :func:`planted_agreement` compares the clustering of the analysed graph
with that assignment by the adjusted Rand index (ARI: 1 = the same partition, about
0 = no more agreement than chance, can be negative), pooled over the hidden
neurons (every planted neuron that is neither an input nor an output of the whole
network, not isolated) and per hidden layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from modcut.agreement import adjusted_rand_index

__all__ = ["adjusted_rand_index", "planted_agreement"]


def planted_agreement(
    labels: np.ndarray,
    widths: Sequence[int],
    planted: dict[str, Any],
    *,
    offset: int = 0,
    n_layers: int | None = None,
) -> dict[str, Any]:
    """ARI between found cluster labels and a planted module assignment.

    Parameters
    ----------
    labels:
        Cluster label per node of the analysed graph, ``(sum(widths),)`` in layer
        order; ``-1`` (isolated) nodes are left out.
    widths:
        Neuron-layer widths of the analysed graph.
    planted:
        ``{"layers": [...], "modules": [[...], ...]}`` as stored in a checkpoint
        (neuron-layer indices of the whole network's graph, module per neuron).
    offset:
        Neuron layer of the whole graph that the analysed graph's layer 0 is (1
        for the CNN's conv-only graph, see :func:`modcut.readers.extract.part_offset`).
    n_layers:
        Neuron layers of the whole graph (default: ``offset + len(widths)``); its
        first and last are the network's inputs and outputs, never counted.

    Returns
    -------
    dict with ``ari`` (pooled over the hidden neurons compared), ``n_neurons``,
    ``layers`` (whole-graph neuron layers compared) and ``per_layer`` (ARI of
    each of those layers, same order).
    """
    labels = np.asarray(labels)
    widths = [int(w) for w in widths]
    if labels.shape != (sum(widths),):
        raise ValueError(f"labels has shape {labels.shape}, widths sum to {sum(widths)}")
    total_layers = offset + len(widths) if n_layers is None else int(n_layers)
    starts = np.concatenate([[0], np.cumsum(widths)])
    found: list[np.ndarray] = []
    truth: list[np.ndarray] = []
    layers: list[int] = []
    per_layer: list[float] = []
    for layer, mods in zip(planted["layers"], planted["modules"], strict=True):
        local = int(layer) - offset
        if not 0 <= local < len(widths) or int(layer) in (0, total_layers - 1):
            continue
        mods_arr = np.asarray(mods, dtype=np.int64)
        if mods_arr.shape[0] != widths[local]:
            raise ValueError(
                f"planted layer {layer} has {mods_arr.shape[0]} neurons, the graph's {widths[local]}"
            )
        lab = labels[starts[local] : starts[local + 1]]
        keep = lab >= 0
        found.append(lab[keep])
        truth.append(mods_arr[keep])
        layers.append(int(layer))
        per_layer.append(adjusted_rand_index(lab[keep], mods_arr[keep]))
    if not layers:
        return {"ari": float("nan"), "n_neurons": 0, "layers": [], "per_layer": []}
    f, t = np.concatenate(found), np.concatenate(truth)
    return {
        "ari": adjusted_rand_index(f, t),
        "n_neurons": int(f.shape[0]),
        "layers": layers,
        "per_layer": per_layer,
    }
