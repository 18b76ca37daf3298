"""The torch.export path of modcut.network_graph and models with several inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import modcut
from modcut.harness.models import MLP, SmallCNN
from modcut.readers.extract import extract_weights
from test_fxgraph import (
    _LSTM,
    Concat,
    ResidualMLP,
    TransformerMLPBlock,
    _Attn,
    _check,
    _Embed,
    _MatMul,
    _wt,
)


def assert_same_graph(a: modcut.Network, b: modcut.Network) -> None:
    """Same node groups (names, sizes, kinds) and bit-identical edge groups."""
    assert [(g.name, g.size, g.kind) for g in a.groups] == [
        (g.name, g.size, g.kind) for g in b.groups
    ]
    assert [(e.src, e.dst, e.name) for e in a.edges] == [(e.src, e.dst, e.name) for e in b.edges]
    for ea, eb in zip(a.edges, b.edges, strict=True):
        assert np.array_equal(ea.weights.toarray(), eb.weights.toarray()), ea.name
    assert np.array_equal(a.adjacency().toarray(), b.adjacency().toarray())


def _resnet18() -> nn.Module:
    torchvision = pytest.importorskip("torchvision")
    net = torchvision.models.resnet18(weights=None, num_classes=10)
    with torch.no_grad():  # non-trivial BatchNorm statistics so that folding is visible
        for mod in net.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.2, 2.0)
    return net


@pytest.mark.parametrize(
    "make, shape",
    [(ResidualMLP, (6,)), (Concat, (5,)), (TransformerMLPBlock, (5, 6)), (_resnet18, (3, 32, 32))],
    ids=["residual", "concat", "transformer_block", "resnet18"],
)
def test_export_gives_exactly_the_fx_graph(make, shape):
    torch.manual_seed(10)
    model = make()
    fx_graph = modcut.network_graph(model, input_shape=shape, tracer="fx")
    exported = modcut.network_graph(model, input_shape=shape, tracer="export")
    assert_same_graph(fx_graph, exported)
    # exporting leaves the model as it was (eval mode restored, statistics untouched)
    assert model.training
    assert_same_graph(fx_graph, modcut.network_graph(model, input_shape=shape))


class _Gated(nn.Module):
    """A LLaMA-style gated block with RMSNorm on a residual stream."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.RMSNorm(6)
        self.gate_proj = nn.Linear(6, 10, bias=False)
        self.up_proj = nn.Linear(6, 10, bias=False)
        self.down_proj = nn.Linear(10, 6, bias=False)
        self.head = nn.Linear(6, 2)
        with torch.no_grad():
            self.norm.weight.uniform_(-2.0, 2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        return self.head(x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h)))


class _BatchNormAfterAdd(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 5)
        self.b = nn.Linear(5, 5)
        self.bn = nn.BatchNorm1d(5)
        self.c = nn.Linear(5, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.a(x)
        return self.c(self.bn(h + self.b(h)) * 0.5 / 2)


class _Chunks(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 6)
        self.b = nn.Linear(3, 2)
        self.c = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p, q = self.a(x).chunk(2, dim=-1)
        return self.b(p) + self.c(q[..., :])


def _conv_chain() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 6, 3, groups=2),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(6 * 2 * 2, 5),
        nn.BatchNorm1d(5),
        nn.Linear(5, 2),
    )


def _conv_pool_chain() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding="same", padding_mode="reflect"),
        nn.AdaptiveMaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(16, 2),
    )


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: MLP(784, (32, 16), 10, dropout=0.5), (1, 28, 28)),
        (lambda: SmallCNN(1, 10, channels=(8, 8, 8), dense=(16,)), (1, 28, 28)),
        (_conv_chain, (3, 8, 8)),
        (_conv_pool_chain, (3, 8, 8)),
        (_Gated, (5, 6)),
        (_BatchNormAfterAdd, (4,)),
        (_Chunks, (3, 4)),
    ],
    ids=["mlp", "small_cnn", "conv_chain", "conv_pool_chain", "gated", "bn_after_add", "chunks"],
)
def test_export_matches_fx_on_more_models(make, shape):
    torch.manual_seed(17)
    model = make()
    for mod in model.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(-1.0, 1.0)
    assert_same_graph(
        modcut.network_graph(model, input_shape=shape, tracer="fx"),
        modcut.network_graph(model, input_shape=shape, tracer="export"),
    )


class _ShapeBranch(nn.Module):
    """A residual block taken only for wide inputs: fx cannot trace `if` on a shape."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.fc2 = nn.Linear(8, 8)
        self.fc3 = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x)
        if x.shape[-1] > 4:
            h = h + self.fc2(F.relu(h))
        return self.fc3(h)


class _ShapeLoop(nn.Module):
    """One tower per 3 input features, a loop over x.size(1), concatenated."""

    def __init__(self) -> None:
        super().__init__()
        self.towers = nn.ModuleList([nn.Linear(3, 4), nn.Linear(3, 2)])
        self.head = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [torch.relu(self.towers[i](x[:, 3 * i : 3 * i + 3])) for i in range(x.size(1) // 3)]
        return self.head(torch.cat(parts, dim=1))


def test_shape_dependent_control_flow_goes_through_export():
    torch.manual_seed(11)
    m = _ShapeBranch()
    with pytest.raises(ValueError, match="cannot trace"):
        modcut.network_graph(m, input_shape=(6,), tracer="fx")
    g = modcut.network_graph(m, input_shape=(6,))  # auto: fx fails, export reads it
    w1, w2, w3 = _wt(m.fc1), _wt(m.fc2), _wt(m.fc3)
    _check(
        g,
        {"input": 6, "fc1": 8, "fc2": 8, "fc3": 3},
        {("input", "fc1"): w1, ("fc1", "fc2"): w2, ("fc1", "fc3"): w3, ("fc2", "fc3"): w3},
    )
    # the default shape (in_features of the first Linear) is the example input
    assert_same_graph(g, modcut.network_graph(m))


def test_loop_over_a_size_slices_the_input_rows():
    torch.manual_seed(12)
    m = _ShapeLoop()
    g = modcut.network_graph(m, input_shape=(6,))
    t0, t1 = _wt(m.towers[0]), _wt(m.towers[1])
    in0 = np.zeros((6, 4))
    in0[:3] = t0
    in1 = np.zeros((6, 2))
    in1[3:] = t1
    wh = _wt(m.head)
    _check(
        g,
        {"input": 6, "towers.0": 4, "towers.1": 2, "head": 2},
        {
            ("input", "towers.0"): in0,
            ("input", "towers.1"): in1,
            ("towers.0", "head"): wh[:4],
            ("towers.1", "head"): wh[4:],
        },
    )


@pytest.mark.parametrize(
    "model, shape, words",
    [
        (_Attn(), (3, 8), ["module 'attn' (MultiheadAttention)", "attention"]),
        (_Embed(), (3, 8), ["module 'emb' (Embedding)", "lookups"]),
        (_LSTM(), (3, 8), ["module 'rnn' (LSTM)", "recurrent"]),
        (_MatMul(), (3, 8), ["matmul", "product between activations"]),
        (
            nn.Sequential(nn.Linear(8, 8), nn.GroupNorm(2, 8), nn.Linear(8, 2)),
            (8,),
            ["module '1' (GroupNorm)"],
        ),
        (
            nn.Sequential(nn.Conv1d(2, 4, 3), nn.Flatten(), nn.Linear(8, 2)),
            (2, 4),
            ["module '0' (Conv1d)", "2-D convolutions"],
        ),
    ],
    ids=["attention", "embedding", "lstm", "matmul", "groupnorm", "conv1d"],
)
def test_export_path_refuses_by_name(model, shape, words):
    with pytest.raises(ValueError) as info:
        modcut.network_graph(model, input_shape=shape, tracer="export")
    msg = str(info.value)
    for w in words:
        assert w in msg, msg


def test_export_of_an_untraceable_model_with_an_embedding_names_it():
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(10, 8)
            self.fc = nn.Linear(8, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for _ in range(x.size(1) // 8):  # fx cannot loop over a size
                x = x + self.emb(torch.arange(x.shape[1]) % 10)
            return self.fc(x)

    with pytest.raises(ValueError, match=r"module 'emb' \(Embedding\).*lookups"):
        modcut.network_graph(M(), input_shape=(8, 8))


def test_export_needs_an_input_shape_when_none_can_be_guessed():
    class ConvFirst(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(1, 2, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.shape[-1] > 4:
                x = torch.relu(x)
            return self.c(x)

    with pytest.raises(
        ValueError,
        match=r"cannot trace.*torch.export needs an example input.*"
        r"input_shape",
    ):
        modcut.network_graph(ConvFirst())
    g = modcut.network_graph(ConvFirst(), input_shape=(1, 6, 6))
    assert [gr.name for gr in g.groups] == ["input", "c"]


def test_data_dependent_control_flow_is_refused_by_both_tracers():
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(8, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x) if x.sum() > 0 else self.fc(-x)

    with pytest.raises(ValueError, match=r"cannot trace.*torch.fx.*torch.export cannot export"):
        modcut.network_graph(M(), input_shape=(8,))


def test_bad_tracer_option():
    with pytest.raises(ValueError, match="tracer must be one of"):
        modcut.network_graph(ResidualMLP(), tracer="jit")


def test_check_chain_accepts_a_chain_only_export_can_read():
    torch.manual_seed(13)

    class Chain(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(6, 5)
            self.b = nn.Linear(5, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.a(x)
            if x.shape[-1] > 4:  # shape-dependent: fx fails, export follows it
                h = torch.relu(h)
            return self.b(h)

    m = Chain()
    net = modcut.as_network(m)
    assert net.widths == (6, 5, 4)
    for got, want in zip(net.to_dense(), extract_weights(m), strict=True):
        np.testing.assert_array_equal(got, want)
    # a residual model only export can read is still refused as a chain
    with pytest.raises(ValueError, match=r"not a chain.*'fc3' reads fc1, fc2"):
        modcut.as_network(_ShapeBranch())


# ------------------------------------------------------------------ several inputs


class _TwoTowers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(5, 2)
        self.head = nn.Linear(5, 2)

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([F.relu(self.a(image)), torch.tanh(self.b(text))], dim=1))


class _AddedInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(5, 3)
        self.head = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.head(self.a(x) + self.b(y))


@pytest.mark.parametrize("tracer", ["fx", "export"])
def test_two_towers_concatenated(tracer):
    torch.manual_seed(14)
    m = _TwoTowers()
    g = modcut.network_graph(m, input_shape=((4,), (5,)), tracer=tracer)
    wh = _wt(m.head)
    _check(
        g,
        {"input:image": 4, "input:text": 5, "a": 3, "b": 2, "head": 2},
        {
            ("input:image", "a"): _wt(m.a),
            ("input:text", "b"): _wt(m.b),
            ("a", "head"): wh[:3],
            ("b", "head"): wh[3:],
        },
    )
    assert [gr.kind for gr in g.groups[:2]] == ["input", "input"]


@pytest.mark.parametrize("tracer", ["fx", "export"])
def test_two_inputs_added(tracer):
    torch.manual_seed(15)
    m = _AddedInputs()
    g = modcut.network_graph(m, input_shape=[(4,), (5,)], tracer=tracer)
    wh = _wt(m.head)
    _check(
        g,
        {"input:x": 4, "input:y": 5, "a": 3, "b": 3, "head": 2},
        {
            ("input:x", "a"): _wt(m.a),
            ("input:y", "b"): _wt(m.b),
            ("a", "head"): wh,
            ("b", "head"): wh,
        },
    )
    res = modcut.clusterability(g, k=2, n_shuffles=2, random_state=0, n_jobs=1)
    assert np.isfinite(res.null_ncuts).all()


@pytest.mark.parametrize("tracer", ["fx", "export"])
@pytest.mark.parametrize(
    "shape, words",
    [
        (None, ["takes 2 inputs (x, y)", "tuple of 2 shapes"]),
        ((4,), ["takes 2 inputs (x, y)", "gives 1 shape(s)"]),
        (((4,), (5,), (5,)), ["takes 2 inputs (x, y)", "gives 3 shape(s)"]),
        (((4,), "5"), ["input_shape must be a shape"]),
        # hostile sizes (issue 19): named before torch allocates anything
        (((-8,), (5,)), ["at least 1 for every axis", "got (-8,)"]),
        (((4,), (0, 5)), ["at least 1 for every axis", "got (0, 5)"]),
        (((4,), (2**20, 2**20)), ["1,099,511,627,776 values", "268,435,456"]),
    ],
)
def test_input_shape_must_give_one_shape_per_input(tracer, shape, words):
    with pytest.raises(ValueError) as info:
        modcut.network_graph(_AddedInputs(), input_shape=shape, tracer=tracer)
    for w in words:
        assert w in str(info.value), str(info.value)


def test_a_single_input_may_be_given_as_a_tuple_of_one_shape():
    torch.manual_seed(16)
    m = ResidualMLP()
    assert_same_graph(modcut.network_graph(m, input_shape=((6,),)), modcut.network_graph(m))


class _OwnLinear(nn.Module):
    """A custom module calling F.linear on its own weight: refused, not read as a Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(3, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


class LayerNorm(nn.Module):
    """A custom class named LayerNorm (not torch's): its F.layer_norm is refused."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (8,), self.weight)


@pytest.mark.parametrize("tracer", ["fx", "export"])
@pytest.mark.parametrize(
    "model, words",
    [
        (
            nn.Sequential(nn.Linear(8, 8), _OwnLinear()),
            ["linear", "parameter or buffer '1.weight'"],
        ),
        (
            nn.Sequential(nn.Linear(8, 8), LayerNorm(), nn.Linear(8, 2)),
            ["layer_norm", "parameter or buffer '1.weight'"],
        ),
    ],
    ids=["own_linear", "own_layernorm"],
)
def test_functional_layers_on_own_weights_are_refused_by_both(model, words, tracer):
    with pytest.raises(ValueError) as info:
        modcut.network_graph(model, input_shape=(8,), tracer=tracer)
    for w in words:
        assert w in str(info.value), str(info.value)


def test_a_linear_subclass_is_a_linear_on_both():
    torch.manual_seed(18)

    class SubLinear(nn.Linear):
        pass

    m = nn.Sequential(SubLinear(8, 4), nn.ReLU(), nn.Linear(4, 2))
    a = modcut.network_graph(m, input_shape=(8,), tracer="fx")
    b = modcut.network_graph(m, input_shape=(8,), tracer="export")
    assert [g.kind for g in a.groups] == ["input", "SubLinear", "Linear"]
    assert [g.kind for g in b.groups] == ["input", "Linear", "Linear"]  # kinds from the ATen op
    for ea, eb in zip(a.edges, b.edges, strict=True):
        assert np.array_equal(ea.weights.toarray(), eb.weights.toarray())


def test_torch_cond_is_refused_by_name():
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cond(x.sum() > 0, lambda y: self.fc(y), lambda y: self.fc(-y), (x,))

    with pytest.raises(ValueError, match=r"graph attribute 'true_graph_0'.*torch.cond"):
        modcut.network_graph(M(), input_shape=(4,), tracer="export")
