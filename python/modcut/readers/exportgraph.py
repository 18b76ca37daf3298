"""A ``torch.export`` program, rewritten in the ``torch.fx`` form :mod:`modcut.readers.fxgraph` maps.

``torch.fx`` symbolic tracing fails on Python control flow that depends on shapes
(``if x.shape[-1] > 100:``, loops over ``x.size(1)``) and on calls it cannot
follow; ``torch.export`` runs the forward pass on an example input instead and
records the ATen operations it executes. :func:`from_exported` rewrites such a
program (an ``ExportedProgram``, from a model or from a ``.pt2`` file written by
``torch.export.save``) into an ``fx.GraphModule`` that reads like a traced one,
so that the one mapper of :mod:`modcut.readers.fxgraph` gives the same graph:

* the program's parameters and buffers are graph inputs;
  ``graph_signature.inputs_to_parameters`` / ``inputs_to_buffers`` name them, and
  each node's ``nn_module_stack`` says which module's forward ran it. An
  ``aten.linear``/``aten.conv2d``/``aten.convolution``/``aten.addmm``/``aten.mm``
  whose weight is the ``weight`` of the module running it becomes a
  ``call_module`` of a rebuilt ``nn.Linear``/``nn.Conv2d``/GPT-2 ``Conv1D`` (weight
  stored ``(in, out)``) at that module's name; ``aten.batch_norm`` (and its
  ``_native_batch_norm_legit_no_training``/``native_batch_norm`` forms),
  ``aten.layer_norm``/``native_layer_norm`` and ``aten.rms_norm`` run by a
  BatchNorm/LayerNorm/RMSNorm module become a ``call_module`` of a rebuilt norm
  with the same statistics and affine weights;
* ATen operations with a torch counterpart in fxgraph's tables (activations,
  dropout, add/sub/mul/div, cat, view/reshape/flatten/squeeze/unsqueeze/unflatten,
  permute/transpose/t, slice/select (as indexing), split/chunk, pooling,
  ``mean``/``sum`` over axes, softmax, matmul/bmm/mm between activations, …)
  become that counterpart, so they map, or are refused, exactly as there;
  copies (``clone``, ``contiguous``, ``alias``, ``_to_copy``, ``detach``) are
  identities;
* a node run inside a ``torch.nn`` module that ``torch.fx`` would keep as one
  opaque call (a leaf) and that has parameters but is not a weight layer or a
  norm (``MultiheadAttention``, ``Embedding``, ``LSTM``, ``GroupNorm``, ``PReLU``,
  ``Conv1d``, …) is refused by the module's name and class, as the fx path refuses
  it; a parameter used any other way becomes a ``get_attr`` (refused by fxgraph as
  a parameter used directly);
* any other ATen operation keeps its ATen target, which fxgraph refuses by name
  (``aten.expand``, …) when it acts on activations.
"""

from __future__ import annotations

import contextlib
import io
import operator
import sys
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

__all__ = ["Conv1D", "export_model", "from_exported", "leaf_hint"]


class Conv1D(nn.Module):
    """GPT-2's ``Conv1D`` rebuilt from an exported ``addmm``/``mm``: ``y = x @ W + b``
    with ``W`` stored ``(in, out)`` (:func:`modcut.readers.fxgraph.is_conv1d` recognises it)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.detach().clone(), requires_grad=False)
        self.bias = (
            nn.Parameter(bias.detach().clone(), requires_grad=False) if bias is not None else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x @ self.weight
        return y + self.bias if self.bias is not None else y


def _refuse(message: str, *_args: Any) -> Any:
    """Graph target of a node that cannot be mapped: raises when the node runs, so that
    refusals come in forward order, as on the fx path."""
    from modcut.readers.fxgraph import Refused

    raise Refused(message)


# ATen packet name -> the torch counterpart fxgraph's tables hold (same positional
# arguments unless _ARGS rewrites them)
_SAME: dict[str, Any] = {
    "relu": torch.relu,
    "hardtanh": F.hardtanh,
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "selu": F.selu,
    "celu": F.celu,
    "gelu": F.gelu,
    "silu": F.silu,
    "mish": F.mish,
    "softplus": F.softplus,
    "hardswish": F.hardswish,
    "hardsigmoid": F.hardsigmoid,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "abs": torch.abs,
    "neg": torch.neg,
    "exp": torch.exp,
    "square": torch.square,
    "erf": torch.erf,
    "clamp": torch.clamp,
    "clip": torch.clip,
    "threshold": F.threshold,
    "log_sigmoid": F.logsigmoid,
    "hardshrink": F.hardshrink,
    "dropout": F.dropout,
    "alpha_dropout": F.alpha_dropout,
    "feature_dropout": F.dropout2d,
    "feature_alpha_dropout": F.feature_alpha_dropout,
    "add": torch.add,
    "sub": torch.sub,
    "mul": torch.mul,
    "div": torch.div,
    "pow": torch.pow,
    "cat": torch.cat,
    "concat": torch.cat,
    "view": torch.reshape,
    "reshape": torch.reshape,
    "_unsafe_view": torch.reshape,
    "flatten": torch.flatten,
    "squeeze": torch.squeeze,
    "unsqueeze": torch.unsqueeze,
    "permute": torch.permute,
    "transpose": torch.transpose,
    "movedim": torch.movedim,
    "mean": torch.mean,
    "sum": torch.sum,
    "amax": torch.amax,
    "amin": torch.amin,
    "max_pool1d": F.max_pool1d,
    "max_pool2d": F.max_pool2d,
    "avg_pool1d": F.avg_pool1d,
    "avg_pool2d": F.avg_pool2d,
    "adaptive_avg_pool1d": F.adaptive_avg_pool1d,
    "adaptive_avg_pool2d": F.adaptive_avg_pool2d,
    "pad": F.pad,
    "split": torch.split,
    "split_with_sizes": torch.split,
    "chunk": torch.chunk,
    "matmul": torch.matmul,
    "bmm": torch.bmm,
    "mm": torch.mm,
    "einsum": torch.einsum,
    "baddbmm": torch.baddbmm,
    "scaled_dot_product_attention": F.scaled_dot_product_attention,
    "linear": F.linear,
    "conv2d": F.conv2d,
}
# ops that return a tuple whose first element is the tensor (getitem 0 reads it)
_FIRST_OF_TUPLE: dict[str, Any] = {
    "max_pool2d_with_indices": F.max_pool2d,
    "max_pool1d_with_indices": F.max_pool1d,
    "adaptive_max_pool2d": F.adaptive_max_pool2d,
    "adaptive_max_pool1d": F.adaptive_max_pool1d,
    "native_dropout": F.dropout,
}
_COPIES = {
    "clone",
    "contiguous",
    "alias",
    "_to_copy",
    "detach",
    "lift_fresh_copy",
    "to",
    "_assert_tensor_metadata_copy",
}
_WEIGHT_OPS = {"linear", "conv2d", "convolution", "addmm", "mm"}
_NORM_OPS = {
    "batch_norm",
    "_native_batch_norm_legit_no_training",
    "native_batch_norm",
    "layer_norm",
    "native_layer_norm",
    "rms_norm",
}
_NORM_CLASSES = {"BatchNorm1d", "BatchNorm2d", "LayerNorm", "RMSNorm"}
_WEIGHT_CLASSES = {"Linear", "Conv2d", "Conv1D"}
_MAPPED_LEAVES: tuple[type, ...] = (
    nn.Linear,
    nn.Conv2d,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.LayerNorm,
    *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()),
)
_TUPLE_RESULTS = {"_native_batch_norm_legit_no_training", "native_batch_norm", "native_layer_norm"}


def _packet(target: Any) -> str | None:
    """``'relu'`` for ``aten.relu_.default`` (in-place variants map as their pure form)."""
    if not isinstance(target, torch._ops.OpOverload):
        return None
    name = target._schema.name
    if not name.startswith("aten::"):
        return None
    base = name[len("aten::") :]
    if base.endswith("_") and not base.startswith("_") and base[:-1] in _SAME:
        return base[:-1]
    return base


def aten_name(target: Any) -> str | None:
    """``'aten.expand'`` for an ATen operator, else ``None`` (for error messages)."""
    p = _packet(target)
    return f"aten.{p}" if p is not None else None


def _arguments(node: fx.Node) -> dict[str, Any]:
    """The node's arguments by schema name, defaults filled in."""
    schema = node.target._schema  # type: ignore[union-attr]
    out: dict[str, Any] = {}
    for i, a in enumerate(schema.arguments):
        if i < len(node.args):
            out[a.name] = node.args[i]
        elif a.name in node.kwargs:
            out[a.name] = node.kwargs[a.name]
        elif a.has_default_value():
            out[a.name] = a.default_value
        else:
            out[a.name] = None
    return out


def _leaf_class(type_name: str) -> type | None:
    """The ``torch.nn`` class a ``nn_module_stack`` entry names (``None`` for others:
    nothing is imported)."""
    mod, _, cls = type_name.rpartition(".")
    if not (mod.startswith("torch.nn") or mod.startswith("torch.ao.nn")):
        return None
    found = getattr(sys.modules.get(mod), cls, None)
    return found if isinstance(found, type) else None


def leaf_hint(cls: type) -> str:
    """Why a module of class ``cls`` cannot be mapped (the fx path's hints)."""
    from modcut.readers.extract import UNMAPPABLE_HINTS

    for types, text in UNMAPPABLE_HINTS:
        if issubclass(cls, types):
            return text
    return (
        "modules with parameters other than Linear, Conv2d, Conv1D and BatchNorm/"
        "LayerNorm cannot be mapped"
    )


def _is_fx_leaf(cls: type) -> bool:
    return issubclass(cls, nn.Module) and not issubclass(
        cls, (nn.Sequential, nn.ModuleList, nn.ModuleDict)
    )


class _Param:
    def __init__(self, name: str, tensor: torch.Tensor, transposed: bool = False) -> None:
        self.name = name
        self.tensor = tensor
        self.transposed = transposed


def export_model(model: nn.Module, examples: tuple[torch.Tensor, ...], label: str) -> Any:
    """``torch.export.export(model, examples, strict=False)`` in eval mode (ValueError if it
    fails)."""
    import logging

    modes = [m.training for m in model.modules()]
    model.eval()
    shapes_log = logging.getLogger("torch.fx.experimental.symbolic_shapes")
    level = shapes_log.level
    shapes_log.setLevel(logging.ERROR)  # its warnings dump the partial graph on failure
    captured = io.StringIO()  # export prints its partial graph to stderr when it fails
    try:
        with contextlib.redirect_stderr(captured):
            ep = torch.export.export(model, examples, strict=False)
        sys.stderr.write(captured.getvalue())  # warnings of a successful export
        return ep
    except Exception as exc:  # export raises many types (UserError, GuardOnDataDependent…)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ValueError(
            f"torch.export cannot export the forward pass of {label} either "
            f"({type(exc).__name__}: {first})"
        ) from exc
    finally:
        shapes_log.setLevel(level)
        for m, t in zip(model.modules(), modes, strict=True):
            m.training = t


class _Rewriter:
    def __init__(self, ep: Any, label: str, model: nn.Module | None) -> None:
        self.ep = ep
        self.label = label
        self.model = model
        sig = ep.graph_signature
        self.state: dict[str, torch.Tensor] = {**ep.state_dict, **dict(ep.constants)}
        self.names: dict[str, str] = {
            **sig.inputs_to_parameters,
            **sig.inputs_to_buffers,
            **sig.inputs_to_lifted_tensor_constants,
        }
        self.user_inputs = list(sig.user_inputs)
        self.root = nn.Module()
        self.graph = fx.Graph()
        self.env: dict[fx.Node, Any] = {}
        self.attrs: dict[str, fx.Node] = {}
        self.built: dict[str, str] = {}  # module path -> class name rebuilt there
        self.tuple_first: set[fx.Node] = set()

    # -- module tree ----------------------------------------------------------------
    def _container(self, path: str) -> nn.Module:
        mod = self.root
        for part in [p for p in path.split(".") if p]:
            if part not in mod._modules:
                mod.add_module(part, nn.Module())
            mod = mod._modules[part]  # type: ignore[assignment]
        return mod

    def _place(self, path: str, module: nn.Module) -> None:
        parent, _, name = path.rpartition(".")
        holder = self._container(parent)
        old = holder._modules.get(name)
        if old is not None:  # keep sub-containers created earlier
            for k, v in old._modules.items():
                module.add_module(k, v)
        holder.add_module(name, module)

    def _attr(self, p: _Param) -> fx.Node:
        if p.name not in self.attrs:
            parent, _, name = p.name.rpartition(".")
            holder = self._container(parent)
            if not hasattr(holder, name):
                holder.register_buffer(name, p.tensor.detach())
            self.attrs[p.name] = self.graph.get_attr(p.name)
        node = self.attrs[p.name]
        if p.transposed:
            return self.graph.call_function(torch.transpose, (node, 0, 1))
        return node

    # -- helpers --------------------------------------------------------------------
    def _stack(self, node: fx.Node) -> list[tuple[str, str]]:
        stack = node.meta.get("nn_module_stack") or {}
        return [(str(v[0]), str(v[1])) for v in stack.values()]

    def _owner(self, node: fx.Node) -> tuple[str, str]:
        stack = self._stack(node)
        return stack[-1] if stack else ("", "")

    def _owner_class(self, path: str, type_name: str) -> type | None:
        """The class of the module at ``path``: the model's own where there is a model,
        else a torch.nn class named by ``nn_module_stack`` (None for other classes)."""
        if self.model is not None and path:
            try:
                return type(self.model.get_submodule(path))
            except AttributeError:
                pass
        return _leaf_class(type_name)

    def _owner_kind(self, path: str, type_name: str) -> str | None:
        """``"Linear"``, ``"Conv2d"``, ``"Conv1D"`` (by class name, as fxgraph.is_conv1d),
        a norm's class name, or None: what fx would treat as a mapped leaf."""
        cls = self._owner_class(path, type_name)
        if cls is not None:
            for base in (nn.Linear, nn.Conv2d, *_MAPPED_LEAVES[2:]):
                if issubclass(cls, base):
                    return base.__name__
        name = cls.__name__ if cls is not None else type_name.rpartition(".")[2]
        return "Conv1D" if name == "Conv1D" else None

    def _value(self, a: Any) -> Any:
        """An argument of the new graph (parameters become get_attr nodes)."""

        def one(x: Any) -> Any:
            if isinstance(x, fx.Node):
                v = self.env[x]
                return self._attr(v) if isinstance(v, _Param) else v
            return x

        return fx.node.map_aggregate(a, one)

    def _param(self, a: Any) -> _Param | None:
        v = self.env.get(a) if isinstance(a, fx.Node) else None
        return v if isinstance(v, _Param) else None

    def _refusal(self, node: fx.Node, what: str, why: str) -> fx.Node:
        from modcut.readers.fxgraph import refusal_text

        return self.graph.call_function(_refuse, (refusal_text(self.label, node.name, what, why),))

    # -- the rewrite ----------------------------------------------------------------
    def run(self) -> fx.GraphModule:
        for node in self.ep.graph.nodes:
            self.env[node] = self.rewrite(node)
        gm = fx.GraphModule(self.root, self.graph)
        return gm.eval()  # rebuilt norms must not update their statistics when run

    def rewrite(self, node: fx.Node) -> Any:
        if node.op == "placeholder":
            if node.name in self.names:
                fqn = self.names[node.name]
                return _Param(fqn, self.state[fqn])
            if node.name not in self.user_inputs:
                return None
            new = self.graph.placeholder(node.name)
            new.meta = dict(node.meta)
            return new
        if node.op == "output":
            outs = node.args[0]
            return self.graph.output(self._value(outs))
        if node.op == "get_attr":  # submodules of control-flow operators (torch.cond, …)
            return self._refusal(
                node,
                f"graph attribute '{node.target}'",
                "torch.export's control-flow operators (torch.cond, while_loop) are not mapped",
            )
        if node.op != "call_function":
            return None
        refused = self._leaf_refusal(node)
        if refused is not None:
            return refused
        target = node.target
        if target is operator.getitem:
            src = node.args[0]
            if isinstance(src, fx.Node) and src in self.tuple_first:
                if node.args[1] == 0:
                    return self.env[src]
                if not node.users:
                    return None  # indices, statistics: unused
                return self._refusal(
                    node,
                    "the second output of an operation",
                    "only its first output (the activations) can be mapped",
                )
            return self.graph.call_function(operator.getitem, self._value(node.args))
        name = _packet(target)
        if name is None:
            return self.graph.call_function(
                target,  # type: ignore[arg-type]
                self._value(node.args),
                self._value(node.kwargs),
            )
        if name in _WEIGHT_OPS:
            built = self._weight(node, name)
            if built is not None:
                return built
        if name in _NORM_OPS:
            built = self._norm(node, name)
            if built is not None:
                return built
        return self._plain(node, name)

    def _leaf_refusal(self, node: fx.Node) -> fx.Node | None:
        """Refuse a node run inside an fx leaf module from torch.nn that has parameters
        (or is attention, an embedding or recurrent) and is not mapped."""
        for path, type_name in self._stack(node):
            cls = _leaf_class(type_name)
            if cls is None or not _is_fx_leaf(cls):
                continue
            if issubclass(cls, _MAPPED_LEAVES):
                return None
            has_params = any(k.startswith(path + ".") for k in self.state)
            special = issubclass(
                cls, (nn.RNNBase, nn.MultiheadAttention, nn.Embedding, nn.EmbeddingBag)
            )
            if has_params or special:
                return self._refusal(node, f"module '{path}' ({cls.__name__})", leaf_hint(cls))
            return None  # a parameter-free leaf (ReLU, MaxPool2d, …): its ops map one by one
        return None

    def _weight(self, node: fx.Node, name: str) -> fx.Node | None:
        args = _arguments(node)
        path, type_name = self._owner(node)
        kind = self._owner_kind(path, type_name)
        if kind not in _WEIGHT_CLASSES:
            return None  # a functional call, not a weight layer's own: refused as on fx
        if name in ("addmm", "mm"):
            x, w = args["mat1" if name == "addmm" else "self"], args["mat2"]
            b = args.get("self") if name == "addmm" else None
        else:
            x, w, b = args["input"], args["weight"], args.get("bias")
        wp = self._param(w)
        bp = self._param(b) if b is not None else None
        if not path or wp is None or wp.name != f"{path}.weight" or self._param(x):
            return None  # not a weight layer's own weight: mapped (and refused) as a function
        if b is not None and (bp is None or bp.transposed):
            return None
        if (kind == "Conv1D") != (name in ("addmm", "mm") and not wp.transposed):
            return None
        if kind == "Conv2d" and name not in ("conv2d", "convolution"):
            return None
        if name in ("addmm", "mm"):
            if wp.transposed:  # x @ W.T: a Linear stored (out, in)
                mod: nn.Module = nn.Linear(
                    int(wp.tensor.shape[1]), int(wp.tensor.shape[0]), bias=bp is not None
                )
            else:
                mod = Conv1D(wp.tensor, bp.tensor if bp is not None else None)
        elif name == "linear":
            if wp.transposed or wp.tensor.dim() != 2:
                return None
            mod = nn.Linear(int(wp.tensor.shape[1]), int(wp.tensor.shape[0]), bias=bp is not None)
        else:
            if wp.transposed or wp.tensor.dim() != 4 or args.get("transposed"):
                return None
            groups = int(args["groups"])
            stride, padding, dilation = args["stride"], args["padding"], args["dilation"]
            mod = nn.Conv2d(
                int(wp.tensor.shape[1]) * groups,
                int(wp.tensor.shape[0]),
                (int(wp.tensor.shape[2]), int(wp.tensor.shape[3])),
                stride=stride,
                padding=padding if isinstance(padding, str) else tuple(padding),
                dilation=dilation,
                groups=groups,
                bias=bp is not None,
            )
        if not isinstance(mod, Conv1D):
            with torch.no_grad():
                mod.weight = nn.Parameter(wp.tensor.detach().clone(), requires_grad=False)
                if bp is not None:
                    mod.bias = nn.Parameter(bp.tensor.detach().clone(), requires_grad=False)
        return self._call(path, mod, x)

    def _call(self, path: str, mod: nn.Module, x: Any) -> fx.Node:
        kind = type(mod).__name__
        if path in self.built and self.built[path] != kind:
            raise ValueError(
                f"{self.label}: module '{path}' runs both as {self.built[path]} and as {kind}"
            )
        if path not in self.built:
            self._place(path, mod)
            self.built[path] = kind
        return self.graph.call_module(path, (self._value(x),))

    def _norm(self, node: fx.Node, name: str) -> fx.Node | None:
        path, type_name = self._owner(node)
        if not path or self._owner_kind(path, type_name) not in _NORM_CLASSES:
            return None
        args = _arguments(node)
        x = args["input"]
        val = node.args[0].meta.get("val") if isinstance(node.args[0], fx.Node) else None
        ps = {
            k: self._param(args.get(k)) for k in ("weight", "bias", "running_mean", "running_var")
        }
        for k, p in ps.items():
            if args.get(k) is not None and (p is None or p.transposed or p.name != f"{path}.{k}"):
                return None
        mod: nn.Module
        w = ps["weight"]
        if "batch_norm" in name:
            if name == "batch_norm" and args.get("training"):
                return None
            if name == "native_batch_norm" and args.get("training"):
                return None
            rv, rm = ps["running_var"], ps["running_mean"]
            ref = w if w is not None else rv
            if ref is None or val is None:
                return None
            n_feat = int(ref.tensor.shape[0])
            bn_cls = nn.BatchNorm2d if val.dim() == 4 else nn.BatchNorm1d
            mod = bn_cls(
                n_feat,
                eps=float(args["eps"]),
                affine=w is not None,
                track_running_stats=rv is not None,
            )
            with torch.no_grad():
                if w is not None:
                    mod.weight = nn.Parameter(w.tensor.detach().clone(), requires_grad=False)
                if rv is not None and rm is not None:
                    mod.running_var = rv.tensor.detach().clone()
                    mod.running_mean = rm.tensor.detach().clone()
        elif "layer_norm" in name:
            mod = nn.LayerNorm(
                list(args["normalized_shape"]),
                eps=float(args["eps"]),
                elementwise_affine=w is not None,
            )
            if w is not None:
                mod.weight = nn.Parameter(w.tensor.detach().clone(), requires_grad=False)
        else:
            if not hasattr(nn, "RMSNorm"):
                return None
            eps = args.get("eps")
            mod = nn.RMSNorm(
                list(args["normalized_shape"]),
                eps=float(eps) if eps is not None else None,
                elementwise_affine=w is not None,
            )
            if w is not None:
                mod.weight = nn.Parameter(w.tensor.detach().clone(), requires_grad=False)
        new = self._call(path, mod, x)
        if name in _TUPLE_RESULTS:
            self.tuple_first.add(node)
        return new

    def _plain(self, node: fx.Node, name: str) -> Any:
        args, kwargs = node.args, dict(node.kwargs)
        val = node.meta.get("val")
        if name in _COPIES:
            return self.graph.call_method("clone", (self._value(args[0]),))
        if name == "t":
            tp = self._param(args[0])
            if tp is not None:  # W.T of a parameter: resolved by the weight op reading it
                return _Param(tp.name, tp.tensor, not tp.transposed)
            src = args[0].meta.get("val") if isinstance(args[0], fx.Node) else None
            if src is not None and src.dim() < 2:
                return self.graph.call_method("clone", (self._value(args[0]),))
            return self.graph.call_function(torch.transpose, (self._value(args[0]), 0, 1))
        if name == "unflatten" and val is not None:
            return self.graph.call_function(torch.reshape, (self._value(args[0]), tuple(val.shape)))
        if name in ("slice", "select"):
            sa = _arguments(node)
            dim = int(sa["dim"])
            src = args[0].meta.get("val") if isinstance(args[0], fx.Node) else None
            nd = src.dim() if src is not None else dim + 1
            dim %= max(nd, 1)
            if name == "slice":
                item: Any = slice(sa["start"], sa["end"], sa["step"])
            else:
                item = sa["index"]
            index = (*([slice(None)] * dim), item)
            return self.graph.call_function(operator.getitem, (self._value(args[0]), index))
        if name in ("softmax", "_softmax", "log_softmax", "_log_softmax"):
            fn = F.log_softmax if "log" in name else F.softmax
            return self.graph.call_function(fn, (self._value(args[0]), args[1]))
        if name == "constant_pad_nd":
            value = args[2] if len(args) > 2 else 0.0
            return self.graph.call_function(
                F.pad, (self._value(args[0]), args[1], "constant", value)
            )
        if name == "embedding":  # aten.embedding(weight, indices) = F.embedding(indices, weight)
            return self.graph.call_function(
                F.embedding, (self._value(args[1]), self._value(args[0]))
            )
        if name in _FIRST_OF_TUPLE:
            self.tuple_first.add(node)
            fn = _FIRST_OF_TUPLE[name]
            first = list(args)
            if name == "native_dropout":
                first = first[:3]
            elif name.startswith("max_pool"):
                first = first[:6]
            return self.graph.call_function(fn, self._value(tuple(first)))
        if name in _SAME:
            return self.graph.call_function(
                _SAME[name], self._value(tuple(args)), self._value(kwargs)
            )
        return self.graph.call_function(
            node.target,  # type: ignore[arg-type]
            self._value(tuple(args)),
            self._value(kwargs),
        )


def from_exported(ep: Any, label: str, model: nn.Module | None = None) -> fx.GraphModule:
    """The fx form of the ``ExportedProgram`` ``ep`` (see the module docstring).

    Returns an ``fx.GraphModule`` with one placeholder per user input (named as in
    the program: the forward's argument names), ``call_module`` nodes for the weight
    layers and norms (rebuilt from the program's state dict at their module names),
    and torch-level ``call_function``/``call_method`` nodes for the rest. Its nodes
    that cannot be mapped raise ``ValueError`` naming the module or operation when
    the module runs. ``model`` (the exported module, when there is one) gives the
    classes of its submodules; without it (a ``.pt2``) only ``torch.nn`` classes and
    GPT-2 ``Conv1D`` (by class name) are recognised from ``nn_module_stack``.
    """
    return _Rewriter(ep, label, model).run()
