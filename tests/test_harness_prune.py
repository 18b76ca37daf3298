"""modcut.harness.prune: the polynomial schedule, exact magnitude masks, masks kept while training."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from modcut.harness.prune import (
    MagnitudePruner,
    PolynomialDecay,
    prunable_weights,
    weight_sparsity,
)


def test_schedule_formula() -> None:
    s = PolynomialDecay(0.5, 0.9, begin_step=0, end_step=100, frequency=10)
    assert s.sparsity(0) == pytest.approx(0.5)
    assert s.sparsity(100) == pytest.approx(0.9)
    assert s.sparsity(1000) == pytest.approx(0.9)
    assert s.sparsity(50) == pytest.approx(0.9 + (0.5 - 0.9) * 0.5**3)
    values = [s.sparsity(t) for t in range(0, 101)]
    assert all(a <= b for a, b in itertools.pairwise(values))
    assert [t for t in range(130) if s.is_update_step(t)] == list(range(0, 101, 10))


def test_schedule_for_steps() -> None:
    s = PolynomialDecay.for_steps(469 * 20, 0.5, 0.9, frequency=10)
    assert s.end_step == 9380 - 10 and s.end_step % 10 == 0
    assert s.is_update_step(s.end_step) and s.sparsity(s.end_step) == pytest.approx(0.9)
    short = PolynomialDecay.for_steps(5, 0.5, 0.9, frequency=10)
    assert short.end_step == 0 and short.sparsity(0) == pytest.approx(0.9)
    assert [t for t in range(5) if short.is_update_step(t)] == [0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"initial_sparsity": 0.95, "final_sparsity": 0.9}, "must not exceed"),
        ({"final_sparsity": 1.0}, "final_sparsity"),
        ({"frequency": 0}, "frequency"),
        ({"begin_step": 5, "end_step": 2}, "begin_step"),
    ],
)
def test_schedule_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PolynomialDecay(**kwargs)


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 10), nn.Conv2d(1, 1, 1))


def test_layer_scope_prunes_exact_counts_of_smallest() -> None:
    net = _net()
    before = [w.detach().clone() for _, w in prunable_weights(net)]
    pruner = MagnitudePruner(net, scope="layer")
    pruner.set_sparsity(0.7)
    for w0, (_, w), m in zip(before, prunable_weights(net), pruner.masks, strict=True):
        k = round(0.7 * w0.numel())
        assert int((~m).sum()) == k and int((w == 0).sum()) >= k
        if 0 < k < w0.numel():
            assert w0.abs()[~m].max() <= w0.abs()[m].min()  # the smallest magnitudes went
    assert net[0].bias is not None and bool((net[0].bias != 0).all())  # biases are never pruned
    overall, layers = weight_sparsity(net)
    assert [layer["name"] for layer in layers] == ["0.weight", "2.weight", "3.weight"]
    assert overall == pytest.approx(pruner.sparsity(), abs=1e-9)


def test_global_scope_uses_one_threshold() -> None:
    lin_a, lin_b = nn.Linear(10, 10), nn.Linear(10, 10)
    with torch.no_grad():
        lin_a.weight.copy_(10.0 + torch.rand(10, 10))  # all bigger than any of lin_b's
        lin_b.weight.copy_(torch.rand(10, 10))
    pruner = MagnitudePruner([lin_a.weight, lin_b.weight], scope="global")
    pruner.set_sparsity(0.5)
    assert pruner.layer_sparsity() == [0.0, 1.0]
    assert pruner.sparsity() == pytest.approx(0.5)


def test_masks_only_grow_and_ties_are_deterministic() -> None:
    w = nn.Parameter(torch.tensor([[0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]]))
    pruner = MagnitudePruner([w])
    pruner.set_sparsity(0.25)
    assert (~pruner.masks[0]).nonzero()[:, 1].tolist() == [0, 1]
    pruner.set_sparsity(0.375)  # one of the tied 1.0s: the first by position
    assert (~pruner.masks[0]).nonzero()[:, 1].tolist() == [0, 1, 2]
    pruner.set_sparsity(0.125)  # lowering the target never revives a weight
    assert (~pruner.masks[0]).sum() == 3
    with pytest.raises(ValueError, match="sparsity"):
        pruner.set_sparsity(1.0)


def test_masks_respected_while_fine_tuning() -> None:
    net = _net()[:3]
    pruner = MagnitudePruner(net)
    pruner.set_sparsity(0.8)
    masks = [m.clone() for m in pruner.masks]
    start = [w.detach().clone() for _, w in prunable_weights(net)]
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    torch.manual_seed(1)
    for _ in range(30):
        x, y = torch.randn(16, 20), torch.randint(0, 10, (16,))
        loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        pruner.mask_grads_()
        for (_, w), m in zip(prunable_weights(net), masks, strict=True):
            assert bool((w.grad[~m] == 0).all())
        opt.step()
        pruner.apply_()
    for (_, w), m, w0 in zip(prunable_weights(net), masks, start, strict=True):
        assert bool((w[~m] == 0).all())  # pruned stay exactly zero
        assert not torch.equal(w[m], w0[m])  # live weights trained
    assert [torch.equal(a, b) for a, b in zip(masks, pruner.masks, strict=True)] == [True, True]


def test_pruner_errors() -> None:
    with pytest.raises(ValueError, match="nothing to prune"):
        MagnitudePruner(nn.Sequential(nn.ReLU()))
    with pytest.raises(ValueError, match="scope"):
        MagnitudePruner(nn.Linear(2, 2), scope="neuron")
