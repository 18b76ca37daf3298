"""Agreement between partitions (issue 20, item 4): ARI and NMI equal scikit-learn's, and
the per-layer permutation null finds agreement where it is planted and not elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modcut.agreement import adjusted_rand_index, normalized_mutual_info, partition_agreement

metrics = pytest.importorskip("sklearn.metrics")


@settings(max_examples=80, deadline=None)
@given(
    a=st.lists(st.integers(0, 4), min_size=1, max_size=40),
    seed=st.integers(0, 1000),
)
def test_ari_and_nmi_equal_scikit_learn(a, seed):
    rng = np.random.default_rng(seed)
    b = rng.integers(0, 4, size=len(a))
    if len(a) >= 2:
        assert adjusted_rand_index(a, b) == pytest.approx(
            metrics.adjusted_rand_score(a, b), abs=1e-12
        )
    assert normalized_mutual_info(a, b) == pytest.approx(
        metrics.normalized_mutual_info_score(a, b), abs=1e-12
    )
    assert normalized_mutual_info(a, a) == pytest.approx(1.0)


def test_layers_with_agreement_are_significant_and_others_not():
    rng = np.random.default_rng(0)
    widths = [30, 30]
    a = np.concatenate([np.repeat([0, 1, 2], 10), rng.integers(0, 3, 30)])
    b = a.copy()
    b[30:] = rng.integers(0, 3, 30)  # layer 1: unrelated
    b[:30] = (a[:30] + 1) % 3  # layer 0: the same partition, renamed
    rows = partition_agreement(a, b, widths, names=["h1", "h2"], n_permutations=200)
    assert [r["layer"] for r in rows] == ["h1", "h2", "mean over layers"]
    assert rows[0]["ari"] == pytest.approx(1.0) and rows[0]["ari_p"] == pytest.approx(1 / 201)
    assert rows[0]["nmi_p"] == pytest.approx(1 / 201)
    assert rows[1]["ari_p"] > 0.01 and abs(rows[1]["ari_null_mean"]) < 0.05
    # the same seed gives the same null
    again = partition_agreement(a, b, widths, names=["h1", "h2"], n_permutations=200)
    assert again == rows


def test_left_out_neurons_and_bad_inputs():
    a = np.array([0, 0, 1, 1, -1, 2])
    b = np.array([1, 1, 0, -1, 0, 0])
    rows = partition_agreement(a, b, [4, 2], n_permutations=10)
    assert rows[0]["n"] == 3 and [r["layer"] for r in rows] == ["layer 0", "mean over layers"]
    with pytest.raises(ValueError, match=r"labels b have shape \(5,\)"):
        partition_agreement(a, b[:5], [4, 2])
    with pytest.raises(ValueError, match="n_permutations must be"):
        partition_agreement(a, b, [4, 2], n_permutations=0)
