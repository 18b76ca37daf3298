"""``.safetensors`` files, memory-mapped and read one tensor at a time.

The format (https://huggingface.co/docs/safetensors) is an 8-byte little-endian
header length ``N``, ``N`` bytes of JSON mapping each tensor name to its dtype,
shape and byte range ``[begin, end)`` in the data that follows (plus an optional
``__metadata__`` entry of strings), then the data. :class:`SafetensorsFile` reads
and checks the header (every rule of the format, each failure a
:class:`~modcut.errors.NetworkFileError` naming the file and the tensor) without
touching the data, and :meth:`SafetensorsFile.array` memory-maps one tensor
(``numpy.memmap``: the operating system pages in what is read, so a 7B-parameter
file costs no memory until a block's tensors are converted).

Why not the ``safetensors`` package's ``safe_open``: its NumPy backend cannot hold
BF16 or FP8 tensors (its torch backend needs torch), its errors name neither the
file nor the tensor, and modcut needs each tensor as a memory map it converts to
float32 itself. The package stays the oracle of the tests, which compare this
reader with it on every file both accept.

dtypes: floating tensors (``F64``, ``F32``, ``F16``, and ``BF16``, ``F8_E4M3``,
``F8_E5M2`` through the ``ml_dtypes`` package, NumPy's standard extension for these
types) are read as they are and converted exactly to float32 (or kept float64) by
:meth:`~SafetensorsFile.weights`. Integer, ``BOOL`` and complex tensors are returned
by :meth:`~SafetensorsFile.array` (state dicts hold integer and boolean buffers) but
refused as weights, naming the tensor and its dtype: an integer "weight" is a
quantized or packed tensor (GPTQ, AWQ) whose values are not the weights, a boolean
one is a mask, and a complex one would lose its imaginary part. A dtype the format
does not define is refused, naming it and the types it does define.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modcut.errors import NetworkFileError

__all__ = ["DTYPES", "SafetensorsFile", "TensorInfo"]

#: The format's dtypes: name → (bytes per element, NumPy dtype or ``None`` when the type
#: needs ``ml_dtypes``, kind: "float", "int", "bool" or "complex").
DTYPES: dict[str, tuple[int, str | None, str]] = {
    "F64": (8, "<f8", "float"),
    "F32": (4, "<f4", "float"),
    "F16": (2, "<f2", "float"),
    "BF16": (2, None, "float"),
    "F8_E4M3": (1, None, "float"),
    "F8_E5M2": (1, None, "float"),
    "I64": (8, "<i8", "int"),
    "I32": (4, "<i4", "int"),
    "I16": (2, "<i2", "int"),
    "I8": (1, "i1", "int"),
    "U64": (8, "<u8", "int"),
    "U32": (4, "<u4", "int"),
    "U16": (2, "<u2", "int"),
    "U8": (1, "u1", "int"),
    "BOOL": (1, "?", "bool"),
    "C64": (8, "<c8", "complex"),
}
_ML_DTYPES = {"BF16": "bfloat16", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}

#: The reference implementation's limit on the header (100 MB).
MAX_HEADER = 100_000_000


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's entry in the header: ``dtype`` (the format's name), ``shape`` and its
    byte range ``[begin, end)`` relative to the start of the data."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


class SafetensorsFile(Mapping[str, np.ndarray]):
    """A ``.safetensors`` file: its header read and checked, its tensors memory-mapped.

    A read-only mapping of tensor names (in file order) to arrays (:meth:`array`); it
    holds no open file, so it may be kept as long as needed.

    Parameters
    ----------
    path:
        The file.

    Raises
    ------
    FileNotFoundError
        No such file.
    NetworkFileError
        An empty or truncated file, a header length beyond the file or the format's
        100 MB, a header that is not a JSON object, an entry without a valid dtype,
        shape or byte range, byte ranges that overlap, leave gaps or do not match the
        shape, or data beyond the end of the file: each named with the file and tensor.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"no such file: {p}")
        self.path = p
        size = p.stat().st_size
        if size == 0:
            raise NetworkFileError(f"{p} is empty (0 bytes): truncated or never written")
        if size < 8:
            raise NetworkFileError(
                f"{p} holds {size} bytes, fewer than the 8 of a .safetensors header length: "
                "truncated or not a .safetensors file"
            )
        with open(p, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if n > min(MAX_HEADER, size - 8):
                raise NetworkFileError(
                    f"{p} declares a {n:,}-byte header but "
                    + (
                        f"the format allows at most {MAX_HEADER:,}"
                        if n > MAX_HEADER
                        else f"only {size - 8:,} bytes follow: truncated or not a .safetensors file"
                    )
                )
            raw = f.read(n)
        self._data_start = 8 + n
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise NetworkFileError(
                f"{p}: its {n:,}-byte header is not valid JSON ({exc}): damaged or not a "
                ".safetensors file"
            ) from None
        if not isinstance(header, dict):
            raise NetworkFileError(f"{p}: its header is JSON but not an object of tensors")
        meta = header.pop("__metadata__", {})
        if not isinstance(meta, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
        ):
            raise NetworkFileError(f"{p}: its __metadata__ is not an object of strings")
        self.metadata: dict[str, str] = dict(meta)
        infos = [self._entry(name, entry) for name, entry in header.items()]
        self._check_layout(infos, size - self._data_start)
        self._infos: dict[str, TensorInfo] = {t.name: t for t in infos}

    def _entry(self, name: str, entry: Any) -> TensorInfo:
        where = f"{self.path}: tensor {name!r}"
        if not isinstance(entry, dict):
            raise NetworkFileError(f"{where} has no entry object in the header")
        dtype = entry.get("dtype")
        if dtype not in DTYPES:
            raise NetworkFileError(
                f"{where} has dtype {dtype!r}, which the .safetensors format does not define "
                f"(it defines {', '.join(DTYPES)}); the file is damaged or from a newer writer"
            )
        shape = entry.get("shape")
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise NetworkFileError(f"{where} has shape {shape!r}: not a list of sizes ≥ 0")
        offs = entry.get("data_offsets")
        if (
            not isinstance(offs, list)
            or len(offs) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offs)
            or offs[0] > offs[1]
        ):
            raise NetworkFileError(f"{where} has data_offsets {offs!r}: not [begin, end]")
        need = math.prod(shape) * DTYPES[dtype][0]
        if offs[1] - offs[0] != need:
            raise NetworkFileError(
                f"{where}: {dtype} of shape {tuple(shape)} needs {need:,} bytes but its "
                f"data_offsets {offs} hold {offs[1] - offs[0]:,}"
            )
        return TensorInfo(name, dtype, tuple(shape), offs[0], offs[1])

    def _check_layout(self, infos: list[TensorInfo], data_size: int) -> None:
        pos = 0
        for t in sorted(infos, key=lambda t: (t.begin, t.end)):
            if t.begin != pos:
                what = "overlaps the tensor before it" if t.begin < pos else "leaves a gap"
                raise NetworkFileError(
                    f"{self.path}: tensor {t.name!r} at bytes [{t.begin}, {t.end}) {what}: "
                    "the header is damaged"
                )
            pos = t.end
        if pos > data_size:
            raise NetworkFileError(
                f"{self.path}: the header places {pos:,} bytes of tensors but only "
                f"{data_size:,} follow it: the file is truncated"
            )
        if pos < data_size:  # the reference implementation refuses these too
            raise NetworkFileError(
                f"{self.path} holds {data_size - pos:,} bytes after its last tensor: the header "
                "or the file is damaged"
            )

    # -- the mapping ---------------------------------------------------------------------
    def __getitem__(self, name: str) -> np.ndarray:
        return self.array(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._infos)

    def __len__(self) -> int:
        return len(self._infos)

    def __contains__(self, name: object) -> bool:
        return name in self._infos

    def info(self, name: str) -> TensorInfo:
        """The header entry of ``name`` (``KeyError`` naming the file if absent)."""
        try:
            return self._infos[name]
        except KeyError:
            raise KeyError(f"{self.path} has no tensor {name!r}") from None

    def array(self, name: str) -> np.ndarray:
        """Tensor ``name`` as a read-only memory map in its stored dtype (BF16 and FP8 as
        ``ml_dtypes`` types). Nothing is read until the array is used."""
        t = self.info(name)
        np_dtype = _numpy_dtype(t.dtype)
        if t.nbytes == 0:
            return np.zeros(t.shape, dtype=np_dtype)
        return np.memmap(
            self.path, dtype=np_dtype, mode="r", offset=self._data_start + t.begin, shape=t.shape
        )

    def weights(self, name: str, dtype: Any = np.float32) -> np.ndarray:
        """Tensor ``name`` as floating-point weights in ``dtype`` (float32 or float64).

        Every floating type converts exactly (float16, bfloat16 and FP8 values are all
        float32 values). Integer, boolean and complex tensors are refused naming the
        tensor and its dtype.
        """
        t = self.info(name)
        kind = DTYPES[t.dtype][2]
        if kind != "float":
            raise not_weights(str(self.path), name, t.dtype, kind)
        return np.asarray(self.array(name), dtype=dtype)


#: Why a tensor of each non-floating kind is not a network's weights.
NOT_WEIGHTS = {
    "int": "integer weights are quantized or packed (GPTQ, AWQ, bitsandbytes) and "
    "are not the network's weights; dequantize to a floating type first",
    "bool": "a boolean tensor is a mask, not weights",
    "complex": "complex weights have no |w| modcut could use without dropping their imaginary part",
}


def not_weights(where: str, name: str, dtype: str, kind: str) -> NetworkFileError:
    """The error for tensor ``name`` of ``where`` (a file, or a state dict's label) whose
    ``dtype`` is of ``kind`` ``"int"``, ``"bool"`` or ``"complex"``: the one wording for
    files and state dicts in memory."""
    return NetworkFileError(
        f"{where}: tensor {name!r} has dtype {dtype}; modcut reads floating-point "
        f"weights (F64, F32, F16, BF16, F8_E4M3, F8_E5M2): {NOT_WEIGHTS[kind]}"
    )


def _numpy_dtype(name: str) -> np.dtype:
    np_name = DTYPES[name][1]
    if np_name is not None:
        return np.dtype(np_name)
    from modcut._optional import require

    ml = require("ml_dtypes", extra="safetensors", purpose=f"reading {name} tensors")
    return np.dtype(getattr(ml, _ML_DTYPES[name]))
