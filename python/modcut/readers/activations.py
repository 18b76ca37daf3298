"""Activation graphs: hidden units joined by how alike they respond over a data set.

Hod, Filan, Casper, Critch and Russell ("Quantifying Local Specialization in Deep Neural
Networks", 2021; thestephencasper/local_specialization, ``src/activations.py``) partition
neurons not only from their weights but from their *activations*: two units are joined by
the squared correlation ``r²`` of their activations over a data set (diagonal 0, NaN → 0).
:func:`activation_graph` builds that graph as a :class:`~modcut.Network` that
:func:`modcut.cluster`, :func:`modcut.ncut`, :func:`modcut.clusterability` and the reports
take like any other: one node group per layer, an edge group within each layer (strictly
upper triangular) and one between every pair of layers.

* **Units.** The outputs of ``layers`` (module names; default: every activation module,
  ``nn.ReLU``, ``nn.GELU``, …, in forward order, i.e. the hidden units after their
  nonlinearity, as the reference's Keras layers with ``activation="relu"``). A 2-D output
  ``(batch, features)`` gives one unit per feature; a 4-D output ``(batch, channels, H, W)``
  one unit per channel, its spatial positions pooled by ``pool``: ``"reference"`` (the
  reference's ``np.linalg.norm(a, ord=1, axis=(H, W))``, which NumPy computes as the
  matrix 1-norm: the largest column sum ``max_w Σ_h |a[h, w]|``), ``"l1"`` (``Σ |a|``) or
  ``"mean"``.
* **Correlations, streamed.** ``corr="pearson"`` accumulates, batch by batch in float64,
  the count, the sums and the cross-products of the activations shifted by the first
  batch's means (so the cancellation of a raw second moment does not cost precision):
  memory ``O(units²)``, never ``O(units × examples)``. ``corr="spearman"`` is Pearson's on
  ranks (ties averaged, as ``scipy.stats.spearmanr``); ranks need every example of a unit,
  so the activations go to a temporary memory-mapped file on disk (not to memory), are
  ranked a block of units at a time, and then streamed as for Pearson.
* **Constant units** (no variance over the data) have no correlation: they get no edges
  (isolated, so :func:`modcut.cluster` labels them ``-1``); NaN never reaches the graph.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modcut._optional import require

require("torch", extra="torch", purpose="modcut.activation_graph (running the model)")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from modcut.network import Network, NodeGroup  # noqa: E402

__all__ = [
    "ACTIVATIONS",
    "CorrelationAccumulator",
    "activation_graph",
    "activation_layers",
    "check_layers",
    "unit_activations",
]

#: Module types whose outputs are hidden units by default.
ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.ELU,
    nn.GELU,
    nn.SiLU,
    nn.Tanh,
    nn.Sigmoid,
    nn.Softplus,
    nn.Mish,
)
POOLS = ("reference", "l1", "mean")
CORRS = ("pearson", "spearman")


def activation_layers(model: nn.Module) -> list[str]:
    """Names of the activation modules of ``model`` (the default units' layers), in
    registration order; a module used twice (``self.relu`` applied after every layer) is
    refused by :func:`unit_activations`, which sees it called more than once."""
    return [name for name, m in model.named_modules() if isinstance(m, ACTIVATIONS)]


def check_layers(model: nn.Module, names: Sequence[str]) -> dict[str, nn.Module]:
    """The modules of ``model`` named ``names``; a name it does not have is a ``ValueError``
    listing the names it has."""
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise ValueError(
            f"no layer named {missing[0]!r} in {type(model).__name__}; its modules are: "
            + ", ".join(repr(n) for n in modules if n)
        )
    return {n: modules[n] for n in names}


def _batches(data: Any, batch_size: int) -> Iterator[torch.Tensor]:
    """Input batches of ``data``: a tensor or array ``(N, …)``, an object with ``.x``
    (modcut's data sets), or an iterable of batches (tensors, or ``(x, y)`` pairs)."""
    if hasattr(data, "x") and not isinstance(data, (torch.Tensor, np.ndarray)):
        data = data.x
    if isinstance(data, np.ndarray):
        data = torch.from_numpy(np.ascontiguousarray(data))
    if isinstance(data, torch.Tensor):
        if data.ndim < 1 or data.shape[0] == 0:
            raise ValueError(f"the data set is empty (shape {tuple(data.shape)})")
        for i in range(0, data.shape[0], batch_size):
            yield data[i : i + batch_size]
        return
    if isinstance(data, Iterable):
        for b in data:
            x = b[0] if isinstance(b, (tuple, list)) else b
            yield torch.as_tensor(x)
        return
    raise TypeError(
        "data must be a tensor or array of inputs (N, …), a data set with .x, or an "
        f"iterable of batches; got {type(data).__name__}"
    )


def _pool(a: torch.Tensor, pool: str, name: str) -> torch.Tensor:
    if a.ndim == 2:
        return a
    if a.ndim != 4:
        raise ValueError(
            f"layer {name!r} outputs shape {tuple(a.shape)}; units are read from (batch, "
            "features) or (batch, channels, height, width) outputs"
        )
    if pool == "mean":
        return a.mean(dim=(2, 3))
    if pool == "l1":
        return a.abs().sum(dim=(2, 3))
    return a.abs().sum(dim=2).amax(dim=2)  # NumPy's matrix 1-norm over (H, W)


def unit_activations(
    model: nn.Module,
    data: Any,
    *,
    layers: Sequence[str] | None = None,
    pool: str = "reference",
    batch_size: int = 256,
) -> Iterator[tuple[list[str], list[int], np.ndarray]]:
    """Run ``model`` over ``data`` and yield, per batch, ``(layer names, units per layer,
    activations (batch, units) float64)`` (units of all layers side by side, in layer
    order). The model is evaluated in ``eval()`` mode without gradients (its mode is
    restored afterwards).

    Raises
    ------
    ValueError
        A layer name that does not exist (the available names are listed), no activation
        module to take units from, a module called more than once per forward pass, an
        unknown ``pool``, or data whose shape does not fit the model (naming the shape).
    """
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {', '.join(map(repr, POOLS))}, got {pool!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int at least 1, got {batch_size!r}")
    modules = dict(model.named_modules())
    names = list(layers) if layers is not None else activation_layers(model)
    if not names:
        raise ValueError(
            f"{type(model).__name__} has no activation module ({', '.join(t.__name__ for t in ACTIVATIONS[:4])}, "
            "…) to take hidden units from; pass layers=[module names] (e.g. "
            f"{[n for n in modules if n][:5]})"
        )
    check_layers(model, names)
    captured: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    hooks = []
    for n in names:

        def hook(_m: nn.Module, _i: Any, out: Any, n: str = n) -> None:
            captured[n].append(out if isinstance(out, torch.Tensor) else out[0])

        hooks.append(modules[n].register_forward_hook(hook))
    was_training = model.training
    model.eval()
    widths: list[int] | None = None
    try:
        with torch.no_grad():
            for x in _batches(data, batch_size):
                for v in captured.values():
                    v.clear()
                try:
                    model(x)
                except (RuntimeError, ValueError, TypeError, IndexError) as exc:
                    raise ValueError(
                        f"the data does not fit {type(model).__name__}: inputs of shape "
                        f"{tuple(x.shape)} (batch first) raise {type(exc).__name__}: "
                        f"{str(exc).splitlines()[0][:200]}"
                    ) from None
                parts = []
                for n in names:
                    if len(captured[n]) != 1:
                        raise ValueError(
                            f"layer {n!r} ran {len(captured[n])} times in one forward pass; "
                            "a module used at several places (or not at all) has no single "
                            "set of units: pass layers= naming modules used once"
                        )
                    parts.append(_pool(captured[n][0].detach(), pool, n).double().cpu())
                acts = torch.cat(parts, dim=1).numpy()
                if widths is None:
                    widths = [p.shape[1] for p in parts]
                yield names, widths, acts
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)


@dataclass
class CorrelationAccumulator:
    """Pearson correlations of ``n_units`` variables from batches of observations, in
    float64 and ``O(n_units²)`` memory: the count, and the sums and cross-products of the
    observations minus a shift (the first batch's means)."""

    n_units: int

    def __post_init__(self) -> None:
        self.n = 0
        self.shift: np.ndarray | None = None
        self.s1 = np.zeros(self.n_units)
        self.s2 = np.zeros((self.n_units, self.n_units))

    def add(self, x: np.ndarray) -> None:
        """Observations ``x`` of shape ``(batch, n_units)``."""
        x = np.asarray(x, dtype=np.float64)
        if self.shift is None:
            self.shift = x.mean(axis=0)
        d = x - self.shift
        self.n += x.shape[0]
        self.s1 += d.sum(axis=0)
        self.s2 += d.T @ d

    def correlation(self) -> np.ndarray:
        """The correlation matrix; rows and columns of constant units are 0 (diagonal 1
        for the others). Needs at least 2 observations."""
        if self.n < 2:
            raise ValueError(f"correlations need at least 2 examples, got {self.n}")
        mean = self.s1 / self.n
        cov = (self.s2 - self.n * np.outer(mean, mean)) / (self.n - 1)
        var = np.diag(cov).copy()
        scale = np.abs(self.s2).max(initial=0.0) / self.n
        live = var > max(scale, 1e-300) * 1e-12  # zero variance up to rounding: constant
        sd = np.sqrt(np.where(live, var, 1.0))
        r = cov / np.outer(sd, sd)
        r[~live, :] = 0.0
        r[:, ~live] = 0.0
        return np.clip(r, -1.0, 1.0)


def _rank_columns(mm: np.ndarray, block: int) -> None:
    from scipy.stats import rankdata

    for j in range(0, mm.shape[1], block):
        mm[:, j : j + block] = rankdata(mm[:, j : j + block], axis=0)


def activation_graph(
    model: nn.Module,
    data: Any,
    *,
    corr: str = "pearson",
    layers: Sequence[str] | None = None,
    pool: str = "reference",
    batch_size: int = 256,
) -> Network:
    """The activation-correlation graph of ``model``'s hidden units over ``data``.

    Parameters
    ----------
    model:
        A ``torch.nn.Module`` (evaluated without gradients, in ``eval()`` mode).
    data:
        Inputs ``(N, …)`` as a tensor or array, a data set with ``.x`` (modcut's), or an
        iterable of batches (tensors or ``(x, y)`` pairs). At least 2 examples.
    corr:
        ``"pearson"`` or ``"spearman"`` (ranks; ties averaged).
    layers:
        Module names whose outputs are the units (default: every activation module).
    pool:
        How a conv layer's spatial positions make one value per channel (module docs).
    batch_size:
        Examples per forward pass (tensors and arrays).

    Returns
    -------
    A :class:`modcut.Network`: node group ``l`` = the units of ``layers[l]``; edge weight
    ``r²`` between every two units (within a layer: a strictly upper triangular edge group;
    between layers: a full one). Provenance: ``kind="activations"``, ``corr``, ``pool``,
    ``layers``, ``n_examples``, ``constant_units``.
    """
    if corr not in CORRS:
        raise ValueError(f"corr must be one of {', '.join(map(repr, CORRS))}, got {corr!r}")
    stream = unit_activations(model, data, layers=layers, pool=pool, batch_size=batch_size)
    acc: CorrelationAccumulator | None = None
    names: list[str] = []
    widths: list[int] = []
    if corr == "pearson":
        for layer_names, layer_widths, acts in stream:
            names, widths = layer_names, layer_widths
            acc = acc or CorrelationAccumulator(acts.shape[1])
            acc.add(acts)
    else:  # ranks need every example of a unit: spill to a memory-mapped file on disk
        with tempfile.TemporaryDirectory(prefix="modcut-acts-") as tmp:
            path = os.path.join(tmp, "activations.f64")
            n, f = 0, None
            try:
                for layer_names, layer_widths, acts in stream:
                    names, widths = layer_names, layer_widths
                    if f is None:
                        f = open(path, "wb")
                    f.write(np.ascontiguousarray(acts).tobytes())
                    n += acts.shape[0]
            finally:
                if f is not None:
                    f.close()
            if n == 0:
                raise ValueError("the data set is empty")
            units = sum(widths)
            mm = np.memmap(path, dtype=np.float64, mode="r+", shape=(n, units))
            _rank_columns(mm, max(1, (64 << 20) // (8 * n)))
            acc = CorrelationAccumulator(units)
            step = max(1, (64 << 20) // (8 * units))
            for i in range(0, n, step):
                acc.add(np.asarray(mm[i : i + step]))
            del mm
    if acc is None:
        raise ValueError("the data set is empty")
    r2 = acc.correlation() ** 2
    np.fill_diagonal(r2, 0.0)
    off = np.concatenate([[0], np.cumsum(widths)])
    groups = [NodeGroup(n, w, "activations") for n, w in zip(names, widths, strict=True)]
    edges = []
    for a in range(len(widths)):
        for b in range(a, len(widths)):
            block = r2[off[a] : off[a + 1], off[b] : off[b + 1]]
            if a == b:
                block = np.triu(block, 1)
            edges.append((a, b, block, f"{names[a]}~{names[b]}"))
    constant = int(np.sum(~np.any(r2 > 0, axis=1)))
    prov = {
        "source": type(model).__name__,
        "kind": "activations",
        "corr": corr,
        "pool": pool,
        "layers": list(names),
        "n_examples": int(acc.n),
        "constant_units": constant,
    }
    if not math.isfinite(float(r2.sum())):  # never: correlation() clips and zeroes
        raise ValueError("non-finite correlations")
    return Network.from_edges(groups, edges, prov)
