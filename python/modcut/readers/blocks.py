"""Transformer feed-forward (MLP) blocks as networks.

:func:`mlp_blocks` finds every feed-forward block of a transformer, from a
``.safetensors`` file (:class:`~modcut.readers.safetensorfile.SafetensorsFile`:
memory-mapped, one tensor at a time, no pickle, no network access), a state dict or a ``torch.nn.Module``, and returns one
network per block, input → hidden → output, recognising three layouts by their
parameter names (``P`` is the block's prefix, e.g. ``encoder.layer.3``):

* **BERT** — ``P.intermediate.dense.weight`` ``(hidden, d)`` and
  ``P.output.dense.weight`` ``(d, hidden)`` (``nn.Linear``, stored out × in): the
  chain ``d → hidden → d``;
* **GPT-2** — ``P.mlp.c_fc.weight`` ``(d, hidden)`` and ``P.mlp.c_proj.weight``
  ``(hidden, d)`` (``Conv1D``, stored in × out): the same chain;
* **LLaMA** (gated) — ``P.gate_proj.weight``, ``P.up_proj.weight`` ``(hidden, d)``
  and ``P.down_proj.weight`` ``(d, hidden)``. Hidden neuron ``j`` computes
  ``silu(g_j · x) · (u_j · x)``: one neuron fed by two weight matrices. modcut
  keeps them as **two parallel edge groups** from the input to the hidden layer
  (plus ``down_proj`` to the output): in the graph the edge from input ``i`` to
  hidden ``j`` weighs ``|W_gate[j, i]| + |W_up[j, i]|`` (the adjacency adds
  parallel edges), and in the null each matrix is shuffled on its own, as every
  weight matrix is. Summing the two into one matrix first would give the same
  observed graph but a null that mixes gate and up weights, whose distributions
  differ; dropping the gate would discard half of the block's input weights.
  The graph is bipartite (input and output vs hidden), so the SVD shortcut applies.

Biases and norm layers are not part of a block's graph.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modcut.errors import NetworkFileError
from modcut.network import Network, NodeGroup, network_from_matrices
from modcut.readers.safetensorfile import DTYPES, SafetensorsFile

__all__ = ["MLPBlock", "load_safetensors", "mlp_blocks"]

_PATTERNS: list[tuple[str, re.Pattern[str], tuple[str, ...]]] = [
    (
        "bert",
        re.compile(r"^(?P<p>.*)\.intermediate\.dense\.weight$"),
        ("intermediate.dense.weight", "output.dense.weight"),
    ),
    (
        "gpt2",
        re.compile(r"^(?P<p>.*)\.mlp\.c_fc\.weight$"),
        ("mlp.c_fc.weight", "mlp.c_proj.weight"),
    ),
    (
        "llama",
        re.compile(r"^(?P<p>.*)\.gate_proj\.weight$"),
        ("gate_proj.weight", "up_proj.weight", "down_proj.weight"),
    ),
]


@dataclass(frozen=True)
class MLPBlock:
    """One feed-forward block.

    Attributes
    ----------
    name: the block's prefix in the parameter names (e.g. ``"h.3"``).
    layout: ``"bert"``, ``"gpt2"`` or ``"llama"``.
    network: a :class:`~modcut.Network` (chain ``d → hidden → d``) or, for gated
        blocks, a :class:`~modcut.Network` with two input edge groups.
    """

    name: str
    layout: str
    network: Network

    @property
    def widths(self) -> tuple[int, ...]:
        return self.network.widths


def load_safetensors(
    path: str | os.PathLike[str], keys: list[str] | None = None
) -> dict[str, np.ndarray]:
    """Tensors of a ``.safetensors`` file as NumPy arrays (all of them, or ``keys``).

    Read through :class:`~modcut.readers.safetensorfile.SafetensorsFile`: floating
    tensors as float32 (float64 kept), exactly; other dtypes as stored. Prefer
    :class:`SafetensorsFile` itself, which reads one tensor at a time.
    """
    f = SafetensorsFile(path)
    out: dict[str, np.ndarray] = {}
    for k in list(f) if keys is None else keys:
        if DTYPES[f.info(k).dtype][2] == "float":
            out[k] = f.weights(k, np.float64 if f.info(k).dtype == "F64" else np.float32)
        else:
            out[k] = np.array(f.array(k))
    return out


def _tensors(source: Any) -> tuple[Mapping[str, Any], str]:
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if p.suffix != ".safetensors":
            raise ValueError(f"mlp_blocks reads .safetensors files, got {p.name}")
        return SafetensorsFile(p), str(p)
    if hasattr(source, "state_dict") and hasattr(source, "modules"):  # torch module
        return source.state_dict(), type(source).__name__
    if isinstance(source, Mapping):
        return source, "state dict"
    raise TypeError(
        "mlp_blocks takes a .safetensors path, a state dict or a torch.nn.Module, got "
        f"{type(source).__name__}"
    )


def _np(tensors: Mapping[str, Any], name: str, label: str) -> np.ndarray:
    """Weight matrix ``name`` as float64 (exact from every floating type); integer,
    boolean and complex tensors are refused naming the tensor."""
    if isinstance(tensors, SafetensorsFile):
        a = tensors.weights(name, np.float64)
    else:
        t = tensors[name]
        if hasattr(t, "detach"):  # torch: bfloat16/float8 have no NumPy twin
            t = t.detach().cpu()
            if t.is_floating_point() and t.element_size() < 4:
                t = t.float()
            t = t.numpy()
        a = np.asarray(t)
        if not np.issubdtype(a.dtype, np.floating):
            raise NetworkFileError(
                f"{label}: tensor {name!r} has dtype {a.dtype}; transformer blocks are read "
                "from floating-point weights (integer tensors are quantized or packed, "
                "boolean ones masks, complex ones would lose their imaginary part)"
            )
        a = a.astype(np.float64)
    if a.ndim != 2:
        raise ValueError(f"{label}: {name!r}: expected a 2-D weight matrix, got shape {a.shape}")
    return a


def mlp_blocks(source: Any) -> list[MLPBlock]:
    """Every transformer feed-forward block of ``source``, in parameter-name order.

    Parameters
    ----------
    source:
        A ``.safetensors`` path, a state dict (name → tensor/array) or a
        ``torch.nn.Module`` (its ``state_dict()``).

    Returns
    -------
    list of :class:`MLPBlock`; weights as ``(inputs × outputs)`` float64 matrices.

    Raises
    ------
    ValueError
        No block found (the message lists the layouts looked for), a block with a
        missing partner matrix, or shapes that do not fit together.
    """
    tensors, label = _tensors(source)
    found: list[tuple[str, str, tuple[str, ...]]] = []
    for key in tensors:
        for layout, pat, parts in _PATTERNS:
            m = pat.match(key)
            if m:
                found.append((m.group("p"), layout, parts))
    blocks = []
    for prefix, layout, parts in found:
        names = [f"{prefix}.{p}" for p in parts]
        missing = [n for n in names if n not in tensors]
        if missing:
            raise ValueError(f"{label}: {layout}-style block '{prefix}' lacks {missing}")
        mats = [_np(tensors, n, label) for n in names]
        if layout == "bert":  # nn.Linear: (out, in)
            w1, w2 = mats[0].T, mats[1].T
            blocks.append(MLPBlock(prefix, layout, _chain(label, prefix, names, w1, w2)))
        elif layout == "gpt2":  # Conv1D: (in, out)
            blocks.append(MLPBlock(prefix, layout, _chain(label, prefix, names, *mats)))
        else:
            gate, up, down = (m.T for m in mats)
            if gate.shape != up.shape or down.shape != gate.shape[::-1]:
                raise ValueError(
                    f"{label}: gated block '{prefix}' has gate {gate.shape[::-1]}, up "
                    f"{up.shape[::-1]}, down {down.shape[::-1]} (stored out × in): they do "
                    "not fit d → hidden → d"
                )
            d, h = gate.shape
            g = Network.from_edges(
                [
                    NodeGroup("input", d, "input"),
                    NodeGroup(f"{prefix}.hidden", h, "Linear"),
                    NodeGroup(f"{prefix}.down_proj", d, "Linear"),
                ],
                [(0, 1, gate, names[0]), (0, 1, up, names[1]), (1, 2, down, names[2])],
            )
            blocks.append(MLPBlock(prefix, layout, g))
    if not blocks:
        raise ValueError(
            f"{label}: no transformer MLP block found; looked for BERT-style "
            "'*.intermediate.dense.weight' + '*.output.dense.weight', GPT-2-style "
            "'*.mlp.c_fc.weight' + '*.mlp.c_proj.weight' and LLaMA-style "
            "'*.gate_proj.weight' + '*.up_proj.weight' + '*.down_proj.weight'"
        )
    return blocks


def _chain(label: str, prefix: str, names: list[str], w1: np.ndarray, w2: np.ndarray) -> Network:
    if w1.shape[1] != w2.shape[0]:
        raise ValueError(
            f"{label}: block '{prefix}': {names[0]} gives {w1.shape[1]} hidden "
            f"units but {names[1]} takes {w2.shape[0]}"
        )
    return network_from_matrices([w1, w2])
