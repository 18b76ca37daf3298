"""Data-set coherence of sub-modules (issue 20, item 3a): the streamed top examples equal a
full argsort, planted class-specific modules are coherent and random partitions are not,
and bad inputs are named."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import entropy

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from modcut.study.coherence import dataset_coherence  # noqa: E402


def _planted(seed: int = 0) -> tuple[nn.Module, torch.Tensor, np.ndarray]:
    """8 inputs → 8 hidden → 2: hidden units 0-3 read inputs 0-3, units 4-7 inputs 4-7;
    class 0 examples drive inputs 0-3, class 1 inputs 4-7."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].weight[:4, :4] = torch.rand(4, 4) + 0.5
        model[0].weight[4:, 4:] = torch.rand(4, 4) + 0.5
        model[0].bias.zero_()
    y = np.repeat([0, 1], 100)
    x = torch.rand(200, 8) * 0.1
    x[:100, :4] += torch.rand(100, 4)
    x[100:, 4:] += torch.rand(100, 4)
    return model, x, y


def test_planted_class_modules_are_coherent_and_random_partitions_are_not():
    model, x, y = _planted()
    widths = (8, 8, 2)
    planted = np.concatenate([-np.ones(8), np.repeat([0, 1], 4), -np.ones(2)]).astype(int)
    res = dataset_coherence(model, x, planted, widths, targets=y, n_top=20, n_random=50,
                            min_size=2)  # fmt: skip
    assert [r["cluster"] for r in res.rows] == [0, 1]
    assert all(r["entropy"] == 0.0 for r in res.rows)
    assert all(r["percentile"] <= 0.05 for r in res.rows)
    assert res.aggregate()["n_submodules"] == 2
    rng = np.random.default_rng(0)
    shuffled = planted.copy()
    shuffled[8:16] = rng.permutation(np.repeat([0, 1], 4))
    while set(shuffled[8:12]) == {0} or set(shuffled[8:12]) == {1}:
        shuffled[8:16] = rng.permutation(np.repeat([0, 1], 4))
    mixed = dataset_coherence(model, x, shuffled, widths, targets=y, n_top=20, n_random=50,
                              min_size=2)  # fmt: skip
    assert all(r["percentile"] > 0.05 for r in mixed.rows)


def test_streamed_top_examples_equal_a_full_argsort():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 12), nn.ReLU(), nn.Linear(12, 9), nn.ReLU(),
                          nn.Linear(9, 3))  # fmt: skip
    x = torch.randn(97, 5)
    y = np.random.default_rng(2).integers(0, 3, 97)
    widths = (5, 12, 9, 3)
    labels = np.concatenate([-np.ones(5), np.repeat([0, 1, 2], 4), np.repeat([0, 1, 2], 3),
                             -np.ones(3)]).astype(int)  # fmt: skip
    res = dataset_coherence(model, x, labels, widths, targets=y, n_top=7, n_random=5,
                            min_size=2, batch_size=10)  # fmt: skip
    with torch.no_grad():
        h1 = model[0](x).abs().double().numpy()
        h2 = model[2](torch.relu(model[0](x))).abs().double().numpy()
    for r in res.rows:
        h = h1 if r["layer"] == 1 else h2
        lab = labels[5:17] if r["layer"] == 1 else labels[17:26]
        score = h[:, lab == r["cluster"]].sum(axis=1)
        top = np.argsort(-score, kind="stable")[:7]
        assert r["top_examples"] == top.tolist()
        counts = np.bincount(y[top], minlength=3)
        assert r["entropy"] == pytest.approx(entropy(counts / 7))


def test_bad_inputs_are_named():
    model, x, y = _planted()
    labels = np.concatenate([-np.ones(8), np.repeat([0, 1], 4), -np.ones(2)]).astype(int)
    with pytest.raises(ValueError, match=r"n_top=500 is larger than the data \(200 examples\)"):
        dataset_coherence(model, x, labels, (8, 8, 2), targets=y, n_top=500)
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        dataset_coherence(model, x, labels, (8, 8, 2), targets=y, layers=["nope"])
    with pytest.raises(ValueError, match=r"does not fit Sequential: inputs of shape \(200, 5\)"):
        dataset_coherence(model, x[:, :5], labels, (8, 8, 2), targets=y)
    with pytest.raises(ValueError, match="true labels"):
        dataset_coherence(model, x, labels, (8, 8, 2))
    with pytest.raises(
        ValueError, match=r"give \[2\] units but the partition's hidden layers have \[8\]"
    ):
        dataset_coherence(model, x, labels, (8, 8, 2), targets=y, layers=["2"])
