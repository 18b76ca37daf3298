"""Graphs from the forward pass (modcut.network_graph) against hand-built adjacencies."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

import modcut
import reference as ref
from modcut.harness.models import MLP, SmallCNN
from modcut.readers.extract import extract_weights


def _wt(lin: nn.Linear) -> np.ndarray:
    return lin.weight.detach().double().numpy().T


def _edges(g: modcut.Network) -> dict[tuple[str, str], np.ndarray]:
    out: dict[tuple[str, str], np.ndarray] = {}
    for e in g.edges:
        key = (g.groups[e.src].name, g.groups[e.dst].name)
        assert key not in out
        out[key] = e.weights.toarray()
    return out


def _check(g: modcut.Network, sizes: dict[str, int], want: dict[tuple[str, str], Any]):
    assert {gr.name: gr.size for gr in g.groups} == sizes
    got = _edges(g)
    assert set(got) == set(want)
    for key, w in want.items():
        np.testing.assert_array_equal(got[key], w, err_msg=str(key))
    names = [gr.name for gr in g.groups]
    a = ref.general_adjacency(
        [gr.size for gr in g.groups],
        [(names.index(s), names.index(d), w) for (s, d), w in want.items()],
    )
    np.testing.assert_array_equal(g.adjacency().toarray(), a)


class ResidualMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.fc2 = nn.Linear(8, 8)
        self.fc3 = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.fc1(x)
        b = self.fc2(F.relu(a))
        return self.fc3(torch.relu(a + b))


class Concat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(5, 3)
        self.b = nn.Linear(5, 4)
        self.head = nn.Linear(7, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([F.relu(self.a(x)), self.b(x)], dim=1))


class Conv1D(nn.Module):
    """GPT-2's Conv1D: a Linear whose weight is stored (in, out)."""

    def __init__(self, nf: int, nx: int) -> None:
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.randn(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size_out = (*x.size()[:-1], self.nf)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


class TransformerMLPBlock(nn.Module):
    """Pre-LN transformer feed-forward block on a token sequence, GPT-2 style."""

    def __init__(self, d: int = 6, h: int = 12) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.c_fc = Conv1D(h, d)
        self.c_proj = Conv1D(d, h)
        self.head = nn.Linear(d, 4)
        with torch.no_grad():
            self.ln.weight.copy_(torch.linspace(-2.0, 1.5, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x + self.c_proj(F.gelu(self.c_fc(self.ln(x))))
        return self.head(y)


def test_residual_mlp_graph_is_exact():
    torch.manual_seed(0)
    m = ResidualMLP()
    g = modcut.network_graph(m)
    w1, w2, w3 = _wt(m.fc1), _wt(m.fc2), _wt(m.fc3)
    _check(
        g,
        {"input": 6, "fc1": 8, "fc2": 8, "fc3": 3},
        {("input", "fc1"): w1, ("fc1", "fc2"): w2, ("fc1", "fc3"): w3, ("fc2", "fc3"): w3},
    )
    assert not g.is_chain() and not g.is_bipartite()  # fc1 - fc2 - fc3 is a triangle


def test_concatenation_splits_the_rows():
    torch.manual_seed(1)
    m = Concat()
    g = modcut.network_graph(m)
    wh = _wt(m.head)
    _check(
        g,
        {"input": 5, "a": 3, "b": 4, "head": 2},
        {
            ("input", "a"): _wt(m.a),
            ("input", "b"): _wt(m.b),
            ("a", "head"): wh[:3],
            ("b", "head"): wh[3:],
        },
    )
    assert g.is_bipartite() and not g.is_chain()


def test_transformer_mlp_block_with_layernorm_and_conv1d():
    torch.manual_seed(2)
    m = TransformerMLPBlock()
    g = modcut.network_graph(m, input_shape=(5, 6))  # 5 tokens of 6 features
    gamma = np.abs(m.ln.weight.detach().double().numpy())
    wfc = m.c_fc.weight.detach().double().numpy()  # (in, out) already
    wproj = m.c_proj.weight.detach().double().numpy()
    wh = _wt(m.head)
    _check(
        g,
        {"input": 6, "c_fc": 12, "c_proj": 6, "head": 4},
        {
            # LayerNorm on the input: no producing layer, so γ scales the reader's rows
            ("input", "c_fc"): gamma[:, None] * wfc,
            ("c_proj", "head"): wh,
            ("input", "head"): wh,  # the residual stream x + c_proj(...)
            ("c_fc", "c_proj"): wproj,
        },
    )
    assert [gr.kind for gr in g.groups] == ["input", "Conv1D", "Conv1D", "Linear"]


def test_batchnorm_after_an_add_scales_the_readers():
    torch.manual_seed(3)

    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(4, 5)
            self.b = nn.Linear(5, 5)
            self.bn = nn.BatchNorm1d(5)
            self.c = nn.Linear(5, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.a(x)
            return self.c(self.bn(h + self.b(h)))

    m = M()
    with torch.no_grad():
        m.bn.running_var.uniform_(0.5, 2.0)
        m.bn.weight.uniform_(-2.0, 2.0)
    s = np.abs(m.bn.weight.detach().double().numpy()) / np.sqrt(
        m.bn.running_var.double().numpy() + m.bn.eps
    )
    wc = _wt(m.c)
    g = modcut.network_graph(m)
    got = _edges(g)
    np.testing.assert_allclose(got[("a", "c")], s[:, None] * wc, rtol=1e-14)
    np.testing.assert_allclose(got[("b", "c")], s[:, None] * wc, rtol=1e-14)
    np.testing.assert_array_equal(got[("a", "b")], _wt(m.b))


def _bn_scale(bn: nn.BatchNorm2d) -> np.ndarray:
    return np.abs(bn.weight.detach().double().numpy()) / np.sqrt(
        bn.running_var.double().numpy() + bn.eps
    )


def _conv_norms(conv: nn.Conv2d) -> np.ndarray:
    return np.abs(conv.weight.detach().double().numpy()).sum(axis=(2, 3)).T


def test_resnet18_channel_graph_matches_the_architecture(tmp_path):
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(4)
    net = torchvision.models.resnet18(weights=None, num_classes=10)  # smaller head, same body
    with torch.no_grad():  # non-trivial BatchNorm statistics so that folding is visible
        for mod in net.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.2, 2.0)
    g = modcut.network_graph(net, input_shape=(3, 32, 32))
    # node groups: the input's 3 channels, every conv's filters, the fc units
    convs = [(n, mod) for n, mod in net.named_modules() if isinstance(mod, nn.Conv2d)]
    assert [gr.name for gr in g.groups] == ["input"] + [n for n, _ in convs] + ["fc"]
    assert [gr.size for gr in g.groups] == [3] + [mod.out_channels for _, mod in convs] + [10]
    # the residual stream after each block is the set of groups added into it
    want: dict[tuple[str, str], np.ndarray] = {}
    mods = dict(net.named_modules())

    def conv_edge(name: str, bn: str) -> np.ndarray:
        return _conv_norms(mods[name]) * _bn_scale(mods[bn])[None, :]

    want[("input", "conv1")] = conv_edge("conv1", "bn1")
    stream = ["conv1"]
    for layer in ("layer1", "layer2", "layer3", "layer4"):
        for block in ("0", "1"):
            p = f"{layer}.{block}"
            for s in stream:
                want[(s, f"{p}.conv1")] = conv_edge(f"{p}.conv1", f"{p}.bn1")
            want[(f"{p}.conv1", f"{p}.conv2")] = conv_edge(f"{p}.conv2", f"{p}.bn2")
            if f"{p}.downsample.0" in mods:
                for s in stream:
                    want[(s, f"{p}.downsample.0")] = conv_edge(
                        f"{p}.downsample.0", f"{p}.downsample.1"
                    )
                stream = [f"{p}.downsample.0"]
            stream = [*stream, f"{p}.conv2"]
    for s in stream:
        want[(s, "fc")] = _wt(net.fc)
    got = _edges(g)
    assert set(got) == set(want)
    assert len(got) == 39
    for key, w in want.items():
        np.testing.assert_allclose(got[key], w, rtol=1e-13, atol=0, err_msg=str(key))
    assert not g.is_bipartite()
    assert g.n_nodes == 3 + sum(mod.out_channels for _, mod in convs) + 10
    # n-cut of a partition against the reference on the hand-built adjacency
    names = [gr.name for gr in g.groups]
    off = np.concatenate([[0], np.cumsum(g.sizes)])
    rows, cols, vals = [], [], []
    for (s, d), w in want.items():
        r, c = np.nonzero(w)
        rows += [r + off[names.index(s)], c + off[names.index(d)]]
        cols += [c + off[names.index(d)], r + off[names.index(s)]]
        vals += [np.abs(w[r, c])] * 2
    a = sp.coo_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(g.n_nodes, g.n_nodes),
    ).tocsr()
    labels = modcut.cluster(g, k=8, random_state=0, n_init=5)
    assert labels.min() == 0 and labels.max() == 7
    assert modcut.ncut(g, labels) == pytest.approx(ref.ncut_adjacency(a, labels), rel=1e-10)
    # clusterability runs on it, and on the graph saved to disk through `modcut analyze`
    res = modcut.clusterability(
        g, k=8, n_shuffles=2, n_init=5, shuffle="layer", random_state=0, n_jobs=1
    )
    assert res.settings["bipartite"] is False and np.isfinite(res.null_ncuts).all()
    assert res.ncut == modcut.ncut(g, res.labels)
    path = tmp_path / "resnet18_graph.npz"
    g.save(path)
    g2 = modcut.Network.load(path)
    assert g2.sizes == g.sizes and [gr.name for gr in g2.groups] == names
    from modcut.study import analyze

    paths = analyze(
        path, tmp_path / "analysis", k=8, n_shuffles=2, shuffle="layer", seed=0, n_jobs=1
    )
    saved = modcut.ClusterabilityResult.from_json(paths["json"])
    assert saved.widths == g.sizes and saved.settings["groups"] == names
    assert paths["report"].exists() and "layer4.1.conv2" in paths["meta"].read_text()


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: MLP(784, (32, 16), 10, dropout=0.5), (1, 28, 28)),
        (lambda: MLP(20, (8, 8), 3), None),
        (lambda: SmallCNN(1, 10, channels=(8, 8, 8), dense=(16,)), (1, 28, 28)),
        (
            lambda: nn.Sequential(
                nn.Conv2d(3, 4, 3),
                nn.BatchNorm2d(4),
                nn.ReLU(),
                nn.Conv2d(4, 6, 3, groups=2),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Linear(6 * 2 * 2, 5),
                nn.BatchNorm1d(5),
                nn.Linear(5, 2),
            ),
            (3, 8, 8),
        ),
    ],
)
def test_chains_give_exactly_extract_weights(make, shape):
    torch.manual_seed(5)
    model = make()
    for mod in model.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(-1.0, 1.0)
    g = modcut.network_graph(model, input_shape=shape)
    assert g.is_chain()
    ref = extract_weights(model)
    got = g.to_network().to_dense()
    assert len(got) == len(ref)
    for a, b in zip(got, ref, strict=True):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_summary_names_the_modules():
    torch.manual_seed(6)
    text = modcut.network_graph(ResidualMLP()).summary()
    assert "fc1 -> fc3" in text and "fc2 -> fc3" in text and "not bipartite" in text


class _Attn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.fc = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.attn(x, x, x)[0])


class _MatMul(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.q = nn.Linear(8, 8)
        self.k = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(self.q(x), self.k(x).transpose(-1, -2))


class _Heads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.out = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc(x)
        return self.out(h.view(h.size(0), h.size(1), 2, 4))


class _ParamAdd(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(8))
        self.fc = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x + self.pos)


class _Functional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(2, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.w)


class _Shared(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.fc(x)))


class _Embed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 8)
        self.fc = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x + self.emb(torch.arange(x.shape[1])))


class _LSTM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc0 = nn.Linear(8, 8)
        self.rnn = nn.LSTM(8, 8, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(self.fc0(x))[0]


class _MeanFeatures(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.out = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.fc(x).mean(dim=-1, keepdim=True).expand(-1, 4))


class _Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return self.fc(x)
        return x


@pytest.mark.parametrize(
    "model, shape, words",
    [
        (_Attn(), (3, 8), ["attn", "MultiheadAttention", "attention"]),
        (_MatMul(), (3, 8), ["matmul", "product between activations"]),
        (_Heads(), (3, 8), ["view", "splits or mixes the feature axis"]),
        (_ParamAdd(), (8,), ["operator.add", "'pos'"]),
        (_Functional(), (8,), ["F.linear"]),
        (_Shared(), (8,), ["'fc'", "more than once"]),
        (_Embed(), (3, 8), ["emb", "Embedding", "lookups"]),
        (_LSTM(), (3, 8), ["rnn", "LSTM", "recurrent"]),
        (
            nn.Sequential(nn.Linear(8, 8), nn.GroupNorm(2, 8), nn.Linear(8, 2)),
            (8,),
            ["GroupNorm", "'1'"],
        ),
        (
            nn.Sequential(nn.Conv1d(2, 4, 3), nn.Flatten(), nn.Linear(8, 2)),
            (2, 4),
            ["Conv1d", "2-D convolutions"],
        ),
        (nn.Sequential(nn.Linear(8, 8), nn.PReLU(), nn.Linear(8, 2)), (8,), ["PReLU"]),
        (_MeanFeatures(), (8,), ["mean", "reduces over the features"]),
        (_Branchy(), (8,), ["cannot trace", "_Branchy"]),
    ],
)
def test_unsupported_constructs_are_refused_by_name(model, shape, words):
    with pytest.raises(ValueError) as info:
        modcut.network_graph(model, input_shape=shape)
    msg = str(info.value)
    for w in words:
        assert w in msg, msg


def test_needs_input_shape_for_conv_models():
    with pytest.raises(ValueError, match="input_shape"):
        modcut.network_graph(nn.Sequential(nn.Conv2d(1, 2, 3)))


def test_as_network_refuses_models_with_skips_instead_of_reading_a_chain():
    torch.manual_seed(7)
    with pytest.raises(ValueError, match=r"not a chain.*'fc3' reads fc1, fc2.*network_graph"):
        modcut.as_network(ResidualMLP())

    class Reordered(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.second = nn.Linear(4, 2)
            self.first = nn.Linear(6, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.second(self.first(x))

    with pytest.raises(ValueError, match="not in the order they are registered"):
        modcut.as_network(Reordered())
    chain = MLP(12, (6,), 3)
    assert modcut.as_network(chain).widths == (12, 6, 3)


class _DataDependent(torch.nn.Module):
    """A chain whose forward pass branches on the data: torch.fx cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Linear(6, 5)
        self.b = torch.nn.Linear(5, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.a(x)
        if h.sum() > 0:  # data-dependent control flow
            h = torch.relu(h)
        return self.b(h)


def test_untraceable_model_is_refused_not_guessed():
    with pytest.raises(ValueError, match="does not guess"):
        modcut.as_network(_DataDependent())
    # its weights, given as matrices, work
    m = _DataDependent()
    net = modcut.as_network([m.a.weight.detach().numpy().T, m.b.weight.detach().numpy().T])
    assert net.widths == (6, 5, 4)


def test_sequential_is_read_in_order():
    seq = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 4))
    assert modcut.as_network(seq).widths == (6, 5, 4)
