"""Lesion results (method.md §6): what :mod:`modcut.study.lesion` measures, as plain data.

:class:`SingleLesionResult` (one :class:`SingleLesion` per sub-module) and
:class:`DoubleLesionResult` (one :class:`DoubleLesion` per pair), with their CSV and JSON,
and :func:`importance_statistics`. NumPy only: the report reads these files without torch.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from modcut._io import float_or_nan, read_json, to_csv, write_json
from modcut._stats import empirical_test

__all__ = [
    "DoubleLesion",
    "DoubleLesionResult",
    "SingleLesion",
    "SingleLesionResult",
    "aggregate_rows",
    "importance_statistics",
    "percentile_tests",
    "rank_p",
]


def importance_statistics(drop: float, null_drops: Any) -> dict[str, float]:
    """How much larger is ``drop`` than random lesions' drops?

    Parameters
    ----------
    drop:
        The sub-module's accuracy drop (intact − lesioned accuracy).
    null_drops:
        Drops of random same-size lesions, shape ``(n,)``, ``n ≥ 1``.

    Returns
    -------
    dict with ``null_mean``, ``null_std`` (ddof=1; 0 when ``n = 1``),
    ``z_score = (drop − mean) / std`` (``nan`` when the null has no spread and
    equals ``drop``, ``±inf`` when it has no spread otherwise),
    ``p_value = (#{null ≥ drop} + 1) / (n + 1)`` (one-sided: small means the
    sub-module matters more than a random set of its size) and
    ``percentile = 100 · #{null < drop} / n``.
    """
    null = np.asarray(null_drops, dtype=np.float64).reshape(-1)
    if null.size == 0:
        raise ValueError("the null needs at least one random lesion")
    return empirical_test(drop, null, tail="at_or_above")


def rank_p(true: float, null: Any, side: str) -> float:
    """The reference's ``compute_pvalue``: ``(#{null < true} + 1) / (n + 1)`` for
    ``side="left"`` (small: ``true`` is below the null), ``(#{true < null} + 1) / (n + 1)``
    for ``"right"`` (small: above it)."""
    null = np.asarray(null, dtype=np.float64)
    r = np.sum(null < true) if side == "left" else np.sum(true < null)
    return float((r + 1) / (null.size + 1))


def percentile_tests(percentiles: Any, n_random: int) -> dict[str, float]:
    """The reference's aggregate tests over the rank percentiles of all sub-modules
    (thestephencasper/local_specialization, ``src/utils.py``).

    ``percentiles``: each sub-module's :func:`rank_p`, shape ``(n_submodules,)``, from
    ``n_random`` random lesions each. Returns

    * ``chi2_p``: chi-squared test of the ranks' counts against uniform over the
      ``n_random + 1`` possible ranks (``chi2_categorical_test``; it treats ranks as
      categories, as the reference says);
    * ``fisher_p``: Fisher's combined p of the percentiles shifted by half the smallest
      percentile to centre them on 0.5 (``combine_ps``, ``scipy.stats.combine_pvalues``);
    * ``fisher_stat``: ``-mean(log(shifted percentiles))`` (1 under the null).
    """
    from scipy import stats

    pct = np.asarray(percentiles, dtype=np.float64).reshape(-1)
    if pct.size == 0:
        nan = float("nan")
        return {"chi2_p": nan, "fisher_p": nan, "fisher_stat": nan}
    n_ranks = int(n_random) + 1
    ranks = np.round(pct * n_ranks - 1).astype(np.int64)
    counts = np.bincount(ranks, minlength=n_ranks)[:n_ranks].astype(np.float64)
    expected = np.full(n_ranks, counts.mean())
    chi2_p = float(stats.chisquare(f_obs=counts, f_exp=expected).pvalue)
    shifted = pct - (1.0 / n_ranks) / 2
    fisher_p = float(stats.combine_pvalues(shifted, method="fisher").pvalue)
    return {
        "chi2_p": chi2_p,
        "fisher_p": fisher_p,
        "fisher_stat": float(-np.mean(np.log(shifted))),
    }


def _ratio(true: float, null_mean: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        v = true / (null_mean + true)
    return float(np.nan_to_num(v))


def _tests(prefix: str, tests: dict[str, float]) -> dict[str, float]:
    """``{"chi2_p": …}`` → ``{"chi2_p_<prefix>": …}``."""
    return {f"{k}_{prefix}": v for k, v in tests.items()}


@dataclass
class SingleLesion:
    """One sub-module's lesion against random same-size lesions.

    Attributes
    ----------
    layer, cluster, neurons:
        The sub-module (see :class:`SubModule`); ``neurons`` shape ``(size,)``.
    accuracy:
        Test accuracy with the sub-module lesioned.
    drop:
        ``base_accuracy − accuracy``.
    per_class_drop:
        Per-class accuracy drop, shape ``(n_classes,)``.
    null_drops:
        Drops of the random lesions, shape ``(n_random,)``.
    null_per_class_drop:
        Mean per-class drop of the random lesions, shape ``(n_classes,)``.
    null_mean, null_std, z_score, p_value, percentile:
        :func:`importance_statistics` of ``drop`` against ``null_drops``.
    """

    layer: int
    cluster: int
    neurons: np.ndarray
    accuracy: float
    drop: float
    per_class_drop: np.ndarray
    null_drops: np.ndarray
    null_per_class_drop: np.ndarray
    null_mean: float
    null_std: float
    z_score: float
    p_value: float
    percentile: float
    null_per_class_drops: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    @property
    def size(self) -> int:
        return int(self.neurons.shape[0])

    @property
    def name(self) -> str:
        return f"L{self.layer}:C{self.cluster}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "cluster": self.cluster,
            "size": self.size,
            "neurons": self.neurons,
            "accuracy": self.accuracy,
            "drop": self.drop,
            "per_class_drop": self.per_class_drop,
            "null_drops": self.null_drops,
            "null_per_class_drop": self.null_per_class_drop,
            "null_mean": self.null_mean,
            "null_std": self.null_std,
            "z_score": self.z_score,
            "p_value": self.p_value,
            "percentile": self.percentile,
            "null_per_class_drops": self.null_per_class_drops,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SingleLesion:
        return cls(
            layer=int(d["layer"]),
            cluster=int(d["cluster"]),
            neurons=np.asarray(d["neurons"], dtype=np.int64),
            accuracy=float_or_nan(d["accuracy"]),
            drop=float_or_nan(d["drop"]),
            per_class_drop=np.asarray([float_or_nan(v) for v in d["per_class_drop"]]),
            null_drops=np.asarray([float_or_nan(v) for v in d["null_drops"]]),
            null_per_class_drop=np.asarray([float_or_nan(v) for v in d["null_per_class_drop"]]),
            null_mean=float_or_nan(d["null_mean"]),
            null_std=float_or_nan(d["null_std"]),
            z_score=float_or_nan(d["z_score"]),
            p_value=float_or_nan(d["p_value"]),
            percentile=float_or_nan(d["percentile"]),
            null_per_class_drops=np.asarray(
                [[float_or_nan(v) for v in row] for row in d.get("null_per_class_drops", [])],
                dtype=np.float64,
            ).reshape(-1, len(d["per_class_drop"])),
        )


_R = TypeVar("_R", bound="_SavedResult")


class _SavedResult:
    """CSV and JSON for the lesion results: a subclass gives ``rows()`` (the CSV
    rows), ``to_dict()`` and ``from_dict()``; non-finite numbers follow
    :mod:`modcut._io`'s policy (written as ``null``, read back as NaN)."""

    def rows(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls: type[_R], d: dict[str, Any]) -> _R:
        raise NotImplementedError

    def to_csv(self, path: str | os.PathLike[str] | None = None) -> str:
        """The :meth:`rows` as CSV; also written to ``path`` when given."""
        return to_csv(self.rows(), path)

    def to_json(self, path: str | os.PathLike[str] | None = None, *, indent: int = 2) -> str:
        """JSON (non-finite numbers as ``null``); also written to ``path`` when given."""
        return write_json(self.to_dict(), path, indent=indent)

    @classmethod
    def from_json(cls: type[_R], path_or_text: str | os.PathLike[str]) -> _R:
        """Read a result from a JSON file or from JSON text (what :meth:`to_json` returns)."""
        return cls.from_dict(read_json(path_or_text))


@dataclass
class SingleLesionResult(_SavedResult):
    """Outcome of :func:`single_lesion_test`.

    Attributes
    ----------
    base_accuracy:
        Accuracy of the intact network.
    base_per_class:
        Per-class accuracy of the intact network, shape ``(n_classes,)``.
    lesions:
        One :class:`SingleLesion` per sub-module, ordered by layer then cluster.
    settings:
        n_random, seed, min_size, min_fraction, n_samples (evaluation set size).
    """

    base_accuracy: float
    base_per_class: np.ndarray
    lesions: list[SingleLesion]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return int(self.base_per_class.shape[0])

    def aggregate(self) -> dict[str, Any]:
        """The reference's aggregate importance tests over all sub-modules
        (``local_specialization/src/lesion/experimentation.py``), from the per-class
        accuracies of each lesion and of every random lesion:

        * ``mean_percentiles``: per sub-module, :func:`rank_p` (left) of its mean per-class
          accuracy among the random lesions' (small: it hurts more than random sets);
        * ``range_percentiles``: :func:`rank_p` (right) of the range (max − min over
          classes) of its per-class changes divided by their mean (small: its damage is
          more class-specific than random sets');
        * ``effect_factors_means``: ``t / (r + t)`` of the mean change ``t`` and the random
          lesions' mean change ``r`` when both are losses, else 0 (0.5: as random;
          towards 1: more important); ``effect_factors_ranges``: the same ratio of ranges;
        * :func:`percentile_tests` of both percentile sets (``chi2_p_means``,
          ``fisher_p_means``, ``fisher_stat_means``, and ``…_ranges``), and the mean effect
          factors.

        Needs the random lesions' per-class drops (``null_per_class_drops``; results
        written before they were kept give ``nan`` tests).
        """
        subs = [les for les in self.lesions if les.null_per_class_drops.shape[0] > 0]
        n_random = int(self.settings.get("n_random", 0))
        base = np.asarray(self.base_per_class, dtype=np.float64)
        mean_pct, range_pct, ef_mean, ef_range = [], [], [], []
        with np.errstate(divide="ignore", invalid="ignore"):
            for les in subs:
                true_out = base - les.per_class_drop  # per-class accuracy, lesioned
                rand_out = base[None, :] - les.null_per_class_drops
                true_change = true_out - base
                rand_change = rand_out - base[None, :]
                true_range = np.ptp(true_change / np.nanmean(true_change))
                rand_range = np.ptp(rand_change / np.nanmean(rand_change, axis=1)[:, None], axis=1)
                mean_pct.append(rank_p(np.nanmean(true_out), np.nanmean(rand_out, axis=1), "left"))
                range_pct.append(rank_p(true_range, rand_range, "right"))
                t = float(np.nanmean(true_change))
                r = float(np.nanmean(np.nanmean(rand_change, axis=1)))
                ef_mean.append(_ratio(t, r) if t < 0 and r < 0 else 0.0)
                ef_range.append(_ratio(float(true_range), float(np.nanmean(rand_range))))
        return {
            "n_submodules": len(subs),
            "n_random": n_random,
            "names": [les.name for les in subs],
            "mean_percentiles": np.asarray(mean_pct),
            "range_percentiles": np.asarray(range_pct),
            "effect_factors_means": np.asarray(ef_mean),
            "effect_factors_ranges": np.asarray(ef_range),
            "mean_effect_factor_means": float(np.mean(ef_mean)) if ef_mean else float("nan"),
            "mean_effect_factor_ranges": float(np.mean(ef_range)) if ef_range else float("nan"),
            **_tests("means", percentile_tests(mean_pct, n_random)),
            **_tests("ranges", percentile_tests(range_pct, n_random)),
        }

    def per_class_drop_matrix(self) -> np.ndarray:
        """Per-class drops, shape ``(n_lesions, n_classes)``."""
        if not self.lesions:
            return np.zeros((0, self.n_classes))
        return np.stack([s.per_class_drop for s in self.lesions])

    def rows(self) -> list[dict[str, Any]]:
        """One flat table row per sub-module (per-class drops as ``drop_class_<c>``)."""
        out = []
        for s in self.lesions:
            row: dict[str, Any] = {
                "submodule": s.name,
                "layer": s.layer,
                "cluster": s.cluster,
                "size": s.size,
                "accuracy": round(s.accuracy, 6),
                "drop": round(s.drop, 6),
                "null_mean": round(s.null_mean, 6),
                "null_std": round(s.null_std, 6),
                "z_score": round(s.z_score, 4) if math.isfinite(s.z_score) else s.z_score,
                "p_value": round(s.p_value, 6),
                "percentile": round(s.percentile, 2),
            }
            for c, v in enumerate(s.per_class_drop):
                row[f"drop_class_{c}"] = round(float(v), 6)
            out.append(row)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_accuracy": self.base_accuracy,
            "base_per_class": self.base_per_class,
            "settings": self.settings,
            "lesions": [s.to_dict() for s in self.lesions],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SingleLesionResult:
        return cls(
            base_accuracy=float(d["base_accuracy"]),
            base_per_class=np.asarray([float_or_nan(v) for v in d["base_per_class"]]),
            lesions=[SingleLesion.from_dict(s) for s in d["lesions"]],
            settings=dict(d.get("settings", {})),
        )


@dataclass
class DoubleLesion:
    """Two sub-modules in different layers lesioned together.

    Attributes
    ----------
    a, b:
        Names of the sub-modules (``"L<layer>:C<cluster>"``), ``a`` in the lower layer.
    drop_a, drop_b:
        Their single-lesion drops.
    joint_drop:
        Drop with both lesioned.
    interaction:
        ``joint_drop − (drop_a + drop_b)``: > 0 when the pair hurts more than
        the sum of its parts (the modules back each other up), < 0 when less
        (they are in series: once one is gone the other matters less).
    per_class_joint_drop:
        Shape ``(n_classes,)``.
    null_mean, null_std, z_score, p_value, percentile:
        ``joint_drop`` against random lesions of the same sizes in the same two
        layers (``None``/``nan`` when ``n_random = 0``).
    """

    a: str
    b: str
    layer_a: int
    cluster_a: int
    layer_b: int
    cluster_b: int
    size_a: int
    size_b: int
    drop_a: float
    drop_b: float
    joint_drop: float
    interaction: float
    per_class_joint_drop: np.ndarray
    null_drops: np.ndarray
    null_mean: float = float("nan")
    null_std: float = float("nan")
    z_score: float = float("nan")
    p_value: float = float("nan")
    percentile: float = float("nan")

    def row(self) -> dict[str, Any]:
        r: dict[str, Any] = {
            "a": self.a,
            "b": self.b,
            "size_a": self.size_a,
            "size_b": self.size_b,
            "drop_a": round(self.drop_a, 6),
            "drop_b": round(self.drop_b, 6),
            "joint_drop": round(self.joint_drop, 6),
            "interaction": round(self.interaction, 6),
        }
        if self.null_drops.size:
            r.update(
                null_mean=round(self.null_mean, 6),
                null_std=round(self.null_std, 6),
                z_score=round(self.z_score, 4) if math.isfinite(self.z_score) else self.z_score,
                p_value=round(self.p_value, 6),
            )
        return r

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "layer_a": self.layer_a,
            "cluster_a": self.cluster_a,
            "layer_b": self.layer_b,
            "cluster_b": self.cluster_b,
            "size_a": self.size_a,
            "size_b": self.size_b,
            "drop_a": self.drop_a,
            "drop_b": self.drop_b,
            "joint_drop": self.joint_drop,
            "interaction": self.interaction,
            "per_class_joint_drop": self.per_class_joint_drop,
            "null_drops": self.null_drops,
            "null_mean": self.null_mean,
            "null_std": self.null_std,
            "z_score": self.z_score,
            "p_value": self.p_value,
            "percentile": self.percentile,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DoubleLesion:
        return cls(
            a=str(d["a"]),
            b=str(d["b"]),
            layer_a=int(d["layer_a"]),
            cluster_a=int(d["cluster_a"]),
            layer_b=int(d["layer_b"]),
            cluster_b=int(d["cluster_b"]),
            size_a=int(d["size_a"]),
            size_b=int(d["size_b"]),
            drop_a=float_or_nan(d["drop_a"]),
            drop_b=float_or_nan(d["drop_b"]),
            joint_drop=float_or_nan(d["joint_drop"]),
            interaction=float_or_nan(d["interaction"]),
            per_class_joint_drop=np.asarray([float_or_nan(v) for v in d["per_class_joint_drop"]]),
            null_drops=np.asarray([float_or_nan(v) for v in d.get("null_drops", [])]),
            null_mean=float_or_nan(d.get("null_mean")),
            null_std=float_or_nan(d.get("null_std")),
            z_score=float_or_nan(d.get("z_score")),
            p_value=float_or_nan(d.get("p_value")),
            percentile=float_or_nan(d.get("percentile")),
        )


@dataclass
class DoubleLesionResult(_SavedResult):
    """Outcome of :func:`double_lesion_test`.

    Attributes
    ----------
    base_accuracy:
        Accuracy of the intact network.
    submodules:
        Names of the sub-modules that were paired, in order.
    pairs:
        One :class:`DoubleLesion` per pair of sub-modules in different layers.
    settings:
        n_random, seed, max_submodules, n_samples.
    """

    base_accuracy: float
    submodules: list[str]
    pairs: list[DoubleLesion]
    settings: dict[str, Any] = field(default_factory=dict)

    def aggregate(self) -> dict[str, Any]:
        """Aggregate tests over all pairs with random pair lesions (``n_random > 0``), as
        :meth:`SingleLesionResult.aggregate` does for single lesions: per pair the
        :func:`rank_p` (left) of its lesioned accuracy among the random pairs' (from the
        joint drop: random lesions keep only the overall accuracy, so there is no range
        test), the effect factor of the mean drop, and :func:`percentile_tests`
        (``chi2_p_means``, ``fisher_p_means``, ``fisher_stat_means``). ``nan`` tests when
        no pair has random lesions."""
        pairs = [p for p in self.pairs if p.null_drops.size]
        n_random = int(self.settings.get("n_random", 0))
        pct = [rank_p(-p.joint_drop, -np.asarray(p.null_drops), "left") for p in pairs]
        ef = [
            _ratio(-p.joint_drop, -float(np.mean(p.null_drops)))
            if p.joint_drop > 0 and float(np.mean(p.null_drops)) > 0
            else 0.0
            for p in pairs
        ]
        return {
            "n_pairs": len(pairs),
            "n_random": n_random,
            "names": [f"{p.a}+{p.b}" for p in pairs],
            "mean_percentiles": np.asarray(pct),
            "effect_factors_means": np.asarray(ef),
            "mean_effect_factor_means": float(np.mean(ef)) if ef else float("nan"),
            **_tests("means", percentile_tests(pct, n_random)),
        }

    def matrix(self, key: str = "joint_drop") -> np.ndarray:
        """Symmetric ``(m, m)`` matrix of ``key`` over :attr:`submodules` (``nan``
        on the diagonal and for same-layer pairs)."""
        idx = {n: i for i, n in enumerate(self.submodules)}
        m = np.full((len(idx), len(idx)), np.nan)
        for p in self.pairs:
            v = float(getattr(p, key))
            m[idx[p.a], idx[p.b]] = m[idx[p.b], idx[p.a]] = v
        return m

    def rows(self) -> list[dict[str, Any]]:
        return [p.row() for p in self.pairs]

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_accuracy": self.base_accuracy,
            "submodules": self.submodules,
            "settings": self.settings,
            "pairs": [p.to_dict() for p in self.pairs],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DoubleLesionResult:
        return cls(
            base_accuracy=float(d["base_accuracy"]),
            submodules=[str(s) for s in d["submodules"]],
            pairs=[DoubleLesion.from_dict(p) for p in d["pairs"]],
            settings=dict(d.get("settings", {})),
        )


def aggregate_rows(
    single: SingleLesionResult | None, double: DoubleLesionResult | None = None
) -> list[dict[str, Any]]:
    """One table row per aggregate test (single lesions: mean and range of the per-class
    drops; double lesions: mean): ``test``, ``n`` (sub-modules or pairs), ``n_random``,
    ``chi2_p``, ``fisher_p``, ``fisher_stat`` and ``mean_effect_factor`` (0.5: as random
    lesions; towards 1: the modules matter more). The rows of ``lesion_aggregate.csv``."""
    rows: list[dict[str, Any]] = []
    if single is not None:
        a = single.aggregate()
        for what in ("means", "ranges"):
            rows.append(
                {
                    "test": f"single lesions: {'accuracy' if what == 'means' else 'class specificity'}",
                    "n": a["n_submodules"],
                    "n_random": a["n_random"],
                    "chi2_p": a[f"chi2_p_{what}"],
                    "fisher_p": a[f"fisher_p_{what}"],
                    "fisher_stat": a[f"fisher_stat_{what}"],
                    "mean_effect_factor": a[f"mean_effect_factor_{what}"],
                }
            )
    if double is not None:
        d = double.aggregate()
        rows.append(
            {
                "test": "double lesions: accuracy",
                "n": d["n_pairs"],
                "n_random": d["n_random"],
                "chi2_p": d["chi2_p_means"],
                "fisher_p": d["fisher_p_means"],
                "fisher_stat": d["fisher_stat_means"],
                "mean_effect_factor": d["mean_effect_factor_means"],
            }
        )
    return rows
