"""modcut.harness.derived: every builder follows its documented rule, deterministically."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from modcut.harness import derived
from modcut.harness.data import ImageData

N_BASE = 200


def tagged_base(width: int = 8, channels: int = 1) -> ImageData:
    """Images whose every pixel holds the example's id (i + 1) / 1000, so builders can be traced."""
    ids = (torch.arange(N_BASE, dtype=torch.float32) + 1) / 1000
    x = ids[:, None, None, None].expand(N_BASE, channels, 6, width).contiguous()
    y = torch.arange(N_BASE) % 10
    return ImageData(x, y, 10, "mnist")


def ids_of(images: torch.Tensor) -> torch.Tensor:
    """Invert the tagging of :func:`tagged_base`: example index per image."""
    return (images.flatten(1).mean(dim=1) * 1000).round().long() - 1


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_half_width() -> None:
    x = torch.arange(2 * 1 * 2 * 5, dtype=torch.float32).reshape(2, 1, 2, 5)
    h = derived.half_width(x)
    assert h.shape == (2, 1, 2, 3)
    assert h[0, 0, 0].tolist() == [0.5, 2.5, 4.0]  # odd last column paired with itself


def test_halves_rule() -> None:
    base = tagged_base()
    d = derived.make_halves(base, 500, rng())
    assert d.x.shape == (500, 1, 6, 8) and d.name == "halves" and d.n_classes == 10
    left, right = ids_of(d.x[..., :4]), ids_of(d.x[..., 4:])
    assert torch.equal(d.y, (base.y[left] + base.y[right]) % 10)
    assert (left != right).float().mean() > 0.9  # independent draws
    assert set(d.y.tolist()) == set(range(10))


def test_halves_same_rule() -> None:
    base = tagged_base()
    d = derived.make_halves_same(base, N_BASE, rng())
    left, right = ids_of(d.x[..., :4]), ids_of(d.x[..., 4:])
    assert torch.equal(left, torch.arange(N_BASE))  # n == base size: every example once, in order
    assert torch.equal(base.y[left], base.y[right])
    assert torch.equal(d.y, base.y)
    d2 = derived.make_halves_same(base, 50, rng(1))
    l2, r2 = ids_of(d2.x[..., :4]), ids_of(d2.x[..., 4:])
    assert torch.equal(base.y[l2], d2.y) and torch.equal(base.y[r2], d2.y)


@pytest.mark.parametrize("channels", [1, 3])
def test_stacked_rules(channels: int) -> None:
    base = tagged_base(channels=channels)
    d = derived.make_stacked(base, 300, rng())
    assert d.x.shape == (300, 2 * channels, 6, 8)
    a, b = ids_of(d.x[:, :channels]), ids_of(d.x[:, channels:])
    assert torch.equal(d.y, (base.y[a] + base.y[b]) % 10)
    s = derived.make_stacked_same(base, 300, rng())
    a, b = ids_of(s.x[:, :channels]), ids_of(s.x[:, channels:])
    assert torch.equal(base.y[a], s.y) and torch.equal(base.y[b], s.y)


def test_line_rule() -> None:
    d = derived.make_line(400, rng(), size=28, max_lines=10)
    assert d.x.shape == (400, 1, 28, 28) and d.x.dtype == torch.float32
    cols = d.x[:, 0]  # (n, rows, cols)
    assert torch.equal(cols, cols[:, :1, :].expand_as(cols))  # full-height vertical lines
    n_lines = cols[:, 0, :].sum(dim=1).long()
    assert torch.equal(d.y, n_lines - 1)
    assert set(d.y.tolist()) == set(range(10))
    assert set(torch.unique(d.x).tolist()) == {0.0, 1.0}
    with pytest.raises(ValueError, match="max_lines"):
        derived.make_line(5, rng(), size=5, max_lines=6)


def test_poly_rule() -> None:
    d = derived.make_poly(50, rng())
    assert d.x.shape == (50, 2) and d.y.shape == (50, 512)
    assert d.n_classes == 0 and d.task == "regression" and d.n_outputs == 512
    x = d.x.double().numpy()
    monomials = [x[:, 0] ** a * x[:, 1] ** b for a, b in itertools.product((0, 1, 2), repeat=2)]
    for j in (0, 1, 7, 300, 511):
        coefs = list(itertools.product((0, 1), repeat=9))[j]
        expected = sum(c * m for c, m in zip(coefs, monomials, strict=True))
        np.testing.assert_allclose(d.y[:, j].numpy(), expected, rtol=1e-5, atol=1e-5)
    assert float(d.y[:, 0].abs().max()) == 0.0
    assert derived.poly_shape(1, (0, 1), (0, 1, 2)) == (1, 9)
    with pytest.raises(ValueError, match="outputs"):
        derived.poly_shape(3, (0, 1, 2), (0, 1))


@pytest.mark.parametrize(
    "build",
    [
        lambda r: derived.make_halves(tagged_base(), 40, r),
        lambda r: derived.make_halves_same(tagged_base(), 40, r),
        lambda r: derived.make_stacked(tagged_base(), 40, r),
        lambda r: derived.make_stacked_same(tagged_base(), 40, r),
        lambda r: derived.make_line(40, r),
        lambda r: derived.make_poly(40, r),
    ],
)
def test_builders_are_deterministic(build) -> None:  # type: ignore[no-untyped-def]
    a, b, c = build(rng(5)), build(rng(5)), build(rng(6))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not (torch.equal(a.x, c.x) and torch.equal(a.y, c.y))


def test_builder_errors() -> None:
    with pytest.raises(ValueError, match="positive"):
        derived.make_halves(tagged_base(), 0, rng())
    poly = derived.make_poly(5, rng())
    with pytest.raises(ValueError, match="image classification"):
        derived.make_stacked(poly, 5, rng())
