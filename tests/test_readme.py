"""The README's quickstart runs as written and prints what it says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart_code() -> str:
    """The ```python block under '## Quickstart' in README.md (also run by tests/test_wheel.py)."""
    block = README.read_text().split("## Quickstart", 1)[1]
    code = re.search(r"```python\n(.*?)```", block, re.S)
    assert code is not None
    return code.group(1)


def check_quickstart_output(stdout: str, folder: Path) -> None:
    """Assert the quickstart printed what the README says and wrote ``folder/result.json``."""
    lines = stdout.splitlines()
    assert abs(float(lines[0]) - 0.04) < 0.005
    assert "p = 0.004975" in stdout  # 1/201: below every null sample
    assert (folder / "result.json").exists()


def test_quickstart_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(quickstart_code(), "README-quickstart", "exec"), {})
    check_quickstart_output(out.getvalue(), tmp_path)
