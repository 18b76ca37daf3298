"""The empirical test of an observation against a null sample.

One helper, :func:`empirical_test`, serves the clusterability test
(:func:`modcut.null.null_statistics`: is the n-cut *below* its shuffles?) and
the lesion tests (:func:`modcut.study.lesion.importance_statistics`: is the accuracy
drop *at or above* random lesions'?).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

__all__ = ["Tail", "empirical_test"]

#: Which null values count as "beyond" the observation for the p-value:
#: ``"below"``: ``null < observed`` (small is extreme);
#: ``"at_or_above"``: ``null ≥ observed`` (large is extreme, ties count).
Tail = Literal["below", "at_or_above"]


def empirical_test(observed: float, null: np.ndarray, tail: Tail) -> dict[str, float]:
    """Mean, std, z, one-sided empirical p-value and percentile of ``observed``.

    Parameters
    ----------
    observed:
        The observed statistic.
    null:
        Null statistics, float64 of shape ``(n,)``, ``n ≥ 1`` (checked by the caller).
    tail:
        See :data:`Tail`.

    Returns
    -------
    dict with ``null_mean``, ``null_std`` (ddof=1; 0 when ``n = 1``),
    ``z_score = (observed − mean) / std`` (``nan`` when the null has no spread
    and equals the observation, ``±inf`` when it has no spread otherwise),
    ``p_value = (#{null beyond observed} + 1) / (n + 1)`` and
    ``percentile = 100 · #{null < observed} / n``.
    """
    n = null.shape[0]
    mean = float(null.mean())
    std = float(null.std(ddof=1)) if n > 1 else 0.0
    below = int(np.count_nonzero(null < observed))
    if tail == "below":
        beyond = below
    elif tail == "at_or_above":
        beyond = int(np.count_nonzero(null >= observed))
    else:
        raise ValueError(f"tail must be 'below' or 'at_or_above', got {tail!r}")
    if std > 0:
        z = (observed - mean) / std
    elif observed == mean:
        z = float("nan")
    else:
        z = math.copysign(math.inf, observed - mean)
    return {
        "null_mean": mean,
        "null_std": std,
        "z_score": float(z),
        "p_value": (beyond + 1) / (n + 1),
        "percentile": 100.0 * below / n,
    }
