"""Lesion tests of a network's clusters (method.md §6).

A *sub-module* is the set of neurons of one hidden layer that carry one
cluster label. Lesioning a set of neurons zeroes the weights into them, the
weights out of them and their biases, so that nothing they compute reaches the
output. This module measures how much a lesion hurts test accuracy (overall
and per class) and whether that is more than chance:

* :func:`single_lesion_test` lesions each sub-module in turn and compares the
  accuracy drop with a null of ``n_random`` random lesions of the same size in
  the same layer (importance: empirical p-value, percentile, z-score);
* :func:`double_lesion_test` lesions pairs of sub-modules in different layers
  and compares the joint drop with the two single drops.

Conventions
-----------
Neuron layers are numbered as in :class:`modcut.Network`: layer 0 is the input,
layer ``L`` the output, layers ``1 … L-1`` are hidden. Neuron layer ``l`` is
the output of the ``(l-1)``-th module of
:func:`modcut.readers.extract.layer_modules` and the input of the ``l``-th.
For convolutional layers a neuron is a channel; where a flatten connects a
conv layer to a Linear layer, channel ``c`` owns the Linear inputs
``c·r … (c+1)·r - 1`` (``r`` = positions per channel, channels-first flatten).

Only hidden layers can be lesioned. Neurons labelled ``-1`` (isolated, e.g.
pruned away) belong to no sub-module and are never drawn for random lesions,
which would otherwise look harmless for free.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modcut._layers import split_by_layer
from modcut._optional import progress_bar, require
from modcut._params import check, check_each
from modcut.lesion_results import (
    DoubleLesion,
    DoubleLesionResult,
    SingleLesion,
    SingleLesionResult,
    importance_statistics,
)

require("torch", extra="torch", purpose="modcut.study.lesion (lesion tests of PyTorch models)")

import torch  # noqa: E402  (after the check that names the extra)
from torch import nn  # noqa: E402

__all__ = [
    "DoubleLesion",
    "DoubleLesionResult",
    "LesionEvaluator",
    "SingleLesion",
    "SingleLesionResult",
    "SubModule",
    "double_lesion_test",
    "importance_statistics",
    "lesion",
    "lesion_groups",
    "single_lesion_test",
    "submodules",
]

#: Default smallest sub-module, in neurons. With ``MIN_FRACTION`` this follows
#: the reference's habit of ignoring clusters that barely touch a layer: a
#: 256-wide layer needs ``max(3, ceil(0.05 · 256)) = 13`` neurons of a cluster.
MIN_SIZE = 3
#: Default smallest sub-module as a fraction of the layer's clustered neurons.
MIN_FRACTION = 0.05

Group = tuple[int, np.ndarray]
"""A lesion target: ``(neuron layer, neuron indices within that layer)``."""


# --------------------------------------------------------------------------- sub-modules


@dataclass(frozen=True)
class SubModule:
    """The neurons of one hidden layer that carry one cluster label.

    Attributes
    ----------
    layer:
        Neuron layer (1 … L-1).
    cluster:
        Cluster label.
    neurons:
        Sorted indices within the layer, int64, shape ``(size,)``.
    """

    layer: int
    cluster: int
    neurons: np.ndarray = field(compare=False)

    @property
    def size(self) -> int:
        return int(self.neurons.shape[0])

    @property
    def name(self) -> str:
        """Short label, e.g. ``"L2:C7"`` (layer 2, cluster 7)."""
        return f"L{self.layer}:C{self.cluster}"


def submodules(
    labels: Any,
    widths: Sequence[int],
    *,
    min_size: int = MIN_SIZE,
    min_fraction: float = MIN_FRACTION,
) -> list[SubModule]:
    """Split every hidden layer by cluster label.

    Parameters
    ----------
    labels:
        Cluster label per neuron, shape ``(sum(widths),)``, layer order
        (``ClusterabilityResult.labels``); ``-1`` = isolated, ignored.
    widths:
        Neurons per layer ``(n0, …, nL)``.
    min_size, min_fraction:
        Skip tiny sub-modules: keep one only if it has at least
        ``max(min_size, ceil(min_fraction · m))`` neurons, where ``m`` is the
        number of clustered (label ≥ 0) neurons of its layer. Defaults 3 and
        0.05: a cluster must own 5% of a layer to be lesioned as a unit.

    Returns
    -------
    Sub-modules ordered by layer, then cluster label.
    """
    check_each(min_size=min_size, min_fraction=min_fraction)
    per_layer = split_by_layer(labels, widths)
    out: list[SubModule] = []
    for layer in range(1, len(per_layer) - 1):
        lab = per_layer[layer]
        alive = int(np.count_nonzero(lab >= 0))
        threshold = max(int(min_size), math.ceil(min_fraction * alive))
        for c in np.unique(lab[lab >= 0]):
            neurons = np.flatnonzero(lab == c).astype(np.int64)
            if neurons.shape[0] >= threshold:
                out.append(SubModule(layer, int(c), neurons))
    return out


# --------------------------------------------------------------------------- lesioning


def _layer_modules(model: nn.Module) -> list[nn.Module]:
    from modcut.readers.extract import layer_modules

    return list(layer_modules(model))


def _positions_per_unit(module: nn.Module, width: int, side: str) -> int:
    """How many of ``module``'s inputs (``side='in'``) belong to one neuron of a layer of ``width``."""
    if isinstance(module, nn.Linear):
        n = module.in_features if side == "in" else module.out_features
    elif isinstance(module, nn.Conv2d):
        n = module.in_channels if side == "in" else module.out_channels
    else:
        raise TypeError(f"cannot lesion through a {type(module).__name__}; expected Linear/Conv2d")
    if n % width:
        raise ValueError(
            f"{type(module).__name__} has {n} {side}puts, not a multiple of the layer width {width}"
        )
    return n // width


def _expand(neurons: np.ndarray, per_unit: int) -> torch.Tensor:
    """Neuron indices → input indices of the next module (channels-first flatten)."""
    idx = torch.as_tensor(np.asarray(neurons, dtype=np.int64))
    if per_unit == 1:
        return idx
    return (idx[:, None] * per_unit + torch.arange(per_unit)[None, :]).reshape(-1)


def _check_groups(modules: Sequence[nn.Module], groups: Sequence[Group]) -> list[Group]:
    n_layers = len(modules) + 1
    out: list[Group] = []
    for layer, neurons in groups:
        layer = int(layer)
        if not 1 <= layer <= n_layers - 2:
            raise ValueError(f"can only lesion hidden layers 1 … {n_layers - 2}, got layer {layer}")
        idx = np.unique(np.asarray(neurons, dtype=np.int64).reshape(-1))
        width = _out_width(modules[layer - 1])
        if idx.size and (idx[0] < 0 or idx[-1] >= width):
            raise ValueError(f"neuron indices out of range for layer {layer} of width {width}")
        out.append((layer, idx))
    return out


def _out_width(module: nn.Module) -> int:
    if isinstance(module, nn.Linear):
        return int(module.out_features)
    if isinstance(module, nn.Conv2d):
        return int(module.out_channels)
    raise TypeError(f"cannot lesion through a {type(module).__name__}; expected Linear/Conv2d")


@contextlib.contextmanager
def lesion_groups(model: nn.Module, groups: Sequence[Group]) -> Iterator[nn.Module]:
    """Lesion several neuron sets at once, in place, restoring the weights on exit.

    Parameters
    ----------
    model:
        A plain ``nn.Module`` (no pruning re-parametrisation: pass the model of
        ``harness.train.load_checkpoint``, whose masks are applied).
    groups:
        ``(layer, neurons)`` pairs: neuron layer ``1 … L-1`` and indices within it.

    Yields
    ------
    The same ``model``, with, for every group, the rows of the producing
    module's weight (``weight[neurons]``) and bias, and the columns of the
    consuming module's weight (``weight[:, neurons]``, expanded per position
    after a flatten) set to zero.
    """
    modules = _layer_modules(model)
    checked = _check_groups(modules, groups)
    for m in modules:
        if hasattr(m, "weight_orig"):
            raise ValueError(
                "the model still carries torch pruning re-parametrisations (weight_orig); "
                "apply the masks first (torch.nn.utils.prune.remove)"
            )
    saved: list[tuple[torch.Tensor, Any, torch.Tensor]] = []  # (tensor, index, old values)
    try:
        with torch.no_grad():
            for layer, neurons in checked:
                if neurons.size == 0:
                    continue
                width = _out_width(modules[layer - 1])
                src, dst = modules[layer - 1], modules[layer]
                rows = torch.as_tensor(neurons)
                targets: list[tuple[Any, Any]] = [(src.weight, rows)]
                if getattr(src, "bias", None) is not None:
                    targets.append((src.bias, rows))
                cols = _expand(neurons, _positions_per_unit(dst, width, "in"))
                targets.append((dst.weight, (slice(None), cols)))
                for tensor, index in targets:
                    saved.append((tensor, index, tensor[index].clone()))
                    tensor[index] = 0.0
        yield model
    finally:
        with torch.no_grad():
            # restore in reverse order so overlapping groups end at the original values
            for tensor, index, values in reversed(saved):
                tensor[index] = values


@contextlib.contextmanager
def lesion(model: nn.Module, layer: int, neurons: Any) -> Iterator[nn.Module]:
    """Lesion ``neurons`` (indices within neuron layer ``layer``) of ``model``, in place.

    Zeroes their incoming weights, biases and outgoing weights for the
    duration of the ``with`` block and restores them afterwards::

        with lesion(model, 2, [3, 17, 40]):
            acc = evaluate(model, data)

    See :func:`lesion_groups` for details.
    """
    with lesion_groups(model, [(layer, np.asarray(neurons))]) as m:
        yield m


# --------------------------------------------------------------------------- evaluation


def _leaves(module: nn.Module) -> list[nn.Module]:
    children = list(module.children())
    if not children:
        return [module]
    out: list[nn.Module] = []
    for c in children:
        out.extend(_leaves(c))
    return out


def _run_leaves(leaves: Sequence[nn.Module], h: torch.Tensor) -> torch.Tensor:
    for leaf in leaves:
        if isinstance(leaf, nn.Linear) and h.ndim > 2:
            h = h.flatten(1)
        h = leaf(h)
    return h


class LesionEvaluator:
    """Accuracy of a classifier under lesions, on a fixed evaluation set.

    Parameters
    ----------
    model:
        The classifier; put in eval mode while evaluating (its mode is
        restored by :meth:`close`).
    x:
        Inputs, shape ``(N, …)`` as the model takes them.
    y:
        Integer class labels, shape ``(N,)``.
    n_classes:
        Number of classes (default: ``max(y) + 1``).
    batch_size:
        Samples per forward pass.
    fast:
        Use the cached fast path when the model allows it (see below).

    Fast path: when the model's computation is the sequence of its leaf
    modules (an ``nn.Sequential``, possibly nested, with an implicit flatten
    before the first Linear layer) — checked numerically on the first batch —
    the evaluator caches each layer module's input and output for the intact
    model. A lesion of layer ``l`` then starts from the cached output of module
    ``l`` with the low-rank correction ``- x[:, S] @ W[:, S]ᵀ`` and runs only
    the layers after it. Without the cache (``fast=False``, conv inputs too
    large, or a custom ``forward``) every lesion runs the whole model with its
    weights zeroed. Both give the same logits up to float rounding.
    """

    def __init__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        n_classes: int | None = None,
        batch_size: int = 8192,
        fast: bool = True,
        cache_limit_bytes: int = 1 << 30,
    ) -> None:
        self.model = model
        self._was_training = model.training
        model.eval()
        param = next(iter(model.parameters()), None)
        device = param.device if param is not None else torch.device("cpu")
        self.x = torch.as_tensor(x).to(device)
        self.y_np = np.asarray(torch.as_tensor(y).cpu().numpy(), dtype=np.int64)
        if self.y_np.ndim != 1 or self.y_np.shape[0] != self.x.shape[0]:
            raise ValueError(f"y must have shape ({self.x.shape[0]},), got {self.y_np.shape}")
        if self.y_np.size == 0:
            raise ValueError("the evaluation set is empty")
        self.n_classes = int(n_classes if n_classes is not None else self.y_np.max() + 1)
        self.class_counts = np.bincount(self.y_np, minlength=self.n_classes)
        self.batch_size = int(batch_size)
        self.modules = _layer_modules(model)
        self.widths = self._widths()
        self._starts = list(range(0, self.x.shape[0], self.batch_size))
        self._cache_in: list[list[torch.Tensor]] | None = None
        self._cache_out: list[list[torch.Tensor]] | None = None
        self._after: list[list[nn.Module]] = []
        if fast:
            self._build_cache(cache_limit_bytes)

    # -- structure

    def _widths(self) -> tuple[int, ...]:
        first = self.modules[0]
        if isinstance(first, nn.Linear):
            w0 = int(first.in_features)
        elif isinstance(first, nn.Conv2d):
            w0 = int(first.in_channels)
        else:
            raise TypeError(f"unsupported layer module {type(first).__name__}")
        return (w0, *(_out_width(m) for m in self.modules))

    @property
    def fast(self) -> bool:
        """Whether lesions use the cached fast path."""
        return self._cache_in is not None

    def _build_cache(self, limit: int) -> None:
        leaves = _leaves(self.model)
        pos = []
        for m in self.modules:
            hits = [i for i, leaf in enumerate(leaves) if leaf is m]
            if len(hits) != 1:
                return
            pos.append(hits[0])
        if pos != sorted(pos):
            return
        with torch.no_grad():
            probe = self.x[: min(256, self.x.shape[0])]
            try:
                ref = self.model(probe)
                got = _run_leaves(leaves, probe)
            except Exception:  # a model whose leaves do not chain: no fast path
                return
            if ref.shape != got.shape or not torch.allclose(ref, got, rtol=1e-4, atol=1e-5):
                return
            # size of the cache, from the probe's per-sample sizes
            per_sample = sum(
                (a[0].numel() + b[0].numel()) * b.element_size()
                for a, b in zip(*self._run_caching(leaves, pos, probe), strict=True)
            )
            if per_sample * self.x.shape[0] > limit:
                return
            cache_in: list[list[torch.Tensor]] = [[] for _ in self.modules]
            cache_out: list[list[torch.Tensor]] = [[] for _ in self.modules]
            for s in self._starts:
                ins, outs = self._run_caching(leaves, pos, self.x[s : s + self.batch_size])
                for j in range(len(pos)):
                    cache_in[j].append(ins[j])
                    cache_out[j].append(outs[j])
        self._cache_in, self._cache_out = cache_in, cache_out
        self._after = [leaves[p + 1 :] for p in pos]

    @staticmethod
    def _run_caching(
        leaves: Sequence[nn.Module], pos: Sequence[int], x: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Run ``x`` through ``leaves``; return the input and output of the leaves at ``pos``."""
        ins: list[torch.Tensor] = []
        outs: list[torch.Tensor] = []
        h = x
        for i, leaf in enumerate(leaves):
            if isinstance(leaf, nn.Linear) and h.ndim > 2:
                h = h.flatten(1)
            if len(ins) < len(pos) and i == pos[len(ins)]:
                ins.append(h)
                h = leaf(h)
                outs.append(h)
            else:
                h = leaf(h)
        return ins, outs

    def close(self) -> None:
        """Drop the cache and restore the model's train/eval mode."""
        self._cache_in = self._cache_out = None
        self.model.train(self._was_training)

    # -- evaluation

    def _predictions(self, groups: Sequence[Group]) -> np.ndarray:
        groups = [(int(layer), np.asarray(n, dtype=np.int64)) for layer, n in groups]
        groups = [(layer, n) for layer, n in groups if n.size]
        preds: list[torch.Tensor] = []
        with torch.no_grad():
            if not groups or self._cache_in is None or self._cache_out is None:
                with lesion_groups(self.model, groups) if groups else contextlib.nullcontext():
                    for s in self._starts:
                        preds.append(self.model(self.x[s : s + self.batch_size]).argmax(1))
            else:
                first = min(layer for layer, _ in groups)
                mod = self.modules[first]  # consumes neuron layer `first`
                cols = _expand(
                    np.unique(np.concatenate([n for layer, n in groups if layer == first])),
                    _positions_per_unit(mod, self.widths[first], "in"),
                )
                w_cols = mod.weight[:, cols] if isinstance(mod, nn.Linear) else None
                with lesion_groups(self.model, groups):
                    for b in range(len(self._starts)):
                        inp = self._cache_in[first][b]
                        if w_cols is not None:
                            h = self._cache_out[first][b] - inp[:, cols] @ w_cols.T
                        else:
                            masked = inp.clone()
                            masked[:, cols] = 0.0
                            h = mod(masked)
                        for layer, n in groups:
                            if layer == first + 1:  # rows of `mod` lesioned: outputs exactly 0
                                h[:, torch.as_tensor(n)] = 0.0
                        preds.append(_run_leaves(self._after[first], h).argmax(1))
        return torch.cat(preds).cpu().numpy()

    def accuracy(self, groups: Sequence[Group] = ()) -> tuple[float, np.ndarray]:
        """Accuracy with ``groups`` lesioned: ``(overall, per_class[n_classes])``.

        Classes absent from the evaluation set get ``nan``.
        """
        pred = self._predictions(groups)
        correct = pred == self.y_np
        hits = np.bincount(self.y_np, weights=correct, minlength=self.n_classes)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_class = np.asarray(hits / self.class_counts, dtype=np.float64)
        return float(correct.mean()), per_class


# --------------------------------------------------------------------------- statistics


# --------------------------------------------------------------------------- single lesions


def _alive_by_layer(labels: Any, widths: Sequence[int]) -> list[np.ndarray]:
    return [np.flatnonzero(lab >= 0).astype(np.int64) for lab in split_by_layer(labels, widths)]


def _as_evaluator(
    model: nn.Module | LesionEvaluator,
    x: Any,
    y: Any,
    n_classes: int | None,
    batch_size: int,
) -> tuple[LesionEvaluator, bool]:
    if isinstance(model, LesionEvaluator):
        return model, False
    if x is None or y is None:
        raise ValueError("pass x and y (the evaluation set) with a model")
    return LesionEvaluator(model, x, y, n_classes=n_classes, batch_size=batch_size), True


def single_lesion_test(
    model: nn.Module | LesionEvaluator,
    x: Any,
    y: Any,
    labels: Any,
    widths: Sequence[int],
    *,
    n_random: int = 100,
    seed: int = 0,
    min_size: int = MIN_SIZE,
    min_fraction: float = MIN_FRACTION,
    modules: Sequence[SubModule] | None = None,
    n_classes: int | None = None,
    batch_size: int = 8192,
    progress: bool | None = None,
) -> SingleLesionResult:
    """Lesion every sub-module and compare with random lesions of the same size.

    Parameters
    ----------
    model:
        The trained classifier (plain ``nn.Module``), or a :class:`LesionEvaluator`
        (then ``x``, ``y``, ``n_classes``, ``batch_size`` are ignored).
    x, y:
        Evaluation set: inputs ``(N, …)`` and integer labels ``(N,)`` (the test set).
    labels, widths:
        The clustering: a label per neuron of all layers (``ClusterabilityResult.labels``)
        and the layer widths; they must describe ``model``.
    n_random:
        Random lesions per sub-module (null size): uniform draws without
        replacement of ``size`` neurons among the clustered (label ≥ 0) neurons
        of the same layer.
    seed:
        Seed of the NumPy generators that draw the random lesions; a sub-module's
        draws come from the stream ``(seed, layer, cluster)``, so they do not
        depend on which other sub-modules are tested.
    min_size, min_fraction:
        Tiny sub-modules skipped, see :func:`submodules`.
    modules:
        Lesion these sub-modules instead of ``submodules(labels, widths, …)``.

    Returns
    -------
    SingleLesionResult
    """
    check("n_random", n_random)
    ev, own = _as_evaluator(model, x, y, n_classes, batch_size)
    try:
        if tuple(int(w) for w in widths) != ev.widths:
            raise ValueError(
                f"the clustering has widths {tuple(widths)} but the model has {ev.widths}"
            )
        subs = (
            list(modules)
            if modules is not None
            else submodules(labels, widths, min_size=min_size, min_fraction=min_fraction)
        )
        alive = _alive_by_layer(labels, widths)
        base, base_pc = ev.accuracy(())
        results: list[SingleLesion] = []
        iterator = progress_bar(
            progress, subs, desc="single lesions", unit="sub-module", leave=False
        )
        for sub in iterator:
            acc, pc = ev.accuracy([(sub.layer, sub.neurons)])
            rng = np.random.default_rng([int(seed), sub.layer, sub.cluster])
            pool = alive[sub.layer]
            null = np.empty(n_random)
            null_pc = np.zeros(ev.n_classes)
            null_pcs = np.empty((n_random, ev.n_classes))
            for r in range(n_random):
                pick = rng.choice(pool, size=min(sub.size, pool.size), replace=False)
                a_r, pc_r = ev.accuracy([(sub.layer, pick)])
                null[r] = base - a_r
                null_pcs[r] = base_pc - pc_r
                null_pc += null_pcs[r]
            stats = importance_statistics(base - acc, null)
            results.append(
                SingleLesion(
                    layer=sub.layer,
                    cluster=sub.cluster,
                    neurons=sub.neurons,
                    accuracy=acc,
                    drop=base - acc,
                    per_class_drop=base_pc - pc,
                    null_drops=null,
                    null_per_class_drop=null_pc / n_random,
                    null_per_class_drops=null_pcs,
                    **stats,
                )
            )
    finally:
        if own:
            ev.close()
    return SingleLesionResult(
        base_accuracy=base,
        base_per_class=base_pc,
        lesions=results,
        settings={
            "n_random": int(n_random),
            "seed": int(seed),
            "min_size": int(min_size),
            "min_fraction": float(min_fraction),
            "n_samples": int(ev.y_np.shape[0]),
            "n_submodules": len(results),
        },
    )


# --------------------------------------------------------------------------- double lesions


def double_lesion_test(
    model: nn.Module | LesionEvaluator,
    x: Any,
    y: Any,
    labels: Any,
    widths: Sequence[int],
    *,
    single: SingleLesionResult | None = None,
    max_submodules: int | None = 16,
    n_random: int = 0,
    seed: int = 0,
    min_size: int = MIN_SIZE,
    min_fraction: float = MIN_FRACTION,
    n_classes: int | None = None,
    batch_size: int = 8192,
    progress: bool | None = None,
) -> DoubleLesionResult:
    """Lesion pairs of sub-modules in different layers.

    Parameters
    ----------
    model, x, y, labels, widths:
        As for :func:`single_lesion_test`.
    single:
        A finished single-lesion test of the same model and clustering; its
        sub-modules and drops are reused (otherwise single drops are measured
        here, without a null).
    max_submodules:
        Pair only the ``max_submodules`` sub-modules with the largest single
        drop (``None``: all). The number of pairs grows quadratically.
    n_random:
        Random double lesions per pair (same sizes, same two layers, drawn from
        clustered neurons) for a null of the joint drop; 0 = no null.
    seed:
        Seed for the random lesions (a pair draws from the stream
        ``(seed, layer_a, cluster_a, layer_b, cluster_b)``).

    Returns
    -------
    DoubleLesionResult
    """
    check("n_random", n_random, rule="n_random_double")
    ev, own = _as_evaluator(model, x, y, n_classes, batch_size)
    try:
        alive = _alive_by_layer(labels, widths)
        base, base_pc = ev.accuracy(())
        if single is not None:
            subs = [SubModule(s.layer, s.cluster, s.neurons) for s in single.lesions]
            drops = {s.name: s.drop for s in single.lesions}
        else:
            subs = submodules(labels, widths, min_size=min_size, min_fraction=min_fraction)
            drops = {s.name: base - ev.accuracy([(s.layer, s.neurons)])[0] for s in subs}
        if max_submodules is not None and len(subs) > max_submodules:
            keep = sorted(subs, key=lambda s: -drops[s.name])[:max_submodules]
            subs = [s for s in subs if s in keep]
        pairs = [(a, b) for i, a in enumerate(subs) for b in subs[i + 1 :] if a.layer != b.layer]
        iterator = progress_bar(progress, pairs, desc="double lesions", unit="pair", leave=False)
        out: list[DoubleLesion] = []
        for a, b in iterator:
            acc, pc = ev.accuracy([(a.layer, a.neurons), (b.layer, b.neurons)])
            joint = base - acc
            null = np.empty(n_random)
            rng = np.random.default_rng([int(seed), a.layer, a.cluster, b.layer, b.cluster])
            for r in range(n_random):
                pa = rng.choice(
                    alive[a.layer], size=min(a.size, alive[a.layer].size), replace=False
                )
                pb = rng.choice(
                    alive[b.layer], size=min(b.size, alive[b.layer].size), replace=False
                )
                null[r] = base - ev.accuracy([(a.layer, pa), (b.layer, pb)])[0]
            stats = importance_statistics(joint, null) if n_random else {}
            out.append(
                DoubleLesion(
                    a=a.name,
                    b=b.name,
                    layer_a=a.layer,
                    cluster_a=a.cluster,
                    layer_b=b.layer,
                    cluster_b=b.cluster,
                    size_a=a.size,
                    size_b=b.size,
                    drop_a=drops[a.name],
                    drop_b=drops[b.name],
                    joint_drop=joint,
                    interaction=joint - drops[a.name] - drops[b.name],
                    per_class_joint_drop=base_pc - pc,
                    null_drops=null,
                    **stats,
                )
            )
    finally:
        if own:
            ev.close()
    return DoubleLesionResult(
        base_accuracy=base,
        submodules=[s.name for s in subs],
        pairs=out,
        settings={
            "n_random": int(n_random),
            "seed": int(seed),
            "max_submodules": max_submodules,
            "n_samples": int(ev.y_np.shape[0]),
            "n_pairs": len(out),
        },
    )
