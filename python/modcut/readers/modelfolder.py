"""The tensors of a model as people have them: a Hugging Face model folder (one or several
``.safetensors`` files, with or without ``model.safetensors.index.json``, and its
``config.json``), a single ``.safetensors`` file, a state dict in memory, or a Hub model id
resolved through the local Hugging Face cache (the ``hub`` extra).

:func:`open_model` returns a :class:`TensorSource`: names, shapes and dtypes from the
files' headers (nothing else is read), and :meth:`TensorSource.weights` reads one tensor,
memory-mapped, converted to float32 on demand. So a caller that takes one transformer
block at a time holds one block's weights at a time, whatever the model's size.

Checked when the model is opened, each error naming the file: a folder without
safetensors files (PyTorch ``.bin``/``.pt`` pickles are refused with the command that
converts them: modcut never unpickles), an index naming a shard that is missing or a
tensor its shard does not hold, a tensor in two files, a damaged ``config.json`` or
index, and every header rule of each file (:class:`~modcut.readers.safetensorfile.SafetensorsFile`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modcut.errors import NetworkFileError
from modcut.readers.safetensorfile import SafetensorsFile, not_weights

__all__ = ["TensorSource", "is_hub_id", "is_model_folder", "open_model", "resolve_hub_id"]

_PICKLES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
_CONVERT = (
    "convert it to safetensors where you trust it, e.g. with transformers: "
    "AutoModel.from_pretrained(DIR).save_pretrained(OUT, safe_serialization=True)"
)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class TensorSource(Mapping[str, tuple[int, ...]]):
    """A model's tensors: a mapping of name → shape, read one tensor at a time.

    Attributes
    ----------
    label: how the model is named in messages and provenance (its path or id).
    model_type: ``config.json``'s ``model_type`` (``None`` without one).
    config: the whole ``config.json`` (empty without one).
    files: the ``.safetensors`` files read (empty for a state dict in memory).
    """

    label: str
    model_type: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    files: tuple[Path, ...] = ()
    _where: dict[str, SafetensorsFile] = field(default_factory=dict, repr=False)
    _memory: Mapping[str, Any] | None = field(default=None, repr=False)

    # -- the mapping: name → shape -------------------------------------------------
    def __getitem__(self, name: str) -> tuple[int, ...]:
        if self._memory is not None:
            return tuple(np.shape(_as_numpy(self._memory[name])))
        return self._where[name].info(name).shape

    def __iter__(self) -> Iterator[str]:
        return iter(self._memory if self._memory is not None else self._where)

    def __len__(self) -> int:
        return len(self._memory if self._memory is not None else self._where)

    def __contains__(self, name: object) -> bool:
        return name in (self._memory if self._memory is not None else self._where)

    def file_of(self, name: str) -> str:
        """The file holding ``name`` (the label for a state dict in memory)."""
        return self.label if self._memory is not None else str(self._where[name].path)

    def weights(self, name: str, dtype: Any = np.float32) -> np.ndarray:
        """Tensor ``name`` as floating-point weights in ``dtype`` (exact from every floating
        type of the format); integer, boolean and complex tensors are refused by name."""
        if self._memory is not None:
            a = _as_numpy(self._memory[name])
            if not np.issubdtype(a.dtype, np.floating):
                kind = {"b": "bool", "c": "complex"}.get(a.dtype.kind, "int")
                raise not_weights(self.label, name, str(a.dtype), kind)
            return np.asarray(a, dtype=dtype)
        return self._where[name].weights(name, dtype)

    def dtype_of(self, name: str) -> str:
        """The stored dtype (the format's name, or NumPy's for a state dict in memory)."""
        if self._memory is not None:
            return str(_as_numpy(self._memory[name]).dtype)
        return self._where[name].info(name).dtype


def _as_numpy(t: Any) -> np.ndarray:
    if hasattr(t, "detach"):  # torch: bfloat16/float8 have no NumPy twin (exact in float32)
        t = t.detach().cpu()
        if t.is_floating_point() and t.element_size() < 4:
            t = t.float()
        return np.asarray(t.numpy())
    return np.asarray(t)


def is_hub_id(text: str) -> bool:
    """Whether ``text`` reads as a Hub model id (``org/name``) rather than a path."""
    return bool(_HUB_ID.match(text)) and not Path(text).exists()


def is_model_folder(path: Path) -> bool:
    """Whether ``path`` is a model folder (safetensors files, a safetensors index, or a
    ``config.json`` beside PyTorch pickles) rather than a modcut run folder."""
    if not path.is_dir() or (path / "checkpoint.pt").is_file():
        return False
    names = [q.name for q in path.iterdir()]
    return any(n.endswith((".safetensors", ".safetensors.index.json")) for n in names) or (
        "config.json" in names and any(n.endswith(_PICKLES) for n in names)
    )


def resolve_hub_id(model_id: str, revision: str | None = None) -> Path:
    """The local folder of Hub model ``model_id`` in the Hugging Face cache, offline.

    Only files already cached are used (``local_files_only``): modcut never downloads.
    Raises :class:`NetworkFileError` saying what to run when the model is not cached.
    """
    from modcut._optional import require

    hub = require("huggingface_hub", extra="hub", purpose=f"resolving the Hub model id {model_id}")
    try:
        folder = hub.snapshot_download(
            model_id,
            revision=revision,
            local_files_only=True,
            allow_patterns=["*.safetensors", "*.json"],
        )
    except Exception as exc:  # LocalEntryNotFoundError, a damaged cache, …
        cache = (
            os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "~/.cache/huggingface"
        )
        raise NetworkFileError(
            f"the Hub model {model_id!r} is not in the local Hugging Face cache ({cache}; "
            f"{type(exc).__name__}); modcut never downloads: fetch it once with network access, "
            f"e.g. `hf download {model_id} --include '*.safetensors' '*.json'`, or pass the "
            "model folder's path"
        ) from None
    return Path(folder)


def open_model(source: Any) -> TensorSource:
    """The tensors of ``source``.

    Parameters
    ----------
    source:
        A model folder (``config.json`` and one or several ``.safetensors`` files, with or
        without ``*.safetensors.index.json``), a ``.safetensors`` file (a ``config.json``
        beside it is read too), a Hub model id ``org/name`` (the local cache; the ``hub``
        extra), a state dict (name → tensor or array) or a ``torch.nn.Module``.

    Raises
    ------
    FileNotFoundError
        No such path (and not a Hub id).
    NetworkFileError
        Naming the file: see the module's docstring.
    """
    if isinstance(source, Mapping):
        return TensorSource("state dict", _memory=source)
    if hasattr(source, "state_dict") and hasattr(source, "modules"):  # torch module
        return TensorSource(type(source).__name__, _memory=source.state_dict())
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            "expected a model folder, a .safetensors file, a Hub model id, a state dict or a "
            f"torch.nn.Module, got {type(source).__name__}"
        )
    text = os.fspath(source)
    p = Path(text)
    if not p.exists():
        if is_hub_id(text):
            return _open_folder(resolve_hub_id(text), label=text)
        raise FileNotFoundError(f"no such file or folder: {p}")
    if p.is_dir():
        return _open_folder(p, label=str(p))
    if p.suffix.lower() in _PICKLES:
        raise NetworkFileError(
            f"{p} is a PyTorch pickle, which modcut never unpickles for transformer blocks; "
            + _CONVERT
        )
    if p.suffix.lower() != ".safetensors":
        raise NetworkFileError(
            f"{p} is not a .safetensors file or a model folder (transformer blocks are read "
            "from safetensors)"
        )
    config = _config(p.parent / "config.json")
    f = SafetensorsFile(p)
    return TensorSource(
        str(p),
        model_type=config.get("model_type"),
        config=config,
        files=(p,),
        _where={name: f for name in f},
    )


def _config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NetworkFileError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(cfg, dict):
        raise NetworkFileError(f"{path} is JSON but not an object")
    return cfg


def _open_folder(folder: Path, label: str) -> TensorSource:
    config = _config(folder / "config.json")
    indexes = sorted(folder.glob("*.safetensors.index.json"))
    if len(indexes) > 1:
        raise NetworkFileError(
            f"{folder} holds {len(indexes)} safetensors indexes "
            f"({', '.join(i.name for i in indexes)}); pass the one to read's folder alone"
        )
    where: dict[str, SafetensorsFile] = {}
    if indexes:
        files = _from_index(indexes[0], where)
    else:
        files = tuple(sorted(folder.glob("*.safetensors")))
        if not files:
            pickles = sorted(q.name for q in folder.iterdir() if q.suffix.lower() in _PICKLES)
            if pickles:
                raise NetworkFileError(
                    f"{folder} holds PyTorch pickles ({', '.join(pickles[:3])}) and no "
                    f".safetensors file; modcut never unpickles: {_CONVERT}"
                )
            raise NetworkFileError(
                f"{folder} holds no .safetensors file (a model folder has config.json and "
                "model.safetensors, or model-0000N-of-0000M.safetensors with "
                "model.safetensors.index.json)"
            )
        for path in files:
            f = SafetensorsFile(path)
            for name in f:
                if name in where:
                    raise NetworkFileError(
                        f"{folder}: tensor {name!r} is in both {where[name].path.name} and "
                        f"{path.name}; without an index the files must not overlap"
                    )
                where[name] = f
    return TensorSource(
        label, model_type=config.get("model_type"), config=config, files=files, _where=where
    )


def _from_index(index: Path, where: dict[str, SafetensorsFile]) -> tuple[Path, ...]:
    try:
        raw = json.loads(index.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NetworkFileError(f"{index} is not valid JSON ({exc})") from None
    wmap = raw.get("weight_map") if isinstance(raw, dict) else None
    if not isinstance(wmap, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in wmap.items()
    ):
        raise NetworkFileError(f"{index} has no weight_map of tensor names to shard files")
    shards: dict[str, SafetensorsFile] = {}
    for shard in dict.fromkeys(wmap.values()):
        path = index.parent / shard
        if Path(shard).name != shard:
            raise NetworkFileError(f"{index} names the shard {shard!r} outside its folder")
        if not path.is_file():
            raise NetworkFileError(
                f"{index} names the shard {shard}, which is missing from {index.parent} "
                "(an interrupted download?)"
            )
        shards[shard] = SafetensorsFile(path)
    for name, shard in wmap.items():
        if name not in shards[shard]:
            raise NetworkFileError(
                f"{index} places tensor {name!r} in {shard}, which does not hold it "
                "(a damaged index or a shard from another model)"
            )
        where[name] = shards[shard]
    return tuple(f.path for f in shards.values())
