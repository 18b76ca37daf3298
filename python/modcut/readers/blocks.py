"""Transformer feed-forward (MLP) blocks as networks, one block in memory at a time.

:func:`find_blocks` finds every feed-forward block of a model (any source
:func:`~modcut.readers.modelfolder.open_model` takes: a Hugging Face model folder,
sharded or not, a ``.safetensors`` file, a Hub id in the local cache, a state dict or a
module) from the tensor *names and shapes* alone, and returns one :class:`BlockSpec` per
block and, for mixture-of-experts models, per expert. :meth:`BlockSpec.load` reads that
block's tensors (memory-mapped, converted to float32 exactly from F16/BF16/FP8) and
builds its network; nothing else of the model is read.

A block is the network ``input (d) → hidden (h) → output (d)``. Layouts (``P`` is the
block's prefix in the parameter names; "linear" weights are stored out × in as
``nn.Linear`` does, "conv1d" ones in × out as GPT-2's ``Conv1D``):

=============  ==========================================================  ========
layout         tensors (after ``P.``)                                      storage
=============  ==========================================================  ========
``bert``       ``intermediate.dense`` → ``output.dense``                   linear
               (BERT, RoBERTa, ViT, MiniLM, …)
``gpt2``       ``mlp.c_fc`` → ``mlp.c_proj``                               conv1d
``llama``      ``gate_proj`` + ``up_proj`` → ``down_proj`` (LLaMA,         linear
               Mistral, Qwen, Gemma; the experts and shared experts of
               Qwen-MoE and DeepSeek, ``P = …mlp.experts.N``)
``neox``       ``mlp.dense_h_to_4h`` → ``mlp.dense_4h_to_h``               linear
               (GPT-NeoX/Pythia, Falcon)
``fc``         ``fc1`` → ``fc2`` (OPT; Phi's ``mlp.fc1`` → ``mlp.fc2``)    linear
``t5``         ``DenseReluDense.wi`` → ``DenseReluDense.wo``               linear
``t5-gated``   ``DenseReluDense.wi_0`` + ``wi_1`` → ``wo``                 linear
``mixtral``    ``w1`` + ``w3`` → ``w2`` (``P = …block_sparse_moe.experts.N``)  linear
=============  ==========================================================  ========

**Gated blocks** (hidden neuron ``j`` computes ``act(g_j · x) · (u_j · x)``): one neuron
fed by two weight matrices. modcut keeps them as **two parallel edge groups** from the
input to the hidden layer (plus the down projection to the output): in the graph the
edge from input ``i`` to hidden ``j`` weighs ``|W_gate[j, i]| + |W_up[j, i]|`` (the
adjacency adds parallel edges), and in the null each matrix is shuffled on its own, as
every weight matrix is. Summing the two into one matrix first would give the same observed
graph but a null that mixes gate and up weights, whose distributions differ; dropping the
gate would discard half of the block's input weights. The graph is bipartite (input and
output vs hidden), so the SVD shortcut applies.

The layout table is :data:`LAYOUTS`; :func:`register_layout` adds one from Python (a model
whose names follow a pattern modcut does not know) without editing modcut.
``config.json``'s ``model_type`` picks the layouts of a known model (:data:`MODEL_TYPES`);
other models are matched by tensor names against every layout. Biases and norm layers are
not part of a block's graph.

**Precision.** Weights are read one block at a time and converted to float32 (F16, BF16
and FP8 values are all float32 values, so the conversion is exact); the graph is then
built in float64, the precision of modcut's core, in which every float32 weight is exact.
So the n-cut of a block is the n-cut of the file's weights, up to the core's float64
rounding, whatever the stored precision.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modcut.errors import NetworkFileError
from modcut.network import Network, NodeGroup, network_from_matrices
from modcut.readers.modelfolder import TensorSource, open_model
from modcut.readers.safetensorfile import DTYPES, SafetensorsFile

__all__ = [
    "LAYOUTS",
    "MODEL_TYPES",
    "BlockSpec",
    "Layout",
    "MLPBlock",
    "find_blocks",
    "load_safetensors",
    "mlp_blocks",
    "parse_selection",
    "register_layout",
]


@dataclass(frozen=True)
class Layout:
    """One way of naming a feed-forward block's weight tensors.

    Attributes
    ----------
    name:
        The layout's name (reported per block unless ``config.json`` names the model type).
    inputs:
        Suffixes (after the block prefix ``P.``) of the matrices from the input to the
        hidden layer: one, or two for gated blocks (gate first).
    output:
        Suffix of the matrix from the hidden layer to the output.
    transposed:
        ``True`` when weights are stored in × out (GPT-2's ``Conv1D``); ``False`` for
        ``nn.Linear``'s out × in.
    prefix:
        A regular expression the prefix ``P`` must match in full (``".*"``: any).
    """

    name: str
    inputs: tuple[str, ...]
    output: str
    transposed: bool = False
    prefix: str = ".*"

    @property
    def parts(self) -> tuple[str, ...]:
        return (*self.inputs, self.output)

    def anchor(self) -> re.Pattern[str]:
        return re.compile(rf"^(?P<p>{self.prefix})\.{re.escape(self.inputs[0])}$")

    def describe(self) -> str:
        return " + ".join(f"'*.{s}'" for s in self.parts) + f" ({self.name})"


#: The layouts modcut knows, in the order they are tried (:func:`register_layout` adds).
LAYOUTS: list[Layout] = [
    Layout("bert", ("intermediate.dense.weight",), "output.dense.weight"),
    Layout("gpt2", ("mlp.c_fc.weight",), "mlp.c_proj.weight", transposed=True),
    Layout("llama", ("gate_proj.weight", "up_proj.weight"), "down_proj.weight"),
    Layout("neox", ("mlp.dense_h_to_4h.weight",), "mlp.dense_4h_to_h.weight"),
    Layout("fc", ("fc1.weight",), "fc2.weight"),
    Layout("t5", ("DenseReluDense.wi.weight",), "DenseReluDense.wo.weight"),
    Layout(
        "t5-gated",
        ("DenseReluDense.wi_0.weight", "DenseReluDense.wi_1.weight"),
        "DenseReluDense.wo.weight",
    ),
    Layout("mixtral", ("w1.weight", "w3.weight"), "w2.weight", prefix=r".*\.experts\.\d+"),
]

#: ``config.json`` model types and the layouts their blocks use.
MODEL_TYPES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("bert", "roberta", "xlm-roberta", "vit", "deit", "electra", "camembert", "mpnet"),
        ("bert",),
    ),
    "gpt2": ("gpt2",),
    **dict.fromkeys(
        (
            "llama",
            "mistral",
            "qwen2",
            "qwen3",
            "gemma",
            "gemma2",
            "gemma3",
            "qwen2_moe",
            "qwen3_moe",
            "deepseek_v2",
            "deepseek_v3",
            "olmo",
            "olmo2",
        ),
        ("llama",),
    ),
    **dict.fromkeys(("gpt_neox", "falcon"), ("neox",)),
    **dict.fromkeys(("opt", "phi"), ("fc",)),
    **dict.fromkeys(("t5", "mt5", "umt5"), ("t5", "t5-gated")),
    "mixtral": ("mixtral",),
}


def register_layout(
    name: str,
    inputs: str | Iterable[str],
    output: str,
    *,
    transposed: bool = False,
    prefix: str = ".*",
    model_types: Iterable[str] = (),
) -> Layout:
    """Teach modcut a feed-forward block layout (for this process).

    Parameters
    ----------
    name:
        The layout's name (new, or replacing a registered one of that name).
    inputs, output:
        Tensor-name suffixes after the block prefix: the input → hidden matrix (or the
        gate and up matrices of a gated block, gate first) and the hidden → output one,
        e.g. ``"mlp.fc_in.weight"``, ``"mlp.fc_out.weight"``.
    transposed:
        Weights stored in × out (``Conv1D``) instead of ``nn.Linear``'s out × in.
    prefix:
        A regular expression the block prefix must match in full.
    model_types:
        ``config.json`` model types that use this layout.

    Returns
    -------
    The :class:`Layout` added.
    """
    ins = (inputs,) if isinstance(inputs, str) else tuple(inputs)
    if not 1 <= len(ins) <= 2 or not all(isinstance(s, str) and s for s in (*ins, output)):
        raise ValueError(
            "a layout has one input matrix (or two: gate and up) and one output matrix, "
            f"each a tensor-name suffix; got inputs={inputs!r}, output={output!r}"
        )
    try:
        re.compile(prefix)
    except re.error as exc:
        raise ValueError(f"prefix {prefix!r} is not a regular expression ({exc})") from None
    layout = Layout(name, ins, output, transposed, prefix)
    LAYOUTS[:] = [lay for lay in LAYOUTS if lay.name != name] + [layout]
    for mt in model_types:
        MODEL_TYPES[mt] = (*[n for n in MODEL_TYPES.get(mt, ()) if n != name], name)
    return layout


@dataclass(frozen=True)
class BlockSpec:
    """One feed-forward block (or expert) of a model, found from its tensor names.

    Attributes
    ----------
    name: the block's prefix in the parameter names (e.g. ``"model.layers.3.mlp"``).
    layout: the model type (from ``config.json``) or the layout's name.
    stack: the part of the prefix before the layer index (``"encoder.block"`` vs
        ``"decoder.block"`` of T5; ``"model.layers"``, …).
    layer: the layer index (the first integer in the prefix; ``-1`` when there is none).
    expert: the expert index of a mixture-of-experts block, ``"shared"`` for a shared
        expert, ``None`` for a dense block.
    tensors: the tensor names, inputs first.
    widths: ``(d, h, d_out)`` from the shapes.
    """

    name: str
    layout: str
    stack: str
    layer: int
    expert: int | str | None
    tensors: tuple[str, ...]
    widths: tuple[int, int, int]
    source: TensorSource = field(repr=False, compare=False)
    transposed: bool = field(default=False, repr=False)

    @property
    def n_weights(self) -> int:
        d, h, o = self.widths
        return d * h * (len(self.tensors) - 1) + h * o

    def load(self) -> Network:
        """The block's network (reads its tensors; float32 → float64 exactly)."""
        mats = []
        for t in self.tensors:
            w = self.source.weights(t, np.float32)
            if w.ndim != 2:
                raise NetworkFileError(
                    f"{self.source.file_of(t)}: tensor {t!r} has shape {w.shape}, not a matrix"
                )
            mats.append(w if self.transposed else w.T)  # as inputs × outputs
        prov = {
            "source": self.source.label,
            "kind": "transformer block",
            "block": self.name,
            "layout": self.layout,
            "layer": self.layer,
            "expert": self.expert,
            "dtype": sorted({self.source.dtype_of(t) for t in self.tensors}),
        }
        if len(mats) == 2:
            net = network_from_matrices(mats, prov)
        else:
            gate, up, down = mats
            d, h = gate.shape
            net = Network.from_edges(
                [
                    NodeGroup("input", d, "input"),
                    NodeGroup(f"{self.name}.hidden", h, "Linear"),
                    NodeGroup(f"{self.name}.{_short(self.tensors[2])}", down.shape[1], "Linear"),
                ],
                [
                    (0, 1, gate, self.tensors[0]),
                    (0, 1, up, self.tensors[1]),
                    (1, 2, down, self.tensors[2]),
                ],
                prov,
            )
        return net


def _short(name: str) -> str:
    return name.rsplit(".", 2)[-2] if name.endswith(".weight") else name.rsplit(".", 1)[-1]


_INT = re.compile(r"(?:^|\.)(\d+)(?:\.|$)")
_EXPERT = re.compile(r"\.experts\.(\d+)(?:\.|$)")
_SHARED = re.compile(r"\.shared_experts?(?:\.|$)")


def _position(prefix: str) -> tuple[str, int, int | str | None]:
    """``(stack, layer, expert)`` of a block prefix."""
    m = _INT.search(prefix)
    stack, layer = (prefix[: m.start()].strip("."), int(m.group(1))) if m else (prefix, -1)
    e = _EXPERT.search(prefix)
    expert: int | str | None = int(e.group(1)) if e else None
    if expert is None and _SHARED.search(prefix):
        expert = "shared"
    return stack, layer, expert


def _natural(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def parse_selection(text: str | None, what: str) -> set[int] | None:
    """``"0-5,11"`` → ``{0, 1, 2, 3, 4, 5, 11}``; ``None`` or ``"all"`` → ``None`` (all)."""
    if text is None or str(text).strip().lower() == "all":
        return None
    out: set[int] = set()
    for part in str(text).split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if m is None or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise ValueError(
                f"{what} must be indices and ranges such as 0-5,11 (or all), got {text!r}"
            )
        lo = int(m.group(1))
        out.update(range(lo, int(m.group(2) or lo) + 1))
    return out


def find_blocks(
    source: Any,
    *,
    blocks: str | Iterable[int] | None = None,
    experts: str | Iterable[int] | None = None,
) -> list[BlockSpec]:
    """Every feed-forward block (and expert) of ``source``, in layer order; no weights read.

    Parameters
    ----------
    source:
        Anything :func:`~modcut.readers.modelfolder.open_model` takes, or a
        :class:`~modcut.readers.modelfolder.TensorSource`.
    blocks:
        Layer indices to keep (``"0-5,11"``, or a collection of ints; ``None``: all).
    experts:
        Expert indices of mixture-of-experts layers to keep (``None``: all; ``"none"``:
        no routed expert, shared experts and dense blocks only).

    Raises
    ------
    NetworkFileError
        No block found (the message lists the names looked for and a sample of the names
        found), a block whose partner tensors are missing, or shapes that do not fit
        ``d → h → d``; each naming the model.
    """
    src = source if isinstance(source, TensorSource) else open_model(source)
    keep_layers = _selection(blocks, "blocks")
    no_experts = isinstance(experts, str) and experts.strip().lower() == "none"
    keep_experts = None if no_experts else _selection(experts, "experts")
    wanted = MODEL_TYPES.get(src.model_type or "")
    layouts = [lay for lay in LAYOUTS if wanted is None or lay.name in wanted]
    anchors = [(lay, lay.anchor()) for lay in layouts]
    found: dict[str, BlockSpec] = {}
    for key in src:
        for lay, pat in anchors:
            m = pat.match(key)
            if m is None or m.group("p") in found:
                continue
            spec = _spec(src, lay, m.group("p"))
            if spec is not None:
                found[spec.name] = spec
            break
    if not found:
        names = list(src)
        sample = ", ".join(names[:8]) + (f", … ({len(names)} tensors)" if len(names) > 8 else "")
        kind = f"model_type {src.model_type!r}: " if wanted else ""
        raise NetworkFileError(
            f"{src.label}: no transformer MLP block found ({kind}looked for "
            + "; ".join(lay.describe() for lay in layouts)
            + f"); its tensors are: {sample or 'none'}. A model with other names can be taught "
            "with modcut.register_layout"
        )
    out = sorted(found.values(), key=lambda s: (_natural(s.stack), s.layer, _natural(s.name)))
    if keep_layers is not None:
        out = [s for s in out if s.layer in keep_layers]
    if no_experts:
        out = [s for s in out if not isinstance(s.expert, int)]
    elif keep_experts is not None:
        out = [s for s in out if not isinstance(s.expert, int) or s.expert in keep_experts]
    if not out:
        raise ValueError(
            f"{src.label}: no block left after selecting blocks={blocks!r}, experts={experts!r} "
            f"(layers {sorted({s.layer for s in found.values()})})"
        )
    return out


def _selection(value: str | Iterable[int] | None, what: str) -> set[int] | None:
    if value is None or isinstance(value, str):
        return parse_selection(value, what)
    return {int(v) for v in value}


def _spec(src: TensorSource, lay: Layout, prefix: str) -> BlockSpec | None:
    names = [f"{prefix}.{s}" for s in lay.parts]
    missing = [n for n in names if n not in src]
    if missing:
        raise NetworkFileError(
            f"{src.label}: {lay.name}-style block '{prefix}' lacks {missing} (it has "
            f"{[n for n in names if n in src]})"
        )
    shapes = [tuple(src[n]) for n in names]
    if any(len(s) != 2 for s in shapes):
        bad = next(n for n, s in zip(names, shapes, strict=True) if len(s) != 2)
        raise NetworkFileError(
            f"{src.file_of(bad)}: tensor {bad!r} has shape {src[bad]}, not a weight matrix"
        )
    # as inputs × outputs
    io = [s if lay.transposed else s[::-1] for s in shapes]
    d, h = io[0]
    if any(s != (d, h) for s in io[:-1]) or io[-1][0] != h:
        told = ", ".join(f"{n} {s}" for n, s in zip(names, shapes, strict=True))
        store = "in × out" if lay.transposed else "out × in"
        raise NetworkFileError(
            f"{src.label}: block '{prefix}' has shapes that do not fit d → hidden → d "
            f"({told}, stored {store})"
        )
    stack, layer, expert = _position(prefix)
    return BlockSpec(
        name=prefix,
        layout=src.model_type or lay.name,
        stack=stack,
        layer=layer,
        expert=expert,
        tensors=tuple(names),
        widths=(d, h, io[-1][1]),
        source=src,
        transposed=lay.transposed,
    )


@dataclass(frozen=True)
class MLPBlock:
    """One feed-forward block with its network (:func:`mlp_blocks`).

    Attributes
    ----------
    name: the block's prefix in the parameter names (e.g. ``"h.3"``).
    layout: the model type or layout name (see :class:`BlockSpec`).
    network: a chain ``d → hidden → d`` or, for gated blocks, a :class:`~modcut.Network`
        with two input edge groups.
    """

    name: str
    layout: str
    network: Network

    @property
    def widths(self) -> tuple[int, ...]:
        return self.network.widths


def mlp_blocks(source: Any) -> list[MLPBlock]:
    """Every transformer feed-forward block of ``source`` with its network, in layer order.

    Loads every block (one network each); to hold one block at a time, use
    :func:`find_blocks` and :meth:`BlockSpec.load`. ``source``: see :func:`find_blocks`.
    """
    return [MLPBlock(s.name, s.layout, s.load()) for s in find_blocks(source)]


def load_safetensors(path: Any, keys: list[str] | None = None) -> dict[str, np.ndarray]:
    """Tensors of a ``.safetensors`` file as NumPy arrays (all of them, or ``keys``):
    floating tensors as float32 (float64 kept), exactly; other dtypes as stored. Prefer
    :class:`~modcut.readers.safetensorfile.SafetensorsFile`, which reads one at a time."""
    f = SafetensorsFile(path)
    out: dict[str, np.ndarray] = {}
    for k in list(f) if keys is None else keys:
        if DTYPES[f.info(k).dtype][2] == "float":
            out[k] = f.weights(k, np.float64 if f.info(k).dtype == "F64" else np.float32)
        else:
            out[k] = np.array(f.array(k))
    return out
