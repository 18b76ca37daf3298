"""Torch files read without unpickling objects and without torch's advice.

Every torch file modcut reads (checkpoints, state dicts, the tensors inside a
``.pt2``) goes through :func:`load_tensors`: ``torch.load(weights_only=True)``,
with torch's loggers silenced for the call, and any failure turned into a
:class:`~modcut.errors.NetworkFileError` that says in modcut's words what the file
holds and that it is refused. Torch's own messages are never quoted: they advise
re-running with ``weights_only=False`` (unsafe unpickling) or point at "the
warnings above", which modcut does not show.
"""

from __future__ import annotations

import contextlib
import io
import logging
import pickle
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modcut.errors import NetworkFileError

__all__ = ["describe_failure", "load_tensors", "quiet_torch", "zip_names"]

_GLOBAL = re.compile(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([A-Za-z_][\w.]*)")
_OPERAND = re.compile(r"Unsupported operand (\d+)")


@contextlib.contextmanager
def quiet_torch() -> Iterator[None]:
    """Silence every ``torch*`` logger for the duration (torch logs tracebacks of
    the failures that modcut reports itself)."""
    names = [n for n in logging.root.manager.loggerDict if n == "torch" or n.startswith("torch.")]
    loggers = [logging.getLogger(n) for n in names]
    before = [lg.disabled for lg in loggers]
    for lg in loggers:
        lg.disabled = True
    try:
        yield
    finally:
        for lg, was in zip(loggers, before, strict=True):
            lg.disabled = was


def describe_failure(exc: BaseException, what: str = "torch tensors") -> str:
    """What a failed ``torch.load(weights_only=True)`` says about the file, in modcut's words."""
    text = str(exc)
    if isinstance(exc, pickle.UnpicklingError) or "Weights only load failed" in text:
        m = _GLOBAL.search(text)
        if m:
            what = f"a pickled Python object of type {m.group(1)}"
        elif _OPERAND.search(text):
            what = "pickle instructions that build Python objects other than tensors"
        else:
            what = "pickled Python objects other than tensors and plain containers"
        return f"holds {what}, which modcut never unpickles; the file is refused"
    if isinstance(exc, EOFError) or "central directory" in text or "truncated" in text.lower():
        return "is truncated or damaged (not a complete torch archive)"
    if 'hasRecord("version")' in text or "constants.pkl" in text:
        return "is a zip archive without the records torch.save writes (no version entry)"
    if "magic number" in text.lower() or "invalid load key" in text.lower():
        return "is not a torch file (neither a torch.save zip archive nor a legacy torch file)"
    if isinstance(exc, RuntimeError | zipfile.BadZipFile | ValueError | OSError | KeyError):
        return f"is damaged: it cannot be read as {what} ({type(exc).__name__})"
    return f"cannot be read as {what} ({type(exc).__name__})"


def _sniff(head: bytes) -> str | None:
    """What is wrong with a file whose first bytes are ``head``, or ``None`` if it may be a
    torch file: a zip archive (``torch.save`` since 1.6) or a pickle (the legacy format,
    whose first opcode is PROTO, 0x80)."""
    if not head:
        return "is empty (0 bytes)"
    if head.startswith(b"PK") or head.startswith(b"\x80"):
        return None
    return (
        f"is not a torch file (neither a torch.save zip archive nor a legacy pickle: it begins "
        f"with {head!r})"
    )


def load_tensors(source: Path | bytes, label: str, role: str | None = None) -> Any:
    """``torch.load(source, map_location="cpu", weights_only=True)``, refusing by name.

    Parameters
    ----------
    source:
        A file path, or the bytes of a torch file (e.g. an entry of a ``.pt2``).
    label:
        How the file is named in messages (its path, or ``archive.pt2 (entry …)``).
    role:
        What the file was expected to be (``"a modcut checkpoint"``): the message
        then reads "LABEL is not ROLE (it …)".

    Raises
    ------
    NetworkFileError
        Naming ``label`` and what it holds (pickled objects, truncation, not a
        torch file), never torch's advice.
    """
    import torch

    if isinstance(source, bytes | bytearray):
        head = bytes(source[:8])
        handle: Any = io.BytesIO(source)
    else:
        with open(source, "rb") as f:
            head = f.read(8)
        handle = source
    said = _sniff(head)
    if said is None and head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(
                io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
            ):
                pass
        except (OSError, zipfile.BadZipFile, ValueError, EOFError):
            said = "is truncated or damaged (a zip archive whose directory cannot be read)"
    if said is not None:
        if role is not None:
            raise NetworkFileError(f"{label} is not {role} (it {said})")
        raise NetworkFileError(f"{label} {said}")
    try:
        with quiet_torch():
            return torch.load(handle, map_location="cpu", weights_only=True)
    except Exception as exc:
        said = describe_failure(exc)
        if role is not None:
            raise NetworkFileError(f"{label} is not {role} (it {said})") from None
        raise NetworkFileError(f"{label} {said}") from None


def zip_names(path: Path) -> list[str] | None:
    """The entries of a zip file, or ``None`` when ``path`` is not a readable zip."""
    try:
        with zipfile.ZipFile(path) as z:
            return z.namelist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
