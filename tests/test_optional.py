"""Optional dependencies: the core imports none of them, and a missing one names its extra.

Absence is simulated by ``sys.modules[name] = None`` (import then raises ModuleNotFoundError),
in this process where the module state can be restored, in a child process where a module's
top-level import is what is tested.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tomllib

import modcut
from modcut import _optional, report
from modcut._optional import MissingExtraError, progress_bar, require, want_progress

ROOT = Path(__file__).resolve().parents[1]
W = [np.arange(1.0, 13.0).reshape(4, 3), np.ones((3, 2))]


def _hide(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


def test_require_names_the_extra(monkeypatch):
    _hide(monkeypatch, "matplotlib")
    with pytest.raises(MissingExtraError, match=re.escape("pip install 'modcut[report]'")) as e:
        require("matplotlib", extra="report", purpose="modcut's figures")
    assert isinstance(e.value, ImportError)
    assert e.value.extra == "report" and e.value.name == "matplotlib"
    assert "modcut's figures needs matplotlib" in str(e.value)


def test_require_returns_the_module():
    assert require("numpy", extra="core", purpose="x") is np


def test_require_keeps_a_dependency_s_own_missing_import(tmp_path, monkeypatch):
    """An installed package failing on *its* missing dependency is not a missing modcut extra."""
    (tmp_path / "_modcut_fake_pkg.py").write_text("import _modcut_no_such_module_\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as e:
        require("_modcut_fake_pkg", extra="report", purpose="x")
    assert not isinstance(e.value, MissingExtraError)
    assert e.value.name == "_modcut_no_such_module_"


def test_plots_without_matplotlib_name_report_tables_still_work(monkeypatch, tmp_path):
    res = modcut.clusterability(W, k=2, n_shuffles=5, random_state=0, progress=False)
    _hide(monkeypatch, "matplotlib", "matplotlib.pyplot", "matplotlib.colors")
    with pytest.raises(MissingExtraError, match=re.escape("modcut[report]")):
        report.plot_null_histogram(res, tmp_path / "h.png")
    with pytest.raises(MissingExtraError, match=re.escape("modcut[report]")):
        report.plot_weight_blocks(W, np.zeros(9, dtype=np.int64), [4, 3, 2], tmp_path / "b.png")
    assert not (tmp_path / "h.png").exists()
    assert report.html_table(report.clusterability_rows(res)).startswith("<table")
    assert report.write_csv(report.clusterability_rows(res), tmp_path / "r.csv").exists()


def test_progress_true_without_tqdm_names_progress(monkeypatch):
    _hide(monkeypatch, "tqdm", "tqdm.auto")
    with pytest.raises(MissingExtraError, match=re.escape("modcut[progress]")):
        modcut.clusterability(W, k=2, n_shuffles=5, random_state=0, progress=True)


def test_progress_none_without_tqdm_is_silently_no_bar(monkeypatch):
    _hide(monkeypatch, "tqdm", "tqdm.auto")
    monkeypatch.setattr(_optional, "_stderr_is_terminal", lambda: True)
    assert want_progress(None) is None
    res = modcut.clusterability(W, k=2, n_shuffles=5, random_state=0)
    assert res.null_ncuts.shape == (5,)


def test_progress_decisions_with_tqdm(monkeypatch):
    from tqdm.auto import tqdm

    monkeypatch.setattr(_optional, "_stderr_is_terminal", lambda: True)
    assert want_progress(None) is tqdm
    assert want_progress(True) is tqdm
    assert want_progress(False) is None
    monkeypatch.setattr(_optional, "_stderr_is_terminal", lambda: False)
    assert want_progress(None) is None
    assert want_progress(True) is tqdm


def test_no_bar_stand_in_has_the_calls_used():
    bar = progress_bar(False, [1, 2, 3], desc="x")
    assert list(bar) == [1, 2, 3]
    bar.update(2)
    bar.set_postfix({"a": 1}, refresh=False)
    buf = io.StringIO()
    bar.write("epoch 1", file=buf)
    bar.close()
    assert buf.getvalue() == "epoch 1\n"


def _child(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_core_imports_no_optional_dependency():
    out = _child(
        """
        import sys
        import modcut, modcut.report, modcut.null, modcut.cluster, modcut.shuffle, modcut._optional
        print(sorted(m for m in ("torch", "matplotlib", "tqdm", "dask") if m in sys.modules))
        """
    )
    assert out.strip() == "[]"


def test_torch_modules_without_torch_name_the_torch_extra():
    out = _child(
        """
        import importlib, sys
        sys.modules["torch"] = None
        sys.modules["torchvision"] = None
        from modcut._optional import MissingExtraError
        for name in ("modcut.harness", "modcut.harness.train", "modcut.readers.extract",
                     "modcut.study.lesion"):
            try:
                importlib.import_module(name)
            except MissingExtraError as e:
                print(name, "|", e.extra, "|", e)
            else:
                print(name, "| imported")
        """
    )
    lines = out.strip().splitlines()
    assert len(lines) == 4, out
    for line in lines:
        _name, extra, msg = line.split(" | ")
        assert extra == "torch", line
        assert "pip install 'modcut[torch]'" in msg, line


def _extras() -> dict[str, list[str]]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {"": meta["dependencies"], **meta["optional-dependencies"]}


def test_core_dependencies_are_numpy_and_scipy_only():
    names = {re.split(r"[<>=!\[ ;]", d)[0].lower() for d in _extras()[""]}
    assert names == {"numpy", "scipy"}


def test_every_extra_named_in_the_code_exists_and_all_covers_them():
    extras = _extras()
    src = "\n".join(p.read_text() for p in (ROOT / "python" / "modcut").rglob("*.py"))
    named = set(re.findall(r'extra="(\w+)"', src)) - {"core"}
    assert named, "no require(..., extra=...) found"
    assert named <= set(extras), named - set(extras)
    assert {"report", "progress", "torch", "dask", "all"} <= set(extras)
    assert extras["all"] == ["modcut[report,progress,torch,dask,safetensors,hub]"]
    assert any(d.startswith("ml_dtypes") for d in extras["safetensors"])  # BF16/FP8
    assert any(d.startswith("safetensors") for d in extras["dev"])  # the tests' oracle
    assert "modcut[all]" in extras["dev"]
    assert any(d.startswith("matplotlib") for d in extras["report"])
    assert any(d.startswith("tqdm") for d in extras["progress"])
    assert any(d.startswith("torch==") for d in extras["torch"])
    assert any(d.startswith("dask[distributed]>=2026.8") for d in extras["dask"])
