"""The package layout: no private name crosses a module boundary (import-linter checks the
modules; it does not see names, so this test does)."""

from __future__ import annotations

import ast
from pathlib import Path

import modcut

PACKAGE = Path(modcut.__file__).parent

# Private names still imported from another module, each with the work that removes it
# (none left: keep it that way).
KNOWN: set[tuple[str, str, str]] = set()


def private_imports() -> set[tuple[str, str, str]]:
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(("modcut", *path.relative_to(PACKAGE).with_suffix("").parts))
        module = module.removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.module):
                continue
            if not node.module.startswith("modcut") or node.module == module:
                continue
            for alias in node.names:
                name = alias.name
                if name.startswith("_") and not name.startswith("__") and name != "_core":
                    found.add((module, node.module, name))
    return found


def test_no_private_name_crosses_a_module_boundary():
    assert private_imports() - KNOWN == set()


def test_the_known_exceptions_are_still_there():
    # remove an entry of KNOWN once its import is gone, so the list stays the truth
    assert KNOWN - private_imports() == set()


def test_the_core_reads_inputs_through_the_registered_readers(monkeypatch):
    import numpy as np
    import pytest

    from modcut import network
    from modcut.readers import load

    # importing modcut registers the readers' dispatch; the core never imports them
    assert network._READ is load.as_graph and network._READ_SAVED is load.read_group_graph
    w = [np.ones((3, 2)), np.ones((2, 2))]
    assert network.as_graph(w).widths == (3, 2, 2)
    assert modcut.ncut(w, np.zeros(7, dtype=np.int64)) == 0.0  # one cluster: nothing is cut
    monkeypatch.setattr(network, "_READ", None)
    with pytest.raises(RuntimeError, match="no input reader is registered"):
        modcut.ncut(w, np.zeros(7, dtype=np.int64))
