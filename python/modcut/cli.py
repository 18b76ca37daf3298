"""The ``modcut`` command line.

Each sub-command lives next to the code it drives; this module only wires
them into one parser:

* ``modcut train``      – :mod:`modcut.harness.train`
* ``modcut analyze``    – :mod:`modcut.study`
* ``modcut lesion``     – :mod:`modcut.study`
* ``modcut reproduce``  – :mod:`modcut.study`
* ``modcut demo``       – :mod:`modcut.study`
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    from modcut import __version__

    parser = argparse.ArgumentParser(
        prog="modcut",
        description="Are trained neural networks modular? Train, cluster, test and report.",
    )
    parser.add_argument("--version", action="version", version=f"modcut {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from modcut.harness import train

    train.add_train_parser(sub)

    from modcut import study

    study.add_study_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("modcut: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, FileNotFoundError, RuntimeError) as exc:
        print(f"modcut {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
