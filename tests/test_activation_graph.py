"""Activation graphs (issue 20, item 1): streaming correlations equal np.corrcoef and
scipy's spearmanr, r² edges within and between layers, constant units isolated, conv
channels pooled as the reference did, the graph usable by cluster/ncut/clusterability, and
bad inputs named."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

import modcut
from modcut.network import Network

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from modcut.readers.activations import CorrelationAccumulator, unit_activations  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(3, 60),
    units=st.integers(1, 8),
    batch=st.integers(1, 17),
    offset=st.sampled_from([0.0, 1e6]),
)
def test_streaming_pearson_equals_corrcoef_on_the_whole_matrix(seed, n, units, batch, offset):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, units)) @ rng.normal(size=(units, units)) + offset
    acc = CorrelationAccumulator(units)
    for i in range(0, n, batch):
        acc.add(x[i : i + batch])
    want = np.atleast_2d(np.corrcoef(x, rowvar=False))
    np.testing.assert_allclose(acc.correlation(), want, atol=1e-9)


def _mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 3))


def _r2_dense(net: Network) -> np.ndarray:
    """The graph's r² as a dense symmetric matrix over all units."""
    return net.adjacency().toarray()


def test_the_graph_holds_r2_of_the_hidden_units_within_and_between_layers():
    model = _mlp()
    x = torch.randn(300, 6)
    g = modcut.activation_graph(model, x, batch_size=64)
    assert g.widths == (8, 5) and [e.src for e in g.edges] == [0, 0, 1]
    assert [e.dst for e in g.edges] == [0, 1, 1]  # within layer 0, between, within layer 1
    with torch.no_grad():
        h1 = torch.relu(model[0](x))
        h2 = torch.relu(model[2](h1))
    acts = torch.cat([h1, h2], dim=1).double().numpy()
    live = acts.std(axis=0) > 0
    r = np.corrcoef(acts[:, live], rowvar=False)
    want = np.zeros((13, 13))
    want[np.ix_(live, live)] = r**2
    np.fill_diagonal(want, 0.0)
    np.testing.assert_allclose(_r2_dense(g), want, atol=1e-10)
    assert g.provenance["kind"] == "activations" and g.provenance["n_examples"] == 300


def test_spearman_equals_scipy_and_goes_through_disk_not_memory():
    model = _mlp(1)
    x = torch.randn(200, 6)
    g = modcut.activation_graph(model, x, corr="spearman", batch_size=33)
    with torch.no_grad():
        acts = (
            torch.cat(
                [torch.relu(model[0](x)), torch.relu(model[2](torch.relu(model[0](x))))], dim=1
            )
            .double()
            .numpy()
        )
    live = acts.std(axis=0) > 0
    rho = spearmanr(acts[:, live]).statistic
    want = np.zeros((13, 13))
    want[np.ix_(live, live)] = rho**2
    np.fill_diagonal(want, 0.0)
    np.testing.assert_allclose(_r2_dense(g), want, atol=1e-10)


def test_constant_units_are_isolated_and_no_nan_reaches_the_graph():
    model = _mlp(2)
    with torch.no_grad():
        model[0].weight[:3] = 0.0
        model[0].bias[:3] = -1.0  # three dead ReLUs: constant 0
    g = modcut.activation_graph(model, torch.randn(100, 6))
    deg = g.degree()
    assert (deg[:3] == 0).all() and (deg[3:8] > 0).all()
    assert g.provenance["constant_units"] == int(np.sum(deg == 0)) >= 3
    assert np.isfinite(g.adjacency().data).all()
    labels = modcut.cluster(g, k=3)
    assert (labels[:3] == -1).all()


def test_the_graph_is_a_network_like_any_other():
    model = _mlp(3)
    g = modcut.activation_graph(model, torch.randn(150, 6))
    labels = modcut.cluster(g, k=3)
    assert modcut.ncut(g, labels) >= 0
    res = modcut.clusterability(g, k=3, n_shuffles=5, progress=False, n_jobs=1)
    assert np.isfinite(res.null_ncuts).all()
    for method in ("layer", "layer_nonzero"):
        (s,) = modcut.shuffle(g, method=method, n_samples=1)
        for e in s.edges:  # shuffles stay within the upper triangle of each layer
            if e.src == e.dst:
                rows = np.repeat(np.arange(e.weights.shape[0]), np.diff(e.weights.indptr))
                assert (e.weights.indices > rows).all()


def test_planted_modules_show_in_the_activation_graph():
    """Two halves of the hidden units each driven by their own half of the inputs: the
    activation partition recovers the halves."""
    torch.manual_seed(4)
    lin = nn.Linear(8, 8)
    with torch.no_grad():
        lin.weight.zero_()
        lin.weight[:4, :4] = torch.rand(4, 4) + 0.5
        lin.weight[4:, 4:] = torch.rand(4, 4) + 0.5
        lin.bias.zero_()
    model = nn.Sequential(lin, nn.Tanh())
    base = torch.randn(400, 2)
    x = torch.cat([base[:, :1].repeat(1, 4), base[:, 1:].repeat(1, 4)], dim=1)
    x = x + 0.05 * torch.randn(400, 8)
    g = modcut.activation_graph(model, x)
    labels = modcut.cluster(g, k=2)
    assert len(set(labels[:4])) == 1 and len(set(labels[4:])) == 1 and labels[0] != labels[4]


def test_conv_channels_are_pooled_as_the_reference_did():
    torch.manual_seed(5)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 25, 3)
    )
    x = torch.randn(40, 2, 5, 5)
    (_, widths, acts), *_ = list(unit_activations(model, x, batch_size=40))
    with torch.no_grad():
        a = torch.relu(model[0](x)).permute(0, 2, 3, 1).numpy()  # (N, H, W, C), as Keras
    want = np.stack([np.linalg.norm(a[..., c], ord=1, axis=(1, 2)) for c in range(4)], axis=1)
    assert widths == [4]
    np.testing.assert_allclose(acts, want, rtol=1e-6)
    (_, _, mean), *_ = list(unit_activations(model, x, pool="mean", batch_size=40))
    np.testing.assert_allclose(mean, a.mean(axis=(1, 2)), rtol=1e-6)


def test_bad_inputs_are_named():
    model = _mlp()
    with pytest.raises(ValueError, match=r"does not fit Sequential: inputs of shape \(10, 7\)"):
        modcut.activation_graph(model, torch.randn(10, 7))
    with pytest.raises(ValueError, match=r"no layer named 'fc9'.*'0', '1'"):
        modcut.activation_graph(model, torch.randn(10, 6), layers=["fc9"])
    with pytest.raises(ValueError, match="corr must be one of"):
        modcut.activation_graph(model, torch.randn(10, 6), corr="kendall")
    with pytest.raises(ValueError, match="pool must be one of"):
        modcut.activation_graph(model, torch.randn(10, 6), pool="max")
    with pytest.raises(ValueError, match="at least 2 examples"):
        modcut.activation_graph(model, torch.randn(1, 6))
    shared = nn.ReLU()
    twice = nn.Sequential(nn.Linear(6, 4), shared, nn.Linear(4, 4), shared)
    with pytest.raises(ValueError, match="ran 2 times"):
        modcut.activation_graph(twice, torch.randn(10, 6))
    with pytest.raises(ValueError, match="no activation module"):
        modcut.activation_graph(nn.Sequential(nn.Linear(6, 3)), torch.randn(10, 6))
    # a layer named by the user works without activation modules
    g = modcut.activation_graph(nn.Sequential(nn.Linear(6, 3)), torch.randn(20, 6), layers=["0"])
    assert g.widths == (3,)
