"""One analyze path: ``modcut analyze`` on every kind of input (matrices ``.npz``, a
checkpoint, a saved group graph, a ``.pt2``, a ``.safetensors`` with two transformer
blocks) with ``--n-init auto --workers 2`` honours every option, records it in the
result's settings and gives the API's numbers; a run interrupted part way resumes
from its finished null chunks."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modcut
from modcut.groupnet import Network, NodeGroup

torch = pytest.importorskip("torch")
pytest.importorskip("distributed")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

pytestmark = pytest.mark.slow  # one subprocess and one 2-worker Dask cluster per input

K, SHUFFLES, SEED, SHUFFLE = 3, 6, 1, "layer"
#: the options every run gets; checked against the result's settings below
OPTIONS = [
    "--k",
    str(K),
    "--shuffles",
    str(SHUFFLES),
    "--shuffle",
    SHUFFLE,
    "--seed",
    str(SEED),
    "--n-init",
    "auto",
    "--workers",
    "2",
    "--jobs",
    "1",
]


class _Skip(torch.nn.Module):
    """A residual MLP: its graph is not a chain (a group network)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Linear(10, 14)
        self.b = torch.nn.Linear(14, 14)
        self.c = torch.nn.Linear(14, 4)

    def forward(self, x: Any) -> Any:
        h = torch.relu(self.a(x))
        return self.c(torch.relu(self.b(h)) + h)


def _bert(d: int, h: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = {}
    for i in range(2):
        p = f"encoder.layer.{i}"
        t[f"{p}.intermediate.dense.weight"] = rng.normal(size=(h, d)).astype(np.float32)
        t[f"{p}.output.dense.weight"] = rng.normal(size=(d, h)).astype(np.float32)
        t[f"{p}.attention.output.dense.weight"] = rng.normal(size=(d, d)).astype(np.float32)
    return t


def _make(kind: str, d: Path) -> Path:
    """A small input file of ``kind``."""
    rng = np.random.default_rng(7)
    if kind == "npz":
        path = d / "net.npz"
        np.savez(path, *[rng.normal(size=(a, b)) for a, b in itertools.pairwise((12, 16, 16, 5))])
    elif kind == "checkpoint":
        from modcut.harness import train

        cfg = train.TrainConfig(
            dataset="line",
            hidden=(12, 12),
            n_train=128,
            n_test=64,
            batch_size=64,
            epochs=1,
            prune_epochs=0,
            seed=0,
        )
        torch.set_num_threads(1)
        path = Path(train.train(cfg, d / "run", progress=False))
    elif kind == "graph":
        path = d / "graph.npz"
        Network.from_edges(
            [
                NodeGroup("in", 10, "input"),
                NodeGroup("h", 12, "Linear"),
                NodeGroup("o", 6, "Linear"),
            ],
            [
                (0, 1, rng.normal(size=(10, 12))),
                (1, 2, rng.normal(size=(12, 6))),
                (0, 2, rng.normal(size=(10, 6))),  # a skip: not a chain
            ],
        ).save(path)
    elif kind == "pt2":
        path = d / "skip.pt2"
        torch.manual_seed(3)
        model = _Skip().eval()
        torch.export.save(torch.export.export(model, (torch.zeros(2, 10),), strict=False), path)
    else:
        path = d / "blocks.safetensors"
        safetensors_numpy.save_file(_bert(8, 16, 4), str(path))
    return path


def _cli(path: Path, out: Path) -> list[str]:
    """``python -m modcut analyze`` as a user runs it (the child imports the modcut
    the tests import: same interpreter, PYTHONPATH inherited)."""
    return [sys.executable, "-m", "modcut", "analyze", str(path), *OPTIONS, "--out", str(out)]


def _check_settings(res: modcut.ClusterabilityResult, n_shuffles: int = SHUFFLES) -> None:
    """Every option of the run is in the result's settings."""
    s = res.settings
    assert (s["k"], s["n_shuffles"], s["shuffle"], s["random_state"]) == (
        K,
        n_shuffles,
        SHUFFLE,
        SEED,
    )
    assert s["n_init"] == "auto" and s["n_init_max"] >= 5
    assert (s["workers"], s["scheduler"]) == (2, "local")
    assert (s["resume"], s["store"], s["part"], s["n_jobs"]) == (True, "null_chunks", "all", 1)


def _api(network: Any) -> modcut.ClusterabilityResult:
    return modcut.clusterability(
        network,
        k=K,
        n_shuffles=SHUFFLES,
        shuffle=SHUFFLE,
        random_state=SEED,
        n_init="auto",
        n_jobs=1,
        progress=False,
    )


def _same(cli: modcut.ClusterabilityResult, api: modcut.ClusterabilityResult) -> None:
    assert cli.null_ncuts.tobytes() == api.null_ncuts.tobytes()
    np.testing.assert_array_equal(cli.labels, api.labels)
    assert cli.ncut == api.ncut and cli.widths == api.widths
    # the API's settings are the analysis's, which adds the analysis options
    assert {key: cli.settings[key] for key in api.settings} == api.settings


@pytest.mark.parametrize(
    ("kind", "prov_kind"),
    [
        ("npz", "npz"),
        ("checkpoint", "checkpoint"),
        ("graph", "npz (groups)"),
        ("pt2", "pt2"),
        ("safetensors", "safetensors"),
    ],
)
def test_every_input_kind_through_the_one_analyze(kind, prov_kind, tmp_path):
    path = _make(kind, tmp_path)
    out = tmp_path / "analysis"
    proc = subprocess.run(_cli(path, out), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "report: " in proc.stdout
    if kind == "safetensors":  # a loop over the one path: one analysis folder per block
        blocks = modcut.mlp_blocks(path)
        assert [b.name for b in blocks] == ["encoder.layer.0", "encoder.layer.1"]
        table = json.loads((out / "blocks.json").read_text())
        assert table["settings"]["n_init"] == "auto" and table["settings"]["workers"] == 2
        runs = [(out / b.name, b.network, {"block": b.name, "layout": "bert"}) for b in blocks]
        for row, (folder, _, _) in zip(table["blocks"], runs, strict=True):
            res = modcut.ClusterabilityResult.from_json(folder / "clusterability.json")
            assert row["ncut"] == res.ncut and row["p_value"] == res.p_value
    else:
        runs = [(out, path, {})]
    for folder, network, extra in runs:
        res = modcut.ClusterabilityResult.from_json(folder / "clusterability.json")
        _check_settings(res)
        assert res.provenance["source"] == str(path) and res.provenance["kind"] == prov_kind
        assert extra.items() <= res.provenance.items()
        # resume was on: the null's chunks are in the store, every sample once
        chunks = list(folder.glob("null_chunks/*/null-*.npy"))
        assert sum(np.load(c).shape[0] for c in chunks) == SHUFFLES
        assert (folder / "report.html").is_file() and (folder / "null_histogram.png").is_file()
        # figures of layered chains only, decided in one place
        layered = kind in ("npz", "checkpoint", "safetensors")
        assert (folder / "weights.png").is_file() == layered
        _same(res, _api(network))


INTERRUPTIBLE = textwrap.dedent(
    """
    import signal
    import sys
    from modcut.cli import main

    # Ctrl-C reaches Python's handler whatever the parent's SIGINT disposition
    # (as tests/test_interrupt.py)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main(sys.argv[1:]))
    """
)


def test_interrupted_blocks_analysis_resumes_on_dask(tmp_path):
    """Ctrl-C part way through a ``.safetensors`` analysis on 2 workers; started again,
    it keeps every finished chunk and ends with the API's numbers for every block."""
    path = tmp_path / "big.safetensors"
    safetensors_numpy.save_file(_bert(96, 384, 5), str(path))
    out = tmp_path / "analysis"
    n = 300  # 8 chunks per block on 2 workers
    args = ["analyze", str(path), *OPTIONS, "--shuffles", str(n), "--out", str(out), "--quiet"]
    cmd = [sys.executable, "-c", INTERRUPTIBLE, *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(out.glob("*/null_chunks/*/null-*.npy"))) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "finished before it could be stopped: make the blocks bigger"
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the analysis did not stop after SIGINT") from None
    assert proc.returncode == 130, err
    assert "interrupted" in err
    done = {p: p.stat().st_mtime_ns for p in out.glob("*/null_chunks/*/null-*.npy")}
    assert 2 <= len(done) < 16
    assert not (out / "blocks.json").exists()
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    for p, mtime in done.items():  # kept, not recomputed
        assert p.exists() and p.stat().st_mtime_ns == mtime
    assert len(json.loads((out / "blocks.json").read_text())["blocks"]) == 2
    for b in modcut.mlp_blocks(path):
        res = modcut.ClusterabilityResult.from_json(out / b.name / "clusterability.json")
        _check_settings(res, n)
        api = modcut.clusterability(
            b.network,
            k=K,
            n_shuffles=n,
            shuffle=SHUFFLE,
            random_state=SEED,
            n_init="auto",
            progress=False,
        )
        assert res.null_ncuts.tobytes() == api.null_ncuts.tobytes()
        np.testing.assert_array_equal(res.labels, api.labels)
        assert res.ncut == api.ncut


def _dense_graph(path: Path, *, zero: bool = False) -> Path:
    rng = np.random.default_rng(11)
    mats = [rng.normal(size=(10, 12)), rng.normal(size=(12, 6)), rng.normal(size=(10, 6))]
    for m in mats:
        m[m == 0.0] = 1.0  # no zero weight
    if zero:
        mats[2][0, 0] = 0.0
    Network.from_edges(
        [NodeGroup("in", 10, "input"), NodeGroup("h", 12, "Linear"), NodeGroup("o", 6, "Linear")],
        [(0, 1, mats[0]), (1, 2, mats[1]), (0, 2, mats[2])],
    ).save(path)
    return path


@pytest.mark.parametrize("zero", [False, True])
def test_shared_null_and_no_resume_mean_the_same_for_group_networks(zero, tmp_path, capsys):
    """``--reuse-null`` and ``--no-resume`` on a saved group graph, as for chains: a graph
    without a zero weight takes the twin null over (it equals the computed one, sample for
    sample); with a zero weight it computes its own."""
    from modcut.cli import main

    path = _dense_graph(tmp_path / "g.npz", zero=zero)
    base = ["analyze", str(path), "--k", "3", "--shuffles", "5", "--jobs", "1", "--quiet"]
    assert main([*base, "--shuffle", "layer", "--out", str(tmp_path / "layer")]) == 0
    twin = ["--reuse-null", str(tmp_path / "layer"), "--no-resume"]
    assert main([*base, *twin, "--out", str(tmp_path / "nz")]) == 0
    capsys.readouterr()
    res = modcut.ClusterabilityResult.from_json(tmp_path / "nz" / "clusterability.json")
    direct = modcut.clusterability(path, k=3, n_shuffles=5, n_jobs=1, progress=False)
    assert res.settings["shuffle"] == "layer_nonzero" and res.provenance["source"] == str(path)
    assert res.settings.get("null_shared_with") == (None if zero else "layer")
    assert (res.settings["resume"], res.settings["store"]) == (False, None)
    assert not (tmp_path / "nz" / "null_chunks").exists()
    # shared or computed, the numbers are the layer_nonzero null's (for a group network
    # without a zero weight the two nulls are one, sample for sample)
    assert direct.null_ncuts.tobytes() == res.null_ncuts.tobytes()
    np.testing.assert_array_equal(direct.labels, res.labels)
    if zero:  # there the nulls differ: taking the twin over would have been wrong
        layer = modcut.ClusterabilityResult.from_json(tmp_path / "layer" / "clusterability.json")
        assert not np.array_equal(layer.null_ncuts, res.null_ncuts)


def test_a_scheduler_address_is_recorded_and_gives_the_local_numbers(tmp_path):
    from modcut import distributed, study

    path = _make("graph", tmp_path)
    kw = dict(k=K, n_shuffles=SHUFFLES, shuffle=SHUFFLE, seed=SEED, n_init="auto", n_jobs=1)
    local = study.analyze(path, tmp_path / "local", progress=False, **kw)
    with distributed.connect(workers=2) as client:
        address = client.scheduler.address
        client.wait_for_workers(2, timeout=120)
        remote = study.analyze(path, tmp_path / "remote", scheduler=address, progress=False, **kw)
    a = modcut.ClusterabilityResult.from_json(local["json"])
    b = modcut.ClusterabilityResult.from_json(remote["json"])
    assert (a.settings["scheduler"], a.settings["workers"]) == (None, None)
    assert (b.settings["scheduler"], b.settings["workers"]) == (address, 2)
    assert a.null_ncuts.tobytes() == b.null_ncuts.tobytes()
    np.testing.assert_array_equal(a.labels, b.labels)
    assert {key: v for key, v in a.settings.items() if key not in ("scheduler", "workers")} == {
        key: v for key, v in b.settings.items() if key not in ("scheduler", "workers")
    }
