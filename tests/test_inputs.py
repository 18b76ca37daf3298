"""Every entry point accepts the same inputs (modcut.readers.load.as_network is the one path).

Each kind of input — a list of arrays, a list of SciPy sparse matrices, a .npz,
a .npy, a checkpoint file, a run folder, a torch.nn.Module — goes through
ncut, cluster, clusterability and `modcut analyze` and must give what the same
network given as plain arrays gives. Bad files get modcut errors naming the file.
"""

from __future__ import annotations

import itertools
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import modcut
from modcut.cli import main
from modcut.readers.load import NetworkFileError

torch = pytest.importorskip("torch")
from modcut.harness import train  # noqa: E402
from modcut.readers import extract  # noqa: E402

K = 3


def planted(widths=(12, 10, 8, 4), seed=0, sparse_frac=0.5):
    rng = np.random.default_rng(seed)
    ws = []
    for a, b in itertools.pairwise(widths):
        same = (np.arange(a)[:, None] * K // a) == (np.arange(b)[None, :] * K // b)
        w = rng.normal(size=(a, b)) * np.where(same, 1.0, 0.05)
        w[rng.random((a, b)) < sparse_frac] = 0.0  # pruned: zeros the sparse path keeps out
        ws.append(w)
    return ws


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = train.TrainConfig(
            dataset="line",
            epochs=1,
            prune_epochs=1,
            seed=0,
            hidden=(8, 8),
            n_train=128,
            n_test=64,
            batch_size=64,
        )
        return train.train(cfg, tmp_path_factory.mktemp("run"), progress=False)
    finally:
        torch.set_num_threads(n)


def _module(ws):
    layers = []
    for w in ws:
        lin = torch.nn.Linear(w.shape[0], w.shape[1], bias=False, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
        layers += [lin, torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def _inputs(tmp: Path, checkpoint: Path):
    """(name, input, equivalent list of arrays, is a file)."""
    ws = planted()
    npz = tmp / "w.npz"
    np.savez(npz, *ws)
    npy = tmp / "w.npy"
    np.save(npy, ws[0])
    ckpt_ws = extract.extract_weights(train.load_checkpoint(checkpoint).model)
    return [
        ("arrays", ws, ws, False),
        ("sparse", [sp.csr_matrix(w) for w in ws], ws, False),
        ("npz", npz, ws, True),
        ("npy", npy, [ws[0]], True),
        ("checkpoint", checkpoint, ckpt_ws, True),
        ("run folder", checkpoint.parent, ckpt_ws, True),
        ("module", _module(ws), ws, False),
    ]


def test_every_input_kind_through_every_entry_point(tmp_path, checkpoint):
    for name, source, ws, is_file in _inputs(tmp_path, checkpoint):
        labels = modcut.cluster(ws, k=K, random_state=0)
        got = modcut.cluster(source, k=K, random_state=0)
        np.testing.assert_array_equal(got, labels, err_msg=name)
        assert modcut.ncut(source, labels) == modcut.ncut(ws, labels), name
        ref = modcut.clusterability(ws, k=K, n_shuffles=4, n_jobs=1, progress=False)
        res = modcut.clusterability(source, k=K, n_shuffles=4, n_jobs=1, progress=False)
        np.testing.assert_array_equal(res.null_ncuts, ref.null_ncuts, err_msg=name)
        assert res.ncut == ref.ncut, name
        if is_file:
            assert res.provenance["source"] == str(source), name
            out = tmp_path / f"cli-{name.replace(' ', '_')}"
            argv = ["analyze", str(source), "--k", str(K), "--shuffles", "4", "--jobs", "1"]
            assert main([*argv, "--out", str(out), "--quiet"]) == 0, name
            saved = modcut.ClusterabilityResult.from_json(out / "clusterability.json")
            np.testing.assert_array_equal(saved.labels, res.labels, err_msg=name)
            np.testing.assert_array_equal(saved.null_ncuts, ref.null_ncuts, err_msg=name)
            assert saved.provenance["source"] == str(source)


def test_checkpoint_provenance_travels_with_the_result(checkpoint):
    res = modcut.clusterability(checkpoint, k=K, n_shuffles=3, n_jobs=1, progress=False)
    prov = res.provenance
    assert prov["kind"] == "checkpoint" and prov["dataset"] == "line"
    assert prov["metrics"]["test_accuracy"] is not None and prov["config"]["hidden"] == [8, 8]
    back = modcut.ClusterabilityResult.from_json(res.to_json())
    assert back.provenance == json.loads(json.dumps(prov))


def test_sparse_input_stays_sparse_and_pickles():
    ws = planted()
    mats = [sp.csr_array(w) for w in ws]
    net = modcut.as_network(mats)
    assert [m.nnz for m in net.layers] == [int(np.count_nonzero(w)) for w in ws]
    assert net.core.nnz == [m.nnz for m in net.layers]
    back = pickle.loads(pickle.dumps(net))
    assert back.widths == net.widths and back.provenance == net.provenance
    assert back.core.widths == list(net.widths)
    labels = modcut.cluster(net, k=K)
    assert modcut.ncut(back, labels) == modcut.ncut(net, labels)


def test_npz_of_scipy_sparse_is_a_one_layer_sparse_network(tmp_path):
    w = sp.random(30, 20, density=0.2, random_state=1, format="csr")
    sp.save_npz(tmp_path / "s.npz", w)
    net = modcut.as_network(tmp_path / "s.npz")
    assert net.widths == (30, 20) and net.layers[0].nnz == w.nnz


def test_npz_positional_names_in_numeric_order(tmp_path):
    ws = [np.ones((2 + i, 3 + i)) for i in range(12)]
    np.savez(tmp_path / "many.npz", *ws)
    assert modcut.as_network(tmp_path / "many.npz").widths == (2, *range(3, 15))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: p.write_text("hello, not a network"), "not a modcut checkpoint"),
        (lambda p: torch.save({"some": [1, 2, 3]}, p), "not a modcut checkpoint"),
        (lambda p: torch.save(torch.nn.Linear(3, 2), p), "not a modcut checkpoint"),
    ],
    ids=["text", "pickled-dict", "pickled-module"],
)
def test_bad_pt_files_get_modcut_errors(tmp_path, make, match):
    p = tmp_path / "bad.pt"
    make(p)
    with pytest.raises(NetworkFileError, match=match) as info:
        modcut.cluster(p, k=2)
    msg = str(info.value)
    assert str(p) in msg and "weights_only" not in msg and "modcut train" in msg
    assert info.value.__cause__ is None


def test_bad_npz_and_npy_files(tmp_path):
    np.savez(tmp_path / "v.npz", np.ones(5), np.ones((2, 2)))
    with pytest.raises(NetworkFileError, match=r"v\.npz.*shape \(5,\).*2-D"):
        modcut.ncut(tmp_path / "v.npz", np.zeros(7, dtype=np.int64))
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(NetworkFileError, match=r"junk\.npz"):
        modcut.as_network(tmp_path / "junk.npz")
    obj = np.empty(2, dtype=object)
    obj[0], obj[1] = np.ones((2, 2)), np.ones((2, 3))
    np.save(tmp_path / "o.npy", obj)
    with pytest.raises(NetworkFileError, match=r"o\.npy.*never unpickled"):
        modcut.as_network(tmp_path / "o.npy")
    np.save(tmp_path / "c.npy", np.ones((2, 3, 4)))
    with pytest.raises(NetworkFileError, match=r"c\.npy.*2-D"):
        modcut.clusterability(tmp_path / "c.npy", k=2, n_shuffles=2)
    np.savez(tmp_path / "chain.npz", np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(NetworkFileError, match=r"chain\.npz.*do not chain"):
        modcut.as_network(tmp_path / "chain.npz")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.npz"):
        modcut.cluster(tmp_path / "nope.npz", k=2)
    with pytest.raises(FileNotFoundError, match="nope"):
        modcut.build_graph(str(tmp_path / "nope"))
    with pytest.raises(NetworkFileError, match=r"without a checkpoint\.pt"):
        modcut.shuffle(tmp_path)
    assert main(["analyze", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "o")]) == 2


def test_numpy_integers_are_ints():
    ws = planted()
    i = np.int64
    labels = modcut.cluster(ws, k=i(K), n_init=np.int32(5), random_state=np.uint8(3))
    assert labels.max() == K - 1
    r = modcut.clusterability(
        ws,
        k=i(K),
        n_shuffles=i(3),
        random_state=i(1),
        n_jobs=i(1),
        n_init=i(5),
        chunk_size=np.int16(2),
        progress=False,
    )
    assert r.n_shuffles == 3
    assert len(modcut.shuffle(ws, n_samples=i(2), start=i(1), n_jobs=i(1))) == 2
    modcut.spectral_embedding(ws, k=i(K), random_state=i(0))
    with pytest.raises(TypeError, match="k must be an int"):
        modcut.cluster(ws, k=np.float64(3.0))
    with pytest.raises(TypeError, match="n_shuffles"):
        modcut.clusterability(ws, k=K, n_shuffles=True)


def test_from_json_takes_text_or_path(tmp_path):
    r = modcut.clusterability(planted(), k=K, n_shuffles=3, n_jobs=1, progress=False)
    text = r.to_json()
    assert len(text) > 300  # longer than a file name may be
    back = modcut.ClusterabilityResult.from_json(text)
    np.testing.assert_array_equal(back.null_ncuts, r.null_ncuts)
    r.to_json(tmp_path / "r.json")
    assert modcut.ClusterabilityResult.from_json(tmp_path / "r.json").ncut == r.ncut
    assert modcut.ClusterabilityResult.from_json(str(tmp_path / "r.json")).ncut == r.ncut
    with pytest.raises(FileNotFoundError):
        modcut.ClusterabilityResult.from_json(tmp_path / "missing.json")


@pytest.mark.parametrize("scale", [1e-12, 1e6])
def test_ncut_does_not_depend_on_the_scale_of_the_weights(scale):
    ws = planted(sparse_frac=0.0)
    labels = modcut.cluster(ws, k=K, random_state=0)
    reference = modcut.ncut(ws, labels)
    scaled = [w * scale for w in ws]
    assert modcut.ncut(scaled, labels) == pytest.approx(reference, rel=1e-7)
    np.testing.assert_array_equal(modcut.cluster(scaled, k=K, random_state=0), labels)


def test_clusterability_of_tiny_weights_is_finite():
    ws = planted(sparse_frac=0.0)
    r1 = modcut.clusterability(ws, k=K, n_shuffles=8, shuffle="layer", n_jobs=1, progress=False)
    tiny = [w * 1e-12 for w in ws]
    r = modcut.clusterability(tiny, k=K, n_shuffles=8, shuffle="layer", n_jobs=1, progress=False)
    assert np.isfinite(r.z_score) and r.ncut > 0.01
    assert r.ncut == pytest.approx(r1.ncut, rel=1e-7)
    np.testing.assert_allclose(r.null_ncuts, r1.null_ncuts, rtol=1e-6)
