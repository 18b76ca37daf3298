"""The wheel `make wheel` builds installs and works where there is no Rust toolchain and no extras.

The fixture runs `make wheel` itself (a no-op when dist/ already holds the wheel of the current
sources: make compares the sources with dist/.wheel-stamp), then installs it into a fresh virtual
environment (no system site-packages) whose PATH has no cargo or rustc, with numpy and scipy
taken offline from the wheelhouse .whl/ (`make wheelhouse`, run by `make setup`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import modcut
from test_readme import check_quickstart_output, quickstart_code

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
WHEELHOUSE = ROOT / ".whl"

pytestmark = pytest.mark.slow


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, (
        f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
        f"{proc.stderr[-4000:]}"
    )
    return proc


@pytest.fixture(scope="module")
def wheel() -> Path:
    make = shutil.which("make")
    assert make is not None, "make is needed to build the wheel (`make wheel`)"
    _run([make, "-s", "wheel", f"PYTHON={sys.executable}"], cwd=ROOT, timeout=3600)
    wheels = sorted(DIST.glob("modcut-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _no_toolchain_path(venv: Path) -> str:
    """``venv/bin`` plus every PATH entry that holds neither cargo nor rustc."""
    keep = [
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if d and not any(os.access(os.path.join(d, t), os.X_OK) for t in ("cargo", "rustc"))
    ]
    return os.pathsep.join([str(venv / "bin"), *keep])


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh venv with only the wheel and its core dependencies installed; (python, env)."""
    stamps = list(WHEELHOUSE.glob(".stamp-cp*"))
    if not any(s.name == f".stamp-cp{sys.version_info[0]}{sys.version_info[1]}" for s in stamps):
        pytest.fail(
            "no numpy/scipy wheelhouse for this Python in .whl/: run `make wheelhouse` "
            "(or `make setup`) once; tests do not download"
        )
    base = tmp_path_factory.mktemp("wheel-venv")
    env_dir = base / "env"
    _run([sys.executable, "-m", "venv", str(env_dir)], timeout=300)
    cfg = (env_dir / "pyvenv.cfg").read_text()
    assert re.search(r"include-system-site-packages\s*=\s*false", cfg), cfg
    home = base / "home"
    home.mkdir()
    env = {
        "PATH": _no_toolchain_path(env_dir),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_CACHE_DIR": "1",
    }
    assert shutil.which("cargo", path=env["PATH"]) is None
    assert shutil.which("rustc", path=env["PATH"]) is None
    py = env_dir / "bin" / "python"
    _run(
        [
            str(py),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(WHEELHOUSE),
            str(wheel),
        ],
        env=env,
        cwd=base,
        timeout=900,
    )
    return py, env


def test_wheel_is_abi3_manylinux_and_auditwheel_agrees(wheel: Path):
    assert "-cp310-abi3-" in wheel.name, wheel.name
    assert "manylinux_2_17_" in wheel.name and "manylinux2014_" in wheel.name, wheel.name
    out = _run([sys.executable, "-m", "auditwheel", "show", str(wheel)], timeout=300).stdout
    machine = os.uname().machine
    assert f'"manylinux_2_17_{machine}"' in " ".join(out.split()), out
    sdists = sorted(DIST.glob("modcut-*.tar.gz"))
    assert len(sdists) == 1, sdists


def _in_venv(venv: tuple[Path, dict[str, str]], code: str, cwd: Path) -> str:
    py, env = venv
    return _run([str(py), "-c", code], env=env, cwd=cwd, timeout=600).stdout


def test_core_only_install(venv, tmp_path: Path):
    facts = json.loads(
        _in_venv(
            venv,
            textwrap.dedent(
                """
                import importlib.metadata as md, importlib.util, json, shutil, sys
                import modcut
                print(json.dumps({
                    "prefix": sys.prefix,
                    "modcut_file": modcut.__file__,
                    "found": {m: importlib.util.find_spec(m) is not None
                              for m in ("torch", "matplotlib", "tqdm", "dask")},
                    "dists": sorted(d.metadata["Name"].lower() for d in md.distributions()),
                    "cargo": shutil.which("cargo"),
                }))
                """
            ),
            tmp_path,
        )
    )
    assert facts["modcut_file"].startswith(facts["prefix"]), facts  # the wheel, not this checkout
    assert facts["found"] == {"torch": False, "matplotlib": False, "tqdm": False, "dask": False}
    assert set(facts["dists"]) - {"pip", "setuptools"} == {"modcut", "numpy", "scipy"}, facts
    assert facts["cargo"] is None


def test_readme_quickstart_in_venv(venv, tmp_path: Path):
    out = _in_venv(venv, quickstart_code(), tmp_path)
    check_quickstart_output(out, tmp_path)


def test_clusterability_in_venv_matches_this_build(venv, tmp_path: Path):
    """A small null test in the venv gives bit-identical numbers to the extension built here."""
    code = textwrap.dedent(
        """
        import json, numpy as np, modcut
        rng = np.random.default_rng(3)
        weights = [rng.normal(size=(12, 9)), rng.normal(size=(9, 6))]
        res = modcut.clusterability(weights, k=3, n_shuffles=20, shuffle="layer", random_state=1)
        print(json.dumps({"ncut": res.ncut, "null": [float(x) for x in res.null_ncuts]}))
        """
    )
    got = json.loads(_in_venv(venv, code, tmp_path))
    rng = np.random.default_rng(3)
    weights = [rng.normal(size=(12, 9)), rng.normal(size=(9, 6))]
    res = modcut.clusterability(weights, k=3, n_shuffles=20, shuffle="layer", random_state=1)
    assert got["ncut"] == res.ncut
    assert got["null"] == [float(x) for x in res.null_ncuts]


def test_missing_extras_name_the_extra_in_venv(venv, tmp_path: Path):
    code = textwrap.dedent(
        """
        import json, numpy as np, modcut
        from modcut import report
        from modcut._optional import MissingExtraError
        w = [np.ones((4, 3)), np.ones((3, 2))]
        res = modcut.clusterability(w, k=2, n_shuffles=5, random_state=0)  # progress=None: no bar
        out = {"table": report.html_table(report.clusterability_rows(res)).startswith("<table")}
        def err(f):
            try:
                f()
            except MissingExtraError as e:
                return str(e)
            return None
        out["plot"] = err(lambda: report.plot_null_histogram(res, "h.png"))
        out["progress"] = err(lambda: modcut.clusterability(w, k=2, n_shuffles=5, progress=True))
        out["harness"] = err(lambda: __import__("modcut.harness"))
        print(json.dumps(out))
        """
    )
    out = json.loads(_in_venv(venv, code, tmp_path))
    assert out["table"] is True
    assert "modcut[report]" in out["plot"]
    assert "modcut[progress]" in out["progress"]
    assert "modcut[torch]" in out["harness"]
