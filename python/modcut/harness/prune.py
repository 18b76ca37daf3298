"""Magnitude pruning on a polynomial-decay schedule (method.md section 5).

The schedule is TensorFlow Model Optimization's ``PolynomialDecay``::

    s(t) = s_f + (s_i − s_f) · (1 − p)^power,   p = min(1, (t − begin) / (end − begin))

with ``power = 3``; masks are updated at steps ``t`` with ``begin ≤ t ≤ end`` and
``(t − begin) mod frequency == 0`` (every 10 steps by default). The harness sets
``begin = 0`` (first fine-tuning step) and ``end`` to the last update step of the
pruning phase, ``end = frequency · floor((T − 1) / frequency)`` for ``T`` steps, so
the final sparsity is reached exactly (TF's ``end_step = T`` stops a few steps
short of it) and the remaining ``T − 1 − end`` steps fine-tune at that sparsity.

Pruning is an explicit mask per weight matrix (equivalent to
``torch.nn.utils.prune`` but with exact counts, no reparametrisation and no
hooks): at an update step the ``round(s · n)`` smallest-magnitude entries of a
layer's weight (``scope="layer"``, TF's default: every layer gets the same
sparsity) or of all weights together (``scope="global"``) are masked. Masked
entries rank below every live one, so masks only grow. Between updates the
trainer zeroes masked gradients before and masked weights after every optimizer
step, so pruned weights stay exactly zero. Biases are never pruned. All
``Linear`` and ``Conv2d`` weight matrices are pruned, the output layer included
(the reference prunes the whole model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = [
    "MagnitudePruner",
    "PolynomialDecay",
    "prunable_weights",
    "weight_sparsity",
]


@dataclass(frozen=True)
class PolynomialDecay:
    """Sparsity schedule ``s(t)`` and its update steps (see the module docstring).

    Attributes: ``initial_sparsity`` (at ``begin_step``), ``final_sparsity`` (from
    ``end_step`` on), ``begin_step``, ``end_step``, ``frequency`` (steps between mask
    updates) and ``power`` (3 as TF's default).
    """

    initial_sparsity: float = 0.5
    final_sparsity: float = 0.9
    begin_step: int = 0
    end_step: int = 0
    frequency: int = 10
    power: float = 3.0

    def __post_init__(self) -> None:
        for name in ("initial_sparsity", "final_sparsity"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {v}")
        if self.initial_sparsity > self.final_sparsity:
            raise ValueError(
                f"initial_sparsity ({self.initial_sparsity}) must not exceed final_sparsity "
                f"({self.final_sparsity})"
            )
        if self.frequency < 1:
            raise ValueError(f"frequency must be ≥ 1, got {self.frequency}")
        if self.end_step < self.begin_step or self.begin_step < 0:
            raise ValueError("need 0 ≤ begin_step ≤ end_step")
        if self.power <= 0:
            raise ValueError("power must be positive")

    @classmethod
    def for_steps(
        cls,
        n_steps: int,
        initial_sparsity: float = 0.5,
        final_sparsity: float = 0.9,
        frequency: int = 10,
        power: float = 3.0,
    ) -> PolynomialDecay:
        """The harness's schedule over ``n_steps`` fine-tuning steps ``0 … n_steps − 1``.

        ``end_step`` is the last update step, ``frequency · floor((n_steps − 1) / frequency)``.
        """
        if n_steps < 1:
            raise ValueError(f"n_steps must be ≥ 1, got {n_steps}")
        if frequency < 1:
            raise ValueError(f"frequency must be ≥ 1, got {frequency}")
        end = frequency * ((n_steps - 1) // frequency)
        return cls(initial_sparsity, final_sparsity, 0, end, frequency, power)

    def sparsity(self, step: int) -> float:
        """Target sparsity at ``step``."""
        if self.end_step == self.begin_step:
            return self.final_sparsity if step >= self.begin_step else self.initial_sparsity
        p = (step - self.begin_step) / (self.end_step - self.begin_step)
        p = min(1.0, max(0.0, p))
        return float(
            self.final_sparsity
            + (self.initial_sparsity - self.final_sparsity) * (1.0 - p) ** self.power
        )

    def is_update_step(self, step: int) -> bool:
        """Whether the masks are recomputed before ``step``."""
        return (
            self.begin_step <= step <= self.end_step
            and (step - self.begin_step) % self.frequency == 0
        )


def prunable_weights(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """``(name, weight)`` of every ``Linear`` and ``Conv2d`` module, in registration order."""
    out: list[tuple[str, torch.Tensor]] = []
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if isinstance(module, (nn.Linear, nn.Conv2d)) and isinstance(weight, nn.Parameter):
            out.append((f"{name}.weight" if name else "weight", weight))
    return out


def weight_sparsity(model: nn.Module) -> tuple[float, list[dict[str, Any]]]:
    """Fraction of exactly-zero entries over all prunable weights, and per layer.

    Returns ``(overall, [{"name", "shape", "zeros", "size", "sparsity"}, …])``.
    """
    layers: list[dict[str, Any]] = []
    zeros = size = 0
    for name, w in prunable_weights(model):
        z = int((w.detach() == 0).sum().item())
        n = int(w.numel())
        layers.append(
            {
                "name": name,
                "shape": list(w.shape),
                "zeros": z,
                "size": n,
                "sparsity": z / n if n else 0.0,
            }
        )
        zeros += z
        size += n
    return (zeros / size if size else 0.0), layers


class MagnitudePruner:
    """Masks that prune the smallest-magnitude weights of some parameters.

    Parameters
    ----------
    weights:
        The weight tensors to prune (e.g. ``[w for _, w in prunable_weights(model)]``),
        or a model (its :func:`prunable_weights`).
    scope:
        ``"layer"`` (each tensor to the target sparsity) or ``"global"`` (the target
        over all tensors together, smallest magnitudes anywhere).

    Use: call :meth:`set_sparsity` at the schedule's update steps,
    :meth:`mask_grads_` after ``backward()`` and :meth:`apply_` after
    ``optimizer.step()``.
    """

    def __init__(self, weights: Sequence[torch.Tensor] | nn.Module, scope: str = "layer") -> None:
        if isinstance(weights, nn.Module):
            params = [w for _, w in prunable_weights(weights)]
        else:
            params = list(weights)
        if not params:
            raise ValueError("nothing to prune: no Linear or Conv2d weights")
        if scope not in ("layer", "global"):
            raise ValueError(f"scope must be 'layer' or 'global', got {scope!r}")
        self.weights = params
        self.scope = scope
        self.masks = [torch.ones_like(w, dtype=torch.bool) for w in params]

    @torch.no_grad()
    def set_sparsity(self, sparsity: float) -> None:
        """Recompute the masks so that a fraction ``sparsity`` of the weights is masked.

        Already-masked entries stay masked (they rank first); ties among live
        entries are broken by position (stable sort), so the result is deterministic.
        Also zeroes the newly masked weights.
        """
        if not 0.0 <= sparsity < 1.0:
            raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
        scores = [
            torch.where(m, w.abs(), torch.full_like(w, -1.0)).flatten()
            for w, m in zip(self.weights, self.masks, strict=True)
        ]
        if self.scope == "layer":
            for i, s in enumerate(scores):
                k = round(sparsity * s.numel())
                self.masks[i] = self._mask_from(s, k).view_as(self.weights[i]) & self.masks[i]
        else:
            allscores = torch.cat([s.float() for s in scores])
            k = round(sparsity * allscores.numel())
            flat = self._mask_from(allscores, k)
            start = 0
            for i, s in enumerate(scores):
                n = s.numel()
                self.masks[i] = flat[start : start + n].view_as(self.weights[i]) & self.masks[i]
                start += n
        self.apply_()

    @staticmethod
    def _mask_from(scores: torch.Tensor, k: int) -> torch.Tensor:
        """Keep-mask masking the ``k`` smallest scores; ties broken by position (lowest first).

        Same result as a stable argsort, in O(n) with ``kthvalue``.
        """
        n = scores.numel()
        if k <= 0:
            return torch.ones(n, dtype=torch.bool, device=scores.device)
        if k >= n:
            return torch.zeros(n, dtype=torch.bool, device=scores.device)
        threshold = torch.kthvalue(scores, k).values
        mask = scores > threshold
        below = int((scores < threshold).sum().item())
        tied = torch.nonzero(scores == threshold).flatten()
        need = k - below  # how many tied entries to mask, first by position
        mask[tied[need:]] = True
        return mask

    @torch.no_grad()
    def apply_(self) -> None:
        """Zero the masked weights (in place)."""
        for w, m in zip(self.weights, self.masks, strict=True):
            w.mul_(m)

    @torch.no_grad()
    def mask_grads_(self) -> None:
        """Zero the gradients of masked weights (in place), so optimizer moments stay clean."""
        for w, m in zip(self.weights, self.masks, strict=True):
            if w.grad is not None:
                w.grad.mul_(m)

    def sparsity(self) -> float:
        """Fraction of masked entries over all pruned weights."""
        masked = sum(int((~m).sum().item()) for m in self.masks)
        total = sum(m.numel() for m in self.masks)
        return masked / total

    def layer_sparsity(self) -> list[float]:
        """Fraction of masked entries per weight tensor."""
        return [float((~m).float().mean().item()) for m in self.masks]
