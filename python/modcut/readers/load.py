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
  written by :meth:`modcut.Network.save` (marker ``__modcut_groups__``;
  recognised here and nowhere else);
* a ``.npy`` file holding one 2-D numeric matrix: a one-layer network (a
  ``.npy`` cannot hold several matrices without pickling, which modcut never
  unpickles: save several with ``np.savez``);
* a modcut checkpoint (``checkpoint.pt`` from ``modcut train``), its run
  folder, a checkpoint dict or a loaded :class:`~modcut.readers.checkpoint.Checkpoint`;
* a ``torch.nn.Module`` of ``Linear``/``Conv2d`` layers
  (:func:`modcut.readers.extract.extract_weights`).

The data flows one way: this module sits above both the core (it builds the
network with :func:`modcut._validate.network_from_matrices`) and the harness
(imported lazily, only for checkpoints and modules); the core never imports
the harness. The network's :attr:`~Network.provenance` records where it came
from (and, for checkpoints, the data set, metrics and training configuration).

Networks with skips or concatenations (a :class:`~modcut.network.Network`
that is not a chain, in memory or saved) are not layered networks: :func:`as_graph`
is the entry point every public function dispatches on. It returns a chain as a
:class:`Network` (bit for bit what its matrices give) and anything else as a
:class:`~modcut.network.Network`; :func:`as_network` refuses the latter with
a ``ValueError`` saying what to use instead.

A file that is not a network raises :class:`NetworkFileError` naming the file
and what was expected (never a library's internal message).
"""

from __future__ import annotations

import os
import re
import sys
import tokenize
import zipfile
import zlib
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from modcut._io import jsonable
from modcut.errors import NetworkFileError
from modcut.network import EdgeGroup, Network, NodeGroup, network_from_matrices, register_readers
from modcut.readers.safetensorfile import DTYPES, SafetensorsFile
from modcut.readers.torchfile import describe_failure, load_tensors, quiet_torch, zip_names

__all__ = [
    "NetworkFileError",
    "as_graph",
    "as_network",
    "build_arch",
    "config_dict",
    "load_into",
    "model_file_graph",
    "read_checkpoint",
    "read_exported_program",
    "read_group_graph",
    "read_state_dict",
]

_EXPECTED = (
    "expected a .npz of weight matrices (np.savez(path, W1, W2, ...)), a .npy holding one "
    "2-D matrix, or a modcut checkpoint (.pt) or run folder written by `modcut train`"
)
_GROUP_MARKER = "__modcut_groups__"  # the key Network.save writes first


def _is_torch_module(obj: Any) -> bool:
    # A torch module can only exist if torch is already imported: never import it here
    # (a multi-second import that users of plain arrays should not pay).
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _is_checkpoint_object(obj: Any) -> bool:
    ckpt = sys.modules.get("modcut.readers.checkpoint")
    return ckpt is not None and isinstance(obj, ckpt.Checkpoint)


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
    out: dict[str, Any] = jsonable(d)
    return out


def _plain(d: Any) -> dict[str, Any]:
    out: dict[str, Any] = jsonable(dict(d or {}))
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

    Returns a :class:`modcut.readers.checkpoint.Checkpoint`. Raises
    ``FileNotFoundError`` for a missing file and :class:`NetworkFileError`
    (naming the file) for one that is not a modcut checkpoint.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file or folder: {p}")
    if p.is_dir() and not (p / "checkpoint.pt").is_file():
        raise NetworkFileError(f"{p} is a folder without a checkpoint.pt; {_EXPECTED}")
    from modcut.readers.checkpoint import checkpoint_from_dict

    file = p / "checkpoint.pt" if p.is_dir() else p
    try:
        raw = load_tensors(file, str(file), "a modcut checkpoint")
    except NetworkFileError as exc:
        raise NetworkFileError(f"{exc}; {_EXPECTED}") from None
    try:
        return checkpoint_from_dict(raw, file)
    except ValueError as exc:
        raise NetworkFileError(str(exc)) from None


#: What reading a damaged or truncated ``.npy``/``.npz``/zip entry raises, from NumPy's
#: header parser (``SyntaxError``, ``tokenize.TokenError``), ``zipfile`` (``BadZipFile``,
#: ``NotImplementedError`` for a damaged "compression method" or version field) and
#: ``zlib``; each becomes a :class:`NetworkFileError` naming the file and the entry.
_DAMAGE = (
    ValueError,
    OSError,
    EOFError,
    SyntaxError,
    TypeError,
    KeyError,
    NotImplementedError,
    tokenize.TokenError,
    zipfile.BadZipFile,
    zlib.error,
)


def _npz_order(names: list[str]) -> list[str]:
    if names and all(re.fullmatch(r"arr_\d+", n) for n in names):
        return sorted(names, key=lambda n: int(n[4:]))
    return names


def _matrix(arr: Any, file: Path, name: str) -> Any:
    a = np.asarray(arr)
    if a.ndim != 2 or not (
        np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
    ):
        raise NetworkFileError(
            f"{file}: entry {name!r} has shape {a.shape} and dtype {a.dtype}, but every entry "
            f"must be a 2-D numeric weight matrix (inputs × outputs); {_EXPECTED}"
        )
    return a


def _not_empty(p: Path) -> None:
    """An empty file (an interrupted download, a failed write) named as such."""
    if p.stat().st_size == 0:
        raise NetworkFileError(f"{p} is empty (0 bytes): truncated or never written; {_EXPECTED}")


def _npy_header(f: Any, p: Path, what: str) -> tuple[tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` of the ``.npy`` stream ``f`` at its header, checked against the
    bytes that follow it (``size`` of the rest of the stream): a header that declares more
    data than there is (a truncated file, or a damaged or hostile header asking for
    terabytes) is refused before any memory is allocated."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    except _DAMAGE as exc:
        raise NetworkFileError(
            f"{p}: {what} has no valid .npy header ({type(exc).__name__}: {exc}); {_EXPECTED}"
        ) from None
    return tuple(int(n) for n in shape), dtype


def _check_npy_size(shape: tuple[int, ...], dtype: np.dtype, left: int, p: Path, what: str) -> None:
    if dtype.hasobject:
        raise NetworkFileError(
            f"{p}: {what} holds Python objects (dtype {dtype}), which are never unpickled; "
            f"{_EXPECTED}"
        )
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if need > left:
        raise NetworkFileError(
            f"{p}: {what} declares a {'×'.join(map(str, shape))} {dtype} array ({need:,} bytes) "
            f"but only {left:,} bytes follow its header: the file is truncated or damaged; "
            f"{_EXPECTED}"
        )


def _open_npz(p: Path) -> Any:
    _not_empty(p)
    try:
        return np.load(p, allow_pickle=False)
    except _DAMAGE as exc:
        raise NetworkFileError(
            f"{p} cannot be read as a .npz archive ({type(exc).__name__}); {_EXPECTED}"
        ) from None


def _group_arrays(z: Any, p: Path) -> Network:
    """The group network stored in an open ``Network.save`` archive ``z``."""

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
            m = sp.csr_array(
                (entry(f"e{i}_data"), entry(f"e{i}_indices"), entry(f"e{i}_indptr")),
                shape=(sizes[s], sizes[d]),
            )
            edges.append(EdgeGroup(s, d, m, str(name)))
        g = Network.from_edges(groups, edges)
        _ = g.core  # the Rust checks too: canonical CSR rows, node ids that fit int32
        return g
    except KeyError as exc:
        detail = f"missing entry {exc}"
    except (ValueError, TypeError, IndexError) as exc:
        detail = str(exc)
    raise NetworkFileError(
        f"{p} is marked as a group graph ({_GROUP_MARKER}) but is damaged or was not written "
        f"by Network.save: {detail}; save the graph again with Network.save"
    )


def read_group_graph(path: str | os.PathLike[str]) -> Network:
    """Read a group graph written by :meth:`modcut.Network.save`.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    NetworkFileError
        The file is not a ``.npz`` written by ``Network.save`` (no marker), or
        it is damaged (missing or inconsistent entries, invalid matrices); the
        message names the file.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such file: {p}")
    with _open_npz(p) as z:
        if _GROUP_MARKER not in z.files:
            raise NetworkFileError(
                f"{p} was not written by Network.save (no {_GROUP_MARKER} entry); "
                f"read weight matrices with modcut.as_network"
            )
        return _group_arrays(z, p)


def _group_graph(g: Network, provenance: dict[str, Any]) -> Network:
    """The saved network with its provenance (a chain is bit for bit the network its
    matrices give: both canonicalise every matrix the same way)."""
    return replace(g, provenance=provenance)


def _read_npz(p: Path) -> Network:
    z = _open_npz(p)
    with z:
        names = list(z.files)
        if not names:
            raise NetworkFileError(f"{p} holds no arrays; {_EXPECTED}")
        if _GROUP_MARKER in names:  # Network.save
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
            mats = [_npz_member(z, p, n) for n in _npz_order(names)]
            kind = "npz"
    return _checked(mats, p, {"source": str(p), "kind": kind})


def _npz_member(z: Any, p: Path, name: str) -> Any:
    """Entry ``name`` of an open ``.npz``, its header checked against its stored size first."""
    what = f"entry {name!r}"
    member = name + ".npy" if name + ".npy" in z.zip.namelist() else name
    try:
        with z.zip.open(member) as f:
            shape, dtype = _npy_header(f, p, what)
            left = z.zip.getinfo(member).file_size - f.tell()
        _check_npy_size(shape, dtype, left, p, what)
        return _matrix(z[name], p, name)
    except NetworkFileError:
        raise
    except _DAMAGE as exc:
        raise NetworkFileError(
            f"{p}: {what} cannot be read ({type(exc).__name__}): the archive is truncated or "
            f"damaged; {_EXPECTED}"
        ) from None


def _read_npy(p: Path) -> Network:
    _not_empty(p)
    with open(p, "rb") as f:
        shape, dtype = _npy_header(f, p, "the array")
        left = p.stat().st_size - f.tell()
    _check_npy_size(shape, dtype, left, p, "the array")
    try:
        arr = np.load(p, allow_pickle=False)
    except _DAMAGE as exc:
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
    from modcut.readers.extract import layer_modules

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


def _not_layered(g: Network, source: str) -> ValueError:
    return ValueError(
        f"{source} is a network with skips, concatenations or parallel branches "
        f"({len(g.groups)} node groups, {len(g.edges)} edge groups), not a chain of layers; "
        f"modcut.cluster, ncut, clusterability, shuffle, spectral_embedding and build_graph "
        f"take it directly (modcut.readers.load.as_graph reads it as a network with skips)"
    )


def _from_path(source: str | os.PathLike[str] | bytes, part: str = "all") -> Network:
    p = Path(os.fsdecode(source) if isinstance(source, bytes) else source)
    if not p.exists():
        twin = p.with_name(p.name + ".npz")
        hint = f"; {twin} exists (np.savez and Network.save append .npz)" if twin.is_file() else ""
        raise FileNotFoundError(f"no such file or folder: {p}{hint} ({_EXPECTED})")
    if p.is_file() and p.suffix.lower() == ".npz":
        _matrices_only(part)
        return _read_npz(p)
    if p.is_file() and p.suffix.lower() == ".npy":
        _matrices_only(part)
        return _read_npy(p)
    ckpt = read_checkpoint(p)
    return _from_checkpoint(ckpt, str(p), part)


def _from_checkpoint(ckpt: Any, source: str, part: str = "all") -> Network:
    from modcut.readers.extract import extract_weights

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
    :func:`modcut.readers.extract.extract_weights`); the provenance then records
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
        if not network.is_chain():
            raise _not_layered(network, repr(network))
        return network
    if isinstance(network, (str, bytes)) or hasattr(network, "__fspath__"):
        net = _from_path(network, part)
        if not net.is_chain():
            raise _not_layered(net, os.fsdecode(network))
        return net
    if _is_torch_module(network):
        from modcut.readers.extract import extract_weights
        from modcut.readers.fxgraph import check_chain

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
        from modcut.readers.checkpoint import checkpoint_from_dict

        return _from_checkpoint(checkpoint_from_dict(network), "checkpoint dict", part)
    _matrices_only(part)
    return network_from_matrices(network)


def as_graph(network: Any, *, part: str = "all") -> Network:
    """The dispatch of every public function: ``network`` as a layered
    :class:`Network` when it is a chain, else as a :class:`~modcut.network.Network`.

    Parameters
    ----------
    network:
        Anything :func:`as_network` takes, a :class:`~modcut.network.Network`
        (in memory), a ``.npz`` written by :meth:`~modcut.network.Network.save`,
        or a ``.pt2`` program written by ``torch.export.save`` (:func:`model_file_graph`).
    part:
        As for :func:`as_network` (models and checkpoints only; a group network or a
        saved graph takes only ``"all"``).

    Returns
    -------
    Network
        For every chain: weight matrices, files, checkpoints, modules, and a group
        network (in memory or saved) whose edge groups are ``0 → 1 → … → L``; bit
        for bit the network its matrices give.
    Network
        For a group network (in memory or saved) with skips, concatenations or
        parallel branches.

    Raises
    ------
    FileNotFoundError, NetworkFileError, TypeError, ValueError
        As :func:`as_network`; a damaged or foreign group ``.npz`` raises
        :class:`NetworkFileError` naming the file.
    """
    if isinstance(network, Network):
        _matrices_only(part)
        return network
    if isinstance(network, (str, bytes)) or hasattr(network, "__fspath__"):
        p = Path(os.fsdecode(network) if isinstance(network, bytes) else network)
        if p.suffix.lower() == ".pt2":  # a torch.export program: its graph, no class needed
            _matrices_only(part)
            return as_graph(model_file_graph(p))
        return _from_path(network, part)
    return as_network(network, part=part)


# --------------------------------------------------------------------------- model files
# A model file is read into a Network (its graph from the forward pass), never
# unpickled: a torch.export program (.pt2), or a state dict (.pt read with
# weights_only=True, or .safetensors) loaded strictly into an architecture the user
# names (--arch MODULE:CALLABLE).

_MODEL_FILES = (
    "expected a .pt2 written by torch.export.save, or a state dict (.pt saved with "
    "torch.save(model.state_dict(), path), or .safetensors) with --arch MODULE:CALLABLE"
)


def read_exported_program(path: str | os.PathLike[str]) -> Any:
    """The ``torch.export.ExportedProgram`` in a ``.pt2`` file (``torch.export.save``).

    Nothing is unpickled: a program holding pickled Python objects (custom or opaque
    objects) is refused, and every tensor is read with ``torch.load(weights_only=True)``.
    Raises ``FileNotFoundError`` or :class:`NetworkFileError` naming the file.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such file: {p} ({_MODEL_FILES})")
    import torch
    from torch.export.pt2_archive import constants as pt2

    if p.stat().st_size == 0:
        raise NetworkFileError(f"{p} is empty (0 bytes); {_MODEL_FILES}")
    names = zip_names(p)
    if names is None:
        raise NetworkFileError(
            f"{p} is not a .pt2 archive (not a readable zip file: truncated, damaged or another "
            f"format); {_MODEL_FILES}"
        )
    if not any(Path(n).name == "archive_format" for n in names):
        if any(Path(n).name == "data.pkl" for n in names):
            found = "a torch.save file (a pickled archive: data.pkl)"
        else:
            shown = ", ".join(names[:4]) + (", …" if len(names) > 4 else "")
            found = f"a zip archive of {len(names)} entries ({shown or 'none'})"
        raise NetworkFileError(
            f"{p} is {found}, not a program written by torch.export.save (it has no "
            f"archive_format entry); {_MODEL_FILES}"
        )
    pickled = [
        n
        for n in names
        if Path(n).name.startswith((pt2.CUSTOM_OBJ_FILENAME_PREFIX, pt2.OPAQUE_OBJ_FILENAME_PREFIX))
    ]
    if pickled:
        raise NetworkFileError(
            f"{p} holds pickled Python objects ({pickled[0]}), which modcut "
            "never unpickles; export a model of tensors only"
        )
    # the pickled tensor files inside (sample inputs, constants) are checked one by
    # one first, so that a refusal names the entry and what it holds
    with zipfile.ZipFile(p) as z:
        for n in names:
            if n.endswith(".pt"):
                try:
                    data = z.read(n)
                except _DAMAGE as exc:
                    raise NetworkFileError(
                        f"{p} is damaged: its entry {n} cannot be read ({type(exc).__name__}: "
                        f"{exc}); {_MODEL_FILES}"
                    ) from None
                load_tensors(data, f"{p} (entry {n})")
    old = os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD")
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"  # torch.export.load may ask for pickle
    try:
        with quiet_torch():
            return torch.export.load(p)
    except Exception as exc:  # torch's text would advise unsafe unpickling
        raise NetworkFileError(
            f"{p} {describe_failure(exc, 'a torch.export program')}; {_MODEL_FILES}"
        ) from None
    finally:
        if old is None:
            del os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"]
        else:
            os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = old


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The tensors of a state dict file: ``.safetensors`` (the ``safetensors`` package) or
    a ``torch.save``'d dict read with ``torch.load(weights_only=True)`` (a dict holding a
    ``"state_dict"`` entry is read through it)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such file: {p} ({_MODEL_FILES})")
    import torch

    if p.suffix.lower() == ".safetensors":
        try:
            f = SafetensorsFile(p)
        except NetworkFileError as exc:
            raise NetworkFileError(f"{exc}; {_MODEL_FILES}") from None
        out = {}
        for k in f:
            a = f.array(k)
            if DTYPES[f.info(k).dtype][1] is None:  # bfloat16 / FP8: exact in float32
                a = f.weights(k)
            out[k] = torch.from_numpy(np.array(a))
        return out
    try:
        raw = load_tensors(p, str(p))
    except NetworkFileError as exc:
        raise NetworkFileError(f"{exc}; {_MODEL_FILES}") from None
    if isinstance(raw, dict) and isinstance(raw.get("state_dict"), dict):
        raw = raw["state_dict"]
    if (
        not isinstance(raw, dict)
        or not raw
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in raw.items())
    ):
        raise NetworkFileError(
            f"{p} does not hold a state dict (a dict of parameter names to tensors); {_MODEL_FILES}"
        )
    return dict(raw)


def build_arch(arch: str, kwargs: dict[str, Any] | None = None) -> Any:
    """The ``torch.nn.Module`` that ``MODULE:CALLABLE`` (e.g. ``torchvision.models:resnet18``)
    returns when called with ``kwargs`` (none by default)."""
    import importlib

    import torch

    mod_name, sep, attr = str(arch).partition(":")
    if not sep or not mod_name or not attr:
        raise ValueError(
            f"--arch must be MODULE:CALLABLE (e.g. torchvision.models:resnet18), got {arch!r}"
        )
    try:
        obj: Any = importlib.import_module(mod_name)
    except ImportError as exc:
        raise ValueError(
            f"--arch {arch}: cannot import module {mod_name!r} ({type(exc).__name__}: {exc})"
        ) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"--arch {arch}: module {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"--arch {arch}: {attr!r} is not callable")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise ValueError(f"--arch-kwargs must be a JSON object, got {kwargs!r}")
    try:
        model = obj(**(kwargs or {}))
    except Exception as exc:
        raise ValueError(
            f"--arch {arch}: calling it with {kwargs or {}} failed ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"--arch {arch} returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def load_into(model: Any, state: dict[str, Any], source: str) -> Any:
    """Load ``state`` strictly into ``model`` (ValueError naming the keys or shapes that do
    not match)."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]

    def few(keys: list[str]) -> str:
        return ", ".join(keys[:5]) + (f", … ({len(keys)} in all)" if len(keys) > 5 else "")

    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {few(missing)}")
        if unexpected:
            parts.append(f"unexpected {few(unexpected)}")
        raise ValueError(
            f"{source}: the state dict's keys do not match the architecture "
            f"{type(model).__name__}: {'; '.join(parts)}"
        )
    bad = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if tuple(state[k].shape) != tuple(v.shape)
    ]
    if bad:
        raise ValueError(
            f"{source}: the state dict's shapes do not match the architecture "
            f"{type(model).__name__} (file vs model): {few(bad)}"
        )
    model.load_state_dict(state, strict=True)
    return model


def model_file_graph(
    path: str | os.PathLike[str],
    *,
    arch: str | None = None,
    arch_kwargs: dict[str, Any] | None = None,
    input_shape: Any = None,
    conv_norm: str = "l1",
) -> Network:
    """The graph (:func:`modcut.network_graph`) of a model file.

    Parameters
    ----------
    path:
        A ``.pt2`` (``torch.export.save``: the graph comes from the program,
        :func:`modcut.readers.fxgraph.program_graph`; no Python class needed), or with
        ``arch`` a state dict (``.pt``/``.pth``/``.bin`` read with
        ``torch.load(weights_only=True)``, or ``.safetensors``).
    arch, arch_kwargs:
        ``MODULE:CALLABLE`` building the architecture, called with ``arch_kwargs``;
        the state dict is loaded into it strictly.
    input_shape:
        One example's shape (or a tuple of them, one per input) for a state dict;
        a ``.pt2`` has its shapes, and a different ``input_shape`` is an error.

    Returns
    -------
    Network
        Node groups named after the modules (see :func:`modcut.network_graph`).
    """
    from modcut.readers.fxgraph import network_graph, program_graph

    p = Path(path)
    if p.suffix.lower() == ".pt2":
        if arch is not None:
            raise ValueError(f"{p} is a torch.export program: it needs no --arch")
        ep = read_exported_program(p)
        if input_shape is not None:
            recorded = [
                tuple(s.meta["val"].shape[1:])
                for s in ep.graph.nodes
                if s.op == "placeholder" and s.name in ep.graph_signature.user_inputs
            ]
            given = (
                [tuple(input_shape)]
                if all(isinstance(d, int) for d in input_shape)
                else [tuple(s) for s in input_shape]
            )
            if given != recorded:
                raise ValueError(
                    f"{p} was exported for inputs of shape {recorded}, not "
                    f"{given}: leave out --input-shape"
                )
        return program_graph(ep, conv_norm=conv_norm, label=p.name)
    if arch is None:
        raise ValueError(
            f"{p}: a state dict needs --arch MODULE:CALLABLE (the architecture "
            f"to load it into); {_MODEL_FILES}"
        )
    model = load_into(build_arch(arch, arch_kwargs), read_state_dict(p), str(p))
    try:
        return network_graph(model, input_shape, conv_norm=conv_norm)
    except ValueError as exc:
        if "input_shape" in str(exc):
            raise ValueError(
                f"{exc} (on the command line: --input-shape, e.g. 3,224,224)"
            ) from None
        raise


# The core's public functions read their inputs through these (modcut.network.as_graph).
register_readers(as_graph, read_group_graph)
