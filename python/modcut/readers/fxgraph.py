"""The graph of any feed-forward PyTorch model, read from its forward pass.

:func:`network_graph` traces the model with ``torch.fx`` (symbolic tracing) and
runs the traced graph once on a zero input of ``input_shape`` to learn every
tensor's shape. Where fx cannot trace the model (Python control flow on shapes,
calls fx cannot follow), ``tracer="auto"`` (the default) exports it with
``torch.export`` (non-strict) on that zero input instead, and
:mod:`modcut.readers.exportgraph` rewrites the exported ATen program into the same traced
form, so both give the same graph (:func:`program_graph` reads a saved ``.pt2``
program the same way). It returns a :class:`~modcut.network.Network`:

**Nodes.** The network's input and the outputs of every weight layer: ``nn.Linear``
(units), ``nn.Conv2d`` ("filters as units": one node per output channel) and
GPT-2-style ``Conv1D`` (any module of that class name whose ``weight`` is stored
``(in, out)``). Each group is named after its module's qualified name. The input
group is the input's channels when the first weight layer to read it is a
``Conv2d``, its elements (pixels) when a ``Linear`` reads it flattened, and its last
dimension (features) when a ``Linear`` reads it as a sequence. A model with several
tensor inputs gets one input group per input, ``input:<name>`` after the forward's
argument (``input_shape`` is then a tuple of shapes, one per input).

**Edges.** A weight layer ``L`` connects every node group that reaches ``L``'s input
through parameter-free operations to ``L``'s outputs:

* ``Linear``/``Conv1D``: the signed weight (the graph uses ``|w|``); after a
  flatten of channels, the norm (L1 default, L2) of a channel's weights over its
  positions, as :func:`modcut.readers.extract.extract_weights` does;
* ``Conv2d``: the norm of the kernel slice of each (input, output) channel pair;
* an **add** (or subtract) merges its inputs: each group feeding it connects to
  ``L`` with ``L``'s own weights; the product of two activations (a gate) merges
  them the same way;
* a **concatenation** along the feature axis splits ``L``'s input rows among the
  concatenated groups, in order (concatenating along another axis merges);
* a slice, ``chunk`` or ``split`` along the feature axis selects rows;
* multiplying or dividing by a constant number scales the edges by its magnitude.

**Norm layers.** ``BatchNorm1d/2d`` scale feature ``i`` by
``|γ_i| / sqrt(running_var_i + eps)``, ``LayerNorm``/``RMSNorm`` by ``|γ_i|`` (1 without
an affine weight). When the normalised value is the output of one weight layer
used nowhere else, the scale is folded into that layer's output columns (what
``extract_weights`` does); otherwise (after an add, on the input) it multiplies the
rows of every weight layer that reads the normalised value. LayerNorm's
normalisation step (subtract the mean over the features, divide by their standard
deviation) is not per-neuron: it is a per-sample shift and rescaling shared by all
features of a token, so no weight layer's relative weights depend on it; the graph
ignores it (and the bias β) and keeps only γ.

**Refused** (``ValueError`` naming the module or function and the operation): any
other module with parameters (``Conv1d``/``Conv3d``, transposed convolutions,
``Embedding``, ``MultiheadAttention``, recurrent layers, ``GroupNorm``, ``PReLU``,
``Bilinear``, …), parameters used directly in the forward (``F.linear(x, self.w)``,
``x + self.pos_embed``), products between activations through ``matmul``/``bmm``/
``einsum``/``scaled_dot_product_attention`` (attention), reshapes that split or
mix the feature axis (attention heads), ops that act across features in ways the
graph cannot express (``mean`` over features, ``flip``, ``roll``, ``sort``,
indexing with tensors, …), a module called more than once (shared weights), and
models that neither ``torch.fx`` nor ``torch.export`` can read (control flow on the
data's values: ``if x.sum() > 0``).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import fx, nn

from modcut.errors import Refused
from modcut.network import EdgeGroup, Network, NodeGroup
from modcut.readers.extract import conv_matrix, conv_norm_name, slice_norm

__all__ = ["is_conv1d", "network_graph"]


# --------------------------------------------------------------------------------------
# what the tracer treats as a weight layer / norm / parameter-free op


def is_conv1d(m: nn.Module) -> bool:
    """A GPT-2-style ``Conv1D``: a module of that class name with a 2-D ``weight``
    stored ``(in, out)`` (``transformers.pytorch_utils.Conv1D`` and look-alikes)."""
    w = m._parameters.get("weight")  # not getattr: fx's tracer patches attribute access
    return type(m).__name__ == "Conv1D" and isinstance(w, torch.Tensor) and w.dim() == 2


def _is_weight(m: nn.Module) -> bool:
    """Linear, Conv2d or GPT-2 Conv1D: the modules whose weights become edges."""
    return isinstance(m, (nn.Linear, nn.Conv2d)) or is_conv1d(m)


_RMSNORM: tuple[type[nn.Module], ...] = (nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, *_RMSNORM)

_ELEMENTWISE_MODULES = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
    nn.Softsign,
    nn.Hardtanh,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Tanhshrink,
    nn.LogSigmoid,
    nn.Threshold,
    nn.Hardshrink,
    nn.Softshrink,
    nn.Identity,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
    nn.Softmax,
    nn.LogSoftmax,
)
_SPATIAL_MODULES = (
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d,
    nn.LPPool2d,
    nn.ZeroPad2d,
    nn.ConstantPad2d,
    nn.ReflectionPad2d,
    nn.ReplicationPad2d,
    nn.Upsample,
    nn.UpsamplingNearest2d,
    nn.UpsamplingBilinear2d,
)
_RESHAPE_MODULES = (nn.Flatten, nn.Unflatten)

_ELEMENTWISE_FUNCTIONS = {
    F.relu,
    F.relu6,
    F.leaky_relu,
    F.elu,
    F.selu,
    F.celu,
    F.gelu,
    F.silu,
    F.mish,
    F.softplus,
    F.softsign,
    F.hardtanh,
    F.hardswish,
    F.hardsigmoid,
    F.tanhshrink,
    F.logsigmoid,
    F.threshold,
    F.dropout,
    F.dropout1d,
    F.dropout2d,
    F.dropout3d,
    F.alpha_dropout,
    F.feature_alpha_dropout,
    F.softmax,
    F.log_softmax,
    F.sigmoid,
    F.tanh,
    torch.relu,
    torch.sigmoid,
    torch.tanh,
    torch.abs,
    torch.neg,
    torch.exp,
    torch.square,
    torch.clamp,
    torch.clip,
    torch.nn.functional.hardshrink,
    torch.erf,
    operator.neg,
    operator.pos,
    operator.abs,
}
_ELEMENTWISE_METHODS = {
    "relu",
    "relu_",
    "sigmoid",
    "sigmoid_",
    "tanh",
    "tanh_",
    "abs",
    "neg",
    "exp",
    "square",
    "clamp",
    "clamp_",
    "clamp_min",
    "clamp_max",
    "clip",
    "contiguous",
    "clone",
    "detach",
    "float",
    "double",
    "half",
    "bfloat16",
    "to",
    "type",
    "softmax",
    "log_softmax",
    "erf",
}
_SPATIAL_FUNCTIONS = {
    F.max_pool1d,
    F.max_pool2d,
    F.avg_pool1d,
    F.avg_pool2d,
    F.adaptive_avg_pool1d,
    F.adaptive_avg_pool2d,
    F.adaptive_max_pool1d,
    F.adaptive_max_pool2d,
    F.lp_pool2d,
    F.interpolate,
    F.pad,
    F.upsample,
}
_ADD = {operator.add, operator.iadd, operator.sub, operator.isub, torch.add, torch.sub}
_ADD_METHODS = {"add", "add_", "sub", "sub_"}
_MUL = {operator.mul, operator.imul, torch.mul}
_MUL_METHODS = {"mul", "mul_"}
_DIV = {operator.truediv, operator.itruediv, torch.div, torch.true_divide}
_DIV_METHODS = {"div", "div_", "true_divide"}
_POW = {operator.pow, torch.pow}
_POW_METHODS = {"pow", "pow_"}
_CAT = {torch.cat, torch.concat, torch.concatenate}
_RESHAPE_FUNCTIONS = {torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze}
_RESHAPE_METHODS = {"flatten", "view", "reshape", "squeeze", "unsqueeze", "view_as", "reshape_as"}
_REDUCE_FUNCTIONS = {torch.mean, torch.sum, torch.amax, torch.amin}
_REDUCE_METHODS = {"mean", "sum", "amax", "amin"}
_PERMUTE_FUNCTIONS = {torch.permute, torch.transpose, torch.swapaxes, torch.movedim}
_PERMUTE_METHODS = {"permute", "transpose", "swapaxes", "movedim"}
_SPLIT_FUNCTIONS = {torch.chunk, torch.split}
_SPLIT_METHODS = {"chunk", "split"}
_ATTENTION_HINT = (
    "a product between activations (attention, bilinear forms) mixes neurons in a way a "
    "weight graph cannot express"
)
_REFUSED_FUNCTIONS: dict[Any, str] = {
    torch.matmul: _ATTENTION_HINT,
    operator.matmul: _ATTENTION_HINT,
    torch.bmm: _ATTENTION_HINT,
    torch.mm: _ATTENTION_HINT,
    torch.einsum: _ATTENTION_HINT,
    torch.baddbmm: _ATTENTION_HINT,
    F.scaled_dot_product_attention: "attention mixes tokens through a product of activations",
    F.embedding: "embeddings are lookups, not weight matrices between neurons",
    F.linear: "functional layers take their weights as arguments; use nn.Linear",
    F.conv2d: "functional layers take their weights as arguments; use nn.Conv2d",
}
_REFUSED_METHODS: dict[str, str] = {
    "long": "casting activations to integers makes indices (lookups), not neurons",
    "int": "casting activations to integers makes indices (lookups), not neurons",
    "matmul": _ATTENTION_HINT,
    "bmm": _ATTENTION_HINT,
    "mm": _ATTENTION_HINT,
    "__matmul__": _ATTENTION_HINT,
}


def _fn_name(target: Any) -> str:
    if isinstance(target, str):
        return f"method .{target}()"
    from modcut.readers.exportgraph import aten_name

    aten = aten_name(target)
    if aten is not None:
        return aten
    mod = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", repr(target))
    if mod.startswith("torch"):
        mod = {"torch.nn.functional": "F", "torch._C._nn": "F"}.get(mod, "torch")
        return f"{mod}.{name}"
    if mod in ("_operator", "operator"):
        return f"operator.{name}"
    return f"{mod}.{name}" if mod else name


# --------------------------------------------------------------------------------------
# the abstract value of a tensor: which neurons each feature slot is a sum of


@dataclass
class _Term:
    group: int
    idx: np.ndarray  # (slots,) neuron index in `group`, -1 where absent
    scale: np.ndarray  # (slots,) >= 0


@dataclass
class _Val:
    """A tensor derived from the network's input.

    ``fdim``: the feature axis (batch included; ``None`` for the input in element
    mode, whose every element is a feature). Along it, slot ``s`` covers ``P``
    consecutive entries (``P > 1`` after flattening channels with positions).
    Feature slot ``s`` of the tensor is ``Σ_t scale_t[s] · group_t[idx_t[s]]``.
    """

    terms: list[_Term]
    fdim: int | None
    P: int
    shape: tuple[int, ...]
    exclusive: int | None = None  # raw output of this group, no other users on the way
    slots: int = field(init=False)

    def __post_init__(self) -> None:
        self.slots = len(self.terms[0].idx)

    def with_(self, **kw: Any) -> _Val:
        d: dict[str, Any] = {
            "terms": self.terms,
            "fdim": self.fdim,
            "P": self.P,
            "shape": self.shape,
            "exclusive": None,
        }
        d.update(kw)
        return _Val(**d)

    def scaled(self, s: np.ndarray | float) -> _Val:
        s = np.broadcast_to(np.abs(np.asarray(s, dtype=np.float64)), (self.slots,))
        return self.with_(terms=[_Term(t.group, t.idx, t.scale * s) for t in self.terms])


@dataclass
class _Param:
    name: str


_Refused = Refused


def refusal_text(label: str, node: str, what: str, why: str) -> str:
    """The message of every refusal: the model, the construct, the graph node, why."""
    return (
        f"{label}: cannot map {what} (fx node '{node}'): {why}. modcut maps "
        "Linear, Conv2d and Conv1D layers joined by parameter-free operations, adds, "
        "concatenations and BatchNorm/LayerNorm (see modcut.readers.fxgraph)"
    )


def _hint(m: nn.Module) -> str:
    from modcut.readers.exportgraph import leaf_hint

    return leaf_hint(type(m))


def _is_activation(result: Any) -> bool:
    return not isinstance(result, torch.Size) and isinstance(result, (torch.Tensor, tuple, list))


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return is_conv1d(m) or _is_weight(m) or super().is_leaf_module(m, qualname)


# --------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, gm: fx.GraphModule, conv_norm: str, fold_norms: bool, label: str):
        self.gm = gm
        self.norm = conv_norm
        self.fold = fold_norms
        self.label = label
        self.modules = dict(gm.named_modules())
        self.groups: list[NodeGroup] = []
        self.edges: list[list[Any]] = []  # [src, dst, ndarray, name]
        self.called: dict[str, int] = {}
        self.vals: dict[fx.Node, Any] = {}

    # -- errors ---------------------------------------------------------------------
    def refuse(self, node: fx.Node, what: str, why: str) -> _Refused:
        return _Refused(refusal_text(self.label, node.name, what, why))

    # -- weight layers ----------------------------------------------------------------
    def weight_layer(self, node: fx.Node, m: nn.Module, v: Any, out: torch.Tensor) -> _Val:
        name = str(node.target)
        kind = "Conv1D" if is_conv1d(m) else type(m).__name__
        what = f"layer '{name}' ({kind})"
        if not isinstance(v, _Val):
            raise self.refuse(node, what, "its input does not depend on the network's input")
        self.called[name] = self.called.get(name, 0) + 1
        if self.called[name] > 1:
            raise self.refuse(
                node,
                what,
                "the module is called more than once (shared weights): each call "
                "would need its own node group with the same weights",
            )
        if isinstance(m, nn.Conv2d):
            if v.fdim != 1 or len(v.shape) != 4 or v.P != 1:
                raise self.refuse(node, what, "a Conv2d must read a 4-D tensor of channels")
            n_out = int(m.out_channels)
            mats = self._conv_edges(m, v)
        else:
            weight: torch.Tensor = m._parameters["weight"]  # type: ignore[assignment]
            w = weight.detach().to("cpu", torch.float64)
            w = w.T if is_conv1d(m) else w  # (out, in)
            n_in = int(w.shape[1])
            n_out = int(w.shape[0])
            fd = v.fdim if v.fdim is not None else 1
            if v.fdim is None and len(v.shape) != 2:
                raise self.refuse(node, what, "it reads the input's elements unflattened")
            if fd != len(v.shape) - 1:
                raise self.refuse(
                    node,
                    what,
                    f"it acts on axis {len(v.shape) - 1} of a tensor of shape "
                    f"{tuple(v.shape)} whose features lie on axis {fd} (it would mix "
                    "positions, not neurons)",
                )
            if v.slots * v.P != n_in:
                raise self.refuse(
                    node, what, f"it takes {n_in} inputs but receives {v.slots}×{v.P}"
                )
            mats = self._linear_edges(w, v)
        gid = len(self.groups)
        self.groups.append(NodeGroup(name, n_out, kind))
        for src, mat in mats:
            self.edges.append([src, gid, mat, name])
        fdim = 1 if isinstance(m, nn.Conv2d) else out.dim() - 1
        term = _Term(gid, np.arange(n_out), np.ones(n_out))
        excl = gid if len(node.users) == 1 else None
        return _Val([term], fdim, 1, tuple(out.shape), excl)

    @staticmethod
    def _by_group(v: _Val) -> dict[int, list[_Term]]:
        out: dict[int, list[_Term]] = {}
        for t in v.terms:
            out.setdefault(t.group, []).append(t)
        return out

    def _size(self, g: int) -> int:
        return self.groups[g].size

    @staticmethod
    def _injective(ts: list[_Term]) -> bool:
        idx = np.concatenate([t.idx[t.idx >= 0] for t in ts])
        return np.unique(idx).size == idx.size

    def _linear_edges(self, w: torch.Tensor, v: _Val) -> list[tuple[int, np.ndarray]]:
        out_f = int(w.shape[0])
        res = []
        for g, ts in self._by_group(v).items():
            size = self._size(g)
            if v.P == 1:
                wt = w.T.numpy()  # (in, out), signed
                mat = np.zeros((size, out_f))
                for t in ts:
                    ok = t.idx >= 0
                    np.add.at(mat, t.idx[ok], t.scale[ok, None] * wt[ok])
                if len(ts) == 1 and self._plain(ts[0], size):
                    mat = w.T.numpy().copy()  # exactly extract_weights' matrix
            else:
                wr = w.reshape(out_f, v.slots, v.P)
                if self._injective(ts):
                    per = slice_norm(wr, (2,), self.norm).T.numpy()  # (slots, out)
                    mat = np.zeros((size, out_f))
                    for t in ts:
                        ok = t.idx >= 0
                        if len(ts) == 1 and self._plain(t, size):
                            mat = per.copy()
                        else:
                            mat[t.idx[ok]] += t.scale[ok, None] * per[ok]
                else:
                    eff = torch.zeros(out_f, size, v.P, dtype=torch.float64)
                    for t in ts:
                        pos = np.flatnonzero(t.idx >= 0)
                        sc = torch.from_numpy(t.scale[pos])[None, :, None]
                        eff.index_add_(1, torch.from_numpy(t.idx[pos]), wr[:, pos] * sc)
                    mat = slice_norm(eff, (2,), self.norm).T.numpy().copy()
            res.append((g, mat))
        return res

    @staticmethod
    def _plain(t: _Term, size: int) -> bool:
        return (
            t.idx.size == size
            and bool(np.all(t.idx == np.arange(size)))
            and bool(np.all(t.scale == 1.0))
        )

    def _conv_edges(self, m: nn.Conv2d, v: _Val) -> list[tuple[int, np.ndarray]]:
        w64 = m.weight.detach().to("cpu", torch.float64)
        full = conv_matrix(w64, m, self.norm).numpy().copy()  # (in, out) norms, groups expanded
        res = []
        for g, ts in self._by_group(v).items():
            size = self._size(g)
            if len(ts) == 1 and self._plain(ts[0], size):
                res.append((g, full))
                continue
            if self._injective(ts):
                mat = np.zeros((size, full.shape[1]))
                for t in ts:
                    ok = t.idx >= 0
                    mat[t.idx[ok]] += t.scale[ok, None] * full[ok]
            else:  # the same neuron feeds several input channels: norm of the summed kernel
                w = m.weight.detach().to("cpu", torch.float64)
                c_in, grp = int(m.in_channels), int(m.groups)
                gi, go = c_in // grp, int(m.out_channels) // grp
                kf = torch.zeros(int(m.out_channels), c_in, *w.shape[2:], dtype=torch.float64)
                for q in range(grp):
                    kf[q * go : (q + 1) * go, q * gi : (q + 1) * gi] = w[q * go : (q + 1) * go]
                eff = torch.zeros(int(m.out_channels), size, *w.shape[2:], dtype=torch.float64)
                for t in ts:
                    pos = np.flatnonzero(t.idx >= 0)
                    sc = torch.from_numpy(t.scale[pos])[None, :, None, None]
                    eff.index_add_(1, torch.from_numpy(t.idx[pos]), kf[:, pos] * sc)
                mat = slice_norm(eff, (2, 3), self.norm).T.numpy().copy()
            res.append((g, mat))
        return res

    # -- norms ------------------------------------------------------------------------
    def norm_layer(self, node: fx.Node, m: Any, v: Any) -> Any:
        name = str(node.target)
        what = f"layer '{name}' ({type(m).__name__})"
        if not isinstance(v, _Val):
            return v
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if v.fdim != 1 or v.P != 1 or v.slots != m.num_features:
                raise self.refuse(
                    node,
                    what,
                    f"BatchNorm over {m.num_features} features reads "
                    f"a tensor of shape {v.shape} with {v.slots} feature slots",
                )
            if m.running_var is None:
                raise self.refuse(node, what, "it keeps no running statistics to fold")
            scale = 1.0 / torch.sqrt(m.running_var.detach().to("cpu", torch.float64) + m.eps)
            if m.weight is not None:
                scale = scale * m.weight.detach().to("cpu", torch.float64).abs()
        else:
            shape = tuple(getattr(m, "normalized_shape", ()))
            if v.fdim != len(v.shape) - 1 or v.P != 1 or shape != (v.slots,):
                raise self.refuse(
                    node,
                    what,
                    f"it normalises over {shape}, not over the {v.slots} features "
                    f"of the last axis of a tensor of shape {v.shape}",
                )
            wt = getattr(m, "weight", None)
            scale = (
                wt.detach().to("cpu", torch.float64).abs()
                if wt is not None
                else torch.ones(v.slots, dtype=torch.float64)
            )
        if not self.fold:
            return v.with_(exclusive=v.exclusive if len(node.users) == 1 else None)
        s = scale.numpy()
        g = v.exclusive
        if g is not None and len(v.terms) == 1:
            # fold into the producing layer's output columns (extract_weights' rule)
            for e in self.edges:
                if e[1] == g:
                    e[2] = e[2] * s[None, :]
            return v.with_(exclusive=g if len(node.users) == 1 else None)
        return v.scaled(s)

    # -- shape ops ------------------------------------------------------------------------
    def reshape(self, node: fx.Node, what: str, v: _Val, out: torch.Tensor) -> _Val:
        S, T = tuple(v.shape), tuple(out.shape)
        if T == S:
            return v.with_(exclusive=self._excl(node, v))
        if v.fdim is None:
            if len(T) == 2 and T[0] == S[0] and T[1] == math.prod(S[1:]):
                return v.with_(fdim=1, shape=T, exclusive=self._excl(node, v))
            raise self.refuse(node, what, f"reshapes the input's elements {S} to {T}")
        f = v.fdim
        pre = math.prod(S[:f])
        trail = math.prod(S[f + 1 :])
        for g in range(len(T)):
            if math.prod(T[:g]) != pre:
                continue
            if T[g] % v.slots:
                continue
            p_new = T[g] // v.slots
            if p_new * math.prod(T[g + 1 :]) == v.P * trail:
                return v.with_(fdim=g, P=p_new, shape=T, exclusive=self._excl(node, v))
        raise self.refuse(
            node,
            what,
            f"reshaping {S} (features on axis {f}) to {T} splits or mixes the "
            "feature axis (as attention heads do)",
        )

    @staticmethod
    def _excl(node: fx.Node, v: _Val) -> int | None:
        return v.exclusive if len(node.users) == 1 else None

    def same_features(self, node: fx.Node, what: str, v: _Val, out: torch.Tensor) -> _Val:
        if v.fdim is None:
            if tuple(out.shape) != tuple(v.shape):
                raise self.refuse(node, what, "it changes the shape of the input's elements")
            return v.with_(exclusive=self._excl(node, v))
        if out.dim() != len(v.shape) or out.shape[v.fdim] != v.shape[v.fdim]:
            raise self.refuse(
                node,
                what,
                f"it changes the feature axis {v.fdim} of a tensor "
                f"of shape {v.shape} into shape {tuple(out.shape)}",
            )
        if v.P > 1 and tuple(out.shape) != tuple(v.shape):
            raise self.refuse(node, what, "it acts on flattened channel positions")
        return v.with_(shape=tuple(out.shape), exclusive=self._excl(node, v))

    def merge(
        self, node: fx.Node, what: str, vals: list[_Val], out: torch.Tensor, dedupe: bool = False
    ) -> _Val:
        a = vals[0]
        for b in vals[1:]:
            if (b.fdim, b.P, b.slots) != (a.fdim, a.P, a.slots):
                raise self.refuse(
                    node,
                    what,
                    f"it combines tensors of shapes {a.shape} and "
                    f"{b.shape} whose features do not line up",
                )
        terms: list[_Term] = []
        for t in (t for v in vals for t in v.terms):
            if dedupe and any(u.group == t.group and np.array_equal(u.idx, t.idx) for u in terms):
                continue
            terms.append(t)
        fdim = a.fdim
        if fdim is not None and out.dim() != len(a.shape):
            raise self.refuse(node, what, "broadcasting changes the number of axes")
        return a.with_(terms=terms, shape=tuple(out.shape))

    def cat(self, node: fx.Node, what: str, parts: list[Any], dim: int, out: torch.Tensor) -> _Val:
        if not all(isinstance(p, _Val) for p in parts):
            raise self.refuse(
                node,
                what,
                "it concatenates a tensor that does not depend on "
                "the network's input (a constant or parameter)",
            )
        vals: list[_Val] = parts
        nd = out.dim()
        dim = dim % nd
        a = vals[0]
        if a.fdim is None or any(v.fdim != a.fdim for v in vals):
            raise self.refuse(node, what, "its inputs have different feature axes")
        if dim != a.fdim:
            return self.merge(node, what, vals, out)
        if any(v.P != a.P for v in vals):
            raise self.refuse(
                node,
                what,
                "it concatenates flattened tensors with different numbers of positions per channel",
            )
        total = sum(v.slots for v in vals)
        terms, start = [], 0
        for v in vals:
            for t in v.terms:
                idx = np.full(total, -1, dtype=np.int64)
                sc = np.zeros(total)
                idx[start : start + v.slots] = t.idx
                sc[start : start + v.slots] = t.scale
                terms.append(_Term(t.group, idx, sc))
            start += v.slots
        return _Val(terms, a.fdim, a.P, tuple(out.shape))

    def select(self, v: _Val, sel: np.ndarray, out: torch.Tensor, fdim: int) -> _Val:
        terms = [_Term(t.group, t.idx[sel], t.scale[sel]) for t in v.terms]
        return _Val(terms, fdim, v.P, tuple(out.shape))

    def getitem(self, node: fx.Node, what: str, v: _Val, index: Any, out: torch.Tensor) -> _Val:
        if v.fdim is None:
            raise self.refuse(node, what, "it indexes the input's elements")
        idx = index if isinstance(index, tuple) else (index,)
        n_real = sum(1 for i in idx if i is not None and i is not Ellipsis)
        expanded: list[Any] = []
        for i in idx:
            if i is Ellipsis:
                expanded += [slice(None)] * (len(v.shape) - n_real)
            else:
                expanded.append(i)
        expanded += [slice(None)] * (len(v.shape) - sum(1 for i in expanded if i is not None))
        axis, new_axis, fdim_new, sel = 0, 0, None, None
        for i in expanded:
            if i is None:
                new_axis += 1
                continue
            if axis == v.fdim:
                if isinstance(i, slice):
                    fdim_new = new_axis
                    if i != slice(None):
                        if v.P != 1:
                            raise self.refuse(node, what, "it slices flattened channels")
                        sel = np.arange(v.slots)[i]
                else:
                    raise self.refuse(
                        node, what, "it picks single features out of the feature axis"
                    )
            elif not isinstance(i, (slice, int)):
                raise self.refuse(node, what, "it indexes with a tensor or list")
            if isinstance(i, slice):
                new_axis += 1
            axis += 1
        assert fdim_new is not None
        if sel is None:
            return v.with_(fdim=fdim_new, shape=tuple(out.shape))
        return self.select(v, sel, out, fdim_new)

    def split(self, node: fx.Node, what: str, v: _Val, outs: Any, dim: int) -> list[_Val]:
        if v.fdim is None or dim % len(v.shape) != v.fdim:
            return [v.with_(shape=tuple(o.shape)) for o in outs]
        if v.P != 1:
            raise self.refuse(node, what, "it splits flattened channels")
        res, start = [], 0
        for o in outs:
            n = int(o.shape[v.fdim])
            res.append(self.select(v, np.arange(start, start + n), o, v.fdim))
            start += n
        return res

    # -- dispatch -------------------------------------------------------------------------
    def abstract(self, node: fx.Node, result: Any) -> Any:
        get: Any = self.vals.get
        args: Any = fx.node.map_arg(node.args, get)
        kwargs: Any = fx.node.map_arg(node.kwargs, get)
        flat: list[Any] = []

        def collect(a: Any) -> Any:
            flat.append(a)
            return a

        fx.node.map_aggregate((args, kwargs), collect)
        traced = [a for a in flat if isinstance(a, _Val)]
        params = [a for a in flat if isinstance(a, _Param)]

        if node.op == "get_attr":
            return _Param(str(node.target))
        if node.op == "output":
            return None
        if node.op == "call_module":
            m = self.modules[str(node.target)]
            what = f"module '{node.target}' ({type(m).__name__})"
            v = args[0] if args else None
            if _is_weight(m):
                return self.weight_layer(node, m, v, result)
            if isinstance(m, _NORMS):
                return self.norm_layer(node, m, v)
            if any(p is not None for p in m.parameters(recurse=True)) or isinstance(
                m, (nn.RNNBase, nn.MultiheadAttention, nn.Embedding, nn.EmbeddingBag)
            ):
                raise self.refuse(node, what, _hint(m))
            if not traced:
                return None
            if len(traced) != 1 or not isinstance(v, _Val):
                raise self.refuse(node, what, "it takes several inputs")
            if isinstance(m, _ELEMENTWISE_MODULES):
                return self.same_features(node, what, v, result)
            if isinstance(m, _SPATIAL_MODULES):
                if v.fdim != 1 or v.P != 1:
                    raise self.refuse(
                        node, what, "pooling must act on the positions of a tensor of channels"
                    )
                return self.same_features(node, what, v, result)
            if isinstance(m, _RESHAPE_MODULES):
                return self.reshape(node, what, v, result)
            raise self.refuse(node, what, "modcut does not know how this module maps neurons")

        if node.op not in ("call_function", "call_method"):
            return None
        target = node.target
        what = f"{_fn_name(target)}"
        if not traced:
            if params and isinstance(result, torch.Tensor):
                return _Param(params[0].name)
            return None
        if params:
            raise self.refuse(
                node,
                what,
                f"it uses parameter or buffer '{params[0].name}' "
                "directly; only weight-layer modules may hold weights",
            )
        is_m = node.op == "call_method"
        v0: Any = args[0] if args else None

        def name_in(fns: set[Any], meths: set[str]) -> bool:
            return (target in meths) if is_m else (target in fns)

        if not is_m and target in _REFUSED_FUNCTIONS:
            raise self.refuse(node, what, _REFUSED_FUNCTIONS[target])
        if is_m and target in _REFUSED_METHODS:
            raise self.refuse(node, what, _REFUSED_METHODS[str(target)])
        if not _is_activation(result):
            return None  # sizes, dims, …: bookkeeping, not activations
        if name_in(_ELEMENTWISE_FUNCTIONS, _ELEMENTWISE_METHODS):
            if len(traced) != 1:
                raise self.refuse(node, what, "it combines several activations")
            return self.same_features(node, what, traced[0], result)
        if name_in(_SPATIAL_FUNCTIONS, set()):
            if v0.fdim != 1 or v0.P != 1:
                raise self.refuse(
                    node, what, "pooling must act on the positions of a tensor of channels"
                )
            return self.same_features(node, what, v0, result)
        if name_in(_ADD, _ADD_METHODS):
            if len(traced) == 1:
                return traced[0].with_(shape=tuple(result.shape))  # + a constant
            return self.merge(node, what, traced, result)
        is_mul = name_in(_MUL, _MUL_METHODS)
        if is_mul or name_in(_DIV, _DIV_METHODS):
            if len(traced) == 2 and is_mul:
                # a gate (x * y of two activations): both feed the product neuron; an
                # elementwise function of one group (x * tanh(x)) keeps that group once
                return self.merge(node, what, traced, result, dedupe=True)
            a0 = args[0]
            a1 = args[1] if len(args) > 1 else kwargs.get("other")
            if len(traced) != 1 or not isinstance(a0, _Val):
                raise self.refuse(node, what, "it divides by an activation")
            if not isinstance(a1, (int, float)) or isinstance(a1, bool):
                raise self.refuse(
                    node,
                    what,
                    "it multiplies an activation by a tensor or a "
                    "value that is not a constant number",
                )
            factor = float(a1) if is_mul else 1.0 / float(a1)
            return traced[0].scaled(factor).with_(shape=tuple(result.shape))
        if name_in(_POW, _POW_METHODS):
            if len(traced) != 1 or not isinstance(args[0], _Val):
                raise self.refuse(node, what, "it raises a number to an activation's power")
            return self.same_features(node, what, traced[0], result)
        if name_in(_CAT, set()):
            parts = list(args[0])
            dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
            return self.cat(node, what, parts, int(dim), result)
        if name_in(_RESHAPE_FUNCTIONS, _RESHAPE_METHODS):
            return self.reshape(node, what, v0, result)
        if name_in(_PERMUTE_FUNCTIONS, _PERMUTE_METHODS):
            perm = self._permutation(node, args, kwargs, len(v0.shape), target)
            if v0.fdim is None or v0.P != 1:
                raise self.refuse(node, what, "it permutes axes of flattened or element data")
            return v0.with_(fdim=perm.index(v0.fdim), shape=tuple(result.shape))
        if name_in(_REDUCE_FUNCTIONS, _REDUCE_METHODS):
            dims = args[1] if len(args) > 1 else kwargs.get("dim")
            if dims is None or v0.fdim is None:
                raise self.refuse(node, what, "it reduces over the features")
            dims = [
                int(d) % len(v0.shape)
                for d in (dims if isinstance(dims, (tuple, list)) else [dims])
            ]
            if v0.fdim in dims or v0.P != 1:
                raise self.refuse(node, what, "it reduces over the features")
            keep = bool(args[2] if len(args) > 2 else kwargs.get("keepdim", False))
            fd = v0.fdim if keep else v0.fdim - sum(1 for d in dims if d < v0.fdim)
            return v0.with_(fdim=fd, shape=tuple(result.shape))
        if name_in(_SPLIT_FUNCTIONS, _SPLIT_METHODS):
            dim = args[2] if len(args) > 2 else kwargs.get("dim", 0)
            return self.split(node, what, v0, result, int(dim))
        if not is_m and target is operator.getitem:
            if isinstance(v0, list):
                return v0[args[1]]
            if isinstance(v0, _Val):
                return self.getitem(node, what, v0, args[1], result)
        raise self.refuse(node, what, "modcut does not know how this operation maps neurons")

    @staticmethod
    def _permutation(node: fx.Node, args: Any, kwargs: Any, nd: int, target: Any) -> list[int]:
        name = target if isinstance(target, str) else target.__name__
        if name == "permute":
            dims = args[1:] if not isinstance(args[1], (tuple, list)) else args[1]
            return [int(d) % nd for d in dims]
        if name in ("transpose", "swapaxes"):
            a, b = int(args[1]) % nd, int(args[2]) % nd
            p = list(range(nd))
            p[a], p[b] = p[b], p[a]
            return p
        src, dst = int(args[1]) % nd, int(args[2]) % nd
        p = [d for d in range(nd) if d != src]
        p.insert(dst, src)
        return p


class _Interp(fx.Interpreter):
    def __init__(self, gm: fx.GraphModule, builder: _Builder, firsts: dict[fx.Node, _Val]):
        super().__init__(gm)
        self.b = builder
        self.firsts = firsts

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        if n.op == "placeholder":
            self.b.vals[n] = self.firsts[n]
        else:
            self.b.vals[n] = self.b.abstract(n, result)
        return result


def _input_mode(
    gm: fx.GraphModule,
    shapes: dict[fx.Node, tuple[int, ...]],
    modules: dict[str, nn.Module],
    ph: fx.Node,
) -> str:
    """'channels', 'elements' or 'last' for the input group of placeholder ``ph`` (see the
    module docstring)."""
    direct = {ph}
    for n in gm.graph.nodes:
        if n is ph or not any(a in direct for a in n.all_input_nodes):
            continue
        if n.op == "call_module" and _is_weight(modules[str(n.target)]):
            m = modules[str(n.target)]
            if isinstance(m, nn.Conv2d):
                return "channels"
            arg_shape = shapes.get(n.args[0]) if isinstance(n.args[0], fx.Node) else None
            full = shapes[ph]
            if (
                arg_shape is not None
                and len(arg_shape) == 2
                and len(full) > 2
                and arg_shape[1] == math.prod(full[1:])
            ):
                return "elements"  # the input flattened whole (tokens folded into rows are not)
            return "last"
        direct.add(n)
    return "last"


def _default_shape(model: nn.Module) -> tuple[int, ...]:
    for m in model.modules():
        if isinstance(m, nn.Linear):
            return (int(m.in_features),)
        if is_conv1d(m):
            return (int(m._parameters["weight"].shape[0]),)  # type: ignore[union-attr]
        if isinstance(m, nn.Conv2d):
            raise ValueError(
                f"{type(model).__name__} starts with a Conv2d: pass input_shape=(C, H, W)"
            )
    raise ValueError(f"{type(model).__name__} has no Linear, Conv2d or Conv1D layer")


def trace(model: nn.Module) -> fx.GraphModule:
    """``torch.fx`` symbolic trace with Linear/Conv2d/Conv1D as leaves (ValueError if it fails)."""
    try:
        graph = _Tracer().trace(model)
    except Exception as exc:  # fx raises many types (TraceError, TypeError, …)
        raise ValueError(
            f"cannot trace the forward pass of {type(model).__name__} with torch.fx "
            f"({type(exc).__name__}: {exc}); data-dependent control flow cannot be traced"
        ) from exc
    return fx.GraphModule(model, graph)


_TRACERS = ("auto", "fx", "export")


def _input_names(model: nn.Module) -> list[str]:
    """The forward's tensor argument names (positional, without defaults)."""
    import inspect

    try:
        sig = inspect.signature(model.forward)
    except (TypeError, ValueError):
        return ["x"]
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [
        p.name
        for p in sig.parameters.values()
        if p.kind in kinds and p.default is inspect.Parameter.empty
    ]
    return names or ["x"]


#: The most values one traced example may have (2**28: 1 GiB in float32, far above any
#: image or token batch a graph is read from).
_MAX_EXAMPLE = 2**28


def _shapes_of(
    input_shape: Any, names: list[str], label: str, default: Any
) -> list[tuple[int, ...]]:
    """One shape per input: ``input_shape`` is one shape (one input) or a tuple of them."""
    n = len(names)
    listing = ", ".join(names)
    if input_shape is None:
        if n != 1:
            raise ValueError(
                f"{label} takes {n} inputs ({listing}): pass input_shape as a "
                f"tuple of {n} shapes, one per input, e.g. ((784,), (10,))"
            )
        return [tuple(int(d) for d in default())]

    def is_shape(s: Any) -> bool:
        return isinstance(s, (tuple, list, torch.Size)) and all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in s
        )

    if is_shape(input_shape):
        shapes = [tuple(int(d) for d in input_shape)]
    elif isinstance(input_shape, (tuple, list)) and all(is_shape(s) for s in input_shape):
        shapes = [tuple(int(d) for d in s) for s in input_shape]
    else:
        raise ValueError(
            f"input_shape must be a shape (a tuple of ints) or, for a model with "
            f"several inputs, a tuple of shapes; got {input_shape!r}"
        )
    for shape in shapes:
        if any(d < 1 for d in shape):
            raise ValueError(
                f"input_shape must give sizes of at least 1 for every axis of one example "
                f"(without the batch axis), got {shape}"
            )
        if math.prod(shape) > _MAX_EXAMPLE:
            raise ValueError(
                f"input_shape {shape} asks for an example of {math.prod(shape):,} values, more "
                f"than the {_MAX_EXAMPLE:,} that tracing a model with one may allocate; give one "
                "example's shape without the batch axis"
            )
    if len(shapes) != n:
        raise ValueError(
            f"{label} takes {n} inputs ({listing}) but input_shape gives "
            f"{len(shapes)} shape(s) {shapes}: pass one shape per input"
        )
    return shapes


def network_graph(
    model: nn.Module,
    input_shape: Any = None,
    *,
    conv_norm: str = "l1",
    fold_norms: bool = True,
    tracer: str = "auto",
) -> Network:
    """The graph of ``model``'s neurons, read from its forward pass.

    Parameters
    ----------
    model:
        A feed-forward ``torch.nn.Module`` taking one or several tensors.
    input_shape:
        Shape of one example without the batch axis, e.g. ``(3, 224, 224)`` or
        ``(784,)``; for a model with several tensor inputs, a tuple of shapes, one
        per input in the forward's order (``((784,), (10,))``). Default (one input):
        ``(in_features,)`` of the first Linear/Conv1D; required when the model starts
        with a Conv2d, when it has several inputs, and when only ``torch.export``
        can read it.
    conv_norm:
        ``"l1"`` (default, the reference) or ``"l2"``: the norm of a kernel slice or
        of a channel's flattened weights.
    fold_norms:
        Fold BatchNorm/LayerNorm scales into the graph (True) or ignore them.
    tracer:
        ``"fx"`` (``torch.fx`` symbolic tracing), ``"export"`` (``torch.export``,
        non-strict, on a zero example of ``input_shape``;
        :mod:`modcut.readers.exportgraph`) or ``"auto"`` (default: fx, then export where
        fx fails, e.g. on control flow that depends on shapes). Both give the same
        graph where both can read the model.

    Returns
    -------
    Network
        Node group 0 is ``"input"`` (``"input:<name>"``, one per tensor input named
        after the forward's argument, for several inputs), then one group per weight
        layer in forward order, named after the module; one edge group per (source
        group, layer). ``summary()`` lists them. A plain chain gives exactly
        :func:`modcut.readers.extract.extract_weights`' matrices.

    Raises
    ------
    ValueError
        A construct that cannot be mapped, named with its module or function and
        the reason (see the module docstring for the list); a model neither tracer
        can read; an ``input_shape`` whose count does not match the inputs.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"network_graph takes a torch.nn.Module, got {type(model).__name__}")
    norm = conv_norm_name(conv_norm)
    if tracer not in _TRACERS:
        raise ValueError(f"tracer must be one of {_TRACERS}, got {tracer!r}")
    label = type(model).__name__
    for name, m in model.named_modules():
        if isinstance(getattr(m, "weight", None), nn.parameter.UninitializedParameter):
            raise ValueError(
                f"{label}: module '{name}' is not initialised yet (lazy module): "
                "run one forward pass first"
            )
    gm: fx.GraphModule | None = None
    fx_error: ValueError | None = None
    if tracer in ("auto", "fx"):
        try:
            gm = trace(model)
        except ValueError as exc:
            if tracer == "fx":
                raise
            fx_error = exc
    if gm is not None:
        names = [str(n.target) for n in gm.graph.nodes if n.op == "placeholder"]
    else:
        names = _input_names(model)
    if gm is None and input_shape is None and len(names) == 1:
        try:
            shapes = _shapes_of(None, names, label, lambda: _default_shape(model))
        except ValueError as exc:
            why = f"{fx_error}; " if fx_error is not None else ""
            raise ValueError(f"{why}torch.export needs an example input: {exc}") from None
    else:
        shapes = _shapes_of(input_shape, names, label, lambda: _default_shape(model))
    dtype = _dtype(model)
    xs = tuple(torch.zeros((2, *s), dtype=dtype) for s in shapes)
    modes = [m.training for m in model.modules()]
    model.eval()
    try:
        if gm is None:
            from modcut.readers.exportgraph import export_model, from_exported

            try:
                ep = export_model(model, xs, label)
            except ValueError as exc:
                if fx_error is not None:
                    raise ValueError(f"{fx_error}; {exc}") from None
                raise
            gm = from_exported(ep, label, model)
        return _graph_of(gm, xs, label, norm, fold_norms)
    finally:
        for m, t in zip(model.modules(), modes, strict=True):
            m.training = t


def program_graph(
    ep: Any, *, conv_norm: str = "l1", fold_norms: bool = True, label: str = "ExportedProgram"
) -> Network:
    """The graph of an ``ExportedProgram`` (``torch.export.export``/``torch.export.load``),
    read from the program alone (no Python class needed).

    The example input is zeros of the shapes the program was exported with (its
    user inputs' recorded shapes, batch axis included); the mapping is
    :func:`network_graph`'s (``tracer="export"``).
    """
    from modcut.readers.exportgraph import from_exported

    norm = conv_norm_name(conv_norm)
    gm = from_exported(ep, label)
    xs = []
    for n in gm.graph.nodes:
        if n.op != "placeholder":
            continue
        val = n.meta.get("val")
        if not isinstance(val, torch.Tensor) or not all(isinstance(d, int) for d in val.shape):
            raise ValueError(
                f"{label}: input '{n.name}' has no static tensor shape in the "
                "program (export it with static shapes)"
            )
        xs.append(torch.zeros(tuple(val.shape), dtype=val.dtype))
    return _graph_of(gm, tuple(xs), label, norm, fold_norms)


def _graph_of(
    gm: fx.GraphModule, xs: tuple[torch.Tensor, ...], label: str, norm: str, fold_norms: bool
) -> Network:
    """Run ``gm`` (traced or rewritten from an export) on ``xs`` and map it."""
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != len(xs):
        raise ValueError(f"{label} takes {len(placeholders)} inputs, got {len(xs)} shapes")
    shapes: dict[fx.Node, tuple[int, ...]] = {}

    class _Shapes(fx.Interpreter):
        def run_node(self, n: fx.Node) -> Any:
            r = super().run_node(n)
            if isinstance(r, torch.Tensor):
                shapes[n] = tuple(r.shape)
            return r

    with torch.no_grad():
        try:
            _Shapes(gm).run(*xs)
        except _Refused as exc:  # a node the export rewrite refused
            raise ValueError(str(exc.args[0]).split("\n")[0]) from None
        except Exception as exc:
            given = [tuple(x.shape[1:]) for x in xs]
            raise ValueError(
                f"{label} does not run on inputs of shape {given} "
                f"({type(exc).__name__}: {exc}); pass input_shape="
            ) from exc
        b = _Builder(gm, norm, fold_norms, label)
        firsts: dict[fx.Node, _Val] = {}
        for ph, x in zip(placeholders, xs, strict=True):
            mode = _input_mode(gm, shapes, b.modules, ph)
            full = tuple(x.shape)
            if mode == "channels":
                if len(full) != 4:
                    raise ValueError(
                        f"{label}: a Conv2d reads input '{ph.target}', so its "
                        f"shape must be (C, H, W), got {full[1:]}"
                    )
                size, fdim = full[1], 1
            elif mode == "elements":
                size, fdim = math.prod(full[1:]), None
            else:
                size, fdim = full[-1], len(full) - 1
            gid = len(b.groups)
            name = "input" if len(xs) == 1 else f"input:{ph.target}"
            b.groups.append(NodeGroup(name, int(size), "input"))
            first = _Val([_Term(gid, np.arange(size), np.ones(size))], fdim, 1, full)
            if fdim is None and len(full) == 2:
                first = first.with_(fdim=1)
            firsts[ph] = first
        try:
            _Interp(gm, b, firsts).run(*xs)
        except _Refused as exc:  # drop the notes fx's interpreter appends
            raise ValueError(str(exc.args[0]).split("\n")[0]) from None
    n_inputs = len(xs)
    if len(b.groups) <= n_inputs:
        raise ValueError(f"{label} has no weight layer reading its input")
    edges = [
        EdgeGroup(int(s), int(d), sp.csr_array(np.ascontiguousarray(m, dtype=np.float64)), n)
        for s, d, m, n in b.edges
    ]
    return Network.from_edges(b.groups, edges)


def _dtype(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def check_chain(model: nn.Module) -> None:
    """Raise ``ValueError`` unless ``model``'s forward pass is a plain chain of its weight
    layers in registration order (what :func:`modcut.readers.extract.extract_weights`
    reads). Needs no input shape: only which weight layer reads which. A model that
    ``torch.fx`` cannot trace is read with ``torch.export`` on a zero example of
    ``(in_features,)`` of its first Linear/Conv1D (shape-dependent control flow then
    follows that shape); one neither can read is refused unless it is an
    ``nn.Sequential`` (whose forward pass is its registration order by construction):
    reading it as a chain would be a guess."""
    from modcut.readers.extract import layer_names

    try:
        gm = trace(model)
    except ValueError as exc:
        if type(model) is nn.Sequential:
            return
        try:
            gm = _exported_for_check(model)
        except ValueError as exc2:
            raise ValueError(
                f"{exc}; {exc2}; modcut cannot check that its forward pass is the chain of its "
                "weight layers, so it does not guess: pass the weight matrices (inputs × "
                "outputs) instead, or make the model traceable by torch.fx or torch.export"
            ) from None

    modules = dict(gm.named_modules())
    sources: dict[fx.Node, frozenset[str]] = {}
    order: list[str] = []
    reads: dict[str, frozenset[str]] = {}
    for n in gm.graph.nodes:
        ins: frozenset[str] = frozenset().union(
            *(sources.get(a, frozenset()) for a in n.all_input_nodes)
        )
        if n.op == "placeholder":
            sources[n] = frozenset({"<input>"})
        elif n.op == "call_module" and _is_weight(modules[str(n.target)]):
            name = str(n.target)
            order.append(name)
            reads[name] = ins
            sources[n] = frozenset({name})
        else:
            sources[n] = ins
    expected = layer_names(model)
    prev = "<input>"
    for name in order:
        if reads[name] != {prev}:
            got = ", ".join(sorted(s.replace("<input>", "the input") for s in reads[name]))
            raise ValueError(
                f"{type(model).__name__} is not a chain of its weight layers: '{name}' reads "
                f"{got or 'nothing from the input'} (skip connections, concatenations or "
                "parallel branches); use modcut.network_graph(model, input_shape=...) and pass "
                "its Network to modcut's functions"
            )
        prev = name
    if order != expected:
        raise ValueError(
            f"{type(model).__name__} calls its weight layers in the order {order}, not in the "
            f"order they are registered ({expected}); use modcut.network_graph(model, ...)"
        )


def _exported_for_check(model: nn.Module) -> fx.GraphModule:
    """The export rewrite of a one-input model on a zero example of its first layer's
    input size (ValueError when that size is unknown or export fails)."""
    from modcut.readers.exportgraph import export_model, from_exported

    label = type(model).__name__
    if len(_input_names(model)) != 1:
        raise ValueError(f"{label} takes several inputs")
    x = torch.zeros((2, *_default_shape(model)), dtype=_dtype(model))
    return from_exported(export_model(model, (x,), label), label, model)
