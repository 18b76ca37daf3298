"""Writing results: one JSON policy and one CSV writer.

JSON policy: files are standard JSON (``allow_nan=False``). Arrays become
lists, NumPy scalars plain numbers; NaN becomes ``null`` and ±inf the strings
``"Infinity"`` / ``"-Infinity"`` (the names Python's and JavaScript's JSON use for
them, so the sign of an infinite z-score survives); :func:`float_or_nan` reads all
three back where a float is expected. Other objects are written as their
``tolist()`` when they have one, else as ``str``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "csv_text",
    "float_or_nan",
    "jsonable",
    "read_json",
    "to_csv",
    "write_csv",
    "write_json",
]


def jsonable(v: Any) -> Any:
    """``v`` as plain JSON values under the policy of this module."""
    if isinstance(v, Mapping):
        return {(k if isinstance(k, str) else str(k)): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if v is None or isinstance(v, (str, bool)):
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isfinite(f):
            return f
        return None if math.isnan(f) else ("Infinity" if f > 0 else "-Infinity")
    if hasattr(v, "tolist"):
        return jsonable(v.tolist())
    return str(v)


_INFINITIES = {"Infinity": math.inf, "-Infinity": -math.inf}


def float_or_nan(v: Any) -> float:
    """Read back a float written by :func:`jsonable` (``None`` → NaN, ``"Infinity"`` /
    ``"-Infinity"`` → ±inf); any other string is a ``ValueError`` naming it."""
    if v is None:
        return float("nan")
    if isinstance(v, str):
        if v in _INFINITIES:
            return _INFINITIES[v]
        raise ValueError(f"expected a number, null, 'Infinity' or '-Infinity', got {v!r}")
    return float(v)


def write_json(d: Any, path: str | os.PathLike[str] | None = None, *, indent: int = 2) -> str:
    """``d`` as JSON text (see the module's policy); also written to ``path`` when given."""
    text = json.dumps(jsonable(d), indent=indent, allow_nan=False)
    if path is not None:
        write_text_atomic(path, text)
    return text


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` (parents created) through a temporary file in the same
    folder, flushed to disk and renamed over ``path``: a reader (or a rerun after a kill)
    sees the old file or the new one, never a truncated one."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f"{p.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return p


def read_json(
    path_or_text: str | os.PathLike[str], *, what: str = "a JSON object"
) -> dict[str, Any]:
    """A JSON object from a file path, or from JSON text (a string starting with ``{``).

    Raises ``FileNotFoundError`` for a path that is not a file, ``ValueError`` naming
    ``what`` was expected for invalid JSON or JSON that is not an object.
    """
    where = ""
    if isinstance(path_or_text, str) and path_or_text.lstrip().startswith("{"):
        text = path_or_text
    else:
        p = Path(path_or_text)
        if not p.is_file():
            raise FileNotFoundError(f"no such file: {p} (and it is not JSON text)")
        where = f"{p}: "
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{where}not {what}: the file is not UTF-8 text") from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}not {what}: invalid JSON ({exc})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{where}not {what}: the JSON is not an object")
    return d


def csv_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows (dicts with the keys of the first row) as CSV text; ``None`` → empty cell."""
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return buf.getvalue()


def to_csv(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str] | None = None) -> str:
    """:func:`csv_text` of ``rows``; also written to ``path`` (parents created) when given."""
    text = csv_text(rows)
    if path is not None:
        write_text_atomic(path, text)
    return text


def write_csv(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write ``rows`` as CSV to ``path`` (see :func:`to_csv`); returns the path."""
    to_csv(rows, path)
    return Path(path)
