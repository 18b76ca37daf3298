"""modcut.harness.models: shapes, architecture round trips, clusterable initialisation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from modcut.harness.models import (
    MLP,
    SmallCNN,
    build_model,
    clusterable_init_,
    model_from_architecture,
    module_assignment,
)
from modcut.harness.train import TrainConfig


def test_mlp_shapes_and_layers() -> None:
    m = MLP(784)
    out = m(torch.zeros(5, 1, 28, 28))
    assert out.shape == (5, 10)
    shapes = [tuple(lin.weight.shape) for lin in m.linear_layers()]
    assert shapes == [(256, 784), (256, 256), (256, 256), (256, 256), (10, 256)]
    assert m.weight_layers() == m.linear_layers()
    assert not any(isinstance(x, nn.Dropout) for x in m.modules())


def test_mlp_dropout_after_every_hidden_layer() -> None:
    m = MLP(20, hidden=(8, 8, 8), out_features=3, dropout=0.5)
    kinds = [type(x).__name__ for x in m.net]
    assert kinds == ["Flatten"] + ["Linear", "ReLU", "Dropout"] * 3 + ["Linear"]
    with pytest.raises(ValueError, match="dropout"):
        MLP(20, dropout=1.0)
    with pytest.raises(ValueError, match="hidden"):
        MLP(20, hidden=(8, 0))


@pytest.mark.parametrize("shape", [(1, 28, 28), (2, 28, 28), (3, 32, 32)])
def test_cnn_shapes(shape: tuple[int, int, int]) -> None:
    m = SmallCNN(
        shape[0],
        10,
        channels=(4, 6, 8),
        dense=(16,),
        image_size=shape[1:],
        conv_dropout=0.25,
        dropout=0.5,
    )
    assert m(torch.zeros(3, *shape)).shape == (3, 10)
    convs, lins = m.conv_layers(), m.linear_layers()
    assert [c.out_channels for c in convs] == [4, 6, 8]
    assert lins[0].in_features == 8 * (shape[1] // 4) * (shape[2] // 4)
    assert m.weight_layers() == [*convs, *lins]
    assert sum(isinstance(x, nn.Dropout) for x in m.modules()) == 4
    with pytest.raises(ValueError, match="pool_after"):
        SmallCNN(1, 10, channels=(4,), pool_after=(True, True))
    with pytest.raises(ValueError, match="too small"):
        SmallCNN(1, 10, channels=(4, 4, 4), pool_after=(True, True, True), image_size=(4, 4))


@pytest.mark.parametrize(
    "model",
    [
        MLP(12, hidden=(5, 4), out_features=3, dropout=0.2),
        SmallCNN(2, 5, channels=(3, 4), pool_after=(True, False), dense=(6,), image_size=(8, 8)),
    ],
)
def test_architecture_round_trip(model: nn.Module) -> None:
    arch = model.architecture()  # type: ignore[operator]
    rebuilt = model_from_architecture(arch)
    assert rebuilt.architecture() == arch  # type: ignore[operator]
    rebuilt.load_state_dict(model.state_dict())  # same parameter names and shapes
    with pytest.raises(ValueError, match="unknown architecture"):
        model_from_architecture({"type": "lstm"})


def test_build_model_from_config() -> None:
    torch.manual_seed(0)
    m = build_model(TrainConfig(dataset="fashion"))
    assert isinstance(m, MLP) and m.in_features == 784 and m.out_features == 10
    m = build_model(TrainConfig(dataset="poly", hidden=(8,)))
    assert isinstance(m, MLP) and (m.in_features, m.out_features) == (2, 512)
    m = build_model(TrainConfig(dataset="stacked", model="cnn", channels=(4,), pool_after=(True,)))
    assert isinstance(m, SmallCNN) and m.in_channels == 2
    m = build_model(
        TrainConfig(dataset="cifar10", model="cnn"), input_shape=(3, 32, 32), n_outputs=10
    )
    assert isinstance(m, SmallCNN) and m.image_size == (32, 32)
    with pytest.raises(ValueError, match="image inputs"):
        build_model(TrainConfig(dataset="line", model="cnn"), input_shape=(2,), n_outputs=3)


def test_module_assignment_is_contiguous() -> None:
    assert module_assignment(10, 4).tolist() == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]
    assert module_assignment(8, 4).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_clusterable_init_factors(kind: str) -> None:
    def make() -> nn.Module:
        torch.manual_seed(0)
        if kind == "mlp":
            return MLP(16, hidden=(8, 8), out_features=4)
        return SmallCNN(1, 4, channels=(4, 8, 8), dense=(8,), image_size=(8, 8))

    plain, planted = make(), clusterable_init_(make(), 4, assignment="contiguous")
    plain_layers = plain.weight_layers()  # type: ignore[operator]
    planted_layers = planted.weight_layers()  # type: ignore[operator]
    across, within = (0.6, 2.2) if kind == "mlp" else (0.8, 1.6)
    assert torch.equal(plain_layers[0].weight, planted_layers[0].weight)  # first layer untouched
    scaled = range(1, len(plain_layers)) if kind == "mlp" else range(1, 3)
    for i in scaled:
        w0, w1 = plain_layers[i].weight, planted_layers[i].weight
        same = (
            module_assignment(w0.shape[0], 4)[:, None] == module_assignment(w0.shape[1], 4)[None, :]
        )
        factor = torch.where(same, torch.tensor(within), torch.tensor(across))
        factor = factor.reshape(*factor.shape, *([1] * (w0.ndim - 2)))
        torch.testing.assert_close(w1, w0 * factor)
    if kind == "cnn":  # dense layers are left alone
        for a, b in zip(plain.linear_layers(), planted.linear_layers(), strict=True):  # type: ignore[operator]
            assert torch.equal(a.weight, b.weight)
    with pytest.raises(ValueError, match="k ≥ 2"):
        clusterable_init_(make(), 1)
    with pytest.raises(TypeError, match="MLP and SmallCNN"):
        clusterable_init_(nn.Linear(3, 3), 4)


def test_clusterable_init_through_config() -> None:
    torch.manual_seed(1)
    plain = build_model(TrainConfig(dataset="line", hidden=(8, 8)))
    torch.manual_seed(1)
    planted = build_model(TrainConfig(dataset="line", hidden=(8, 8), clusterable_init=True))
    assert not torch.equal(plain.linear_layers()[1].weight, planted.linear_layers()[1].weight)  # type: ignore[operator]
