"""Null samples on Dask (bit-identical, a killed worker, an unreachable scheduler),
resumable analyses (the chunk store, a SIGKILLed ``modcut analyze``), Dask optional."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import modcut
from modcut import distributed
from modcut.store import ChunkStore, plan_chunks

dd = pytest.importorskip("distributed")


def _net(seed: int = 0, widths: tuple[int, ...] = (60, 40, 40, 10)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(a, b)) for a, b in itertools.pairwise(widths)]


@pytest.fixture(scope="module")
def client():
    """A 2-worker LocalCluster of single-threaded processes (the CLI's ``--workers 2``)."""
    with distributed.connect(workers=2) as c:
        yield c


def test_dask_null_is_bit_identical_for_any_chunking(client) -> None:
    ws = _net()
    local = modcut.clusterability(ws, k=4, n_shuffles=30, progress=False, n_jobs=1)
    for chunk in (1, 7, 30):
        remote = modcut.clusterability(
            ws, k=4, n_shuffles=30, progress=False, scheduler=client, chunk_size=chunk
        )
        assert remote.null_ncuts.tobytes() == local.null_ncuts.tobytes()
        assert remote.ncut == local.ncut
        np.testing.assert_array_equal(remote.labels, local.labels)
    # an address string works too (a new client per call)
    by_address = modcut.clusterability(
        ws, k=4, n_shuffles=30, progress=False, scheduler=client.scheduler.address
    )
    assert by_address.null_ncuts.tobytes() == local.null_ncuts.tobytes()


def test_a_killed_worker_loses_only_its_tasks(client, tmp_path: Path) -> None:
    ws = _net(1, (150, 120, 120, 10))
    n, chunk = 48, 2
    local = modcut.clusterability(ws, k=6, n_shuffles=n, progress=False, n_jobs=1, n_init=10)
    store = tmp_path / "chunks"
    pids = client.run(os.getpid)  # worker address → process id
    killed: list[str] = []
    saved: list[int] = []
    real_save = ChunkStore.save

    def save_and_kill(self: ChunkStore, start: int, values: np.ndarray) -> Path:
        saved.append(int(start))
        if not killed:  # after the first finished chunk, kill the worker that is busy next
            busy = client.processing()
            victim = next((w for w, tasks in busy.items() if tasks), sorted(busy)[0])
            killed.append(victim)
            os.kill(pids[victim], signal.SIGKILL)
        return real_save(self, start, values)

    ChunkStore.save = save_and_kill  # type: ignore[method-assign]
    try:
        remote = modcut.clusterability(
            ws,
            k=6,
            n_shuffles=n,
            progress=False,
            n_init=10,
            scheduler=client,
            chunk_size=chunk,
            store=store,
        )
    finally:
        ChunkStore.save = real_save  # type: ignore[method-assign]
    assert killed and killed[0] in pids
    # every chunk arrived exactly once and the numbers are the local ones
    assert sorted(saved) == list(range(0, n, chunk))
    assert remote.null_ncuts.tobytes() == local.null_ncuts.tobytes()
    files = list(ChunkStore(store, {}).path.parent.glob("*/null-*.npy"))
    assert len(files) == n // chunk
    # the worker really died (its nanny started a new one under a new address)
    client.wait_for_workers(2, timeout=60)
    assert killed[0] not in set(client.scheduler_info()["workers"])


def test_ctrl_c_cancels_the_outstanding_futures(client, tmp_path: Path) -> None:
    real_save = ChunkStore.save

    def interrupted(self: ChunkStore, start: int, values: np.ndarray) -> Path:
        raise KeyboardInterrupt  # Ctrl-C while the first result is handled

    ChunkStore.save = interrupted  # type: ignore[method-assign]
    try:
        # ``info`` keeps the traceback, hence the futures, alive (as an
        # interactive session does): the tasks must go because they were cancelled
        with pytest.raises(KeyboardInterrupt) as info:
            modcut.clusterability(
                _net(1, (150, 120, 120, 10)),
                k=6,
                n_shuffles=400,
                progress=False,
                scheduler=client,
                chunk_size=2,
                store=tmp_path,
            )
    finally:
        ChunkStore.save = real_save  # type: ignore[method-assign]

    def ours(dask_scheduler) -> list[str]:
        return [str(k) for k in dask_scheduler.tasks if "modcut-null" in str(k)]

    for _ in range(100):  # the scheduler forgets cancelled tasks asynchronously
        left = client.run_on_scheduler(ours)
        if not left:
            break
        time.sleep(0.1)
    assert left == []
    assert info.traceback  # still held


def test_unreachable_scheduler_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    monkeypatch.setenv("MODCUT_DASK_TIMEOUT", "2")
    with pytest.raises(distributed.SchedulerUnreachableError, match=f"127.0.0.1:{port} within 2 s"):
        modcut.clusterability(
            _net(), k=4, n_shuffles=4, progress=False, scheduler=f"tcp://127.0.0.1:{port}"
        )


def _serve(handler) -> tuple[int, list]:
    """A TCP server on a free port whose accepted sockets go to ``handler`` (a thread each)."""
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held: list = [srv]

    def loop() -> None:
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            held.append(c)
            threading.Thread(target=handler, args=(c,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return srv.getsockname()[1], held


def _silent(c: socket.socket) -> None:
    pass  # accept and never answer


def _http(c: socket.socket) -> None:
    c.recv(65536)
    c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")


def _garbage(c: socket.socket) -> None:
    c.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")


def _short_greeting(c: socket.socket) -> None:
    c.sendall((500).to_bytes(8, "little") + b"x" * 20)


@pytest.mark.parametrize(
    ("handler", "found"),
    [
        (_silent, "accepted the connection but sent nothing within 2 s"),
        (_http, "is an HTTP server .*404 Not Found.*8786"),
        (_garbage, "SSH-2.0.*not a Dask scheduler's greeting"),
        (_short_greeting, "began a 500-byte greeting but sent 20 bytes"),
    ],
    ids=["silent", "http", "other-protocol", "truncated-greeting"],
)
def test_a_service_that_is_not_a_scheduler_is_named_within_the_timeout(
    monkeypatch: pytest.MonkeyPatch, handler, found: str
) -> None:
    port, held = _serve(handler)
    monkeypatch.setenv("MODCUT_DASK_TIMEOUT", "2")
    t0 = time.monotonic()
    try:
        with pytest.raises(
            distributed.SchedulerUnreachableError, match=f"127.0.0.1:{port}.*{found}"
        ):
            modcut.clusterability(
                _net(), k=4, n_shuffles=4, progress=False, scheduler=f"tcp://127.0.0.1:{port}"
            )
    finally:
        for s in held:
            s.close()
    # the stated limit (2 s) plus slack for a loaded machine, far below the old 5-minute hang
    assert time.monotonic() - t0 < 30


def test_a_real_http_server_on_the_address_is_named(tmp_path: Path) -> None:
    import http.server
    import threading

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        port = httpd.server_address[1]
        with pytest.raises(distributed.SchedulerUnreachableError, match="HTTP server"):
            distributed.probe_scheduler(f"127.0.0.1:{port}", 2.0)
        w = tmp_path / "w.npz"
        np.savez(w, *_net())
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "modcut",
                "analyze",
                str(w),
                "--k",
                "3",
                "--shuffles",
                "4",
                "--out",
                str(tmp_path / "o"),
                "--scheduler",
                f"tcp://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "MODCUT_DASK_TIMEOUT": "2"},
            timeout=300,
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"tcp://127.0.0.1:{port} is an HTTP server" in proc.stderr


def test_scheduler_addresses_are_parsed_or_named() -> None:
    assert distributed._host_port("tls://h:1") is None  # other schemes go to Dask as they are
    assert distributed._host_port("tcp://[::1]:8786") == ("::1", 8786)
    assert distributed._host_port("h:8786") == ("h", 8786)
    with pytest.raises(distributed.SchedulerUnreachableError, match="not of the form"):
        distributed.probe_scheduler("tcp://host-without-port", 1.0)
    with pytest.raises(distributed.SchedulerUnreachableError, match=r"outside 1\.\.65535"):
        distributed.probe_scheduler("tcp://h:70000", 1.0)


def test_bad_scheduler_arguments() -> None:
    with pytest.raises(TypeError, match="scheduler must be"):
        with distributed.connect(8786):
            pass
    with pytest.raises(ValueError, match="workers must be"):
        with distributed.connect(workers=0):
            pass
    with pytest.raises(ValueError, match="not both"):
        with distributed.connect("tcp://x:1", workers=2):
            pass


def test_store_reuses_only_matching_chunks(tmp_path: Path) -> None:
    ws = _net(2)
    ref = modcut.clusterability(ws, k=4, n_shuffles=20, progress=False)
    a = modcut.clusterability(ws, k=4, n_shuffles=20, progress=False, store=tmp_path, chunk_size=6)
    assert a.null_ncuts.tobytes() == ref.null_ncuts.tobytes()
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["k"] == 4 and manifest["shuffle"] == "layer_nonzero"
    assert sorted(p.name.split("-", 2)[2] for p in folder.glob("null-*.npy")) == [
        "0-6.npy",
        "12-6.npy",
        "18-2.npy",
        "6-6.npy",
    ]
    # the stored chunks are used: overwrite one with marker values and read it back
    marker = folder / f"null-{folder.name}-6-6.npy"
    np.save(marker, np.full(6, 123.0))
    b = modcut.clusterability(ws, k=4, n_shuffles=26, progress=False, store=tmp_path, chunk_size=4)
    assert np.all(b.null_ncuts[6:12] == 123.0)
    full = modcut.clusterability(ws, k=4, n_shuffles=26, progress=False)
    assert np.array_equal(
        np.delete(b.null_ncuts, range(6, 12)), np.delete(full.null_ncuts, range(6, 12))
    )
    # other settings (seed, k, n_init, method, network) never see those chunks
    for kw in ({"random_state": 1}, {"k": 3}, {"n_init": 3}, {"shuffle": "layer"}):
        c = modcut.clusterability(
            ws, **{"k": 4, "n_shuffles": 20, **kw}, progress=False, store=tmp_path
        )
        assert not np.any(c.null_ncuts == 123.0)
    other = [w.copy() for w in ws]
    other[0][0, 0] += 1e-9
    c = modcut.clusterability(other, k=4, n_shuffles=20, progress=False, store=tmp_path)
    assert not np.any(c.null_ncuts == 123.0)
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 6


def test_plan_chunks_covers_the_missing_samples() -> None:
    missing = np.array([1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 1], dtype=bool)
    assert plan_chunks(missing, 3) == [(0, 3), (5, 3), (8, 2), (11, 1)]
    assert plan_chunks(np.zeros(4, dtype=bool), 3) == []
    with pytest.raises(ValueError):
        plan_chunks(missing, 0)


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from modcut.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def test_killed_analysis_resumes_where_it_stopped(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    widths = (150, 120, 120, 10)
    ws = [rng.normal(size=(a, b)) for a, b in itertools.pairwise(widths)]
    npz = tmp_path / "net.npz"
    np.savez(npz, *ws)
    out = tmp_path / "analysis"
    # 48 samples → 6 chunks of 8 (the default chunking)
    args = [str(npz), "--k", "6", "--shuffles", "48", "--jobs", "1", "--out", str(out), "--quiet"]
    cmd = [sys.executable, "-c", KILL_SCRIPT, "analyze", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    chunks: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        chunks = list(out.glob("null_chunks/*/null-*.npy"))
        if len(chunks) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "finished before it could be killed: make the test network bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {p: p.stat().st_mtime_ns for p in out.glob("null_chunks/*/null-*.npy")}
    assert 2 <= len(done) < 6
    assert not (out / "clusterability.json").exists()
    # started again: finishes, leaves the finished chunks untouched, adds the rest
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    for p, mtime in done.items():
        assert p.stat().st_mtime_ns == mtime
    assert len(list(out.glob("null_chunks/*/null-*.npy"))) == 6
    resumed = modcut.ClusterabilityResult.from_json(out / "clusterability.json")
    straight = modcut.clusterability(ws, k=6, n_shuffles=48, n_jobs=1, progress=False)
    assert resumed.null_ncuts.tobytes() == straight.null_ncuts.tobytes()
    assert resumed.ncut == straight.ncut


BLOCKED = textwrap.dedent(
    """
    import sys
    sys.modules["dask"] = None
    sys.modules["distributed"] = None
    import numpy as np
    import modcut
    from modcut.cli import main
    assert "distributed" not in [m.split(".")[0] for m in sys.modules if sys.modules[m] is not None]
    rng = np.random.default_rng(0)
    ws = [rng.normal(size=(20, 12)), rng.normal(size=(12, 6))]
    r = modcut.clusterability(ws, k=3, n_shuffles=4, progress=False)  # local runs need no dask
    try:
        modcut.clusterability(ws, k=3, n_shuffles=4, progress=False, scheduler="tcp://h:8786")
    except ImportError as e:
        print("API:", e)
    np.savez(sys.argv[1], *ws)
    rc = main(["analyze", sys.argv[1], "--k", "3", "--shuffles", "4", "--workers", "2", "--quiet"])
    print("rc", rc)
    """
)


def test_core_works_without_dask_and_says_which_extra(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-c", BLOCKED, str(tmp_path / "w.npz")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "API: " in res.stdout and "modcut[dask]" in res.stdout
    assert "rc 2" in res.stdout
    assert "modcut[dask]" in res.stderr


TINY = {"hidden": (16, 16), "n_train": 384, "n_test": 200, "batch_size": 64}


def test_reproduce_on_dask_matches_the_local_study(client, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from modcut import study

    kw = dict(
        dataset="line",
        seeds=[0],
        variants=["dropout"],
        epochs=1,
        prune_epochs=1,
        k=3,
        n_shuffles=6,
        n_jobs=1,
        train_overrides=TINY,
        progress=False,
        log=None,
    )
    local = study.reproduce(out_dir=tmp_path / "local", **kw)
    remote = study.reproduce(out_dir=tmp_path / "dask", scheduler=client, **kw)
    assert remote["runs_csv"].read_text() == local["runs_csv"].read_text()
    for v in ("dropout",):
        run = tmp_path / "dask" / v / "seed0"
        assert (run / "checkpoint.pt").is_file() and (run / "run_config.json").is_file()
        assert list((run / "analysis" / "null_chunks").glob("*/null-*.npy"))


def test_cli_wires_workers_and_scheduler(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from modcut import study
    from modcut.cli import main

    seen: dict[str, object] = {}

    def fake_reproduce(*args: object, scheduler: object = None, **kw: object) -> dict:
        seen["scheduler"] = scheduler
        seen["workers"] = len(scheduler.scheduler_info()["workers"])  # type: ignore[union-attr]
        return {}

    monkeypatch.setattr(study, "reproduce", fake_reproduce)
    assert main(["reproduce", "--dataset", "line", "--workers", "2", "--out", str(tmp_path)]) == 0
    assert type(seen["scheduler"]).__name__ == "Client" and seen["workers"] == 2
    with pytest.raises(SystemExit):  # one or the other
        main(["reproduce", "--workers", "2", "--scheduler", "tcp://h:1"])
