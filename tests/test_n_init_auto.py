"""``n_init="auto"``: the k-means restart stopping rule (rust/src/kmeans.rs, Restarts::Auto)."""

from __future__ import annotations

import itertools
import json
import pickle

import numpy as np
import pytest

import modcut
from modcut import _core
from modcut.cli import build_parser, main
from modcut.cluster import AutoRestarts, resolve_n_init

K = 6


def network(hidden: int = 60, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    widths = [40, hidden, hidden, 10]
    return [
        rng.normal(size=(a, b)) * (rng.uniform(size=(a, b)) < 0.3)
        for a, b in itertools.pairwise(widths)
    ]


def embedding(seed: int = 0) -> np.ndarray:
    net = modcut.shuffle(network(), "layer_nonzero", 1, random_state=seed)[0]
    return np.ascontiguousarray(modcut.spectral_embedding(net, K, eigen_solver="lanczos").x)


@pytest.mark.parametrize("cap", [25, 100, 7])
def test_auto_equals_the_fixed_run_of_as_many_restarts(cap):
    stopped_early = False
    for stream in range(6):
        x = embedding(stream)
        labels, inertia, centers, n_iter, runs = _core.kmeans(
            x, K, cap, seed=3, stream=stream, auto=True
        )
        assert 1 <= runs <= cap and (runs == cap or runs % 5 == 0)
        assert runs >= min(cap, 15)  # at least 3 rounds of 5 (2 to compare after the first)
        stopped_early |= runs < cap
        f_labels, f_inertia, f_centers, f_iter, f_runs = _core.kmeans(
            x, K, runs, seed=3, stream=stream
        )
        assert f_runs == runs
        np.testing.assert_array_equal(labels, f_labels)
        np.testing.assert_array_equal(centers, f_centers)
        assert inertia == f_inertia and n_iter == f_iter
    if cap > 15:
        assert stopped_early, "the rule never stopped before its cap on these embeddings"


def test_fixed_n_init_reports_its_restarts():
    assert _core.kmeans(embedding(), K, 9, seed=0)[4] == 9


def test_cluster_auto_is_a_fixed_run_and_not_the_reference():
    ws = network()
    # seed 3: the rule stops before the cap with another partition than 25 restarts find
    auto = modcut.cluster(ws, k=K, n_init="auto", random_state=3)
    # the rule stops after whole rounds of 5, so the labels are those of one of these runs
    fixed = {m: modcut.cluster(ws, k=K, n_init=m, random_state=3) for m in (15, 20, 25)}
    assert any(np.array_equal(auto, fixed[m]) for m in (15, 20))
    assert not np.array_equal(auto, fixed[25])
    # the default stays the reference's 25 (under 2,000 neurons)
    np.testing.assert_array_equal(modcut.cluster(ws, k=K, random_state=3), fixed[25])


def test_clusterability_auto_does_not_depend_on_threads_chunks_or_store(tmp_path):
    ws = network(hidden=80)
    kw = dict(k=K, n_shuffles=12, random_state=4, progress=False, n_init="auto")
    one = modcut.clusterability(ws, n_jobs=1, **kw)
    two = modcut.clusterability(ws, n_jobs=2, chunk_size=5, **kw)
    stored = modcut.clusterability(ws, n_jobs=2, chunk_size=3, store=tmp_path / "s", **kw)
    again = modcut.clusterability(ws, n_jobs=1, chunk_size=3, store=tmp_path / "s", **kw)
    for r in (two, stored, again):
        assert r.ncut == one.ncut
        np.testing.assert_array_equal(r.null_ncuts, one.null_ncuts)
        np.testing.assert_array_equal(r.labels, one.labels)
    assert one.settings["n_init"] == "auto" and one.settings["n_init_max"] == 25
    assert json.loads(json.dumps(one.settings))["n_init"] == "auto"
    # a fixed run with the reference's restarts: settings as before, and it does not
    # reuse the auto run's stored chunks
    ref = modcut.clusterability(
        ws, n_jobs=1, chunk_size=3, store=tmp_path / "s", **{**kw, "n_init": None}
    )
    assert ref.settings["n_init"] == 25 and "n_init_max" not in ref.settings
    np.testing.assert_array_equal(
        ref.null_ncuts, modcut.clusterability(ws, n_jobs=1, **{**kw, "n_init": 25}).null_ncuts
    )


def test_null_samples_with_auto_are_samples_of_a_fixed_run():
    # every null sample stops after whole rounds: its n-cut is that of a fixed run
    # of 15, 20 or 25 restarts on the same sample
    ws = network(hidden=80)
    kw = dict(k=K, n_shuffles=6, random_state=1, progress=False, n_jobs=1)
    auto = modcut.clusterability(ws, n_init="auto", **kw).null_ncuts
    fixed = np.array([modcut.clusterability(ws, n_init=m, **kw).null_ncuts for m in (15, 20, 25)])
    assert all(np.any(fixed[:, i] == auto[i]) for i in range(auto.size))
    assert not np.array_equal(auto, fixed[2])  # some samples stopped before the cap


def test_group_networks_take_auto(monkeypatch):
    from test_nonbipartite import residual

    # the group path hands the rule to Rust (its results match 25 restarts on this
    # small graph, so the wiring is checked on the calls)
    seen: list[tuple[str, object]] = []
    for name in ("observed_labels", "null_ncuts"):
        real = getattr(_core, name)

        def spy(*a, _real=real, _name=name, **kw):
            seen.append((_name, kw.get("auto")))
            return _real(*a, **kw)

        monkeypatch.setattr(_core, name, spy)
    g, _ = residual(24, 3, 0, noise=0.3)
    kw = dict(k=3, n_shuffles=6, random_state=0, progress=False, n_init="auto")
    one = modcut.clusterability(g, n_jobs=1, **kw)
    two = modcut.clusterability(g, n_jobs=2, chunk_size=2, **kw)
    np.testing.assert_array_equal(one.null_ncuts, two.null_ncuts)
    assert one.settings["n_init"] == "auto" and one.settings["graph"] == "groups"
    assert ("observed_labels", True) in seen and ("null_ncuts", True) in seen
    assert all(auto for _, auto in seen)
    labels = modcut.cluster(g, k=3, n_init="auto")
    assert any(np.array_equal(labels, modcut.cluster(g, k=3, n_init=m)) for m in (15, 20, 25))


def test_auto_restarts_travel_to_dask_workers_as_auto():
    a = pickle.loads(pickle.dumps(resolve_n_init("auto", 5000)))
    assert isinstance(a, AutoRestarts) and a == 100
    assert resolve_n_init("auto", 100) == 25 and resolve_n_init(None, 2001) == 100
    assert type(resolve_n_init(None, 10)) is int


@pytest.mark.parametrize(
    "bad, err, match",
    [
        ("atuo", ValueError, "n_init must be an int at least 1, 'auto' or None"),
        ("AUTO", ValueError, "'auto'"),
        (0, ValueError, "at least 1"),
        (-5, ValueError, "at least 1"),
        (2.5, TypeError, "n_init must be an int"),
        (True, TypeError, "n_init must be an int"),
    ],
)
def test_bad_n_init_values(bad, err, match):
    ws = network()
    with pytest.raises(err, match=match):
        modcut.cluster(ws, k=K, n_init=bad)
    with pytest.raises(err, match=match):
        modcut.clusterability(ws, k=K, n_shuffles=2, n_init=bad, progress=False)
    from test_nonbipartite import residual

    with pytest.raises(err, match=match):
        modcut.clusterability(residual(12, 3, 0)[0], k=3, n_shuffles=2, n_init=bad, progress=False)


def test_core_rejects_zero_restarts_with_auto():
    with pytest.raises(ValueError, match="n_init = 0 must be at least 1"):
        _core.kmeans(embedding(), K, 0, seed=0, auto=True)
    net = modcut.as_network(network())
    with pytest.raises(ValueError, match="n_init must be at least 1"):
        _core.observed_labels(net.core, K, 0, 0, auto=True)


def test_cli_n_init(tmp_path, capsys):
    parser = build_parser()
    for cmd in (["analyze", "net.npz"], ["reproduce"]):
        assert parser.parse_args(cmd).n_init is None
        assert parser.parse_args([*cmd, "--n-init", "auto"]).n_init == "auto"
        assert parser.parse_args([*cmd, "--n-init", "7"]).n_init == 7
        for bad in ("atuo", "0", "-2", "1.5"):
            with pytest.raises(SystemExit):
                parser.parse_args([*cmd, "--n-init", bad])
            assert "--n-init" in capsys.readouterr().err
    npz = tmp_path / "w.npz"
    np.savez(npz, *network())
    out = tmp_path / "a"
    assert (
        main(
            [
                "analyze",
                str(npz),
                "--k",
                str(K),
                "--shuffles",
                "3",
                "--jobs",
                "1",
                "--n-init",
                "auto",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    saved = json.loads((out / "clusterability.json").read_text())
    assert saved["settings"]["n_init"] == "auto"
    direct = modcut.clusterability(
        network(), k=K, n_shuffles=3, n_jobs=1, n_init="auto", progress=False
    )
    assert saved["ncut"] == direct.ncut and saved["null_ncuts"] == direct.null_ncuts.tolist()


def test_reproduce_reuses_an_analysis_only_for_the_restarts_asked(tmp_path):
    """With no --n-init, only an analysis made with the reference's default is reused (not
    one made with another fixed count, nor with "auto")."""
    from modcut import study
    from modcut.study import reproduction

    ckpt = tmp_path / "weights.npz"
    np.savez(ckpt, *network())
    runs = {}
    for name, n_init in [("five", 5), ("default", None), ("auto", "auto")]:
        study.analyze(
            str(ckpt), tmp_path / name, k=K, n_shuffles=3, n_jobs=1, n_init=n_init, progress=False
        )
        runs[name] = tmp_path / name

    def done(name, n_init):
        return reproduction.analysis_done(runs[name], ckpt, K, 3, "layer_nonzero", 0, "all", n_init)

    assert not done("five", None) and done("five", 5)
    assert done("default", None) and done("default", 25) and not done("default", 5)
    assert not done("auto", None) and done("auto", "auto")
