"""The one vocabulary of options shared by the ``modcut`` commands.

Every command that has one of these options gets it from here, with the same
spelling, meaning and (unless a command has a reason to differ) default:

``--data-dir DIR``
    Folder searched first for data sets (``--data-root`` is a hidden,
    deprecated alias that still works).
``--out DIR``
    Output folder.
``--seed N``
    Random seed.
``--k N``
    Number of clusters.
``--shuffles N`` / ``--shuffle METHOD``
    Size and shuffle method of the null distribution.
``--jobs N``
    Threads (``-1``: all cores).
``--quiet``
    No progress bars and no log lines: only results and errors are printed.
``--no-progress``
    No progress bars (log lines still printed).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "DeprecatedAlias",
    "Log",
    "add_analysis_options",
    "add_data_dir",
    "add_jobs",
    "add_k",
    "add_n_init",
    "add_out",
    "add_output_options",
    "add_seed",
    "jobs_or_none",
    "log_of",
    "n_init_arg",
    "progress_of",
    "say",
    "shuffle_choices",
]

Log = Callable[[str], None]


def say(msg: str) -> None:
    """Print one log line (stdout, flushed)."""
    print(msg, flush=True)


class DeprecatedAlias(argparse.Action):
    """Store like the option it stands for, with a warning naming the new spelling."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, new: str, **kwargs: Any):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(
            f"{parser.prog}: warning: {option_string} is deprecated; use {self.new}",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, values)


def add_data_dir(p: argparse.ArgumentParser, help: str | None = None) -> None:
    """``--data-dir DIR`` (default None: the harness's data folder), and the
    hidden deprecated alias ``--data-root``."""
    p.add_argument(
        "--data-dir",
        dest="data_dir",
        default=None,
        metavar="DIR",
        help=help or "folder searched first for data sets (default: the harness's)",
    )
    p.add_argument(
        "--data-root",
        dest="data_dir",
        action=DeprecatedAlias,
        new="--data-dir",
        metavar="DIR",
        help=argparse.SUPPRESS,
    )


def add_out(
    p: argparse.ArgumentParser, help: str, *, default: str | None = None, required: bool = False
) -> None:
    """``--out DIR``."""
    p.add_argument("--out", default=default, required=required, metavar="DIR", help=help)


def add_seed(p: argparse.ArgumentParser, help: str = "random seed (default 0)") -> None:
    """``--seed N`` (default 0)."""
    p.add_argument("--seed", type=int, default=0, metavar="N", help=help)


def add_k(p: argparse.ArgumentParser, help: str = "number of clusters (default 12)") -> None:
    """``--k N`` (default 12)."""
    p.add_argument("--k", type=int, default=12, metavar="N", help=help)


def add_jobs(
    p: argparse.ArgumentParser,
    help: str = "threads (default -1: all cores)",
    *,
    default: int | None = -1,
) -> None:
    """``--jobs N`` (``-1``: all cores)."""
    p.add_argument("--jobs", type=int, default=default, metavar="N", help=help)


def add_distributed(p: argparse.ArgumentParser) -> None:
    """``--scheduler ADDRESS`` or ``--workers N``: run on Dask (extra ``modcut[dask]``)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="run the null samples (and trainings) on this Dask scheduler, e.g. tcp://HOST:8786",
    )
    g.add_argument(
        "--workers",
        type=int,
        metavar="N",
        default=None,
        help="start a local Dask cluster of N single-threaded worker processes",
    )


def jobs_or_none(jobs: int | None) -> int | None:
    """``--jobs`` as a thread count for torch: ``-1`` → all cores, None stays None."""
    if jobs is None:
        return None
    return (os.cpu_count() or 1) if jobs == -1 else jobs


def shuffle_choices() -> list[str]:
    """The null's shuffle methods (``modcut.shuffle.SHUFFLE_METHODS``)."""
    try:
        from modcut.shuffle import SHUFFLE_METHODS

        return list(SHUFFLE_METHODS)
    except ImportError:  # pragma: no cover - the core is always there in a build
        return ["layer", "layer_nonzero", "layer_nonzero_distribution", "layer_all_distribution"]


def add_analysis_options(p: argparse.ArgumentParser, *, shuffles: int = 1000) -> None:
    """``--k``, ``--shuffles``, ``--shuffle`` and ``--jobs`` of a clusterability test."""
    add_k(p)
    p.add_argument(
        "--shuffles",
        type=int,
        default=shuffles,
        metavar="N",
        help=f"null networks (default {shuffles})",
    )
    p.add_argument(
        "--shuffle",
        default="layer_nonzero",
        choices=shuffle_choices(),
        help="shuffle method of the null (default layer_nonzero)",
    )
    add_jobs(p)


def n_init_arg(value: str) -> int | str:
    """``--n-init`` value: a positive integer or ``auto``."""
    if value == "auto":
        return value
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer or 'auto', got {value!r}"
        ) from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def add_n_init(p: argparse.ArgumentParser) -> None:
    """``--n-init N|auto`` (default: the reference's 25, 100 above 2,000 neurons)."""
    p.add_argument(
        "--n-init",
        type=n_init_arg,
        default=None,
        metavar="N|auto",
        help="k-means restarts (default: the reference's, 25; 100 above 2,000 non-isolated "
        "neurons); auto: rounds of 5 until 2 rounds improve the best inertia by at most 0.1%%, "
        "at most the default",
    )


def add_output_options(p: argparse.ArgumentParser) -> None:
    """``--quiet`` and ``--no-progress`` (see the module docstring)."""
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars and no log lines: print only results and errors",
    )
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bars (log lines still printed)"
    )


def progress_of(args: argparse.Namespace) -> bool | None:
    """The ``progress`` argument for parsed ``--quiet``/``--no-progress``:
    False when either is given, else None (bars when stderr is a terminal)."""
    if getattr(args, "quiet", False) or getattr(args, "no_progress", False):
        return False
    return None


def log_of(args: argparse.Namespace) -> Log | None:
    """The ``log`` argument for parsed ``--quiet``: None (silent) when given, else :func:`say`."""
    return None if getattr(args, "quiet", False) else say
