"""The ``modcut`` command line: all argument parsing lives in this package.

One module per command, each with ``add_parser(sub)`` and ``run(args)``:

* ``modcut train``      – :mod:`modcut.cli.train` (drives :mod:`modcut.harness.train`)
* ``modcut analyze``    – :mod:`modcut.cli.analyze` (drives :func:`modcut.study.analyze`)
* ``modcut lesion``     – :mod:`modcut.cli.lesion` (drives :func:`modcut.study.lesion_study`)
* ``modcut reproduce``  – :mod:`modcut.cli.reproduce` (drives :func:`modcut.study.reproduce`)
* ``modcut demo``       – :mod:`modcut.cli.demo` (drives :func:`modcut.study.demo`)

The options they share (``--data-dir``, ``--out``, ``--seed``, ``--k``,
``--shuffles``, ``--shuffle``, ``--jobs``, ``--quiet``, ``--no-progress``) are
defined once, in :mod:`modcut.cli.options`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from modcut.errors import MissingExtraError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``modcut`` parser with every sub-command registered."""
    from modcut import __version__
    from modcut.cli import analyze, demo, lesion, reproduce, specialization, train

    parser = argparse.ArgumentParser(
        prog="modcut",
        description="Are trained neural networks modular? Train, cluster, test and report.",
    )
    parser.add_argument("--version", action="version", version=f"modcut {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (train, analyze, lesion, specialization, reproduce, demo):
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``modcut`` console script and of ``python -m modcut``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("modcut: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, RuntimeError, MissingExtraError) as exc:
        # OSError: every file-system refusal (a missing file, --out below a regular file or
        # an existing file as --out, no permission, a full disk) is one line naming the path;
        # MissingExtraError: the pip extra to install
        print(f"modcut {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
