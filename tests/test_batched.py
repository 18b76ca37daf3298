"""The null on a torch device (modcut.batched, ``clusterability(device=...)``).

Every test runs on the CPU through the same torch code a GPU runs; on a machine with a
CUDA GPU the device tests run on it as well (``DEVICES``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import modcut
from modcut import batched
from modcut._params import SHUFFLE_METHODS
from modcut.network import Network

torch = pytest.importorskip("torch")  # the torch extra is part of dev: installed in CI

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _sparse(rng: np.random.Generator, a: int, b: int, p: float) -> np.ndarray:
    return rng.standard_normal((a, b)) * (rng.random((a, b)) < p)


def chain(seed: int = 0) -> list[np.ndarray]:
    """A small pruned MLP 60-50-50-10."""
    rng = np.random.default_rng(seed)
    return [_sparse(rng, 60, 50, 0.2), _sparse(rng, 50, 50, 0.2), rng.standard_normal((50, 10))]


def residual(n: int = 60, seed: int = 1) -> Network:
    """A network with skips (not 2-colourable) of 4 groups of ``n`` and a within-group
    edge group (strictly upper triangular, as activation graphs have)."""
    rng = np.random.default_rng(seed)
    within = np.triu(_sparse(rng, n, n, 0.1), k=1)
    edges = [(0, 1, _sparse(rng, n, n, 0.3)), (1, 2, _sparse(rng, n, n, 0.3))]
    edges += [(2, 3, _sparse(rng, n, n, 0.3)), (0, 2, _sparse(rng, n, n, 0.3)), (3, 3, within)]
    return Network.from_edges([n, n, n, n], edges)


def node_colouring(net: Network) -> np.ndarray | None:
    colour = net.colouring()
    return None if colour is None else colour[net.node_group()]


def dense_adjacency(net: Network) -> np.ndarray:
    return np.abs(net.adjacency().toarray())


# ----------------------------------------------------------------------------- pieces


@pytest.mark.parametrize("make", [lambda: modcut.as_network(chain()), residual])
def test_ncut_equals_the_core(make) -> None:
    net = make()
    a = torch.as_tensor(dense_adjacency(net))[None].repeat(3, 1, 1)
    rng = np.random.default_rng(0)
    labels = rng.integers(-1, 5, size=(3, net.n_nodes))
    got = batched.batch_ncut(a, torch.as_tensor(labels), 5).numpy()
    want = [modcut.ncut(net, lab) for lab in labels]
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("method", SHUFFLE_METHODS)
def test_shuffles_keep_what_their_method_keeps(method: str) -> None:
    net = residual(30)
    a = batched.shuffled_adjacency(net, method, [11, 12], "cpu").numpy()
    assert a.shape == (2, 120, 120)
    off = net.offsets
    for b in range(2):
        assert np.array_equal(a[b], a[b].T) and not a[b].diagonal().any()
        assert not np.array_equal(a[0], a[1])  # two seeds, two shuffles
        for e in net.edges:
            w = e.weights.toarray()
            blk = a[b][off[e.src] : off[e.src] + w.shape[0], off[e.dst] : off[e.dst] + w.shape[1]]
            if e.src == e.dst:
                iu = np.triu_indices(w.shape[0], 1)
                orig, new = np.abs(w[iu]), blk[iu]
            else:
                orig, new = np.abs(w).ravel(), blk.ravel()
            if method == "layer":
                np.testing.assert_array_equal(np.sort(new), np.sort(orig))
            elif method == "layer_nonzero":
                assert np.array_equal(new != 0, orig != 0)  # positions kept
                np.testing.assert_array_equal(np.sort(new), np.sort(orig))  # values permuted
            else:
                if method == "layer_nonzero_distribution":
                    assert np.array_equal(new != 0, orig != 0)
                assert np.count_nonzero(new) == np.count_nonzero(orig)
                nz = np.sort(np.abs(w[w != 0]) if e.src != e.dst else orig[orig != 0])
                near = np.abs(
                    nz[np.clip(np.searchsorted(nz, new[new != 0]), 0, len(nz) - 1)] - new[new != 0]
                )
                # a KDE draw: an original value plus N(0, 0.01) noise (|w| folds the sign)
                assert np.median(np.minimum(near, 1.0)) < 0.05


def _numpy_top(net_adj: np.ndarray, k: int) -> np.ndarray:
    d = net_adj.sum(1)
    inv = 1 / np.sqrt(d)
    vals = np.linalg.eigvalsh(net_adj * inv[:, None] * inv[None, :])
    return vals[::-1][:k]


@pytest.mark.parametrize("n", [40, 150])  # 160 nodes: dense eigh; 600: block Krylov
def test_embedding_of_a_network_with_skips(n: int) -> None:
    net = residual(n)
    adj = dense_adjacency(net)
    assert (adj.sum(1) > 0).all()
    k = 6
    a = torch.as_tensor(adj)[None]
    x, vals, active = batched.batch_embedding(
        a, k, node_colouring(net), torch.randn(1, adj.shape[0], k + 8, dtype=torch.float64)
    )
    assert bool(active.all())
    np.testing.assert_allclose(vals[0].numpy(), _numpy_top(adj, k), atol=1e-8)
    # the embedding spans the top eigenvectors (rows divided by sqrt(degree))
    d = adj.sum(1)
    inv = 1 / np.sqrt(d)
    _, v = np.linalg.eigh(adj * inv[:, None] * inv[None, :])
    top = v[:, ::-1][:, :k]
    emb = x[0].numpy() * np.sqrt(d)[:, None]
    q, _ = np.linalg.qr(emb)
    assert np.linalg.norm(top - q @ (q.T @ top)) < 1e-6


def test_krylov_finds_repeated_eigenvalues_of_disconnected_parts() -> None:
    # three disjoint copies of a network with skips (720 nodes: the block Krylov path):
    # λ = 1 three times, then each part's own spectrum, as NumPy finds them
    parts = [dense_adjacency(residual(60, seed)) for seed in (1, 2, 3)]
    n = sum(len(p) for p in parts)
    adj = np.zeros((n, n))
    o = 0
    for p in parts:
        adj[o : o + len(p), o : o + len(p)] = p
        o += len(p)
    k = 7
    a = torch.as_tensor(adj)[None]
    start = torch.randn(
        1, n, k + 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    _, vals, _ = batched.batch_embedding(a, k, None, start)
    want = _numpy_top(adj, k)
    np.testing.assert_allclose(want[:3], 1.0, atol=1e-10)
    np.testing.assert_allclose(vals[0].numpy(), want, atol=1e-8)


def test_embedding_of_a_chain_takes_the_svd_shortcut_and_matches_eigh(monkeypatch) -> None:
    net = modcut.as_network(chain())
    adj = dense_adjacency(net)
    a = torch.as_tensor(adj)[None]
    k = 5

    def no_krylov(*args):
        raise AssertionError("a 2-colourable network takes the SVD shortcut")

    monkeypatch.setattr(batched, "_top_eigh", no_krylov)
    x, vals, active = batched.batch_embedding(a, k, node_colouring(net))
    keep = adj.sum(1) > 0
    np.testing.assert_allclose(vals[0].numpy(), _numpy_top(adj[keep][:, keep], k), atol=1e-10)
    assert not x[0][~torch.as_tensor(keep)].any()  # isolated rows: zero
    assert torch.equal(active[0], torch.as_tensor(keep))
    with pytest.raises(ValueError, match="colour to each of the 170 nodes"):
        batched.batch_embedding(a, k, net.colouring())  # per group, not per node


def test_kmeans_finds_planted_blobs_and_skips_inactive_points() -> None:
    rng = np.random.default_rng(3)
    k, d = 4, 3
    centers = rng.standard_normal((k, d)) * 10
    truth = np.repeat(np.arange(k), 30)
    pts = centers[truth] + rng.standard_normal((len(truth), d)) * 0.1
    x = torch.as_tensor(np.stack([pts, pts]))
    active = torch.ones((2, len(truth)), dtype=torch.bool)
    active[1, :5] = False
    g = torch.Generator().manual_seed(0)
    draws = (
        torch.rand((2, 10), generator=g, dtype=torch.float64),
        torch.rand((2, 10, k - 1, 2 + math.floor(math.log(k))), generator=g, dtype=torch.float64),
    )
    labels, inertia = batched.batch_kmeans(x, active, k, 10, draws)
    lab = labels.numpy()
    assert (lab[1, :5] == -1).all() and (lab[0] >= 0).all()
    for b in range(2):
        keep = lab[b] >= 0
        # the inertia is that of the returned labels
        got = sum(
            ((pts[keep][lab[b][keep] == c] - pts[keep][lab[b][keep] == c].mean(0)) ** 2).sum()
            for c in range(k)
        )
        assert math.isclose(float(inertia[b]), got, rel_tol=1e-9)
        same = [len(set(lab[b][keep][truth[keep] == c])) == 1 for c in range(k)]
        assert all(same) and len(set(lab[b][keep])) == k


# ----------------------------------------------------------------------------- the null


def _compare(a: np.ndarray, b: np.ndarray) -> float:
    """Difference of two null means in standard errors."""
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return abs(a.mean() - b.mean()) / se


@pytest.mark.parametrize(
    ("make", "method", "n_init"),
    [
        (lambda: chain(), "layer_nonzero", 10),
        (lambda: chain(), "layer", "auto"),
        (lambda: residual(150), "layer_nonzero", 10),  # 600 nodes: block Krylov
        (lambda: residual(40), "layer_all_distribution", 5),
    ],
)
@pytest.mark.parametrize("device", DEVICES)
def test_the_device_null_has_the_rust_null_distribution(make, method, n_init, device) -> None:
    net = make()
    kw = dict(k=5, n_shuffles=120, shuffle=method, n_init=n_init, random_state=4)
    rust = modcut.clusterability(net, **kw)
    dev = modcut.clusterability(net, device=device, **kw)
    assert dev.ncut == rust.ncut  # the observed network is clustered in Rust either way
    assert not np.array_equal(dev.null_ncuts, rust.null_ncuts)  # torch's random numbers
    assert _compare(dev.null_ncuts, rust.null_ncuts) < 4.0
    assert 0.67 < dev.null_std / rust.null_std < 1.5
    assert dev.settings["device"].startswith(device) and rust.settings.get("device") is None


@pytest.mark.parametrize("device", DEVICES)
def test_deterministic_for_a_seed_whatever_the_chunking(device: str) -> None:
    net = residual(30)
    kw = dict(k=4, n_shuffles=10, n_init=5, random_state=7, device=device)
    a = modcut.clusterability(net, chunk_size=10, **kw)
    b = modcut.clusterability(net, chunk_size=3, **kw)
    c = modcut.clusterability(net, chunk_size=10, **{**kw, "random_state": 8})
    np.testing.assert_array_equal(a.null_ncuts, b.null_ncuts)
    assert not np.array_equal(a.null_ncuts, c.null_ncuts)
    assert a.settings["chunk_size"] == 10 and b.settings["chunk_size"] == 3


def test_the_device_null_is_kept_apart_in_the_store(tmp_path) -> None:
    w = chain()
    kw = dict(k=4, n_shuffles=8, n_init=3, store=tmp_path)
    dev = modcut.clusterability(w, device="cpu", **kw)
    rust = modcut.clusterability(w, **kw)
    again = modcut.clusterability(w, device="cpu", **kw)
    assert not np.array_equal(dev.null_ncuts, rust.null_ncuts)  # not taken from the other
    np.testing.assert_array_equal(again.null_ncuts, dev.null_ncuts)
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2


def test_bad_devices_and_options_are_named() -> None:
    w = chain()
    with pytest.raises(TypeError, match="device must be"):
        modcut.clusterability(w, k=3, n_shuffles=4, device=3)
    with pytest.raises(ValueError, match="torch device name"):
        modcut.clusterability(w, k=3, n_shuffles=4, device="gpu please")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            modcut.clusterability(w, k=3, n_shuffles=4, device="cuda")
    for opt in ({"normalize": True}, {"local": True}, {"eigen_solver": "arpack"}):
        with pytest.raises(ValueError, match="run by the Rust null only"):
            modcut.clusterability(w, k=3, n_shuffles=4, device="cpu", **opt)


def test_default_batch_follows_the_size() -> None:
    assert batched.default_batch(100) == 64
    assert batched.default_batch(5803) == 7
    assert batched.default_batch(100_000) == 1


def test_cli_analyze_on_the_device(tmp_path, capsys) -> None:
    from modcut.cli import main

    path = tmp_path / "w.npz"
    np.savez(path, *chain())
    out = tmp_path / "out"
    assert main(
        ["analyze", str(path), "--k", "4", "--shuffles", "6", "--device", "cpu", "--out", str(out)]
    ) in (0, None)
    res = modcut.ClusterabilityResult.from_json(out / "clusterability.json")
    assert res.settings["device"] == "cpu" and res.n_shuffles == 6
    args = ["analyze", str(path), "--k", "4", "--shuffles", "6", "--device", "cpu", "--local"]
    assert main([*args, "--out", str(tmp_path / "out2")]) == 2
    assert "local=True is run by the Rust null only" in capsys.readouterr().err
