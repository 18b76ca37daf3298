"""The largest network analysed here: seconds and peak memory per null sample.

Runs only on request (minutes of CPU, ~60 MB of network file)::

    MODCUT_BENCH_SCALE=1 python -m pytest benches/test_bench_scale.py --benchmark-only \\
        --benchmark-json=.benchmarks/scale.json

``MODCUT_SCALE_HIDDEN`` / ``MODCUT_SCALE_DENSITY`` (default 25000 / 0.0025:
784-25000×4-10, 100,794 neurons, 4.7 M weights) pick the network; each
measurement runs ``benches/scale.py run`` in a fresh process (a worker's view:
the reduced network plus one sample), one thread, and records its JSON in the
benchmark's ``extra_info`` (``cpu_seconds_per_sample``, ``peak_mib``, ...).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent

pytestmark = pytest.mark.skipif(
    os.environ.get("MODCUT_BENCH_SCALE") != "1",
    reason="large-network bench: set MODCUT_BENCH_SCALE=1 to run it",
)


@pytest.fixture(scope="module")
def big_network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    hidden = int(os.environ.get("MODCUT_SCALE_HIDDEN", "25000"))
    density = float(os.environ.get("MODCUT_SCALE_DENSITY", "0.0025"))
    path = tmp_path_factory.mktemp("scale") / f"net-{hidden}-{density}.npz"
    subprocess.run(
        [
            sys.executable,
            str(HERE / "scale.py"),
            "make",
            str(path),
            "--hidden",
            str(hidden),
            "--density",
            str(density),
        ],
        check=True,
    )
    return path


@pytest.mark.parametrize("threads", [1, 2])
def test_scale_null_sample(benchmark, big_network: Path, threads: int) -> None:
    def once() -> dict:
        out = subprocess.run(
            [
                sys.executable,
                str(HERE / "scale.py"),
                "run",
                str(big_network),
                "--samples",
                "2",
                "--threads",
                str(threads),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    benchmark.group = "large network: one worker"
    info = benchmark.pedantic(once, rounds=1, iterations=1, warmup_rounds=0)
    benchmark.extra_info.update(info)
    assert info["neurons"] > 0 and len(info["null_ncuts"]) == 2
