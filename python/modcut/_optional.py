"""Optional dependencies: import them where they are needed, naming the pip extra when missing.

modcut's core (graphs, n-cuts, clustering, shuffles, the null test) needs only NumPy
and SciPy. Everything else is an extra (``pip install 'modcut[EXTRA]'``):

============  ==================================  =======================================
extra         packages                            needed by
============  ==================================  =======================================
``report``    matplotlib                          figures (:mod:`modcut.report` plots,
                                                  ``modcut analyze`` / ``lesion`` pages)
``progress``  tqdm                                progress bars of the core (null test)
``torch``     torch, torchvision, tqdm            :mod:`modcut.harness`, :mod:`modcut.study.lesion`,
                                                  reading ``torch.nn.Module`` s and checkpoints
``dask``      dask[distributed]                   running a study on a dask cluster
``hub``       huggingface-hub                     Hub model ids (the local cache, offline)
``all``       all of the above
============  ==================================  =======================================

``.safetensors`` files are read by modcut itself (:mod:`modcut.readers.safetensorfile`);
the ``safetensors`` extra (the ml_dtypes package) adds their BF16 and FP8 tensors.

tqdm is its own small extra (``progress``) because the core's null test can draw a bar
and the core must not need more than NumPy and SciPy; it is also part of ``torch``
because training without a bar on a terminal would look hung.

Progress bars (:func:`progress_bar`): ``progress=None`` (the default everywhere) draws a
bar only when stderr is a terminal *and* tqdm is installed, and silently draws none
otherwise; ``progress=True`` asks for one explicitly, so a missing tqdm is then a
:class:`MissingExtraError`; ``progress=False`` never draws one.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import Any

from modcut.errors import MissingExtraError

__all__ = ["MissingExtraError", "progress_bar", "require", "want_progress"]


def require(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import an optional dependency, or raise :class:`MissingExtraError` naming its extra.

    Parameters
    ----------
    module : str
        Dotted module name (``"matplotlib.pyplot"``, ``"tqdm.auto"``).
    extra : str
        The modcut extra that installs it (``"report"``, ``"progress"``, ``"torch"``, ``"dask"``).
    purpose : str
        What needs it, for the message (``"modcut's figures"``).

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    MissingExtraError
        If the package itself is missing. An installed package that fails on a missing
        dependency *of its own* re-raises that error unchanged (it is not modcut's extra
        that is missing then).
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.split(".")[0]
        if exc.name is not None and exc.name.split(".")[0] != top:
            raise
        raise MissingExtraError(module, extra, purpose) from exc


def _stderr_is_terminal() -> bool:
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def want_progress(progress: bool | None) -> Any | None:
    """The tqdm class to draw a bar with, or None for no bar.

    Parameters
    ----------
    progress : bool or None
        True: a bar (tqdm required); False: none; None: a bar only when stderr is a
        terminal and tqdm is installed, silently none otherwise.

    Returns
    -------
    type or None
        ``tqdm.auto.tqdm``, or None.

    Raises
    ------
    MissingExtraError
        ``progress=True`` without tqdm (extra ``progress``).
    """
    if progress is None:
        if not _stderr_is_terminal():
            return None
        try:
            return require("tqdm.auto", extra="progress", purpose="a progress bar").tqdm
        except MissingExtraError:
            return None
    if not progress:
        return None
    return require("tqdm.auto", extra="progress", purpose="progress=True (a progress bar)").tqdm


class _NoBar:
    """What :func:`progress_bar` returns when no bar is drawn: tqdm's calls, doing nothing."""

    def __init__(self, iterable: Iterable[Any] | None = None) -> None:
        self._iterable = iterable if iterable is not None else ()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._iterable)

    def update(self, n: float = 1) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass

    @staticmethod
    def write(msg: str, file: Any = None) -> None:
        print(msg, file=sys.stderr if file is None else file)


def progress_bar(
    progress: bool | None, iterable: Iterable[Any] | None = None, **kwargs: Any
) -> Any:
    """A tqdm bar, or a stand-in with the same calls that draws nothing.

    Parameters
    ----------
    progress : bool or None
        As in :func:`want_progress`.
    iterable : iterable, optional
        What to iterate over (``for x in progress_bar(p, xs)``).
    **kwargs
        Passed to tqdm (``total``, ``desc``, ``unit``, ``leave``, ...).

    Returns
    -------
    tqdm or stand-in
        Supports iteration, ``update``, ``set_postfix``, ``close`` and ``write``.
    """
    tqdm = want_progress(progress)
    if tqdm is None:
        return _NoBar(iterable)
    return tqdm(iterable, **kwargs)
