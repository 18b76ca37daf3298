"""Cost of the clusterability regulariser on the pruned 784-256x4-10 MLP (one CPU thread).

``python -m pytest benches/test_bench_cluster_reg.py --benchmark-only``

* a training step (batch 128, synthetic data, Adam, masks applied) without and with
  the regulariser (``λ = 0.1``, ``k = 3``: neuron normalisation + penalty forward and
  backward with the warm-started solver, as ``modcut train --cluster-reg`` runs it);
* the penalty's forward + backward alone, warm (the previous call's subspace) and
  cold (a fresh solver, as :func:`modcut.harness.clusterability_penalty`).

``extra_info`` records the solver's mean iterations per call.
"""

from __future__ import annotations

import pytest
import torch

from modcut.harness.cluster_reg import ClusterabilityPenalty, ClusterRegulariser
from modcut.harness.models import MLP
from modcut.harness.prune import MagnitudePruner


@pytest.fixture(autouse=True)
def one_thread():
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    model = MLP(784)
    pruner = MagnitudePruner(model)
    pruner.set_sparsity(0.9)
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(128, 784, generator=gen)
    y = torch.randint(0, 10, (128,), generator=gen)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return model, pruner, x, y, opt


def _stepper(regularise: bool):
    model, pruner, x, y, opt = _setup()
    reg = ClusterRegulariser(model, 0.1, 3) if regularise else None
    iters: list[int] = []

    def step() -> None:
        term = reg.before_step(0) if reg is not None else None
        loss = torch.nn.functional.cross_entropy(model(x), y)
        if term is not None:
            loss = loss + term
            iters.append(reg.penalty.info.iterations)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        pruner.mask_grads_()
        opt.step()
        pruner.apply_()

    for _ in range(5):  # warm up the solver and Adam
        step()
    iters.clear()
    return step, iters


@pytest.mark.parametrize("regularise", [False, True], ids=["plain", "cluster_reg"])
def test_training_step(benchmark, regularise: bool) -> None:
    step, iters = _stepper(regularise)
    benchmark.group = "training step, pruned 784-256x4-10, batch 128"
    benchmark.pedantic(step, rounds=40, iterations=1, warmup_rounds=2)
    if iters:
        benchmark.extra_info["solver_iterations_mean"] = sum(iters) / len(iters)


def test_penalty_forward_backward_warm(benchmark) -> None:
    model, *_ = _setup()
    pen = ClusterabilityPenalty(3)
    pen(model)

    def run() -> None:
        model.zero_grad(set_to_none=True)
        pen(model).backward()

    benchmark.group = "penalty forward+backward, pruned 784-256x4-10"
    benchmark.pedantic(run, rounds=40, iterations=1, warmup_rounds=2)
    benchmark.extra_info["solver_iterations"] = pen.info.iterations


def test_penalty_forward_backward_cold(benchmark) -> None:
    model, *_ = _setup()
    iters: list[int] = []

    def run() -> None:
        model.zero_grad(set_to_none=True)
        pen = ClusterabilityPenalty(3)
        pen(model).backward()
        iters.append(pen.info.iterations)

    benchmark.group = "penalty forward+backward, pruned 784-256x4-10"
    benchmark.pedantic(run, rounds=10, iterations=1, warmup_rounds=1)
    benchmark.extra_info["solver_iterations_mean"] = sum(iters) / len(iters)
