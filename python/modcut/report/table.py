"""The study's table: per-run rows and per-variant means with 95% confidence intervals.

One row per trained network (variant × seed) holds its observed n-cut, test
accuracy, sparsity, the adjusted Rand index with planted modules (when it had
them) and, for every null (shuffle method) it was tested against, that null's mean,
standard deviation, z-score and p-value, in columns suffixed with the method
(``null_mean_layer``, ``z_layer_nonzero``, …). :func:`aggregate_runs` turns them
into one row per variant: the mean over seeds of each quantity and, for the n-cut,
the null means, the z-scores, the test accuracy and the ARI, the half-width of a
two-sided 95% confidence interval for that mean, Student's t with n − 1 degrees of
freedom (:func:`mean_ci`): ``mean ± t_{0.975, n-1} · sd / sqrt(n)``, sd with
ddof = 1; undefined (NaN) for a single seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "NULL_FIELDS",
    "aggregate_runs",
    "markdown_rows",
    "mean_ci",
    "null_column",
]

#: Per-null quantities of a run row (column ``<field>_<shuffle>``).
NULL_FIELDS = ("null_mean", "null_std", "z_score", "p_value")

#: Per-null quantities given a confidence interval in the variant table.
_CI_NULL_FIELDS = ("null_mean", "z_score")
#: Quantities shared by all nulls given a confidence interval.
_CI_FIELDS = ("ncut", "test_accuracy", "ari")


def null_column(field: str, shuffle: str) -> str:
    """Column name of a per-null quantity: ``f"{field}_{shuffle}"``."""
    return f"{field}_{shuffle}"


def _finite(values: Sequence[Any]) -> np.ndarray:
    out = []
    for v in values:
        if v is None:
            continue
        f = float(v)
        if math.isfinite(f):
            out.append(f)
    return np.asarray(out, dtype=np.float64)


def mean_ci(values: Sequence[Any], level: float = 0.95) -> tuple[float, float, int]:
    """Mean and half-width of a two-sided Student-t confidence interval.

    Parameters
    ----------
    values:
        Observations (None and non-finite values are left out).
    level:
        Coverage of the interval (default 0.95).

    Returns
    -------
    ``(mean, half_width, n)``: the interval is ``mean ± half_width`` with
    ``half_width = t_{(1+level)/2, n-1} · s / sqrt(n)``, ``s`` the sample standard
    deviation (ddof = 1). ``half_width`` is NaN for ``n < 2``; ``mean`` is NaN for
    ``n = 0``.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    x = _finite(values)
    n = int(x.shape[0])
    if n == 0:
        return float("nan"), float("nan"), 0
    mean = float(x.mean())
    if n < 2:
        return mean, float("nan"), n
    from scipy import stats

    t = float(stats.t.ppf(0.5 + level / 2.0, df=n - 1))
    return mean, t * float(x.std(ddof=1)) / math.sqrt(n), n


def aggregate_runs(
    rows: Sequence[dict[str, Any]],
    variants: Sequence[str] | None = None,
    shuffles: Sequence[str] = ("layer", "layer_nonzero"),
) -> list[dict[str, Any]]:
    """One row per variant: means over seeds, with 95% CI half-widths (``*_ci95``).

    Parameters
    ----------
    rows:
        Run rows (``variant``, ``seed``, ``ncut``, ``test_accuracy``, ``ari``,
        ``sparsity`` and ``<field>_<shuffle>`` for every :data:`NULL_FIELDS` and
        shuffle).
    variants:
        Row order (default: order of first appearance).
    shuffles:
        The nulls, in column order.

    Returns
    -------
    list of dict: ``variant``, ``seeds``, ``ncut``, ``ncut_ci95``; per shuffle
    ``null_mean_<s>``, ``null_mean_<s>_ci95``, ``null_std_<s>``, ``z_score_<s>``,
    ``z_score_<s>_ci95``, ``p_value_<s>`` (means); then ``test_accuracy``,
    ``test_accuracy_ci95``, ``ari``, ``ari_ci95``, ``sparsity``.
    """
    order = (
        list(variants) if variants is not None else list(dict.fromkeys(r["variant"] for r in rows))
    )
    table = []
    for v in order:
        rs = [r for r in rows if r["variant"] == v]
        if not rs:
            continue
        out: dict[str, Any] = {"variant": v, "seeds": len(rs)}
        out["ncut"], out["ncut_ci95"], _ = mean_ci([r.get("ncut") for r in rs])
        for s in shuffles:
            for f in NULL_FIELDS:
                col = null_column(f, s)
                mean, half, _ = mean_ci([r.get(col) for r in rs])
                out[col] = mean
                if f in _CI_NULL_FIELDS:
                    out[f"{col}_ci95"] = half
        for f in ("test_accuracy", "ari"):
            out[f], out[f"{f}_ci95"], _ = mean_ci([r.get(f) for r in rs])
        out["sparsity"] = mean_ci([r.get("sparsity") for r in rs])[0]
        table.append(out)
    return table


def _fmt(value: Any, digits: int) -> str:
    if value is None:
        return ""
    f = float(value)
    if not math.isfinite(f):
        return ""
    return f"{f:.{digits}g}" if abs(f) >= 1e-4 or f == 0 else f"{f:.2e}"


def _pm(mean: Any, half: Any, digits: int = 4) -> str:
    m = _fmt(mean, digits)
    h = _fmt(half, 2)
    return f"{m} ± {h}" if m and h else m


def markdown_rows(
    table: Sequence[dict[str, Any]], shuffles: Sequence[str] = ("layer", "layer_nonzero")
) -> list[dict[str, str]]:
    """The variant table for people: ``mean ± CI half-width`` cells, both nulls side by side."""
    out = []
    for r in table:
        row: dict[str, str] = {"variant": str(r["variant"]), "seeds": str(r["seeds"])}
        row["n-cut"] = _pm(r.get("ncut"), r.get("ncut_ci95"))
        for s in shuffles:
            row[f"null mean ({s})"] = _pm(
                r.get(null_column("null_mean", s)), r.get(null_column("null_mean", s) + "_ci95")
            )
            row[f"z ({s})"] = _pm(
                r.get(null_column("z_score", s)), r.get(null_column("z_score", s) + "_ci95"), 3
            )
            row[f"p ({s})"] = _fmt(r.get(null_column("p_value", s)), 2)
        row["test acc."] = _pm(r.get("test_accuracy"), r.get("test_accuracy_ci95"))
        row["sparsity"] = _fmt(r.get("sparsity"), 3)
        row["ARI planted"] = _pm(r.get("ari"), r.get("ari_ci95"), 3)
        out.append(row)
    return out
