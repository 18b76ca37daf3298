"""The README's quickstart runs as written and prints what it says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quickstart_runs_as_written(tmp_path, monkeypatch):
    text = README.read_text()
    block = text.split("## Quickstart", 1)[1]
    code = re.search(r"```python\n(.*?)```", block, re.S)
    assert code is not None
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.group(1), "README-quickstart", "exec"), {})
    lines = out.getvalue().splitlines()
    assert abs(float(lines[0]) - 0.04) < 0.005
    assert "p = 0.004975" in out.getvalue()  # 1/201: below every null sample
    assert (tmp_path / "result.json").exists()
