"""Neurons by layer: the one place that splits a per-neuron array into layers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["layer_offsets", "split_by_layer"]


def layer_offsets(widths: Sequence[int]) -> np.ndarray:
    """Global id of the first neuron of each layer, plus the total: shape ``(L + 2,)``
    (as ``Network.offsets``)."""
    return np.concatenate([[0], np.cumsum([int(w) for w in widths])]).astype(np.int64)


def split_by_layer(labels: Any, widths: Sequence[int]) -> list[np.ndarray]:
    """Per-neuron labels, shape ``(sum(widths),)`` in layer order, as one int64 array per layer.

    Raises ``ValueError`` when the shape does not match the widths.
    """
    lab = np.asarray(labels, dtype=np.int64)
    offsets = layer_offsets(widths)
    if lab.ndim != 1 or lab.shape[0] != int(offsets[-1]):
        raise ValueError(
            f"labels has shape {lab.shape} but the widths {tuple(int(w) for w in widths)} need "
            f"({int(offsets[-1])},): one label per neuron, all layers, layer order"
        )
    return [lab[offsets[i] : offsets[i + 1]] for i in range(len(widths))]
