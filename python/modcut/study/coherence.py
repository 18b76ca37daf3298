"""Coherence of sub-modules: do a sub-module's units respond to the same kind of input?
(issue 20, item 3a; Hod et al. 2021, ``local_specialization/src/activations.py``,
``get_max_act_images``).

For each sub-module (the units of one hidden layer with one cluster label), the ``n_top``
examples of a data set with the largest summed ``|activation|`` over its units are found,
and the entropy of their true labels is compared with that of random same-size unit sets
of the same layer: a coherent sub-module's top examples share labels (low entropy). Per
sub-module: the entropy, the random sets' entropies, the rank percentile
``(#{random < true} + 1) / (n + 1)`` (small: more coherent than random sets) and the
effect size ``mean(random) / true`` (> 1: more coherent); over all sub-modules the
reference's chi² and Fisher tests of the percentiles (:func:`modcut.lesion_results.percentile_tests`)
and the mean effect size.

Units are read as the reference did: the absolute pre-activations of the hidden weight
layers (``layers`` default: every weight layer but the last, i.e. the neurons of the weight
graph's hidden layers), conv channels pooled over positions as in
:mod:`modcut.readers.activations`. The top examples are kept by a streaming top-k over
batches (memory ``O(sets × n_top)``), never the whole activation matrix. Where the
reference's code takes the top ``n_top + 1`` examples and overwrites the label of the very
top one (an indexing device that drops it), modcut uses the ``n_top`` top examples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import entropy

from modcut._layers import split_by_layer
from modcut._params import check, check_each
from modcut.lesion_results import percentile_tests, rank_p
from modcut.readers.activations import unit_activations
from modcut.readers.extract import layer_modules

__all__ = ["CoherenceResult", "dataset_coherence", "hidden_layer_names"]


def hidden_layer_names(model: Any) -> list[str]:
    """Module names of ``model``'s weight layers but the last: the hidden neurons of its
    weight graph, whose outputs (pre-activations) coherence reads."""
    layers = layer_modules(model)
    names = {id(m): n for n, m in model.named_modules()}
    return [names[id(m)] for m in layers[:-1]]


@dataclass
class CoherenceResult:
    """Data-set coherence of every sub-module (see the module docstring).

    Attributes
    ----------
    rows: one dict per sub-module: ``layer`` (1 … L-1, the weight graph's), ``cluster``,
        ``size``, ``entropy``, ``random_entropy_mean``, ``percentile``, ``effect_size``,
        ``top_examples`` (indices into the data, best first).
    settings: n_top, n_random, seed, layers, pool, n_examples.
    """

    rows: list[dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)

    def aggregate(self) -> dict[str, Any]:
        """chi² and Fisher tests of the percentiles, and the mean effect size."""
        pct = [r["percentile"] for r in self.rows]
        eff = np.asarray([r["effect_size"] for r in self.rows], dtype=np.float64)
        tests = percentile_tests(pct, int(self.settings.get("n_random", 0)))
        return {
            "n_submodules": len(self.rows),
            **tests,
            "mean_effect_size": float(np.mean(eff)) if eff.size else float("nan"),
            "median_effect_size": float(np.median(eff)) if eff.size else float("nan"),
        }

    def table(self) -> list[dict[str, Any]]:
        """The rows without the example indices (for CSV and the report)."""
        return [{k: v for k, v in r.items() if k != "top_examples"} for r in self.rows]


def _targets(data: Any, targets: Any) -> tuple[Any, np.ndarray]:
    if targets is not None:
        return data, np.asarray(targets).reshape(-1)
    if hasattr(data, "y") and hasattr(data, "x"):
        return data.x, np.asarray(data.y).reshape(-1)
    if isinstance(data, tuple) and len(data) == 2:
        return data[0], np.asarray(data[1]).reshape(-1)
    raise ValueError(
        "coherence needs the examples' true labels: pass a data set with .x and .y, a pair "
        "(x, y), or targets="
    )


def dataset_coherence(
    model: Any,
    data: Any,
    labels: Any,
    widths: Sequence[int],
    *,
    targets: Any = None,
    n_top: int = 10,
    n_random: int = 100,
    seed: int = 0,
    min_size: int = 5,
    max_fraction: float = 0.75,
    layers: Sequence[str] | None = None,
    pool: str = "reference",
    batch_size: int = 512,
) -> CoherenceResult:
    """Data-set coherence of the sub-modules of a partition.

    Parameters
    ----------
    model:
        A ``torch.nn.Module`` (evaluated without gradients).
    data, targets:
        The examples (anything :func:`~modcut.readers.activations.activation_graph`
        takes) and their class labels, shape ``(N,)`` (or a data set with ``.x`` and
        ``.y``, or a pair ``(x, y)``).
    labels, widths:
        The partition: a label per neuron of the weight graph (``-1``: none), in layer
        order, and its widths ``(n0, …, nL)``; sub-modules are the clusters of the hidden
        layers ``1 … L-1``.
    n_top:
        Top examples per sub-module (≤ the number of examples).
    n_random:
        Random same-size unit sets per sub-module.
    seed:
        Seed of the random sets (sub-module ``(layer, cluster)`` draws from its own stream).
    min_size, max_fraction:
        Sub-modules with fewer units, or more than this fraction of their layer, are
        skipped (the reference's 5 and 0.75).
    layers, pool, batch_size:
        Units' layers (default :func:`hidden_layer_names`), conv pooling, batch size.

    Raises
    ------
    ValueError
        ``n_top`` larger than the data, labels that do not fit the widths, layers whose
        units do not match the hidden widths, data that does not fit the model.
    """
    check_each(n_random=n_random, min_size=min_size)
    check("random_state", seed)
    if isinstance(n_top, bool) or not isinstance(n_top, (int, np.integer)) or n_top < 1:
        raise ValueError(f"n_top must be an int at least 1, got {n_top!r}")
    x, y = _targets(data, targets)
    n_examples = len(y)
    if n_top > n_examples:
        raise ValueError(
            f"n_top={n_top} is larger than the data ({n_examples} examples): ask for at most "
            f"{n_examples} top examples"
        )
    per_layer = split_by_layer(np.asarray(labels), widths)
    hidden = list(widths[1:-1])
    names = list(layers) if layers is not None else hidden_layer_names(model)
    rng_sets = []  # (layer, cluster, units, random sets)
    for li, lab in enumerate(per_layer[1:-1], start=1):
        for c in np.unique(lab[lab >= 0]):
            units = np.flatnonzero(lab == c)
            if units.size < min_size or units.size > max_fraction * lab.size:
                continue
            rng = np.random.default_rng([int(seed), li, int(c)])
            rand = [rng.choice(lab.size, size=units.size, replace=False) for _ in range(n_random)]
            rng_sets.append((li, int(c), units, rand))
    off = np.concatenate([[0], np.cumsum(hidden)])
    n_sets = len(rng_sets) * (1 + n_random)
    best_val = np.full((n_top, n_sets), -np.inf)
    best_idx = np.zeros((n_top, n_sets), dtype=np.int64)
    member = None
    seen = 0
    for _names, got_widths, acts in unit_activations(
        model, x, layers=names, pool=pool, batch_size=batch_size
    ):
        if member is None:
            if list(got_widths) != hidden:
                raise ValueError(
                    f"the layers {names} give {got_widths} units but the partition's hidden "
                    f"layers have {hidden}; pass layers= naming one module per hidden layer"
                )
            member = np.zeros((int(off[-1]), n_sets))
            col = 0
            for li, _c, units, rand in rng_sets:
                for s in [units, *rand]:
                    member[off[li - 1] + s, col] = 1.0
                    col += 1
        scores = np.abs(acts) @ member  # (batch, sets)
        idx = np.arange(seen, seen + acts.shape[0])[:, None].repeat(n_sets, axis=1)
        vals = np.concatenate([best_val, scores])
        inds = np.concatenate([best_idx, idx])
        keep = np.argsort(-vals, axis=0, kind="stable")[:n_top]
        best_val = np.take_along_axis(vals, keep, axis=0)
        best_idx = np.take_along_axis(inds, keep, axis=0)
        seen += acts.shape[0]
    if seen != n_examples:
        raise ValueError(f"the data has {seen} examples but {n_examples} labels")
    classes = np.unique(y)
    rows = []
    for k, (li, c, units, _rand) in enumerate(rng_sets):
        cols = best_idx[:, k * (1 + n_random) : (k + 1) * (1 + n_random)]
        ent = [entropy(np.array([np.sum(y[cols[:, j]] == cl) for cl in classes]) / n_top)
               for j in range(cols.shape[1])]  # fmt: skip
        true, rand_ent = float(ent[0]), np.asarray(ent[1:])
        with np.errstate(divide="ignore", invalid="ignore"):
            effect = float(np.mean(rand_ent) / true) if true > 0 else float("inf")
        rows.append(
            {
                "layer": li,
                "cluster": c,
                "size": int(units.size),
                "entropy": true,
                "random_entropy_mean": float(np.mean(rand_ent)),
                "percentile": rank_p(true, rand_ent, "left"),
                "effect_size": effect,
                "top_examples": cols[:, 0].tolist(),
            }
        )
    return CoherenceResult(
        rows,
        {
            "n_top": int(n_top),
            "n_random": int(n_random),
            "seed": int(seed),
            "layers": names,
            "pool": pool,
            "n_examples": int(n_examples),
            "min_size": int(min_size),
            "max_fraction": float(max_fraction),
        },
    )
