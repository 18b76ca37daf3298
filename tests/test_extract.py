"""modcut.readers.extract: Linear and Conv2d models to weight matrices, and every error path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import modcut
from modcut.harness.models import MLP, SmallCNN
from modcut.harness.train import TrainConfig, load_checkpoint, train
from modcut.readers.extract import extract_weights, layer_modules, layer_names


def test_mlp_gives_transposed_linear_weights() -> None:
    torch.manual_seed(0)
    m = MLP(784)
    mats = extract_weights(m)
    assert [w.shape for w in mats] == [(784, 256), (256, 256), (256, 256), (256, 256), (256, 10)]
    for w, lin in zip(mats, m.linear_layers(), strict=True):
        assert w.dtype == np.float64 and w.flags.c_contiguous
        np.testing.assert_array_equal(w, lin.weight.detach().double().numpy().T)
    assert layer_modules(m) == m.linear_layers()
    assert layer_names(m) == ["net.1", "net.3", "net.5", "net.7", "net.9"]


def test_user_sequential_with_batchnorm() -> None:
    torch.manual_seed(0)
    seq = nn.Sequential(
        nn.Flatten(),
        nn.Linear(6, 5),
        nn.BatchNorm1d(5),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Linear(5, 3),
        nn.Softmax(dim=1),
    )
    bn = seq[2]
    with torch.no_grad():
        bn.running_var.copy_(torch.linspace(0.5, 2.0, 5))
        bn.weight.copy_(torch.tensor([1.0, -2.0, 0.5, 1.0, 3.0]))
    mats = extract_weights(seq)
    scale = bn.weight.detach().double().abs() / torch.sqrt(bn.running_var.double() + bn.eps)
    np.testing.assert_allclose(mats[0], seq[1].weight.detach().double().numpy().T * scale.numpy())
    np.testing.assert_array_equal(mats[1], seq[5].weight.detach().double().numpy().T)
    unfolded = extract_weights(seq, fold_batchnorm=False)
    np.testing.assert_array_equal(unfolded[0], seq[1].weight.detach().double().numpy().T)


@pytest.mark.parametrize("norm", ["l1", "l2"])
def test_cnn_channel_graph(norm: str) -> None:
    torch.manual_seed(0)
    cnn = SmallCNN(2, 10, channels=(3, 4, 5), dense=(6,), image_size=(8, 8))
    mats = extract_weights(cnn, conv_norm=norm)
    assert [w.shape for w in mats] == [(2, 3), (3, 4), (4, 5), (5, 6), (6, 10)]
    conv = cnn.conv_layers()[1].weight.detach().double()  # (out=4, in=3, 3, 3)
    for a in range(3):
        for b in range(4):
            k = conv[b, a]
            expected = k.abs().sum() if norm == "l1" else k.pow(2).sum().sqrt()
            assert mats[1][a, b] == pytest.approx(float(expected))
    dense = cnn.linear_layers()[0].weight.detach().double()  # (6, 5 * 2 * 2)
    positions = dense.shape[1] // 5
    for c in range(5):
        block = dense[:, c * positions : (c + 1) * positions]  # channel-major flatten
        expected = block.abs().sum(1) if norm == "l1" else block.pow(2).sum(1).sqrt()
        np.testing.assert_allclose(mats[3][c], expected.numpy())
    np.testing.assert_array_equal(
        mats[4], cnn.linear_layers()[1].weight.detach().double().numpy().T
    )
    assert layer_modules(cnn) == cnn.weight_layers()


def test_grouped_conv_is_block_diagonal() -> None:
    seq = nn.Sequential(nn.Conv2d(4, 6, 3, groups=2), nn.ReLU(), nn.Conv2d(6, 2, 1))
    w = extract_weights(seq)[0]
    assert w.shape == (4, 6)
    assert np.all(w[:2, 3:] == 0) and np.all(w[2:, :3] == 0)
    assert np.all(w[:2, :3] > 0) and np.all(w[2:, 3:] > 0)


def test_checkpoints_paths_dicts_and_as_network(tmp_path: Path) -> None:
    cfg = TrainConfig(
        dataset="line",
        n_train=128,
        n_test=32,
        hidden=(8, 8),
        epochs=1,
        prune_epochs=1,
        batch_size=32,
        sparsity=0.5,
    )
    path = train(cfg, tmp_path / "run", progress=False)
    ckpt = load_checkpoint(path)
    expected = extract_weights(ckpt.model)
    raw = torch.load(path, weights_only=True)
    for source in (path, str(path), tmp_path / "run", ckpt, raw):
        got = extract_weights(source)
        assert len(got) == 3
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_array_equal(a, b)
    assert np.mean(expected[1] == 0) == pytest.approx(0.5)
    net = modcut.as_network(path)  # the core's entry point delegates here
    assert net.widths == (784, 8, 8, 10)
    assert modcut.as_network(ckpt.model).widths == (784, 8, 8, 10)


class WithLSTM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.rnn = nn.LSTM(4, 4)


class OwnParameter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.scale = nn.Parameter(torch.ones(3))


@pytest.mark.parametrize(
    "model, match",
    [
        (WithLSTM(), r"layer 'rnn' \(LSTM\).*recurrent"),
        (
            nn.Sequential(nn.Conv1d(1, 2, 3), nn.Linear(4, 2)),
            r"layer '0' \(Conv1d\).*2-D convolutions",
        ),
        (nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4)), r"layer '1' \(LayerNorm\)"),
        (nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 2)), r"layer '0' \(Embedding\)"),
        (
            nn.Sequential(nn.Linear(4, 4), nn.MultiheadAttention(4, 2)),
            r"layer '1' \(MultiheadAttention\)",
        ),
        (OwnParameter(), r"layer '<root>' \(OwnParameter\)"),
        (
            nn.Sequential(nn.Linear(4, 6), nn.Linear(5, 2)),
            r"layer '1' \(Linear\) takes 5 inputs.*'0'",
        ),
        (nn.Sequential(nn.Linear(4, 4), nn.Conv2d(4, 2, 3)), r"layer '1' \(Conv2d\) follows"),
        (
            nn.Sequential(nn.Conv2d(1, 3, 3), nn.Conv2d(2, 3, 3)),
            r"layer '1' \(Conv2d\) takes 2 channels",
        ),
        (
            nn.Sequential(nn.Conv2d(1, 3, 3), nn.Flatten(), nn.Linear(10, 2)),
            r"not a multiple of the 3",
        ),
        (
            nn.Sequential(nn.BatchNorm1d(4), nn.Linear(4, 2)),
            r"cannot fold layer '0' \(BatchNorm1d\)",
        ),
        (nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(4)), r"BatchNorm must directly follow"),
        (nn.Sequential(nn.ReLU(), nn.Dropout()), "no nn.Linear or nn.Conv2d"),
        (nn.Sequential(nn.LazyLinear(3)), r"not initialised yet"),
    ],
)
def test_unmappable_models_name_the_layer(model: nn.Module, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        extract_weights(model)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="conv_norm"):
        extract_weights(MLP(4, hidden=(3,)), conv_norm="max")
    with pytest.raises(TypeError, match=r"takes a torch\.nn\.Module"):
        extract_weights(42)
    with pytest.raises(FileNotFoundError):
        extract_weights(tmp_path / "nope.pt")
    with pytest.raises(ValueError, match="not a modcut checkpoint"):
        extract_weights({"weights": [1, 2]})
    with pytest.raises(ValueError, match=r"layer 'rnn' \(LSTM\)"):
        layer_modules(WithLSTM())
