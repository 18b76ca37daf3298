"""The one input path: everything a user can hand modcut becomes a :class:`Network`.

:func:`as_network` is the only place that turns user input into a network;
every public function (``cluster``, ``ncut``, ``clusterability``, ``shuffle``,
``build_graph``, ``spectral_embedding``, the study layer and the CLI) calls it,
so they all accept the same things:

* a sequence of 2-D weight matrices ``W1 … WL`` of shapes ``(n_{l-1}, n_l)``
  (rows = inputs, columns = outputs): NumPy arrays, SciPy sparse matrices (kept
  sparse) or torch tensors;
* a :class:`Network` (returned as is);
* a ``.npz`` file: ``np.savez(path, W1, W2, …)`` (matrices in layer order; the
  positional names ``arr_0, arr_1, …`` are read in numeric order, other names in
  the order they were saved), a single sparse matrix written by
  ``scipy.sparse.save_npz`` (a one-layer network, kept sparse), or a group graph
  written by :meth:`modcut.GroupNetwork.save` (marker ``__modcut_groups__``;
  recognised here and nowhere else);
* a ``.npy`` file holding one 2-D numeric matrix: a one-layer network (a
  ``.npy`` cannot hold several matrices without pickling, which modcut never
  unpickles: save several with ``np.savez``);
* a modcut checkpoint (``checkpoint.pt`` from ``modcut train``), its run
  folder, a checkpoint dict or a loaded :class:`~modcut.harness.train.Checkpoint`;
* a ``torch.nn.Module`` of ``Linear``/``Conv2d`` layers
  (:func:`modcut.harness.extract.extract_weights`).

The data flows one way: this module sits above both the core (it builds the
network with :func:`modcut._validate.network_from_matrices`) and the harness
(imported lazily, only for checkpoints and modules); the core never imports
the harness. The network's :attr:`~Network.provenance` records where it came
from (and, for checkpoints, the data set, metrics and training configuration).

Networks with skips or concatenations (a :class:`~modcut.groupnet.GroupNetwork`
that is not a chain, in memory or saved) are not layered networks: :func:`as_graph`
is the entry point every public function dispatches on. It returns a chain as a
:class:`Network` (bit for bit what its matrices give) and anything else as a
:class:`~modcut.groupnet.GroupNetwork`; :func:`as_network` refuses the latter with
a ``ValueError`` saying what to use instead.

A file that is not a network raises :class:`NetworkFileError` naming the file
and what was expected (never a library's internal message).
"""

from __future__ import annotations

import json
import os
import re
import sys
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from modcut._validate import Network, network_from_matrices
from modcut.groupnet import GroupNetwork

__all__ = [
    "NetworkFileError",
    "as_graph",
    "as_network",
    "config_dict",
    "read_checkpoint",
    "read_group_graph",
]

_EXPECTED = (
    "expected a .npz of weight matrices (np.savez(path, W1, W2, ...)), a .npy holding one "
    "2-D matrix, or a modcut checkpoint (.pt) or run folder written by `modcut train`"
)
_GROUP_MARKER = "__modcut_groups__"  # the key GroupNetwork.save writes first


class NetworkFileError(ValueError):
    """A file (or folder) that modcut cannot read as a network."""


def _is_torch_module(obj: Any) -> bool:
    # A torch module can only exist if torch is already imported: never import it here
    # (a multi-second import that users of plain arrays should not pay).
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _is_checkpoint_object(obj: Any) -> bool:
    train = sys.modules.get("modcut.harness.train")
    return train is not None and isinstance(obj, train.Checkpoint)


def config_dict(config: Any) -> dict[str, Any]:
    """A training configuration (dataclass, dict or object) as plain JSON-able data."""
    if config is None:
        return {}
    if isinstance(config, dict):
        d = dict(config)
    else:
        try:
            d = asdict(config)
        except TypeError:
            d = dict(vars(config))
    out: dict[str, Any] = json.loads(json.dumps(d, default=str))
    return out


def _plain(d: Any) -> dict[str, Any]:
    def default(o: Any) -> Any:
        if isinstance(o, (np.integer, np.floating)):
            return o.item()
        if hasattr(o, "tolist"):
            return o.tolist()
        return str(o)

    out: dict[str, Any] = json.loads(json.dumps(dict(d or {}), default=default))
    return out


def _checkpoint_provenance(ckpt: Any, source: str) -> dict[str, Any]:
    config = config_dict(getattr(ckpt, "config", None))
    return {
        "source": source,
        "kind": "checkpoint",
        "dataset": getattr(ckpt, "dataset", None) or config.get("dataset"),
        "metrics": _plain(getattr(ckpt, "metrics", {})),
        "config": config,
        "data_root": config.get("data_root"),
    }


def read_checkpoint(path: str | os.PathLike[str]) -> Any:
    """Load a modcut checkpoint (file, or run folder holding ``checkpoint.pt``).

    Returns a :class:`modcut.harness.train.Checkpoint`. Raises
    ``FileNotFoundError`` for a missing file and :class:`NetworkFileError`
    (naming the file) for one that is not a modcut checkpoint.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file or folder: {p}")
    if p.is_dir() and not (p / "checkpoint.pt").is_file():
        raise NetworkFileError(f"{p} is a folder without a checkpoint.pt; {_EXPECTED}")
    from modcut.harness import train

    file = p / "checkpoint.pt" if p.is_dir() else p
    try:
        import torch

        raw = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch's own message would advise unsafe unpickling
        raise NetworkFileError(
            f"{file} is not a modcut checkpoint (it cannot be read as one: "
            f"{type(exc).__name__}); {_EXPECTED}"
        ) from None
    try:
        return train.checkpoint_from_dict(raw, file)
    except ValueError as exc:
        raise NetworkFileError(str(exc)) from None


def _npz_order(names: list[str]) -> list[str]:
    if names and all(re.fullmatch(r"arr_\d+", n) for n in names):
        return sorted(names, key=lambda n: int(n[4:]))
    return names


def _matrix(arr: Any, file: Path, name: str) -> Any:
    a = np.asarray(arr)
    if a.ndim != 2 or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise NetworkFileError(
            f"{file}: entry {name!r} has shape {a.shape} and dtype {a.dtype}, but every entry "
            f"must be a 2-D numeric weight matrix (inputs × outputs); {_EXPECTED}"
        )
    return a


def _open_npz(p: Path) -> Any:
    try:
        return np.load(p, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise NetworkFileError(
            f"{p} cannot be read as a .npz archive ({type(exc).__name__}); {_EXPECTED}"
        ) from None


def _group_arrays(z: Any, p: Path) -> GroupNetwork:
    """The group network stored in an open ``GroupNetwork.save`` archive ``z``."""
    from modcut.groupnet import EdgeGroup, NodeGroup

    def entry(name: str) -> Any:
        if name not in z.files:
            raise KeyError(name)
        return z[name]

    try:
        names, kinds = entry("group_names"), entry("group_kinds")
        sizes = [int(s) for s in np.asarray(entry("group_sizes")).reshape(-1)]
        ends = np.asarray(entry("edge_ends")).reshape(-1, 2)
        edge_names = entry("edge_names")
        groups = [NodeGroup(str(n), s, str(k)) for n, s, k in zip(names, sizes, kinds, strict=True)]
        edges = []
        for i, ((s, d), name) in enumerate(zip(ends, edge_names, strict=True)):
            s, d = int(s), int(d)
            if not (0 <= s < len(sizes) and 0 <= d < len(sizes)):
                raise ValueError(f"edge group {i} joins groups {s} and {d}; there are {len(sizes)}")
            m = sp.csr_array((entry(f"e{i}_data"), entry(f"e{i}_indices"), entry(f"e{i}_indptr")),
                             shape=(sizes[s], sizes[d]))
            edges.append(EdgeGroup(s, d, m, str(name)))
        g = GroupNetwork.from_edges(groups, edges)
        _ = g.core  # the Rust checks too: canonical CSR rows, node ids that fit int32
        return g
    except KeyError as exc:
        detail = f"missing entry {exc}"
    except (ValueError, TypeError, IndexError) as exc:
        detail = str(exc)
    raise NetworkFileError(
        f"{p} is marked as a group graph ({_GROUP_MARKER}) but is damaged or was not written "
        f"by GroupNetwork.save: {detail}; save the graph again with GroupNetwork.save"
    )


def read_group_graph(path: str | os.PathLike[str]) -> GroupNetwork:
    """Read a group graph written by :meth:`modcut.GroupNetwork.save`.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    NetworkFileError
        The file is not a ``.npz`` written by ``GroupNetwork.save`` (no marker), or
        it is damaged (missing or inconsistent entries, invalid matrices); the
        message names the file.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such file: {p}")
    with _open_npz(p) as z:
        if _GROUP_MARKER not in z.files:
            raise NetworkFileError(
                f"{p} was not written by GroupNetwork.save (no {_GROUP_MARKER} entry); "
                f"read weight matrices with modcut.as_network"
            )
        return _group_arrays(z, p)


def _group_graph(g: GroupNetwork, provenance: dict[str, Any]) -> Network | GroupNetwork:
    """A chain as the layered :class:`Network` of its matrices, anything else as is."""
    if g.is_chain():
        return network_from_matrices([e.weights for e in g.edges], provenance)
    return g


def _read_npz(p: Path) -> Network | GroupNetwork:
    z = _open_npz(p)
    with z:
        names = list(z.files)
        if not names:
            raise NetworkFileError(f"{p} holds no arrays; {_EXPECTED}")
        if _GROUP_MARKER in names:  # GroupNetwork.save
            return _group_graph(_group_arrays(z, p), {"source": str(p), "kind": "npz (groups)"})
        if {"format", "shape", "data"} <= set(names):  # scipy.sparse.save_npz
            try:
                mats: list[Any] = [sp.load_npz(p)]
            except Exception as exc:
                raise NetworkFileError(
                    f"{p} looks like a scipy.sparse.save_npz file but cannot be read "
                    f"({type(exc).__name__}); {_EXPECTED}"
                ) from None
            kind = "npz (sparse)"
        else:
            try:
                mats = [_matrix(z[n], p, n) for n in _npz_order(names)]
            except ValueError as exc:
                if isinstance(exc, NetworkFileError):
                    raise
                raise NetworkFileError(
                    f"{p} holds an entry that is not a plain numeric array (object arrays are "
                    f"never unpickled); {_EXPECTED}"
                ) from None
            kind = "npz"
    return _checked(mats, p, {"source": str(p), "kind": kind})


def _read_npy(p: Path) -> Network:
    try:
        arr = np.load(p, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise NetworkFileError(
            f"{p} cannot be read as a .npy array of numbers ({type(exc).__name__}; object "
            f"arrays are never unpickled); {_EXPECTED}"
        ) from None
    return _checked([_matrix(arr, p, "the array")], p, {"source": str(p), "kind": "npy"})


def _checked(mats: list[Any], p: Path, provenance: dict[str, Any]) -> Network:
    try:
        return network_from_matrices(mats, provenance)
    except (TypeError, ValueError) as exc:
        raise NetworkFileError(f"{p}: {exc}") from None


def _model_provenance(model: Any, part: str, planted: Any) -> dict[str, Any]:
    """The graph part analyzed, the whole graph's neuron layers and planted modules (if any)."""
    from modcut.harness.extract import layer_modules

    out: dict[str, Any] = {"graph": part, "n_layers": len(layer_modules(model)) + 1}
    if planted:
        out["planted"] = _plain(planted)
    return out


def _matrices_only(part: str) -> None:
    if part != "all":
        raise ValueError(
            f"graph part {part!r} needs a model (checkpoint or torch module), not weight matrices "
            f"or a saved graph; use part='all'"
        )


def _not_layered(g: GroupNetwork, source: str) -> ValueError:
    return ValueError(
        f"{source} is a network with skips, concatenations or parallel branches "
        f"({len(g.groups)} node groups, {len(g.edges)} edge groups), not a chain of layers; "
        f"modcut.cluster, ncut, clusterability, shuffle, spectral_embedding and build_graph "
        f"take it directly (modcut.load.as_graph reads it as a GroupNetwork)"
    )


def _from_path(source: str | os.PathLike[str] | bytes, part: str = "all") -> Network | GroupNetwork:
    p = Path(os.fsdecode(source) if isinstance(source, bytes) else source)
    if not p.exists():
        raise FileNotFoundError(f"no such file or folder: {p} ({_EXPECTED})")
    if p.is_file() and p.suffix.lower() == ".npz":
        _matrices_only(part)
        return _read_npz(p)
    if p.is_file() and p.suffix.lower() == ".npy":
        _matrices_only(part)
        return _read_npy(p)
    ckpt = read_checkpoint(p)
    return _from_checkpoint(ckpt, str(p), part)


def _from_checkpoint(ckpt: Any, source: str, part: str = "all") -> Network:
    from modcut.harness.extract import extract_weights

    return network_from_matrices(
        extract_weights(ckpt.model, part=part),
        {
            **_checkpoint_provenance(ckpt, source),
            **_model_provenance(ckpt.model, part, getattr(ckpt, "planted", None)),
        },
    )


def as_network(network: Any, *, part: str = "all") -> Network:
    """Validate ``network`` (anything the module docstring lists) as a :class:`Network`.

    ``part`` (models and checkpoints only): ``"all"`` (the whole graph) or
    ``"conv"`` (a CNN's conv-to-conv channel graph,
    :func:`modcut.harness.extract.extract_weights`); the provenance then records
    ``graph``, ``n_layers`` (neuron layers of the whole graph) and, for a
    clusterable initialisation, the ``planted`` modules.

    Raises
    ------
    FileNotFoundError
        A path that does not exist.
    NetworkFileError
        A file that is not a network (a ``ValueError``; the message names the file
        and what was expected).
    TypeError
        Unsupported container or dtype.
    ValueError
        No matrix, non-2-D matrices, shapes that do not chain
        (``W[l].shape[1] != W[l+1].shape[0]``), NaN/inf weights, a network whose
        weights are all zero, or a module that cannot be mapped.
    """
    if isinstance(network, Network):
        _matrices_only(part)
        return network
    if isinstance(network, GroupNetwork):
        _matrices_only(part)
        if not network.is_chain():
            raise _not_layered(network, repr(network))
        return network.to_network()
    if isinstance(network, (str, bytes)) or hasattr(network, "__fspath__"):
        net = _from_path(network, part)
        if isinstance(net, GroupNetwork):
            raise _not_layered(net, os.fsdecode(network))
        return net
    if _is_torch_module(network):
        from modcut.fxgraph import check_chain
        from modcut.harness.extract import extract_weights

        check_chain(network)  # a model with skips is not read as a chain: ValueError
        return network_from_matrices(
            extract_weights(network, part=part),
            {
                "source": type(network).__name__,
                "kind": "module",
                **_model_provenance(network, part, getattr(network, "planted_modules", None)),
            },
        )
    if _is_checkpoint_object(network):
        src = str(network.path) if getattr(network, "path", None) else "checkpoint"
        return _from_checkpoint(network, src, part)
    if isinstance(network, dict) and "state_dict" in network:
        from modcut.harness.train import checkpoint_from_dict

        return _from_checkpoint(checkpoint_from_dict(network), "checkpoint dict", part)
    _matrices_only(part)
    return network_from_matrices(network)


def as_graph(network: Any, *, part: str = "all") -> Network | GroupNetwork:
    """The dispatch of every public function: ``network`` as a layered
    :class:`Network` when it is a chain, else as a :class:`~modcut.groupnet.GroupNetwork`.

    Parameters
    ----------
    network:
        Anything :func:`as_network` takes, a :class:`~modcut.groupnet.GroupNetwork`
        (in memory), or a ``.npz`` written by :meth:`~modcut.groupnet.GroupNetwork.save`.
    part:
        As for :func:`as_network` (models and checkpoints only; a group network or a
        saved graph takes only ``"all"``).

    Returns
    -------
    Network
        For every chain: weight matrices, files, checkpoints, modules, and a group
        network (in memory or saved) whose edge groups are ``0 → 1 → … → L``; bit
        for bit the network its matrices give.
    GroupNetwork
        For a group network (in memory or saved) with skips, concatenations or
        parallel branches.

    Raises
    ------
    FileNotFoundError, NetworkFileError, TypeError, ValueError
        As :func:`as_network`; a damaged or foreign group ``.npz`` raises
        :class:`NetworkFileError` naming the file.
    """
    if isinstance(network, GroupNetwork):
        _matrices_only(part)
        return network.to_network() if network.is_chain() else network
    if isinstance(network, (str, bytes)) or hasattr(network, "__fspath__"):
        return _from_path(network, part)
    return as_network(network, part=part)
