"""Every exception modcut defines, in one module.

Each is a subclass of the built-in exception users already catch, so code
written against the built-ins keeps working:

* :class:`NetworkFileError` (``ValueError``) — a file or folder that cannot be
  read as a network; the message names the file and what was expected.
* :class:`MissingExtraError` (``ImportError``) — an optional dependency is not
  installed; ``.module``, ``.extra``, the message names ``pip install 'modcut[EXTRA]'``.
* :class:`DaskMissingError` (``MissingExtraError`` and ``RuntimeError``) — Dask is
  needed (``--scheduler``/``--workers``) but not installed.
* :class:`SchedulerUnreachableError` (``RuntimeError`` and ``ConnectionError``) —
  the Dask scheduler did not answer in time.
* :class:`DatasetNotFoundError` (``FileNotFoundError``) — no local copy of a data
  set and no download allowed or possible.
* :class:`Refused` (``ValueError``) — a model construct the graph readers cannot
  map (raised while tracing; its first line is the message).

The old homes (``modcut.load.NetworkFileError``, ``modcut._optional.MissingExtraError``,
``modcut.distributed.DaskMissingError``/``SchedulerUnreachableError``,
``modcut.harness.data.DatasetNotFoundError``, ``modcut.fxgraph.Refused``) re-export
these classes. This module imports nothing from modcut.
"""

from __future__ import annotations

__all__ = [
    "DaskMissingError",
    "DatasetNotFoundError",
    "MissingExtraError",
    "NetworkFileError",
    "Refused",
    "SchedulerUnreachableError",
]


class NetworkFileError(ValueError):
    """A file (or folder) that modcut cannot read as a network."""


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra that provides it.

    Attributes
    ----------
    module : str
        The module that could not be imported (``"matplotlib"``).
    extra : str
        The modcut extra that installs it (``"report"``).
    """

    def __init__(self, module: str, extra: str, purpose: str) -> None:
        top = module.split(".")[0]
        super().__init__(
            f"{purpose} needs {top}, which is not installed; install it with "
            f"pip install 'modcut[{extra}]' (or pip install {top})",
            name=top,
        )
        self.module = module
        self.extra = extra


class DaskMissingError(MissingExtraError, RuntimeError):
    """Dask (``dask.distributed``) is needed but not installed (names ``modcut[dask]``)."""


class SchedulerUnreachableError(RuntimeError, ConnectionError):
    """The Dask scheduler at the given address did not answer in time."""


class DatasetNotFoundError(FileNotFoundError):
    """No local copy of a data set was found and it could not be downloaded."""


class Refused(ValueError):
    """A construct that cannot be mapped (raised while the graph runs; its first line is
    the message)."""
