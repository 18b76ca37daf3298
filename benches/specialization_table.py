"""The README's structure-and-function tables from ``modcut specialization`` runs.

Reads ``ROOT/<variant>/seed<k>/`` folders written by ``modcut specialization CHECKPOINT
--out ROOT/<variant>/seed<k>`` (or a ``modcut reproduce --specialization`` study's
``<variant>/seed<k>/specialization/``) and prints the tables of
:func:`modcut.study.specialization.specialization_tables` as Markdown.

Run: ``python benches/specialization_table.py /work/runs/spec``
"""

from __future__ import annotations

import sys
from pathlib import Path

from modcut.report import markdown_table
from modcut.study.specialization import specialization_tables


def main(root: str) -> int:
    runs: dict[str, list[Path]] = {}
    for spec in sorted(Path(root).glob("*/seed*/specialization.csv")):
        runs.setdefault(spec.parent.parent.name, []).append(spec.parent)
    for spec in sorted(Path(root).glob("*/seed*/specialization/specialization.csv")):
        runs.setdefault(spec.parent.parent.parent.name, []).append(spec.parent)
    rows, agreement = specialization_tables(runs)
    print(markdown_table(rows))
    print()
    print(markdown_table(agreement))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "/work/runs/spec"))
