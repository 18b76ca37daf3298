"""A folder of finished null-sample chunks, so that an interrupted analysis resumes.

Every chunk of null samples ``start … start + count - 1`` is one ``.npy`` file,
written atomically (a temporary file in the same folder, flushed to disk, then
renamed over the final name), so a process killed at any moment leaves either
the whole chunk or nothing. Files are named by the settings hash and the range,
``null-<hash>-<start>-<count>.npy``, inside ``<folder>/<hash>/`` next to a
``manifest.json`` holding the settings themselves. The hash covers everything a
null sample depends on: the (isolated-neurons-removed) network's exact bytes,
the shuffle method, ``k``, ``n_init``, the seed, the eigen-solver and modcut's version. Different
settings therefore land in different folders and never reuse each other's
chunks; the same settings find their chunks again whatever ``n_shuffles`` or
chunk size the new run uses (null sample ``i`` depends on ``(seed, i)`` alone).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modcut._io import write_text_atomic

__all__ = ["ChunkStore", "network_fingerprint", "plan_chunks", "settings_hash"]

FORMAT_VERSION = 1


def network_fingerprint(layers: Sequence[tuple[int, int, Any, Any, Any]]) -> str:
    """SHA-256 of a network's CSR layers (shapes, index arrays and float64 values).

    Parameters
    ----------
    layers:
        ``(rows, cols, indptr, indices, data)`` per layer, as ``Network.to_core``
        gives them.

    Returns
    -------
    Hex digest (64 characters).
    """
    h = hashlib.sha256()
    for rows, cols, indptr, indices, data in layers:
        h.update(np.asarray([rows, cols], dtype=np.int64).tobytes())
        for arr, dtype in ((indptr, np.int64), (indices, np.int64), (data, np.float64)):
            a = np.ascontiguousarray(np.asarray(arr, dtype=dtype))
            h.update(np.asarray([a.shape[0]], dtype=np.int64).tobytes())
            h.update(a.tobytes())
    return h.hexdigest()


def settings_hash(settings: dict[str, Any]) -> str:
    """First 16 hex digits of the SHA-256 of ``settings`` as canonical JSON."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan_chunks(missing: np.ndarray, chunk_size: int) -> list[tuple[int, int]]:
    """``(start, count)`` ranges, at most ``chunk_size`` long, covering the ``True``
    entries of ``missing`` (shape ``(n,)``) in order."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    out: list[tuple[int, int]] = []
    n = int(missing.shape[0])
    i = 0
    while i < n:
        if not missing[i]:
            i += 1
            continue
        j = i
        while j < n and missing[j] and j - i < chunk_size:
            j += 1
        out.append((i, j - i))
        i = j
    return out


def _pid_alive(pid: str) -> bool:
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ChunkStore:
    """Finished null chunks of one analysis setting, under ``folder/<hash>/``.

    Parameters
    ----------
    folder:
        Parent folder (created when needed), e.g. ``<analysis>/null_chunks``.
    settings:
        JSON-serialisable dict naming everything the samples depend on
        (see the module docstring); written to ``manifest.json``.
    """

    def __init__(self, folder: str | os.PathLike[str], settings: dict[str, Any]) -> None:
        self.settings = {"format_version": FORMAT_VERSION, **settings}
        self.hash = settings_hash(self.settings)
        self.path = Path(folder) / self.hash
        self.path.mkdir(parents=True, exist_ok=True)
        manifest = self.path / "manifest.json"
        stored: Any = None
        if manifest.exists():
            try:
                stored = json.loads(manifest.read_text())
            except (ValueError, UnicodeDecodeError):
                # damaged (a killed writer before atomic writes, a full disk): the folder's
                # hash names the settings, so the record is rewritten from them
                stored = None
        if stored is not None:
            if stored != json.loads(json.dumps(self.settings)):
                raise ValueError(
                    f"{manifest} holds other settings than its hash {self.hash} names; "
                    "remove the folder"
                )
        else:
            write_text_atomic(manifest, json.dumps(self.settings, indent=2))
        for stale in self.path.glob("*.tmp"):  # left by a killed writer
            if not _pid_alive(stale.suffixes[-2][1:] if len(stale.suffixes) > 1 else ""):
                stale.unlink(missing_ok=True)

    def _name(self, start: int, count: int) -> Path:
        return self.path / f"null-{self.hash}-{start}-{count}.npy"

    def chunks(self) -> Iterator[tuple[int, int, Path]]:
        """``(start, count, path)`` of every stored chunk."""
        prefix = f"null-{self.hash}-"
        for p in self.path.glob(f"{prefix}*.npy"):
            parts = p.stem[len(prefix) :].split("-")
            if len(parts) == 2 and all(s.isdigit() for s in parts):
                yield int(parts[0]), int(parts[1]), p

    def load_into(self, out: np.ndarray) -> np.ndarray:
        """Fill ``out`` (shape ``(n,)``) from stored chunks that lie inside it.

        Returns
        -------
        Boolean mask of shape ``(n,)``: ``True`` where a sample is still missing.
        """
        n = int(out.shape[0])
        missing = np.ones(n, dtype=bool)
        for start, count, p in sorted(self.chunks()):
            if start + count > n:
                continue
            try:
                values = np.load(p, allow_pickle=False)
            except (OSError, ValueError, EOFError, SyntaxError, TypeError):
                continue  # empty, truncated or damaged: recomputed (and overwritten)
            if (
                values.shape != (count,)
                or values.dtype != np.float64
                or not np.all(np.isfinite(values))
            ):
                continue
            out[start : start + count] = values
            missing[start : start + count] = False
        return missing

    def save(self, start: int, values: np.ndarray) -> Path:
        """Write the chunk of samples ``start … start + len(values) - 1`` atomically."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        path = self._name(int(start), int(values.shape[0]))
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, values, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return path
