"""The study's initialisations: Glorot-uniform, the reference's clusterable init, untrained runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from scipy import stats  # noqa: E402
from torch import nn  # noqa: E402

from modcut import study  # noqa: E402
from modcut.harness.models import (  # noqa: E402
    MLP,
    SmallCNN,
    build_model,
    clusterable_init_,
    draw_modules,
    glorot_init_,
)
from modcut.harness.train import (  # noqa: E402
    TrainConfig,
    initial_model,
    load_checkpoint,
    train,
)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# --------------------------------------------------------------------------- glorot


@pytest.mark.parametrize(
    "layer, fan_in, fan_out",
    [(nn.Linear(300, 200), 300, 200), (nn.Conv2d(16, 32, 3), 16 * 9, 32 * 9)],
)
def test_glorot_uniform_distribution(layer, fan_in, fan_out):
    torch.manual_seed(0)
    glorot_init_(layer)
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    w = layer.weight.detach().double().flatten().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert torch.count_nonzero(layer.bias) == 0
    # Kolmogorov-Smirnov against U(-bound, bound) (seeded: the same draw every run)
    ks = stats.kstest(w, stats.uniform(loc=-bound, scale=2 * bound).cdf)
    assert ks.pvalue > 0.01
    assert w.mean() == pytest.approx(0.0, abs=4 * bound / np.sqrt(3 * w.size))
    assert w.var() == pytest.approx(bound**2 / 3, rel=0.05)
    # PyTorch's default is a different (narrower) distribution: the test can fail
    torch_default = nn.Linear(300, 200).weight.detach().double().flatten().numpy()
    assert stats.kstest(torch_default, stats.uniform(loc=-bound, scale=2 * bound).cdf).pvalue < 1e-6


def test_config_init_selects_glorot_or_torch():
    cfg = dict(dataset="line", hidden=(64, 64))
    torch.manual_seed(3)
    plain = build_model(TrainConfig(**cfg, init="torch"))
    torch.manual_seed(3)
    reference = MLP(plain.in_features, (64, 64), plain.out_features)  # type: ignore[arg-type]
    assert all(
        torch.equal(a, b)
        for a, b in zip(plain.state_dict().values(), reference.state_dict().values(), strict=True)
    )
    torch.manual_seed(3)
    glorot = build_model(TrainConfig(**cfg))  # the default
    hidden = glorot.linear_layers()[1]  # type: ignore[operator]
    assert hidden.weight.abs().max() <= np.sqrt(6 / 128) and torch.count_nonzero(hidden.bias) == 0
    assert TrainConfig().init == "glorot"
    with pytest.raises(ValueError, match="init must be"):
        TrainConfig(init="he")


# --------------------------------------------------------------------------- clusterable init


def _mlp(seed=0):
    torch.manual_seed(seed)
    m = MLP(40, hidden=(60, 60, 60), out_features=10)
    glorot_init_(m)
    return m


def test_clusterable_init_reference_factors_and_assignment():
    plain, planted = _mlp(), clusterable_init_(_mlp(), 10, seed=7)
    info = planted.planted_modules
    mods = [np.asarray(m) for m in info["modules"]]
    assert info["k"] == 10 and info["assignment"] == "random" and info["layers"] == [0, 1, 2, 3, 4]
    assert [len(m) for m in mods] == [40, 60, 60, 60, 10]
    assert mods[-1].tolist() == list(range(10))  # output class c in module c
    assert any(np.any(np.diff(m) < 0) for m in mods[1:-1])  # drawn at random, not contiguous
    within, across = 1 + 0.4 * 9, 0.6
    assert info["within"] == pytest.approx(within) and info["across"] == across
    lp, lq = plain.linear_layers(), planted.linear_layers()
    assert torch.equal(lp[0].weight, lq[0].weight)  # pixels → hidden 1: unscaled
    for i in range(1, 4):
        ratio = (lq[i].weight / lp[i].weight).detach().numpy()  # (out, in)
        same = mods[i + 1][:, None] == mods[i][None, :]
        np.testing.assert_allclose(ratio, np.where(same, within, across), rtol=1e-6)
        assert torch.equal(lp[i].bias, lq[i].bias)  # biases untouched
    # seeded: the same seed plants the same modules, another seed others
    again = clusterable_init_(_mlp(), 10, seed=7).planted_modules["modules"]
    other = clusterable_init_(_mlp(), 10, seed=8).planted_modules["modules"]
    assert again == info["modules"] and other[1] != info["modules"][1]
    # scale_first also scales the first matrix (its inputs get modules too)
    first = clusterable_init_(_mlp(), 10, seed=7, scale_first=True)
    ratio = (first.linear_layers()[0].weight / lp[0].weight).detach().numpy()
    np.testing.assert_allclose(
        ratio, np.where(mods[1][:, None] == mods[0][None, :], within, across), rtol=1e-6
    )


def test_modules_drawn_independently_and_uniformly():
    (mods,) = draw_modules([20000], 10, seed=0)
    counts = np.bincount(mods.numpy(), minlength=10)
    assert stats.chisquare(counts).pvalue > 0.001  # uniform over modules
    assert len(set(counts.tolist())) > 1  # iid draws, not a balanced split
    # more classes than modules: the output layer is drawn at random too
    out = draw_modules([5, 12], 4, seed=0, n_classes=12)[-1]
    assert out.max() < 4 and out.tolist() != list(range(12))
    assert draw_modules([6], 3, assignment="contiguous")[0].tolist() == [0, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError, match="random' or 'contiguous"):
        draw_modules([6], 3, assignment="balanced")


def test_clusterable_init_cnn_scales_conv_to_conv_only():
    def make():
        torch.manual_seed(0)
        return glorot_init_(SmallCNN(1, 10, channels=(8, 8, 8), dense=(16,), image_size=(8, 8)))

    plain, planted = make(), clusterable_init_(make(), 4, seed=1)
    info = planted.planted_modules
    mods = [np.asarray(m) for m in info["modules"]]
    assert [len(m) for m in mods] == [1, 8, 8, 8] and info["across"] == 0.8
    cp, cq = plain.conv_layers(), planted.conv_layers()
    assert torch.equal(cp[0].weight, cq[0].weight)
    for i in (1, 2):
        ratio = (cq[i].weight / cp[i].weight).detach().numpy()  # (out, in, 3, 3)
        same = mods[i + 1][:, None] == mods[i][None, :]
        want = np.where(same, 1 + 0.2 * 3, 0.8)[:, :, None, None]
        np.testing.assert_allclose(ratio, np.broadcast_to(want, ratio.shape), rtol=1e-6)
    for a, b in zip(plain.linear_layers(), planted.linear_layers(), strict=True):
        assert torch.equal(a.weight, b.weight)


# --------------------------------------------------------------------------- untrained runs


def _small(data_root, **kw):
    base = dict(
        dataset="mnist",
        hidden=(32, 32),
        epochs=2,
        prune_epochs=1,
        batch_size=32,
        sparsity=0.8,
        seed=3,
        data_root=str(data_root),
    )
    return TrainConfig(**(base | kw))


def test_untrained_variants_are_the_seeded_initialisation(fake_data_dir: Path, tmp_path: Path):
    cfg = _small(fake_data_dir, untrained=True, prune_epochs=0)
    ckpt = load_checkpoint(train(cfg, tmp_path / "untrained", progress=False))
    torch.manual_seed(cfg.seed)
    init = build_model(cfg, (1, 28, 28), 10)
    for name, value in init.state_dict().items():
        assert torch.equal(ckpt.model.state_dict()[name], value), name
    assert ckpt.history == [] and ckpt.metrics["steps"] == 0 and ckpt.metrics["epochs"] == 0
    assert 0.0 <= ckpt.metrics["test_accuracy"] <= 1.0  # measured, not left out
    # the trained control run of the same seed starts from these same weights
    trained_cfg = _small(fake_data_dir)
    start = initial_model(trained_cfg, (1, 28, 28), 10)
    assert all(
        torch.equal(a, b)
        for a, b in zip(start.state_dict().values(), init.state_dict().values(), strict=True)
    )

    pruned_cfg = _small(fake_data_dir, untrained=True)
    pruned = load_checkpoint(train(pruned_cfg, tmp_path / "untrained_pruned", progress=False))
    for a, b in zip(pruned.model.linear_layers(), init.linear_layers(), strict=True):  # type: ignore[operator]
        w, w0 = a.weight.detach(), b.weight.detach()
        kept = w != 0
        assert kept.float().mean().item() == pytest.approx(0.2, abs=0.01)  # the study's sparsity
        assert torch.equal(w[kept], w0[kept])  # kept weights are the initial ones
        assert w0[~kept].abs().max() <= w0[kept].abs().min()  # the smallest were pruned
        assert torch.equal(a.bias, b.bias)
    assert pruned.metrics["sparsity"] == pytest.approx(0.8, abs=0.01)


def test_study_variants_and_planted_agreement(fake_data_dir: Path, tmp_path: Path):
    u = study.variant_config("untrained", "fashion", 2)
    up = study.variant_config("untrained_pruned", "fashion", 2)
    assert u.untrained and not u.pruned and up.untrained and up.pruned and up.sparsity == 0.9
    ci = study.variant_config("clusterable_init", "fashion", 0)
    assert (ci.init_modules, ci.init_assignment, ci.init_scale_first, ci.init) == (
        10,
        "random",
        False,
        "glorot",
    )
    cnn = study.variant_config("control", "fashion", 0, model="cnn")
    assert (cnn.epochs, cnn.batch_size, cnn.conv_dropout) == (10, 64, 0.25)
    # the planted assignment travels in the checkpoint and the analysis reports its ARI
    cfg = _small(fake_data_dir, clusterable_init=True, init_modules=4, epochs=1, sparsity=0.5)
    path = train(cfg, tmp_path / "ci", progress=False)
    ckpt = load_checkpoint(path)
    assert ckpt.planted is not None and ckpt.planted["k"] == 4
    study.analyze(path, tmp_path / "ci" / "analysis", k=4, n_shuffles=5, n_jobs=1, progress=False)
    meta = json.loads((tmp_path / "ci" / "analysis" / "meta.json").read_text())
    planted = meta["planted"]
    assert planted["layers"] == [1, 2] and planted["n_neurons"] <= 64
    assert -1.0 <= planted["ari"] <= 1.0 and len(planted["per_layer"]) == 2
    assert "adjusted Rand index" in (tmp_path / "ci" / "analysis" / "summary.txt").read_text()
