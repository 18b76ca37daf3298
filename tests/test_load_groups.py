"""Saved group graphs through the one input path (``load.as_graph``) and the Rust
handle of group networks (``CoreNetwork``)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import modcut
from modcut._core import CoreNetwork
from modcut.network import Network
from modcut.readers.load import NetworkFileError, as_graph, read_group_graph

torch = pytest.importorskip("torch")
nn = torch.nn


class ResBlockNet(nn.Module):
    """A small ResNet-like model: conv stem, two residual blocks (BatchNorm folded),
    a 1×1 projection skip, pooling and a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(8)
        self.c1 = nn.Conv2d(8, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.c3 = nn.Conv2d(8, 12, 3, padding=1)
        self.c4 = nn.Conv2d(12, 12, 3, padding=1)
        self.proj = nn.Conv2d(8, 12, 1)
        self.head = nn.Linear(12, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.relu(self.bn0(self.stem(x)))
        b = torch.relu(a + self.c2(torch.relu(self.c1(a))))
        c = torch.relu(self.proj(b) + self.c4(torch.relu(self.c3(b))))
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(c, 1), 1))


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Network, Path]:
    torch.manual_seed(0)
    model = ResBlockNet().eval()
    with torch.no_grad():
        model.bn0.running_mean.uniform_(-1, 1)
        model.bn0.running_var.uniform_(0.5, 2)
    g = modcut.network_graph(model, input_shape=(3, 8, 8))
    assert not g.is_chain() and not g.is_bipartite()
    path = tmp_path_factory.mktemp("groups") / "resnet_like_graph.npz"
    g.save(path)
    return g, path


def test_as_graph_reads_a_saved_group_graph_as_the_same_network(saved) -> None:
    g, path = saved
    for obj in (path, str(path)):
        h = as_graph(obj)
        assert isinstance(h, Network)
        assert h.groups == g.groups
        assert [(e.src, e.dst, e.name) for e in h.edges] == [
            (e.src, e.dst, e.name) for e in g.edges
        ]
        for a, b in zip(h.edges, g.edges, strict=True):
            assert (a.weights != b.weights).nnz == 0 and a.weights.shape == b.weights.shape
    assert as_graph(g) is g
    assert read_group_graph(path).groups == g.groups
    assert Network.load(path).sizes == g.sizes


@pytest.mark.parametrize("solver", ["lanczos", "arpack"])
def test_every_public_function_on_a_saved_graph_equals_the_in_memory_call(saved, solver) -> None:
    g, path = saved
    kw = {"k": 3, "random_state": 0, "eigen_solver": solver}
    lab_g = modcut.cluster(g, n_init=4, **kw)
    np.testing.assert_array_equal(modcut.cluster(path, n_init=4, **kw), lab_g)
    assert modcut.ncut(path, lab_g) == modcut.ncut(g, lab_g)
    pa, pb = modcut.ncut_parts(path, lab_g), modcut.ncut_parts(g, lab_g)
    assert pa.ncut == pb.ncut
    for f in ("cluster_ids", "cut", "volume"):
        np.testing.assert_array_equal(getattr(pa, f), getattr(pb, f))
    ea, eb = modcut.spectral_embedding(path, **kw), modcut.spectral_embedding(g, **kw)
    for f in ("node_ids", "x", "eigenvalues"):
        np.testing.assert_array_equal(getattr(ea, f), getattr(eb, f))
    for shuffle in ("layer", "layer_nonzero"):
        ra = modcut.clusterability(
            path, n_shuffles=3, shuffle=shuffle, n_init=4, n_jobs=1, progress=False, **kw
        )
        rb = modcut.clusterability(
            g, n_shuffles=3, shuffle=shuffle, n_init=4, n_jobs=1, progress=False, **kw
        )
        assert ra.ncut == rb.ncut
        np.testing.assert_array_equal(ra.labels, rb.labels)
        np.testing.assert_array_equal(ra.null_ncuts, rb.null_ncuts)
        assert ra.settings == rb.settings


def test_shuffle_and_build_graph_on_a_saved_graph(saved) -> None:
    g, path = saved
    sa = modcut.shuffle(path, "layer", n_samples=2, random_state=3, n_jobs=1)
    sb = modcut.shuffle(g, "layer", n_samples=2, random_state=3, n_jobs=1)
    for a, b in zip(sa, sb, strict=True):
        assert isinstance(a, Network) and a.groups == b.groups
        for ea, eb in zip(a.edges, b.edges, strict=True):
            np.testing.assert_array_equal(ea.weights.toarray(), eb.weights.toarray())
    # a shuffle is a shuffle: same multiset of weights per edge group, other positions
    for e0, e1 in zip(g.edges, sa[0].edges, strict=True):
        np.testing.assert_array_equal(
            np.sort(e0.weights.toarray(), axis=None), np.sort(e1.weights.toarray(), axis=None)
        )
    ga, gb = modcut.build_graph(path), modcut.build_graph(g)
    np.testing.assert_array_equal(ga.adjacency.toarray(), g.adjacency().toarray())
    np.testing.assert_array_equal(ga.adjacency.toarray(), gb.adjacency.toarray())
    np.testing.assert_array_equal(ga.degree, gb.degree)
    np.testing.assert_allclose(ga.degree, g.degree(), rtol=1e-14)  # other summation order
    np.testing.assert_array_equal(ga.node_layer, g.node_group())
    np.testing.assert_array_equal(ga.node_index, g.node_index())
    assert ga.widths == g.sizes


def test_layered_only_uses_of_a_group_graph_say_what_to_do(saved) -> None:
    g, path = saved
    for obj in (g, path):
        with pytest.raises(ValueError, match=r"not a chain.*as_graph"):
            modcut.as_network(obj)
        with pytest.raises(ValueError, match=r"graph part 'conv' needs a model.*part='all'"):
            as_graph(obj, part="conv")
    with pytest.raises(ValueError, match="graph part 'conv'"):
        from modcut.study import analyze

        analyze(path, path.parent / "never", graph="conv", n_shuffles=2)


def test_a_saved_chain_is_its_matrices_bit_for_bit(tmp_path) -> None:
    rng = np.random.default_rng(1)
    ws = [
        rng.normal(size=(12, 9)),
        sp.random(9, 7, density=0.4, random_state=2, format="csr"),
        rng.normal(size=(7, 3)),
    ]
    path = tmp_path / "chain.npz"
    Network.from_network(ws).save(path)
    net = as_graph(path)
    assert isinstance(net, modcut.Network)
    assert net.provenance == {"source": str(path), "kind": "npz (groups)"}
    ref = modcut.as_network(ws)
    for a, b in zip(net.layers, ref.layers, strict=True):
        for f in ("indptr", "indices", "data"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert modcut.as_network(path).widths == ref.widths
    a = modcut.clusterability(path, k=3, n_shuffles=4, random_state=0, n_jobs=1, progress=False)
    b = modcut.clusterability(ws, k=3, n_shuffles=4, random_state=0, n_jobs=1, progress=False)
    assert a.ncut == b.ncut
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.null_ncuts, b.null_ncuts)
    np.testing.assert_array_equal(modcut.cluster(path, k=3), modcut.cluster(ws, k=3))
    # an in-memory chain Network takes the layered path too
    assert isinstance(as_graph(Network.from_network(ws)), modcut.Network)


def _rewrite(src: Path, dst: Path, **changes: object) -> Path:
    with np.load(src) as z:
        arrays = {n: z[n] for n in z.files}
    for name, value in changes.items():
        if value is None:
            arrays.pop(name)
        else:
            arrays[name] = value  # type: ignore[assignment]
    np.savez(dst, **arrays)  # type: ignore[arg-type]
    return dst


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"group_sizes": None}, "missing entry 'group_sizes'"),
        ({"e0_data": None}, "missing entry 'e0_data'"),
        ({"edge_ends": np.array([[0, 99]])}, "joins groups 0 and 99"),
        ({"e0_indptr": np.array([0, 1])}, "damaged"),
        ({"e1_data": np.full(1, np.nan)}, "damaged"),
        ({"group_sizes": np.array([1, 1])}, "damaged"),
        ({"group_names": np.array(["only one"])}, "damaged"),
    ],
)
def test_a_damaged_group_file_raises_network_file_error_naming_it(
    saved, tmp_path, changes, match
) -> None:
    _, path = saved
    bad = _rewrite(path, tmp_path / "bad.npz", **changes)
    for call in (
        lambda: modcut.cluster(bad, k=2),
        lambda: as_graph(bad),
        lambda: Network.load(bad),
        lambda: modcut.as_network(bad),
    ):
        with pytest.raises(NetworkFileError, match=match) as info:
            call()
        assert str(bad) in str(info.value)


def test_foreign_files_raise_network_file_error(tmp_path) -> None:
    only_marker = tmp_path / "marker.npz"
    np.savez(only_marker, __modcut_groups__=np.array(1), arr_0=np.ones((2, 2)))
    with pytest.raises(NetworkFileError, match=r"marker\.npz.*not written by Network\.save"):
        modcut.clusterability(only_marker, k=2, n_shuffles=2)
    plain = tmp_path / "plain.npz"
    np.savez(plain, np.ones((3, 2)))
    with pytest.raises(NetworkFileError, match=r"plain\.npz was not written by Network"):
        Network.load(plain)
    assert isinstance(as_graph(plain), modcut.Network)  # plain matrices: a chain
    with pytest.raises(FileNotFoundError):
        read_group_graph(tmp_path / "missing.npz")


def test_the_core_handle_is_built_once_pickles_cheaply_and_checks_its_input(saved) -> None:
    g, _ = saved
    h = g.core
    assert g.core is h  # cached: built once
    assert isinstance(h, CoreNetwork)
    assert h.sizes == list(g.sizes) and h.n_nodes == g.n_nodes
    assert h.nnz == [e.weights.nnz for e in g.edges]
    for (src, dst, r, c, indptr, indices, data), e in zip(h.edges(), g.edges, strict=True):
        assert (src, dst, r, c) == (e.src, e.dst, *e.weights.shape)
        np.testing.assert_array_equal(indptr, e.weights.indptr)
        np.testing.assert_array_equal(indices, e.weights.indices)
        np.testing.assert_array_equal(data, e.weights.data)
    # the handle pickles as (sizes, edges); a Network pickles without it
    h2 = pickle.loads(pickle.dumps(h))
    assert h2.sizes == h.sizes and repr(h2) == repr(h)
    fresh = Network(g.groups, g.edges)
    size_before = len(pickle.dumps(fresh))
    _ = fresh.core
    assert len(pickle.dumps(fresh)) == size_before
    g2 = pickle.loads(pickle.dumps(g))
    assert "core" not in g2.__dict__ and g2.groups == g.groups
    for a, b in zip(g2.edges, g.edges, strict=True):
        assert (a.src, a.dst, a.name) == (b.src, b.dst, b.name) and (
            a.weights != b.weights
        ).nnz == 0
    lab = modcut.cluster(g, k=3, n_init=4)
    np.testing.assert_array_equal(modcut.cluster(g2, k=3, n_init=4), lab)
    # bad input to the handle: ValueError naming the problem, never a panic
    ok = (0, 1, 2, 2, np.array([0, 1, 2]), np.array([0, 1], dtype=np.int32), np.ones(2))
    CoreNetwork([2, 2], [ok])
    cases = [
        ([2, 2], [(0, 1, 2, 2, np.array([0, -1, 2]), ok[5], ok[6])], "negative indptr"),
        (
            [2, 2],
            [(0, 1, 2, 2, ok[4], np.array([0, -1], dtype=np.int32), ok[6])],
            "negative column",
        ),
        ([2, 2], [(0, 1, 2, 2, ok[4], ok[5], np.array([1.0, np.nan]))], "edge group 0"),
        ([2, 3], [ok], "joins groups of sizes 2 and 3"),
        ([2, 2], [(1, 1, *ok[2:])], "to itself"),
        ([2, 2], [(0, 5, *ok[2:])], "there are 2 groups"),
        ([2, 2], [], "at least one weight matrix"),
        (
            [2, 2],
            [(0, 1, 2, 2, np.array([0, 2, 2]), np.array([1, 1], dtype=np.int32), ok[6])],
            "edge group 0: row 0 has unsorted or duplicate",
        ),
    ]
    for sizes, edges, match in cases:
        with pytest.raises(ValueError, match=match):
            CoreNetwork(sizes, edges)


def test_group_null_on_dask_equals_the_local_run(saved) -> None:
    pytest.importorskip("distributed")
    from modcut import distributed

    _, path = saved
    local = modcut.clusterability(
        path, k=3, n_shuffles=6, n_init=4, random_state=0, n_jobs=1, progress=False
    )
    with distributed.connect(workers=2) as client:
        remote = modcut.clusterability(
            path,
            k=3,
            n_shuffles=6,
            n_init=4,
            random_state=0,
            scheduler=client,
            chunk_size=2,
            progress=False,
        )
    np.testing.assert_array_equal(local.null_ncuts, remote.null_ncuts)
    assert local.ncut == remote.ncut


def test_modcut_analyze_reads_a_saved_group_graph(saved, tmp_path, capsys) -> None:
    from modcut.cli import main

    g, path = saved
    out = tmp_path / "analysis"
    assert (
        main(
            [
                "analyze",
                str(path),
                "--k",
                "3",
                "--shuffles",
                "3",
                "--shuffle",
                "layer",
                "--jobs",
                "1",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    res = modcut.ClusterabilityResult.from_json(out / "clusterability.json")
    direct = modcut.clusterability(
        g, k=3, n_shuffles=3, shuffle="layer", random_state=0, n_jobs=1, progress=False
    )
    assert res.ncut == direct.ncut
    np.testing.assert_array_equal(res.null_ncuts, direct.null_ncuts)
    assert res.settings["groups"] == [gr.name for gr in g.groups]
    assert (out / "report.html").exists()
    assert "n-cut" in capsys.readouterr().out.lower()
    # the null chunks were kept (resumable, as for layered networks): a second run with the
    # same settings recomputes nothing and gives the same numbers
    chunks = sorted((out / "null_chunks").rglob("*.npy"))
    assert chunks
    stamps = [c.stat().st_mtime_ns for c in chunks]
    assert (
        main(
            [
                "analyze",
                str(path),
                "--k",
                "3",
                "--shuffles",
                "3",
                "--shuffle",
                "layer",
                "--jobs",
                "1",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    again = modcut.ClusterabilityResult.from_json(out / "clusterability.json")
    np.testing.assert_array_equal(again.null_ncuts, res.null_ncuts)
    assert [c.stat().st_mtime_ns for c in sorted((out / "null_chunks").rglob("*.npy"))] == stamps


def test_groupnetwork_is_a_deprecated_alias_of_network():
    with pytest.warns(
        DeprecationWarning, match=r"modcut\.GroupNetwork is deprecated.*modcut\.Network"
    ):
        alias = modcut.GroupNetwork
    assert alias is modcut.Network
    with pytest.warns(DeprecationWarning, match="deprecated"):
        from modcut.groupnet import GroupNetwork
    assert GroupNetwork is modcut.Network
    g = alias.from_edges([2, 3], [(0, 1, np.ones((2, 3)))])
    assert isinstance(g, modcut.Network) and g.is_chain()
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        _ = modcut.NoSuchThing
