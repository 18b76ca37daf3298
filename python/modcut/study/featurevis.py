"""Coherence by feature visualisation (issue 20, item 3b; Hod et al. 2021,
``local_specialization/src/lucid.py``).

For each sub-module (one cluster in one hidden layer) and for ``n_random`` random unit sets
of the same size and layer, an input is optimised to maximise the mean pre-activation of
the set's units. All sets are optimised together as one batch (seeded start, Adam), so
the cost is one optimisation whatever the number of sub-modules. The network's
predictions on the optimised inputs are then scored as the reference did:

* **entropy** of the softmax prediction (low: the sub-module's preferred input looks like
  one class to the network);
* **dispersion**: the standard deviation of the set's (ReLU'd) activations on its input
  (low: its units are driven together);
* **objective**: the mean activation reached (high: the units can be driven together).

Per sub-module each is ranked among its random sets (:func:`modcut.lesion_results.rank_p`;
entropy and dispersion: small is coherent; objective: large is), and over all
sub-modules tested by χ² and Fisher (:func:`modcut.lesion_results.percentile_tests`), with
effect factors ``t / (t + mean r)``.

Regularisers (stated because they shape the inputs): the reference used Lucid's image
parametrisation and transforms; modcut optimises pixels directly with an L2 penalty
(``l2``, default 1e-3 · mean square), a total-variation penalty for image-shaped inputs
(``tv``, default 1e-3) and clamps the inputs to the data's range after every step; ``steps``
(default 128) Adam steps at ``lr`` 0.05 from uniform noise around the data's mean.
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
from modcut.readers.activations import check_layers
from modcut.study.coherence import hidden_layer_names

__all__ = ["FeatureVisResult", "feature_visualization"]


@dataclass
class FeatureVisResult:
    """Per sub-module: ``layer``, ``cluster``, ``size``, ``entropy``, ``dispersion``,
    ``objective``, their random sets' means and percentiles; ``inputs`` holds each
    sub-module's optimised input (``(n_submodules, *input_shape)``)."""

    rows: list[dict[str, Any]]
    inputs: np.ndarray
    settings: dict[str, Any] = field(default_factory=dict)

    def aggregate(self) -> dict[str, Any]:
        """χ² and Fisher tests of each measure's percentiles, and the mean effect factors."""
        n_random = int(self.settings.get("n_random", 0))
        out: dict[str, Any] = {"n_submodules": len(self.rows)}
        for m in ("entropy", "dispersion", "objective"):
            t = percentile_tests([r[f"{m}_percentile"] for r in self.rows], n_random)
            out.update({f"{k}_{m}": v for k, v in t.items()})
            eff = [r[f"{m}_effect"] for r in self.rows]
            out[f"mean_effect_{m}"] = float(np.mean(eff)) if eff else float("nan")
        return out

    def table(self) -> list[dict[str, Any]]:
        return list(self.rows)


def _tv(x: Any) -> Any:
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (
        x[..., :, 1:] - x[..., :, :-1]
    ).abs().mean()


def feature_visualization(
    model: Any,
    labels: Any,
    widths: Sequence[int],
    *,
    input_shape: Sequence[int],
    value_range: tuple[float, float] = (0.0, 1.0),
    n_random: int = 19,
    steps: int = 128,
    lr: float = 0.05,
    l2: float = 1e-3,
    tv: float = 1e-3,
    seed: int = 0,
    min_size: int = 5,
    max_fraction: float = 0.75,
    layers: Sequence[str] | None = None,
) -> FeatureVisResult:
    """Optimised inputs of every sub-module and of random unit sets, scored (module docs).

    Parameters
    ----------
    model:
        A classifier (``torch.nn.Module``; its outputs are logits).
    labels, widths:
        The partition over the weight graph's neurons and its widths, as for
        :func:`modcut.study.coherence.dataset_coherence`.
    input_shape:
        One example's shape without the batch axis (e.g. ``(784,)``).
    value_range:
        The data's range; inputs are clamped to it.
    n_random, steps, lr, l2, tv, seed, min_size, max_fraction, layers:
        Random sets per sub-module, optimisation, regularisers, seed, sub-module filters
        and the units' layers (default: the hidden weight layers' outputs).
    """
    import torch

    check_each(n_random=n_random, min_size=min_size)
    check("random_state", seed)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int at least 1, got {steps!r}")
    shape = tuple(int(d) for d in input_shape)
    if not shape or any(d < 1 for d in shape):
        raise ValueError(f"input_shape must give sizes of at least 1, got {input_shape!r}")
    names = list(layers) if layers is not None else hidden_layer_names(model)
    modules = check_layers(model, names)
    per_layer = split_by_layer(np.asarray(labels), widths)
    sets: list[
        tuple[int, int, np.ndarray]
    ] = []  # (layer index 1.., cluster, units) × (1 + n_random)
    subs: list[tuple[int, int, int]] = []
    for li, lab in enumerate(per_layer[1:-1], start=1):
        for c in np.unique(lab[lab >= 0]):
            units = np.flatnonzero(lab == c)
            if units.size < min_size or units.size > max_fraction * lab.size:
                continue
            rng = np.random.default_rng([int(seed), li, int(c), 7])
            subs.append((li, int(c), int(units.size)))
            sets.append((li, int(c), units))
            sets += [(li, int(c), rng.choice(lab.size, size=units.size, replace=False))
                     for _ in range(n_random)]  # fmt: skip
    if not sets:
        return FeatureVisResult([], np.zeros((0, *shape)), {"n_random": n_random})
    captured: dict[str, Any] = {}
    hooks = [modules[n].register_forward_hook(
        lambda _m, _i, out, n=n: captured.__setitem__(n, out)) for n in names]  # fmt: skip
    was_training = model.training
    model.eval()
    lo, hi = value_range
    gen = torch.Generator().manual_seed(int(seed))
    x = lo + (hi - lo) * (0.5 + 0.1 * (torch.rand((len(sets), *shape), generator=gen) - 0.5))
    x.requires_grad_(True)
    masks = []
    for li, _c, units in sets:
        m = torch.zeros(int(widths[li]))
        m[torch.as_tensor(units)] = 1.0 / len(units)
        masks.append((li, m))
    mask = [torch.stack([m if li == L else torch.zeros(int(widths[L])) for li, m in masks])
            for L in range(1, len(widths) - 1)]  # fmt: skip
    image = len(shape) >= 2
    opt = torch.optim.Adam([x], lr=lr)
    try:
        for _ in range(steps):
            opt.zero_grad()
            model(x)
            obj = sum(
                (_units(captured[names[L - 1]]) * mask[L - 1]).sum(dim=1)
                for L in range(1, len(widths) - 1)
            )
            loss = -obj.sum() + l2 * (x**2).mean() * len(sets)
            if image and tv > 0:
                loss = loss + tv * _tv(x) * len(sets)
            loss.backward()
            opt.step()
            with torch.no_grad():
                x.clamp_(lo, hi)
        with torch.no_grad():
            probs = torch.softmax(model(x), dim=1).double().numpy()
            final = [torch.relu(_units(captured[names[L - 1]])).double().numpy()
                     for L in range(1, len(widths) - 1)]  # fmt: skip
            objective = (
                sum(
                    (_units(captured[names[L - 1]]) * mask[L - 1]).sum(dim=1)
                    for L in range(1, len(widths) - 1)
                )
                .double()
                .numpy()
            )
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    ent = np.array([entropy(p) for p in probs])
    disp = np.array([final[li - 1][i, units].std() for i, (li, _c, units) in enumerate(sets)])
    rows = []
    step = 1 + n_random
    for k, (li, c, size) in enumerate(subs):
        j = k * step
        row: dict[str, Any] = {"layer": li, "cluster": c, "size": size}
        measures: list[tuple[str, np.ndarray, str]] = [
            ("entropy", ent, "left"),
            ("dispersion", disp, "left"),
            ("objective", objective, "right"),
        ]
        for measure, vals, side in measures:
            t, r = float(vals[j]), vals[j + 1 : j + step]
            row[measure] = t
            row[f"{measure}_random_mean"] = float(np.mean(r))
            row[f"{measure}_percentile"] = rank_p(t, r, side)
            with np.errstate(divide="ignore", invalid="ignore"):
                row[f"{measure}_effect"] = float(np.nan_to_num(t / (t + np.mean(r))))
        rows.append(row)
    inputs = x.detach().numpy()[::step]
    return FeatureVisResult(
        rows,
        inputs,
        {
            "n_random": n_random,
            "steps": steps,
            "lr": lr,
            "l2": l2,
            "tv": tv,
            "seed": seed,
            "layers": names,
            "value_range": [lo, hi],
        },
    )


def _units(a: Any) -> Any:
    """(batch, units): features, or a conv output pooled over positions by its mean."""
    return a if a.ndim == 2 else a.mean(dim=tuple(range(2, a.ndim)))
