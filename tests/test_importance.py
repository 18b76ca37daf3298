"""Aggregate importance tests over all sub-modules (issue 20, item 2) against a literal NumPy
and SciPy transcription of the reference (thestephencasper/local_specialization,
src/lesion/experimentation.py and src/utils.py), and their files and report."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare, combine_pvalues

from modcut.lesion_results import (
    DoubleLesion,
    DoubleLesionResult,
    SingleLesion,
    SingleLesionResult,
    aggregate_rows,
    percentile_tests,
)

# --- the reference, transcribed (their names; shapes as in their code) -----------------


def compute_pvalue(x, arr, side="left"):
    comparisons = (x < arr) if side == "right" else (arr < x)
    return (np.sum(comparisons) + 1) / (len(comparisons) + 1)


def chi2_categorical_test(percentiles, n_samples):
    num_ranks = n_samples + 1
    min_percentile = 1 / num_ranks
    ranks = np.round((percentiles / min_percentile) - 1).astype(int)
    true_counts = np.concatenate(
        (np.bincount(ranks), np.zeros(num_ranks - np.max(ranks) - 1).astype(int))
    )
    expected_counts = np.ones(num_ranks) * np.mean(true_counts)
    _, p = chisquare(f_obs=true_counts, f_exp=expected_counts)
    return p


def combine_ps(percentiles, n_samples):
    shifted = percentiles - (1 / (n_samples + 1) / 2)
    return combine_pvalues(shifted, method="fisher")[1]


def fisher_stat(percentiles, n_samples):
    shifted = percentiles - (1 / (n_samples + 1) / 2)
    return -np.mean(np.log(shifted))


def reference(random_outs, true_outs, eval_outs, n_shuffles):
    """random_outs (n_random, n_submodules, n_classes), true_outs (n_submodules, n_classes),
    eval_outs (n_classes,): per-class accuracies, as their classification branch."""
    n_submodules = true_outs.shape[0]
    random_means = np.nanmean(random_outs, axis=-1)
    true_means = np.nanmean(true_outs, axis=-1)
    random_changes = random_outs - eval_outs
    random_normalized = random_changes / np.nanmean(random_changes, axis=-1)[:, :, None]
    random_ranges = np.ptp(random_normalized, axis=-1)
    random_changes_means = np.nanmean(random_changes, axis=-1)
    true_changes = true_outs - eval_outs
    true_normalized = true_changes / np.nanmean(true_changes, axis=-1)[:, None]
    true_ranges = np.ptp(true_normalized, axis=-1)
    true_changes_means = np.nanmean(true_changes, axis=-1)
    mean_pct = np.array(
        [compute_pvalue(true_means[i], random_means[:, i]) for i in range(n_submodules)]
    )
    range_pct = np.array(
        [compute_pvalue(true_ranges[i], random_ranges[:, i], "right") for i in range(n_submodules)]
    )
    ef_means = []
    for i in range(n_submodules):
        if true_changes_means[i] < 0 and np.nanmean(random_changes_means[:, i]) < 0:
            ef_means.append(
                true_changes_means[i]
                / (np.nanmean(random_changes_means[:, i]) + true_changes_means[i])
            )
        else:
            ef_means.append(0.0)
    ef_ranges = np.nan_to_num(
        [
            true_ranges[i] / (np.nanmean(random_ranges[:, i]) + true_ranges[i])
            for i in range(n_submodules)
        ]
    )
    return {
        "mean_percentiles": mean_pct,
        "range_percentiles": range_pct,
        "effect_factors_means": np.nan_to_num(np.array(ef_means)),
        "effect_factors_ranges": ef_ranges,
        "chi2_p_means": chi2_categorical_test(mean_pct, n_shuffles),
        "chi2_p_ranges": chi2_categorical_test(range_pct, n_shuffles),
        "fisher_p_means": combine_ps(mean_pct, n_shuffles),
        "fisher_p_ranges": combine_ps(range_pct, n_shuffles),
        "fisher_stat_means": fisher_stat(mean_pct, n_shuffles),
        "fisher_stat_ranges": fisher_stat(range_pct, n_shuffles),
    }


# --- synthetic lesion results ----------------------------------------------------------


def _single(seed: int, n_sub: int, n_random: int, n_classes: int, boost: float) -> tuple:
    rng = np.random.default_rng(seed)
    base_pc = rng.uniform(0.7, 0.95, n_classes)
    lesions, rand_outs, true_outs = [], [], []
    for i in range(n_sub):
        null_pcs = np.abs(rng.normal(0.02, 0.02, (n_random, n_classes)))
        drop_pc = np.abs(rng.normal(0.02 + boost, 0.02, n_classes))
        lesions.append(
            SingleLesion(
                layer=1 + i % 2,
                cluster=i,
                neurons=np.arange(3),
                accuracy=float(np.mean(base_pc - drop_pc)),
                drop=float(np.mean(drop_pc)),
                per_class_drop=drop_pc,
                null_drops=null_pcs.mean(axis=1),
                null_per_class_drop=null_pcs.mean(axis=0),
                null_mean=0.0,
                null_std=0.0,
                z_score=0.0,
                p_value=0.5,
                percentile=50.0,
                null_per_class_drops=null_pcs,
            )
        )
        rand_outs.append(base_pc - null_pcs)
        true_outs.append(base_pc - drop_pc)
    res = SingleLesionResult(
        base_accuracy=float(base_pc.mean()),
        base_per_class=base_pc,
        lesions=lesions,
        settings={"n_random": n_random},
    )
    return res, np.stack(rand_outs, axis=1), np.stack(true_outs), base_pc


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n_sub=st.integers(1, 8),
    n_random=st.integers(1, 30),
    n_classes=st.integers(2, 10),
    boost=st.sampled_from([0.0, 0.05]),
)
def test_single_lesion_aggregates_equal_the_reference(seed, n_sub, n_random, n_classes, boost):
    res, rand_outs, true_outs, base = _single(seed, n_sub, n_random, n_classes, boost)
    got = res.aggregate()
    want = reference(rand_outs, true_outs, base, n_random)
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-12, atol=1e-15, err_msg=key)


def test_important_modules_give_small_aggregate_p_values_and_random_ones_do_not():
    strong, *_ = _single(1, 12, 50, 10, boost=0.08)
    weak, *_ = _single(2, 12, 50, 10, boost=0.0)
    a, b = strong.aggregate(), weak.aggregate()
    assert a["fisher_p_means"] < 1e-6 and a["mean_effect_factor_means"] > 0.7
    assert b["fisher_p_means"] > 0.01 and 0.3 < b["mean_effect_factor_means"] < 0.7
    rows = aggregate_rows(strong)
    assert [r["test"] for r in rows] == [
        "single lesions: accuracy",
        "single lesions: class specificity",
    ]


def test_results_round_trip_with_the_random_per_class_drops(tmp_path):
    res, *_ = _single(3, 4, 7, 5, boost=0.03)
    back = SingleLesionResult.from_json(res.to_json(tmp_path / "s.json") and tmp_path / "s.json")
    np.testing.assert_array_equal(
        back.lesions[2].null_per_class_drops, res.lesions[2].null_per_class_drops
    )
    assert back.aggregate()["fisher_p_means"] == res.aggregate()["fisher_p_means"]
    # a file from before the per-class null was kept: the tests are nan, not wrong
    d = res.to_dict()
    for les in d["lesions"]:
        del les["null_per_class_drops"]
    old = SingleLesionResult.from_dict(d)
    assert old.aggregate()["n_submodules"] == 0 and np.isnan(old.aggregate()["fisher_p_means"])


def test_double_lesion_aggregates():
    rng = np.random.default_rng(5)
    pairs = []
    for i in range(6):
        null = np.abs(rng.normal(0.02, 0.01, 20))
        joint = 0.1
        pairs.append(
            DoubleLesion(
                f"L1:C{i}", f"L2:C{i}", 1, i, 2, i, 3, 3, 0.04, 0.04, joint, 0.02, np.zeros(3), null
            )
        )
    d = DoubleLesionResult(0.9, [], pairs, {"n_random": 20})
    agg = d.aggregate()
    np.testing.assert_allclose(agg["mean_percentiles"], 1 / 21)
    assert agg["fisher_p_means"] < 1e-4
    np.testing.assert_allclose(
        agg["effect_factors_means"], [0.1 / (np.mean(p.null_drops) + 0.1) for p in pairs]
    )
    assert DoubleLesionResult(0.9, [], [], {"n_random": 0}).aggregate()["n_pairs"] == 0


def test_percentile_tests_of_uniform_ranks_are_not_significant():
    n_random = 9
    pct = np.repeat(np.arange(1, n_random + 2) / (n_random + 1), 5)
    t = percentile_tests(pct, n_random)
    assert t["chi2_p"] == pytest.approx(1.0)
    assert 0.2 < t["fisher_p"] < 0.8
