"""Derived data sets that plant or remove modular structure (method.md section 5).

Every builder is deterministic given its ``numpy.random.Generator``;
:func:`modcut.harness.data.load_dataset` seeds one per (seed, data set, split),
so the training and test splits are drawn independently and the test split
only from the base set's test split. The rules follow the reference code of
Filan et al. (their ``generate_datasets.py``):

``halves``
    Every base image is shrunk to half its width by averaging adjacent column
    pairs (28 × 28 → 28 × 14). An example puts two independently drawn half images
    side by side (left from example *a*, right from example *b*, drawn uniformly
    with replacement). Label: ``(y_a + y_b) mod 10`` — the task needs both halves.
``halves_same``
    The same construction, but the right half is a random image of the *same
    class* as the left (it may be the same image); label: that class. Each half
    alone suffices.
``stacked``
    Two independently drawn full images stacked as channels, ``(2C, H, W)``;
    label ``(y_a + y_b) mod 10``.
``stacked_same``
    Two images of the same class stacked as channels; label: that class.
``line``
    Synthetic 28 × 28 images of ``k`` distinct full-height vertical lines (value
    1.0) at random columns, ``k`` uniform in ``1 … 10``; label ``k − 1``.
``poly``
    Regression: inputs ``x ~ N(0, I_2)``; the 9 monomials ``x1^a x2^b``
    (``a, b ∈ {0, 1, 2}``, in ``itertools.product`` order); one target per
    coefficient vector in ``{0, 1}^9`` (512 targets, in ``itertools.product``
    order), the polynomial's value at ``x``. Loss: mean squared error.

With ``n`` equal to the base split's size, ``halves_same``/``stacked_same`` use
every base example once as the left/first image, in order (as the reference);
otherwise the left images are a seeded random draw.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch

from modcut.harness.data import ImageData

__all__ = [
    "half_width",
    "make_halves",
    "make_halves_same",
    "make_line",
    "make_poly",
    "make_stacked",
    "make_stacked_same",
    "poly_shape",
    "same_class_partners",
]


def _check_base(base: ImageData, what: str) -> None:
    if base.task != "classification" or base.x.ndim != 4:
        raise ValueError(f"{what} is built from an image classification set (N, C, H, W)")
    if len(base) == 0:
        raise ValueError(f"{what}: the base set is empty")


def _check_n(n: int) -> int:
    if isinstance(n, bool) or int(n) < 1:
        raise ValueError(f"n must be a positive number of examples, got {n!r}")
    return int(n)


def half_width(x: torch.Tensor) -> torch.Tensor:
    """Shrink images ``(N, C, H, W)`` to ``(N, C, H, ceil(W / 2))`` by averaging column pairs.

    An odd last column is paired with itself.
    """
    if x.shape[-1] % 2:
        x = torch.cat([x, x[..., -1:]], dim=-1)
    return (x[..., 0::2] + x[..., 1::2]) * 0.5


def _draw(rng: np.random.Generator, size: int, n: int) -> torch.Tensor:
    return torch.from_numpy(rng.integers(0, size, size=n, dtype=np.int64))


def _lefts(rng: np.random.Generator, size: int, n: int) -> torch.Tensor:
    if n == size:
        return torch.arange(size, dtype=torch.int64)
    return torch.from_numpy(rng.choice(size, size=n, replace=n > size).astype(np.int64))


def same_class_partners(
    labels: torch.Tensor, index: torch.Tensor, rng: np.random.Generator
) -> torch.Tensor:
    """For each ``labels[index[i]]``, a random example index with the same label.

    ``labels``: int64 ``(N,)``; ``index``: int64 ``(n,)``. Returns int64 ``(n,)``.
    """
    y = labels.cpu().numpy()
    wanted = y[index.cpu().numpy()]
    out = np.empty(len(wanted), dtype=np.int64)
    for c in np.unique(wanted):
        pool = np.flatnonzero(y == c)
        where = np.flatnonzero(wanted == c)
        out[where] = pool[rng.integers(0, len(pool), size=len(where))]
    return torch.from_numpy(out)


def make_halves(base: ImageData, n: int, rng: np.random.Generator) -> ImageData:
    """HALVES: two half-width images side by side, label ``(y_left + y_right) mod n_classes``.

    ``base.x``: ``(N, C, H, W)``. Returns ``x`` of shape ``(n, C, H, 2·ceil(W/2))``.
    """
    _check_base(base, "halves")
    n = _check_n(n)
    half = half_width(base.x)
    a, b = _draw(rng, len(base), n), _draw(rng, len(base), n)
    x = torch.cat([half[a], half[b]], dim=-1)
    y = (base.y[a] + base.y[b]) % base.n_classes
    return ImageData(
        x.contiguous(), y, base.n_classes, "halves", base.train, "", {"rule": "(a+b) mod 10"}
    )


def make_halves_same(base: ImageData, n: int, rng: np.random.Generator) -> ImageData:
    """HALVES-SAME: two half-width images of the same class side by side, label that class."""
    _check_base(base, "halves_same")
    n = _check_n(n)
    half = half_width(base.x)
    a = _lefts(rng, len(base), n)
    b = same_class_partners(base.y, a, rng)
    x = torch.cat([half[a], half[b]], dim=-1)
    return ImageData(
        x.contiguous(),
        base.y[a].clone(),
        base.n_classes,
        "halves_same",
        base.train,
        "",
        {"rule": "same class"},
    )


def make_stacked(base: ImageData, n: int, rng: np.random.Generator) -> ImageData:
    """STACKED: two images as channels ``(n, 2C, H, W)``, label ``(y_a + y_b) mod n_classes``."""
    _check_base(base, "stacked")
    n = _check_n(n)
    a, b = _draw(rng, len(base), n), _draw(rng, len(base), n)
    x = torch.cat([base.x[a], base.x[b]], dim=1)
    y = (base.y[a] + base.y[b]) % base.n_classes
    return ImageData(
        x.contiguous(), y, base.n_classes, "stacked", base.train, "", {"rule": "(a+b) mod 10"}
    )


def make_stacked_same(base: ImageData, n: int, rng: np.random.Generator) -> ImageData:
    """STACKED-SAME: two images of the same class as channels, label that class."""
    _check_base(base, "stacked_same")
    n = _check_n(n)
    a = _lefts(rng, len(base), n)
    b = same_class_partners(base.y, a, rng)
    x = torch.cat([base.x[a], base.x[b]], dim=1)
    return ImageData(
        x.contiguous(),
        base.y[a].clone(),
        base.n_classes,
        "stacked_same",
        base.train,
        "",
        {"rule": "same class"},
    )


def make_line(
    n: int, rng: np.random.Generator, *, size: int = 28, max_lines: int = 10
) -> ImageData:
    """LINE: ``(n, 1, size, size)`` images of ``k`` distinct vertical lines, label ``k − 1``.

    ``k`` is uniform in ``1 … max_lines``; the columns are a uniform random set of size ``k``.
    """
    n = _check_n(n)
    if not 1 <= max_lines <= size:
        raise ValueError(f"max_lines must be in 1..size ({size}), got {max_lines}")
    k = rng.integers(1, max_lines + 1, size=n)
    rank = np.argsort(np.argsort(rng.random((n, size)), axis=1), axis=1)
    columns = (rank < k[:, None]).astype(np.float32)  # (n, size): 1 where a line is drawn
    x = torch.from_numpy(columns)[:, None, None, :].expand(n, 1, size, size).contiguous()
    y = torch.from_numpy((k - 1).astype(np.int64))
    return ImageData(
        x, y, int(max_lines), "line", True, "", {"rule": "label = number of lines - 1"}
    )


def poly_shape(
    n_inputs: int = 2, exps: Sequence[int] = (0, 1, 2), coefs: Sequence[float] = (0, 1)
) -> tuple[int, int]:
    """``(n_inputs, n_outputs)`` of the POLY task: ``len(coefs) ** (len(exps) ** n_inputs)`` outputs."""
    if n_inputs < 1 or not exps or not coefs:
        raise ValueError("poly needs n_inputs ≥ 1 and non-empty exps and coefs")
    n_terms = len(exps) ** n_inputs
    n_outputs = len(coefs) ** n_terms
    if n_outputs > 65536:
        raise ValueError(f"poly with these options has {n_outputs} outputs; at most 65536 allowed")
    return int(n_inputs), int(n_outputs)


def make_poly(
    n: int,
    rng: np.random.Generator,
    *,
    n_inputs: int = 2,
    exps: Sequence[int] = (0, 1, 2),
    coefs: Sequence[float] = (0, 1),
) -> ImageData:
    """POLY: ``x`` float32 ``(n, n_inputs)`` standard normal, ``y`` float32 ``(n, n_outputs)``.

    Column ``j`` of ``y`` is the polynomial whose coefficients on the monomials
    ``prod_i x_i^{e_i}`` (``e`` over ``itertools.product(exps, repeat=n_inputs)``) are
    the ``j``-th vector of ``itertools.product(coefs, repeat=n_terms)``.
    """
    n = _check_n(n)
    _, n_outputs = poly_shape(n_inputs, exps, coefs)
    x = rng.standard_normal((n, n_inputs))
    powers = np.array(
        list(itertools.product(exps, repeat=n_inputs)), dtype=np.float64
    )  # (terms, inputs)
    terms = np.prod(x[:, None, :] ** powers[None, :, :], axis=2)  # (n, terms)
    coef = np.array(
        list(itertools.product(coefs, repeat=len(powers))), dtype=np.float64
    )  # (outputs, terms)
    assert coef.shape[0] == n_outputs
    y = terms @ coef.T
    return ImageData(
        torch.from_numpy(x.astype(np.float32)),
        torch.from_numpy(y.astype(np.float32)),
        0,
        "poly",
        True,
        "",
        {"exps": list(exps), "coefs": list(coefs), "n_inputs": int(n_inputs)},
    )
