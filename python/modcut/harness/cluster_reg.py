"""The clusterability regulariser (method.md section 7, the 2021 paper).

Penalty
-------
For a network with weight graph ``A`` (edge ``|w|`` between consecutive layers,
:mod:`modcut.graph`), isolated neurons (degree 0) removed, and
``L_sym = I − D^-1/2 A D^-1/2``, the penalty is the sum of the ``k`` smallest
eigenvalues of ``L_sym`` after the trivial one::

    P_k(W) = λ_2 + … + λ_{k+1}.

The graph of a layered network is bipartite (even layers vs odd layers), so
``D^-1/2 A D^-1/2`` is ``[[0, B], [Bᵀ, 0]]`` with the normalized odd-to-even block
``B = D_even^-1/2 C D_odd^-1/2`` (``C``: the ``|W_l|`` blocks between even and odd
layers); its eigenvalues are ``±σ_i(B)`` (and zeros), hence ``λ_i = 1 − σ_i`` for
the singular values ``σ_1 = 1 ≥ σ_2 ≥ …`` of ``B`` and::

    P_k = Σ_{i=2..k+1} (1 − σ_i) = (k + 1) − Σ_{i=1..k+1} σ_i,

because ``σ_1 = 1`` identically. The second form is what is computed: the sum of
the top ``k + 1`` singular values (the Ky Fan ``(k+1)``-norm of ``B``, a convex
function of ``B``) has the gradient ``Σ_{i≤k+1} u_i v_iᵀ = U Vᵀ`` wherever
``σ_{k+1} > σ_{k+2}``, whatever the multiplicities inside the top ``k + 1``
(several connected components, ``σ_1 = σ_2 = 1``, are fine: ``U Vᵀ`` does not depend
on the basis chosen in a repeated singular value). At a tie ``σ_{k+1} = σ_{k+2}`` the
penalty is continuous but not differentiable and ``U Vᵀ`` of the subspace found is
a subgradient of the Ky Fan norm. The singular vectors enter only the backward
pass (a custom ``torch.autograd.Function``); ``B`` itself is built with ordinary
torch operations from ``|W_l|``, so the gradient flows through the absolute value
and through the degree normalisation into every weight matrix. ``|w|`` has
gradient 0 at ``w = 0`` (torch's subgradient), so pruned (masked, exactly zero)
weights get no gradient from the penalty; the penalty is that of the masked
network.

Isolated neurons are not cut out of ``B``: their rows/columns are scaled by 0
instead of ``d^-1/2``, which leaves the non-zero singular values (and triplets) of
``B`` exactly those of the reduced matrix. ``k + 1`` must not exceed the number of
non-isolated neurons on either side (``ValueError`` otherwise).

Models: :func:`modcut.readers.extract.graph_tensors` gives the graph's matrices
differentiably — ``weight.T`` for Linear layers, the L1 norms of kernel slices for
Conv2d (a node per channel) and, after the flatten, the L1 norm of each channel's
block of the first Linear's weights — so MLPs and the small CNN's channel graph are
handled alike, with the same numbers as :func:`~modcut.readers.extract.extract_weights`.

Solver
------
``B`` is never assembled for the iterative solver: it is applied block by block
(``N_l = r_{l-1} |W_l| r_l``, ``r = d^-1/2``). The top ``k + 1`` singular triplets come
from block subspace iteration on ``BᵀB`` with Rayleigh–Ritz (block size ``k + 1 +
oversample``), stopped when every residual ``‖Bᵀu_i − σ_i v_i‖`` is below ``tol``
(``σ_1 = 1`` sets the scale), warm-started from the previous call's subspace in
:class:`ClusterabilityPenalty`, so during training a step costs a few iterations.
``solver="dense"`` uses ``torch.linalg.svd`` of the assembled ``B`` (exact to
rounding; the default for small graphs, ``min(n_even, n_odd) ≤ 64``).

Weight normalisation
--------------------
The penalty is invariant to scaling every weight, but not to the ReLU scaling
symmetry (scaling a neuron's incoming weights and bias by ``1/s`` and its
outgoing weights by ``s`` leaves the function unchanged and changes ``A``), which
the regulariser could otherwise exploit. The reference therefore rescales neurons
during training (its ``NormalizeWeights`` callback, before every batch);
:func:`normalize_incoming_` does the same: for each hidden layer in forward order
and each neuron ``j`` of it, ``s_j = ‖(w_in_j, b_j)‖₂ / √2`` — the L2 norm of the
neuron's incoming (masked) weights together with its bias, divided by ``√2`` — the
incoming weights and bias are divided by ``s_j`` (when ``s_j ≠ 0``) and the outgoing
weights multiplied by ``s_j``. Afterwards every hidden neuron's incoming weights and
bias have L2 norm ``√2`` (He-like scale; a neuron with ``s_j = 0`` is dead and its
outgoing weights become 0, as in the reference). Layers are processed in order, so
layer ``l`` is normalised after layer ``l − 1``'s scales were pushed into it; the
output layer is not normalised. For a Conv2d a neuron is a channel: its incoming
weights are its whole kernel ``weight[j]``, its outgoing weights the next conv's
``weight[:, j]`` or, after the flatten, the first Linear's columns of channel ``j``.
The network's function is unchanged (ReLU and max-pooling commute with positive
scaling; only such models are accepted).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
from torch import nn

__all__ = [
    "ClusterRegulariser",
    "ClusterabilityPenalty",
    "check_penalty_k",
    "clusterability_penalty",
    "graph_blocks",
    "live_sides",
    "normalize_incoming_",
]

#: Graphs whose smaller side has at most this many nodes use the dense SVD by default.
DENSE_MAX = 64


# --------------------------------------------------------------------------- the graph


def graph_blocks(
    model_or_weights: Any, *, dtype: torch.dtype | None = None, absolute: bool = True
) -> list[torch.Tensor]:
    """The graph's non-negative matrices ``|W_l|``, ``(n_{l-1}, n_l)`` each, differentiable.

    Parameters
    ----------
    model_or_weights:
        An ``nn.Module`` of Linear/Conv2d layers (its
        :func:`~modcut.readers.extract.graph_tensors`), or a sequence of 2-D weight
        matrices ``(inputs, outputs)`` (torch tensors keep their autograd graph;
        NumPy arrays are converted).
    dtype:
        Cast to this dtype (None: keep; NumPy input becomes float64).
    absolute:
        Return ``|W_l|`` (True) or the signed matrices whose absolute values are the edges.

    Raises
    ------
    ValueError
        No matrices, a matrix that is not 2-D, or shapes that do not chain.
    """
    if isinstance(model_or_weights, nn.Module):
        from modcut.readers.extract import graph_tensors

        mats = graph_tensors(model_or_weights, dtype=dtype)
    else:
        if isinstance(model_or_weights, (torch.Tensor, np.ndarray)) or not isinstance(
            model_or_weights, Sequence
        ):
            raise TypeError(
                "clusterability_penalty takes an nn.Module or a sequence of weight matrices, "
                f"got {type(model_or_weights).__name__}"
            )
        mats = []
        for i, w in enumerate(model_or_weights):
            t = w if isinstance(w, torch.Tensor) else torch.as_tensor(np.asarray(w, np.float64))
            if t.ndim != 2:
                raise ValueError(f"weight matrix {i} has shape {tuple(t.shape)}: expected 2-D")
            mats.append(t if dtype is None else t.to(dtype))
    if not mats:
        raise ValueError("no weight matrices")
    for i in range(1, len(mats)):
        if mats[i].shape[0] != mats[i - 1].shape[1]:
            raise ValueError(
                f"weight matrices {i - 1} and {i} do not chain: shapes "
                f"{tuple(mats[i - 1].shape)} and {tuple(mats[i].shape)}"
            )
    return [m.abs() for m in mats] if absolute else mats


def _degrees(mats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Weighted degree of every neuron, one ``(n_l,)`` tensor per layer."""
    out: list[torch.Tensor] = []
    for j in range(len(mats) + 1):
        d = mats[j - 1].sum(0) if j > 0 else None
        if j < len(mats):
            d = mats[j].sum(1) if d is None else d + mats[j].sum(1)
        assert d is not None
        out.append(d)
    return out


def _check_degrees(degs: Sequence[torch.Tensor], k1: int) -> None:
    """``ValueError`` for non-finite weights or ``k1 > min(#even, #odd)`` non-isolated neurons."""
    alld = torch.cat(list(degs))
    if not bool(torch.isfinite(alld).all()):
        raise ValueError("the weights contain NaN or infinity: no clusterability penalty")
    live = [int((d > 0).sum()) for d in degs]
    even, odd = sum(live[0::2]), sum(live[1::2])
    if k1 > min(even, odd):
        raise ValueError(
            f"k = {k1 - 1} is too large: the penalty needs k + 1 = {k1} singular values of the "
            f"normalized odd-to-even block, but the network has only min({even}, {odd}) = "
            f"{min(even, odd)} non-isolated even-layer/odd-layer neurons"
        )


def live_sides(model_or_weights: Any) -> tuple[int, int]:
    """Non-isolated neurons on the even and on the odd side of the bipartite graph."""
    with torch.no_grad():
        degs = _degrees(graph_blocks(model_or_weights))
    even = sum(int((d > 0).sum()) for d in degs[0::2])
    odd = sum(int((d > 0).sum()) for d in degs[1::2])
    return even, odd


def check_penalty_k(model_or_weights: Any, k: int) -> None:
    """Raise ``ValueError`` unless ``1 ≤ k`` and ``k + 1 ≤ min(#even, #odd)`` non-isolated neurons."""
    if int(k) != k or k < 1:
        raise ValueError(f"the clusterability penalty needs k ≥ 1 eigenvalues, got {k}")
    even, odd = live_sides(model_or_weights)
    if k + 1 > min(even, odd):
        raise ValueError(
            f"cluster_reg_k = {k} is too large for this network: the penalty needs k + 1 = "
            f"{k + 1} singular values of the normalized odd-to-even block, which has only "
            f"min({even}, {odd}) = {min(even, odd)} (non-isolated even-layer and odd-layer neurons)"
        )


def _inv_sqrt(d: torch.Tensor) -> torch.Tensor:
    """``d^-1/2``, 0 where ``d = 0`` (isolated neurons)."""
    live = d > 0
    return torch.where(live, torch.where(live, d, torch.ones_like(d)).rsqrt(), 0.0)


# --------------------------------------------------------------------------- the solver


def _apply(
    mats: Sequence[torch.Tensor],
    rs: Sequence[torch.Tensor],
    x: dict[int, torch.Tensor],
    target: int,
) -> torch.Tensor:
    """``(D^-1/2 A D^-1/2) x`` on the layers of parity ``target``, stacked (x on the other parity).

    ``mats[l] = |W_l|`` (n_l, n_{l+1}); ``rs[j] = d_j^-1/2``; ``x[j]`` (n_j, b).
    """
    n_layers = len(mats) + 1
    xs = {j: rs[j][:, None] * v for j, v in x.items()}
    parts = []
    for j in range(target, n_layers, 2):
        y = mats[j - 1].T @ xs[j - 1] if j >= 1 else None
        if j + 1 < n_layers:
            z = mats[j] @ xs[j + 1]
            y = z if y is None else y + z
        assert y is not None
        parts.append(rs[j][:, None] * y)
    return torch.cat(parts)


def _split(v: torch.Tensor, widths: Sequence[int], parity: int) -> dict[int, torch.Tensor]:
    out: dict[int, torch.Tensor] = {}
    start = 0
    for j in range(parity, len(widths), 2):
        out[j] = v[start : start + widths[j]]
        start += widths[j]
    return out


def _dense_b(
    mats: Sequence[torch.Tensor], rs: Sequence[torch.Tensor], widths: Sequence[int]
) -> torch.Tensor:
    """The assembled ``(n_even, n_odd)`` block ``B`` (rows: even layers, columns: odd layers)."""
    blocks = [rs[i][:, None] * m * rs[i + 1][None, :] for i, m in enumerate(mats)]
    rows = []
    for e in range(0, len(widths), 2):
        row = []
        for o in range(1, len(widths), 2):
            if o == e + 1:
                row.append(blocks[e])
            elif o == e - 1:
                row.append(blocks[o].T)
            else:
                row.append(mats[0].new_zeros((widths[e], widths[o])))
        rows.append(torch.cat(row, dim=1))
    return torch.cat(rows, dim=0)


@dataclass
class SolverInfo:
    """What the last solve did: ``sigma`` (top ``k + 1`` singular values, descending),
    ``iterations`` (0 for the dense SVD), ``residual`` (max ``‖Bᵀu_i − σ_i v_i‖``) and
    ``converged``."""

    sigma: list[float] = field(default_factory=list)
    iterations: int = 0
    residual: float = 0.0
    converged: bool = True


class _Solver:
    """Top singular triplets of ``B``, warm-started from the previous call's subspace."""

    def __init__(
        self, solver: str, tol: float | None, max_iter: int, oversample: int, seed: int
    ) -> None:
        if solver not in ("auto", "dense", "iterative"):
            raise ValueError(f"solver must be 'auto', 'dense' or 'iterative', got {solver!r}")
        if max_iter < 1:
            raise ValueError(f"max_iter must be ≥ 1, got {max_iter}")
        if oversample < 0:
            raise ValueError(f"oversample must be ≥ 0, got {oversample}")
        if tol is not None and not tol > 0:
            raise ValueError(f"tol must be positive, got {tol}")
        self.solver = solver
        self.tol = tol
        self.max_iter = int(max_iter)
        self.oversample = int(oversample)
        self.seed = int(seed)
        self.basis: torch.Tensor | None = None  # (n_odd, b) orthonormal, the warm start
        self.info = SolverInfo()

    def solve(
        self, mats: Sequence[torch.Tensor], rs: Sequence[torch.Tensor], k1: int
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Top ``k1`` singular values of ``B`` (descending) and their vectors, one
        ``(n_l, k1)`` block per layer: ``u`` on even layers, ``v`` on odd ones."""
        widths = [mats[0].shape[0]] + [m.shape[1] for m in mats]
        n_even, n_odd = sum(widths[0::2]), sum(widths[1::2])
        dense = self.solver == "dense" or (
            self.solver == "auto" and min(n_even, n_odd) <= DENSE_MAX
        )
        if dense:
            bmat = _dense_b(mats, rs, widths)
            u, s, vh = torch.linalg.svd(bmat, full_matrices=False)
            sig, uu, vv = s[:k1], u[:, :k1], vh[:k1].T
            resid = float((bmat.T @ uu - vv * sig).norm(dim=0).max())
            self.info = SolverInfo([float(x) for x in sig], 0, resid, True)
        else:
            sig, uu, vv = self._iterate(mats, rs, widths, k1)
        fields = {**_split(uu, widths, 0), **_split(vv, widths, 1)}
        return sig, [fields[j] for j in range(len(widths))]

    def _iterate(
        self,
        mats: Sequence[torch.Tensor],
        rs: Sequence[torch.Tensor],
        widths: list[int],
        k1: int,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ref = mats[0]
        n_even, n_odd = sum(widths[0::2]), sum(widths[1::2])
        b = min(k1 + self.oversample, n_odd, n_even)
        tol = self.tol if self.tol is not None else (1e-4 if ref.dtype != torch.float64 else 1e-10)
        v = self.basis
        if v is None or v.shape != (n_odd, b) or v.dtype != ref.dtype or v.device != ref.device:
            gen = torch.Generator().manual_seed(self.seed)
            v = torch.randn(n_odd, b, generator=gen, dtype=torch.float64).to(ref.device, ref.dtype)
            v = torch.linalg.qr(v).Q
        resid = math.inf
        it = 0
        for it in range(1, self.max_iter + 1):
            w = _apply(mats, rs, _split(v, widths, 1), 0)  # B v   (n_even, b)
            p, s, qh = torch.linalg.svd(w, full_matrices=False)
            vr = v @ qh.T  # Ritz vectors: B vr = p · s
            y = _apply(mats, rs, _split(p, widths, 0), 1)  # Bᵀ u (n_odd, b)
            resid = float((y[:, :k1] - vr[:, :k1] * s[:k1]).norm(dim=0).max())
            if resid <= tol or it == self.max_iter:
                break
            v = torch.linalg.qr(y).Q
        self.basis = vr
        self.info = SolverInfo([float(x) for x in s[:k1]], it, resid, resid <= tol)
        return s[:k1], p[:, :k1], vr[:, :k1]


class _KyFan(torch.autograd.Function):
    """``S = Σ_{i≤k+1} σ_i(B)`` from the graph matrices ``T_l`` (``|T_l|`` are the edges).

    Backward, with ``z`` the singular vectors per layer (``u`` even, ``v`` odd),
    ``r = d^-1/2`` and ``G_l = z_l z_{l+1}ᵀ`` (the gradient of ``S`` with respect to the
    block ``N_l = r_l |T_l| r_{l+1}`` of ``B``)::

        ∂S/∂d_i     = −½ r_i² Σ_c σ_c z_ic²                  (through the normalisation)
        ∂S/∂|T_l|   = (r_l z_l)(r_{l+1} z_{l+1})ᵀ + c_l 1ᵀ + 1 c_{l+1}ᵀ,   c = ∂S/∂d
        ∂S/∂T_l     = sign(T_l) ∘ ∂S/∂|T_l|

    (the first line uses ``B v_c = σ_c u_c`` and ``Bᵀ u_c = σ_c v_c``).
    """

    @staticmethod
    def forward(ctx: Any, solver: _Solver, k1: int, *mats_signed: torch.Tensor) -> torch.Tensor:
        mats = [t.detach().abs() for t in mats_signed]
        degs = _degrees(mats)
        _check_degrees(degs, k1)
        rs = [_inv_sqrt(d) for d in degs]
        sig, z = solver.solve(mats, rs, k1)
        ctx.save_for_backward(sig, *rs, *z, *mats_signed)
        ctx.n_layers = len(rs)
        return sig.sum()

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[Any, ...]:
        g = grads[0]
        saved = ctx.saved_tensors
        n = ctx.n_layers
        sig, rs, z, ts = saved[0], saved[1 : n + 1], saved[n + 1 : 2 * n + 1], saved[2 * n + 1 :]
        zr = [r[:, None] * zz for r, zz in zip(rs, z, strict=True)]
        c = [-0.5 * r.square() * (zz.square() @ sig) for r, zz in zip(rs, z, strict=True)]
        out = []
        for i, t in enumerate(ts):
            gm = torch.addmm(c[i][:, None] + c[i + 1][None, :], zr[i], zr[i + 1].T)
            out.append(g * gm * t.sign())
        return (None, None, *out)


class ClusterabilityPenalty:
    """The penalty ``P_k`` as a reusable callable with a warm-started solver.

    Parameters
    ----------
    k:
        Number of non-trivial eigenvalues summed (the reference: 3).
    solver:
        ``"auto"`` (dense SVD when the smaller side has ≤ 64 nodes, else iterative),
        ``"dense"`` or ``"iterative"`` (see the module docstring).
    tol:
        Residual bound of the iterative solver (default 1e-4 in float32, 1e-10 in float64).
    max_iter:
        Iterations allowed per call (the first, cold call needs the most).
    oversample:
        Extra block columns of the subspace iteration.
    seed:
        Seeds the cold start.

    Calling it on a model or weight list returns a 0-dim tensor; ``info`` then
    holds the solver's :class:`SolverInfo`.
    """

    def __init__(
        self,
        k: int,
        *,
        solver: str = "auto",
        tol: float | None = None,
        max_iter: int = 2000,
        oversample: int = 8,
        seed: int = 0,
    ) -> None:
        if isinstance(k, bool) or int(k) != k or k < 1:
            raise ValueError(f"the clusterability penalty needs k ≥ 1 eigenvalues, got {k}")
        self.k = int(k)
        self._solver = _Solver(solver, tol, max_iter, oversample, seed)

    @property
    def info(self) -> SolverInfo:
        return self._solver.info

    def __call__(self, model_or_weights: Any) -> torch.Tensor:
        mats = graph_blocks(model_or_weights, absolute=False)
        total = _KyFan.apply(self._solver, self.k + 1, *mats)
        assert isinstance(total, torch.Tensor)
        return (self.k + 1) - total


def clusterability_penalty(
    model_or_weights: Any,
    k: int = 3,
    *,
    solver: str = "auto",
    tol: float | None = None,
    max_iter: int = 2000,
) -> torch.Tensor:
    """Sum of the ``k`` smallest non-trivial eigenvalues of ``L_sym``, with gradients.

    ``P_k = Σ_{i=2..k+1} λ_i(L_sym) = Σ_{i=2..k+1} (1 − σ_i(B))`` (module docstring).

    Parameters
    ----------
    model_or_weights:
        ``nn.Module`` (MLP, or a CNN's channel graph) or a sequence of weight matrices
        ``(inputs, outputs)``; the gradient reaches every weight that enters the graph.
    k:
        Eigenvalues summed, ``1 ≤ k`` and ``k + 1 ≤ min(#even, #odd)`` non-isolated neurons.
    solver, tol, max_iter:
        As :class:`ClusterabilityPenalty` (this function starts cold every call; use
        the class in a training loop).

    Returns
    -------
    torch.Tensor
        0-dim, the weights' dtype and device.
    """
    return ClusterabilityPenalty(k, solver=solver, tol=tol, max_iter=max_iter)(model_or_weights)


# --------------------------------------------------------------------------- weight normalisation

_HOMOGENEOUS = (
    nn.Linear,
    nn.Conv2d,
    nn.ReLU,
    nn.MaxPool2d,
    nn.Dropout,
    nn.Flatten,
    nn.Identity,
    nn.Sequential,
)


NORMALIZE = ("hidden", "all")


@torch.no_grad()
def normalize_incoming_(model: nn.Module, scope: str = "hidden") -> list[torch.Tensor]:
    """Rescale every hidden neuron so its incoming weights and bias have L2 norm √2 (in place).

    See the module docstring for exactly what is normalised. The model must be a
    chain of Linear/Conv2d layers with ReLU, max-pooling, dropout and flatten in
    between (modcut's MLP and SmallCNN), for which the rescaling does not change
    the function. Returns the scale factors ``s`` (one ``(n_l,)`` tensor per
    normalised layer).

    ``scope="hidden"`` (the reference) normalises the hidden neurons only;
    ``scope="all"`` then also rescales every output neuron's incoming weights and
    bias to norm √2, dropping its scale ``s`` (there is no next layer to take it):
    not function-preserving — each output logit is divided by its ``s``, close to 1
    after one optimiser step — but it stops the scale that the hidden normalisation
    passes forward from piling up in the output layer (see the README's regulariser
    section for the measurement).

    Raises
    ------
    ValueError
        A module that is not positively homogeneous (BatchNorm, tanh, …).
    """
    from modcut.readers.extract import layer_modules

    for name, m in model.named_modules():
        if next(m.children(), None) is None and not isinstance(m, _HOMOGENEOUS):
            raise ValueError(
                f"cannot normalise neurons through '{name}' ({type(m).__name__}): the rescaling "
                "is function-preserving only for Linear/Conv2d chains with ReLU, max-pooling, "
                "dropout and flatten"
            )
    if scope not in NORMALIZE:
        raise ValueError(f"normalisation scope must be one of {NORMALIZE}, got {scope!r}")
    layers = layer_modules(model)
    scales = []
    for inc, out in itertools.pairwise(layers):
        s = _unit_incoming_(inc)
        wo = cast(torch.Tensor, out.weight)
        n = int(s.shape[0])
        if isinstance(out, nn.Linear) and isinstance(inc, nn.Conv2d):
            wo.view(wo.shape[0], n, -1).mul_(s[None, :, None])
        else:
            wo.mul_(s.reshape(1, n, *([1] * (wo.ndim - 2))))
        scales.append(s)
    if scope == "all":
        scales.append(_unit_incoming_(layers[-1]))
    return scales


@torch.no_grad()
def _unit_incoming_(layer: nn.Module) -> torch.Tensor:
    """Divide each neuron's incoming weights and bias by ``s = ‖(w, b)‖₂ / √2`` (in place;
    a dead neuron, ``s = 0``, is left as is); returns ``s``, shape ``(n,)``."""
    w = cast(torch.Tensor, layer.weight)
    bias = cast("torch.Tensor | None", layer.bias)
    n = int(w.shape[0])
    sq = w.reshape(n, -1).pow(2).sum(1)
    if bias is not None:
        sq = sq + bias.pow(2)
    s = sq.sqrt() / math.sqrt(2.0)
    safe = torch.where(s != 0, s, torch.ones_like(s))
    w.div_(safe.reshape(n, *([1] * (w.ndim - 1))))
    if bias is not None:
        bias.div_(safe)
    return s


# --------------------------------------------------------------------------- training hook


class ClusterRegulariser:
    """The training side: ``λ/k · P_k`` every ``every`` steps, neurons normalised every step.

    Parameters
    ----------
    model:
        The model being trained (its weights are rescaled in place).
    lam, k, every:
        ``TrainConfig.cluster_reg``, ``cluster_reg_k``, ``cluster_reg_every``.
    normalize:
        ``TrainConfig.cluster_reg_normalize``: ``"hidden"`` (the reference) or
        ``"all"`` (:func:`normalize_incoming_`'s ``scope``).

    Use: :meth:`before_step` before each forward pass (normalises, returns the term
    to add to the loss or None), :meth:`finish` after the last step, and
    :meth:`epoch_penalty` once per epoch (mean penalty over the epoch's penalised steps).
    """

    def __init__(
        self, model: nn.Module, lam: float, k: int, every: int = 1, normalize: str = "hidden"
    ) -> None:
        if normalize not in NORMALIZE:
            raise ValueError(f"cluster_reg_normalize must be one of {NORMALIZE}, got {normalize!r}")
        if not (lam >= 0 and math.isfinite(lam)):
            raise ValueError(f"cluster_reg must be a finite number ≥ 0, got {lam}")
        if every < 1:
            raise ValueError(f"cluster_reg_every must be ≥ 1, got {every}")
        check_penalty_k(model, k)
        self.model = model
        self.lam = float(lam)
        self.k = int(k)
        self.every = int(every)
        self.normalize = normalize
        self.penalty = ClusterabilityPenalty(k)
        self._values: list[torch.Tensor] = []
        self._iters: list[int] = []

    def before_step(self, step: int) -> torch.Tensor | None:
        normalize_incoming_(self.model, self.normalize)
        if step % self.every:
            return None
        p = self.penalty(self.model)
        self._values.append(p.detach())
        self._iters.append(self.penalty.info.iterations)
        return (self.lam / self.k) * p

    def finish(self) -> None:
        normalize_incoming_(self.model, self.normalize)

    def epoch_penalty(self) -> dict[str, float | None]:
        """``{cluster_penalty, cluster_solver_iterations}`` means since the last call (then reset)."""
        if not self._values:
            return {"cluster_penalty": None, "cluster_solver_iterations": None}
        pen = float(torch.stack(self._values).double().mean())
        its = float(np.mean(self._iters))
        self._values, self._iters = [], []
        return {"cluster_penalty": pen, "cluster_solver_iterations": its}
