"""From a trained model or a checkpoint to the weight matrices modcut's core takes.

:func:`extract_weights` returns ``[W1, …, WL]``, ``Wl`` float64 of shape
``(n_{l-1}, n_l)`` (rows = inputs, columns = outputs), for a feed-forward chain
of ``nn.Linear`` and ``nn.Conv2d`` layers, found in registration order (the order
``model.named_modules()`` lists them, which is the forward order for an
``nn.Sequential`` and for modcut's models):

* ``Linear``: its weight transposed, ``weight.T`` (signed; the graph uses ``|W|``).
* ``Conv2d`` ("filters as units", method.md section 1): one node per channel; the
  edge from input channel ``a`` to output channel ``b`` weighs the norm of the
  kernel slice ``K[b, a, :, :]`` — L1 (the reference's default) or L2
  (``conv_norm``). Grouped convolutions get zero edges between groups. The first
  layer's nodes are then the input channels (1 for MNIST, 3 for CIFAR-10).
* The flatten from the last conv into the first ``Linear``: its ``in_features``
  must be ``C · P`` for the ``C`` channels of the last conv; the edge from channel
  ``c`` to dense neuron ``j`` weighs the norm of ``weight[j, c·P:(c+1)·P]`` (PyTorch
  flattens ``(N, C, H, W)`` channel-major, as ``nn.Flatten`` does).
* ``BatchNorm1d``/``BatchNorm2d`` right after a mapped layer are folded in (each
  output column scaled by ``|γ| / sqrt(running_var + eps)``), unless
  ``fold_batchnorm=False``.

``part="conv"`` keeps only the conv-to-conv part of a CNN's channel graph, as the
reference clustered CNNs (``src/spectral_cluster_model.py`` keeps matrices
``1 … n_conv-1`` of its filters-as-units extraction): the matrices of the 2nd to
last ``Conv2d``, whose nodes are the conv layers' output channels (192 nodes for
the small CNN's 64-64-64; the input channels and the dense layers are left out).
Its neuron layer ``l`` is neuron layer ``l + 1`` of the whole graph (``part="all"``,
the default).

Parameter-free modules (activations, pooling, dropout, flatten, identity) are
taken to act element-wise or per channel and are skipped. Anything else that holds
parameters (``LSTM``, ``Conv1d``, ``Embedding``, ``LayerNorm``, attention, …), a
``Conv2d`` after a ``Linear``, or widths that do not chain raises ``ValueError``
naming the layer. Residual connections or other non-chain wiring cannot be seen
from the modules: :func:`modcut.network_graph` reads them from the forward pass
(and ``modcut.as_network`` refuses a model whose forward pass is not its chain).
"""

from __future__ import annotations

import os
from typing import Any, cast

import numpy as np

from modcut._optional import require

require(
    "torch",
    extra="torch",
    purpose="modcut.readers.extract (the weights of PyTorch models and checkpoints)",
)

import torch  # noqa: E402
from torch import nn  # noqa: E402

__all__ = [
    "GRAPH_PARTS",
    "UNMAPPABLE_HINTS",
    "conv_matrix",
    "conv_norm_name",
    "extract_weights",
    "graph_tensors",
    "layer_modules",
    "layer_names",
    "part_offset",
    "slice_norm",
]

_MAPPED = (nn.Linear, nn.Conv2d)
_BATCHNORM = (nn.BatchNorm1d, nn.BatchNorm2d)
UNMAPPABLE_HINTS: list[tuple[tuple[type[nn.Module], ...], str]] = [
    ((nn.Conv1d, nn.Conv3d), "only 2-D convolutions (nn.Conv2d) are supported"),
    (
        (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d),
        "transposed convolutions are not supported",
    ),
    ((nn.RNNBase,), "recurrent layers do not form a layered feed-forward graph"),
    (
        (
            nn.MultiheadAttention,
            nn.Transformer,
            nn.TransformerEncoderLayer,
            nn.TransformerDecoderLayer,
        ),
        "attention layers do not form a layered feed-forward graph",
    ),
    (
        (nn.Embedding, nn.EmbeddingBag),
        "embeddings are lookups, not weight matrices between neurons",
    ),
    (
        (nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d),
        "normalisation that mixes features cannot be folded into a weight matrix",
    ),
    ((nn.Bilinear,), "bilinear layers have two inputs"),
]


def _label(name: str, module: nn.Module) -> str:
    return f"layer '{name or '<root>'}' ({type(module).__name__})"


def _unmappable(name: str, module: nn.Module) -> ValueError:
    hint = "modules with parameters other than Linear, Conv2d and BatchNorm cannot be mapped"
    for types, text in UNMAPPABLE_HINTS:
        if isinstance(module, types):
            hint = text
            break
    return ValueError(
        f"cannot map {_label(name, module)} to a weight matrix: {hint}. modcut extracts "
        "feed-forward chains of nn.Linear and nn.Conv2d layers (BatchNorm after them is folded in)"
    )


def _walk(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Mapped modules (Linear, Conv2d, BatchNorm) in registration order; errors on others."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    found: list[tuple[str, nn.Module]] = []

    def visit(name: str, module: nn.Module) -> None:
        if isinstance(module, _MAPPED + _BATCHNORM):
            weight = getattr(module, "weight", None)
            if isinstance(weight, nn.parameter.UninitializedParameter):
                raise ValueError(
                    f"{_label(name, module)} is not initialised yet (lazy module): run one forward "
                    "pass before extracting its weights"
                )
            found.append((name, module))
            return
        own = [p for p in module._parameters.values() if p is not None]
        if own or any(isinstance(module, types) for types, _ in UNMAPPABLE_HINTS):
            raise _unmappable(name, module)
        for child_name, child in module.named_children():
            visit(f"{name}.{child_name}" if name else child_name, child)

    visit("", model)
    if not any(isinstance(m, _MAPPED) for _, m in found):
        raise ValueError(
            f"{type(model).__name__} has no nn.Linear or nn.Conv2d layers: nothing to extract"
        )
    return found


def layer_modules(model: nn.Module) -> list[nn.Module]:
    """The ``Linear``/``Conv2d`` modules of ``model`` in graph order.

    The ``i``-th matrix of :func:`extract_weights` belongs to the ``i``-th module;
    neuron layer ``l + 1`` of the graph is the outputs (units or channels) of module
    ``l``. Raises ``ValueError`` (naming the layer) for modules that cannot be mapped.
    """
    return [m for _, m in _walk(model) if isinstance(m, _MAPPED)]


def layer_names(model: nn.Module) -> list[str]:
    """Qualified names (as in ``named_modules``) of :func:`layer_modules`."""
    return [n for n, m in _walk(model) if isinstance(m, _MAPPED)]


def slice_norm(t: torch.Tensor, dims: tuple[int, ...], norm: str) -> torch.Tensor:
    """L1 (``norm="l1"``) or L2 norm of ``t`` over ``dims`` (differentiable)."""
    if norm == "l1":
        return t.abs().sum(dim=dims)
    return t.pow(2).sum(dim=dims).sqrt()


def conv_matrix(w: torch.Tensor, conv: nn.Conv2d, norm: str) -> torch.Tensor:
    """``(in_channels, out_channels)`` kernel-slice norms of ``w = conv.weight`` (differentiable)."""
    slices = slice_norm(w, (2, 3), norm)  # (out, in/groups)
    groups = int(conv.groups)
    if groups == 1:
        return slices.T
    go = int(conv.out_channels) // groups
    return torch.block_diag(*[slices[g * go : (g + 1) * go, :].T for g in range(groups)])


def _as_model(obj: Any) -> nn.Module:
    if isinstance(obj, nn.Module):
        return obj
    from modcut.readers.checkpoint import Checkpoint, checkpoint_from_dict, load_checkpoint

    if isinstance(obj, Checkpoint):
        return obj.model
    if isinstance(obj, (str, bytes)) or hasattr(obj, "__fspath__"):
        path = os.fsdecode(obj) if isinstance(obj, bytes) else os.fspath(obj)
        return load_checkpoint(path).model
    if isinstance(obj, dict):
        return checkpoint_from_dict(obj).model
    raise TypeError(
        "extract_weights takes a torch.nn.Module, a modcut checkpoint (path, dict or Checkpoint), "
        f"got {type(obj).__name__}"
    )


def conv_norm_name(conv_norm: str) -> str:
    """``"l1"`` or ``"l2"`` for a user's ``conv_norm`` (``"1"``, ``"L2"``…); ValueError otherwise."""
    norm = {"l1": "l1", "1": "l1", "l2": "l2", "2": "l2"}.get(str(conv_norm).lower())
    if norm is None:
        raise ValueError(f"conv_norm must be 'l1' or 'l2', got {conv_norm!r}")
    return norm


def graph_tensors(
    model: nn.Module,
    *,
    conv_norm: str = "l1",
    fold_batchnorm: bool = True,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> list[torch.Tensor]:
    """The matrices of :func:`extract_weights` as torch tensors that keep the autograd graph.

    Same rules, same validation and same values as :func:`extract_weights` (which
    calls this with ``dtype=torch.float64, device="cpu"`` and detaches), but each
    matrix is computed with differentiable torch operations from the module's
    parameters, so a loss built on them back-propagates into the weights
    (:mod:`modcut.harness.cluster_reg` does). ``dtype``/``device``: cast each weight
    first (None keeps the parameter's). BatchNorm's running variance is a buffer and
    gets no gradient; its ``γ`` does.

    Returns
    -------
    list of torch.Tensor
        ``T[l].shape == (n_l, n_{l+1})``: ``weight.T`` (signed) for a Linear after a
        Linear or first; kernel-slice norms for a Conv2d; per-channel norms for the
        Linear after the last Conv2d.
    """
    norm = conv_norm_name(conv_norm)
    mats: list[torch.Tensor] = []
    prev: tuple[str, nn.Module] | None = None  # last mapped Linear/Conv2d
    prev_kind = ""
    width = 0  # nodes in the current last layer
    after_bn = False
    for name, m in _walk(model):
        if isinstance(m, _BATCHNORM):
            if prev is None or after_bn or m.num_features != width:
                raise ValueError(
                    f"cannot fold {_label(name, m)}: BatchNorm must directly follow a Linear or "
                    f"Conv2d layer with {m.num_features} outputs"
                )
            if fold_batchnorm:
                var = m.running_var
                if var is None:
                    raise ValueError(
                        f"cannot fold {_label(name, m)}: it keeps no running statistics"
                    )
                var = var.detach().to(device or var.device, dtype or var.dtype)
                scale = 1.0 / torch.sqrt(var + m.eps)
                if m.weight is not None:
                    scale = scale * m.weight.to(device or var.device, dtype or var.dtype).abs()
                mats[-1] = mats[-1] * scale[None, :]
            after_bn = True
            continue
        after_bn = False
        w = cast(torch.Tensor, m.weight)
        w = w.to(device or w.device, dtype or w.dtype)
        if isinstance(m, nn.Conv2d):
            if prev_kind == "linear":
                assert prev is not None
                raise ValueError(
                    f"{_label(name, m)} follows {_label(*prev)}: modcut's channel graph needs every "
                    "Conv2d before the dense layers"
                )
            if prev is not None and m.in_channels != width:
                raise ValueError(
                    f"{_label(name, m)} takes {m.in_channels} channels but {_label(*prev)} gives "
                    f"{width}: the layers do not form a chain"
                )
            mats.append(conv_matrix(w, m, norm))
            width, prev_kind = int(m.out_channels), "conv"
        else:
            assert isinstance(m, nn.Linear)
            if prev_kind == "conv":
                assert prev is not None
                if m.in_features % width:
                    raise ValueError(
                        f"{_label(name, m)} takes {m.in_features} inputs, not a multiple of the "
                        f"{width} channels of {_label(*prev)}: cannot map the flatten to channels"
                    )
                positions = m.in_features // width
                per_channel = slice_norm(w.reshape(m.out_features, width, positions), (2,), norm)
                mats.append(per_channel.T)
            else:
                if prev is not None and m.in_features != width:
                    raise ValueError(
                        f"{_label(name, m)} takes {m.in_features} inputs but {_label(*prev)} gives "
                        f"{width}: the layers do not form a chain"
                    )
                mats.append(w.T)
            width, prev_kind = int(m.out_features), "linear"
        prev = (name, m)
    return mats


GRAPH_PARTS = ("all", "conv")


def part_offset(part: str) -> int:
    """Neuron layer of the whole graph that neuron layer 0 of ``part``'s graph is."""
    if part not in GRAPH_PARTS:
        raise ValueError(f"part must be one of {', '.join(GRAPH_PARTS)}, got {part!r}")
    return 1 if part == "conv" else 0


def extract_weights(
    model_or_checkpoint: Any,
    *,
    conv_norm: str = "l1",
    fold_batchnorm: bool = True,
    part: str = "all",
) -> list[np.ndarray]:
    """The weight matrices of a model, inputs × outputs each (see the module docstring).

    Parameters
    ----------
    model_or_checkpoint:
        An ``nn.Module``; a checkpoint path (file, or run directory holding
        ``checkpoint.pt``); a checkpoint dict; or a loaded
        :class:`~modcut.readers.checkpoint.Checkpoint`.
    conv_norm:
        ``"l1"`` (default, as the reference) or ``"l2"``: the norm of a kernel slice
        (and of a channel's flattened weights into a dense neuron).
    fold_batchnorm:
        Scale outputs by BatchNorm's ``|γ| / sqrt(var + eps)`` (True) or ignore BatchNorm.
    part:
        ``"all"`` (default): the whole graph; ``"conv"``: only the conv-to-conv
        matrices (see the module docstring; needs at least 2 ``Conv2d`` layers).

    Returns
    -------
    list of numpy.ndarray
        float64, ``W[l].shape == (n_l, n_{l+1})``; consecutive shapes chain.

    Raises
    ------
    ValueError
        A layer that cannot be mapped (named in the message), widths that do not
        chain, a bad ``conv_norm``, or a file that is not a modcut checkpoint.
    TypeError
        An unsupported object.
    FileNotFoundError
        A checkpoint path that does not exist.
    """
    norm = conv_norm_name(conv_norm)
    part_offset(part)  # validates part
    model = _as_model(model_or_checkpoint)
    with torch.no_grad():
        mats = graph_tensors(
            model, conv_norm=norm, fold_batchnorm=fold_batchnorm, dtype=torch.float64, device="cpu"
        )
    out = [np.array(t.detach().numpy(), dtype=np.float64, order="C", copy=True) for t in mats]
    if part == "conv":
        n_conv = sum(isinstance(m, nn.Conv2d) for _, m in _walk(model))
        if n_conv < 2:
            raise ValueError(
                f"part='conv' needs at least 2 Conv2d layers (a conv-to-conv graph); "
                f"{type(model).__name__} has {n_conv}"
            )
        out = out[1:n_conv]
    return out
