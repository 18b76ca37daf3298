"""The core API takes torch modules made of Linear layers, Sequential or not."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

import modcut


class TwoLayer(nn.Module):
    """Not a Sequential: Linear layers as attributes, used in forward order."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(12, 8)
        self.second = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(torch.relu(self.first(x)))


def _as_weights(layers: list[nn.Linear]) -> list[np.ndarray]:
    return [lin.weight.detach().numpy().T.astype(np.float64) for lin in layers]


def test_sequential_and_custom_modules_equal_their_weight_lists():
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(10, 6), nn.ReLU(), nn.Linear(6, 4))
    custom = TwoLayer()
    for model, linears in ((seq, [seq[0], seq[2]]), (custom, [custom.first, custom.second])):
        weights = _as_weights(linears)
        net = modcut.as_network(model)
        assert net.widths == (weights[0].shape[0], *(w.shape[1] for w in weights))
        for a, b in zip(net.to_dense(), weights, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6)
        labels = modcut.cluster(model, k=2, random_state=0)
        np.testing.assert_array_equal(labels, modcut.cluster(weights, k=2, random_state=0))
        assert modcut.ncut(model, labels) == modcut.ncut(weights, labels)
