"""Feature visualisation of sub-modules (issue 20, item 3b): inputs optimised (batched over
all sub-modules and random sets, seeded) raise their sets' activations; the scores are the
entropy of the network's prediction, the dispersion of the set's activations and the
objective, ranked against random same-size sets; bad inputs are named."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import entropy

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from modcut.study.featurevis import feature_visualization  # noqa: E402

WIDTHS = (6, 12, 4)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 4))


LABELS = np.concatenate([-np.ones(6), np.repeat([0, 1, 2], 4), -np.ones(4)]).astype(int)


def test_optimised_inputs_raise_their_sets_activation_and_are_scored_as_stated():
    model = _model()
    res = feature_visualization(model, LABELS, WIDTHS, input_shape=(6,), value_range=(-2, 2),
                                n_random=5, steps=60, min_size=2, seed=3)  # fmt: skip
    assert [r["cluster"] for r in res.rows] == [0, 1, 2] and res.inputs.shape == (3, 6)
    x = torch.tensor(res.inputs)
    with torch.no_grad():
        pre = model[0](x).numpy()
        probs = torch.softmax(model(x), dim=1).numpy()
        start = model[0](torch.zeros(1, 6)).numpy()[0]  # the start is near the range's centre
    for i, r in enumerate(res.rows):
        units = np.flatnonzero(LABELS[6:18] == r["cluster"])
        assert r["objective"] == pytest.approx(pre[i, units].mean(), rel=1e-5)
        assert r["objective"] > start[units].mean()  # the optimisation drove the units up
        assert r["entropy"] == pytest.approx(entropy(probs[i]), rel=1e-5)
        assert r["dispersion"] == pytest.approx(np.maximum(pre[i, units], 0).std(), rel=1e-5)
        assert 0 < r["entropy_percentile"] <= 1 and 0 < r["objective_percentile"] <= 1
    agg = res.aggregate()
    assert agg["n_submodules"] == 3 and {"fisher_p_entropy", "chi2_p_dispersion"} <= set(agg)
    again = feature_visualization(model, LABELS, WIDTHS, input_shape=(6,), value_range=(-2, 2),
                                  n_random=5, steps=60, min_size=2, seed=3)  # fmt: skip
    np.testing.assert_array_equal(again.inputs, res.inputs)  # seeded


def test_bad_inputs_are_named():
    model = _model()
    with pytest.raises(ValueError, match="no layer named 'fc'"):
        feature_visualization(model, LABELS, WIDTHS, input_shape=(6,), layers=["fc"])
    with pytest.raises(ValueError, match="steps must be"):
        feature_visualization(model, LABELS, WIDTHS, input_shape=(6,), steps=0)
    with pytest.raises(ValueError, match="input_shape must give sizes"):
        feature_visualization(model, LABELS, WIDTHS, input_shape=(0,))
