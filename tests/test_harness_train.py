"""modcut.harness.train: training runs, pruning reached, checkpoint round trips, the CLI."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from modcut.cli.train import add_parser as add_train_parser
from modcut.harness.data import ImageData, load_dataset
from modcut.harness.models import MLP, SmallCNN
from modcut.harness.prune import weight_sparsity
from modcut.harness.train import (
    CHECKPOINT_NAME,
    Checkpoint,
    TrainConfig,
    evaluate,
    evaluate_loss,
    load_checkpoint,
    resolve_device,
    train,
)


def small(**kw: object) -> TrainConfig:
    base: dict[str, object] = dict(
        dataset="mnist",
        hidden=(32, 32),
        epochs=4,
        prune_epochs=2,
        batch_size=32,
        sparsity=0.8,
        prune_every=5,
        seed=0,
        lr=3e-3,
    )
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained(fake_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    return train(small(data_root=str(fake_data_dir)), out, progress=False)


def test_train_writes_a_complete_checkpoint(trained: Path, fake_data_dir: Path) -> None:
    assert trained.name == CHECKPOINT_NAME and trained.is_file()
    raw = torch.load(trained, weights_only=True)  # plain values and tensors only
    assert set(raw) >= {
        "format_version",
        "state_dict",
        "config",
        "dataset",
        "metrics",
        "architecture",
        "history",
        "modcut_version",
    }
    m = raw["metrics"]
    for key in (
        "train_accuracy",
        "test_accuracy",
        "sparsity",
        "layer_sparsity",
        "epochs",
        "prune_epochs",
        "seconds",
        "per_class_test_accuracy",
        "train_loss",
        "test_loss",
    ):
        assert key in m
    assert m["test_accuracy"] > 0.7  # the fake images are easy: chance is 0.1
    assert raw["dataset"]["name"] == "mnist" and raw["dataset"]["train_size"] == 300
    assert raw["config"]["data_root"] == str(fake_data_dir)
    assert [h["phase"] for h in raw["history"]] == ["train"] * 4 + ["prune"] * 2
    summary = json.loads((trained.parent / "metrics.json").read_text())
    assert summary["metrics"]["test_accuracy"] == pytest.approx(m["test_accuracy"])


def test_pruning_reaches_target_exactly(trained: Path) -> None:
    ckpt = load_checkpoint(trained)
    overall, layers = weight_sparsity(ckpt.model)
    for layer in layers:  # per-layer scope: every matrix holds round(0.8 n) zeros (or more)
        assert layer["zeros"] >= round(0.8 * layer["size"])
        assert layer["sparsity"] == pytest.approx(0.8, abs=0.02)
    assert ckpt.metrics["sparsity"] == pytest.approx(overall)
    assert ckpt.metrics["layer_sparsity"] == pytest.approx([x["sparsity"] for x in layers])
    assert ckpt.history[-1]["sparsity"] == pytest.approx(0.8, abs=1e-3)


def test_checkpoint_round_trip(trained: Path, fake_data_dir: Path) -> None:
    ckpt = load_checkpoint(trained)
    same_dir = load_checkpoint(trained.parent)  # a run directory works too
    assert isinstance(ckpt, Checkpoint) and isinstance(ckpt.model, MLP)
    assert not ckpt.model.training
    assert ckpt.config == small(data_root=str(fake_data_dir))
    assert ckpt.dataset == "mnist" and ckpt.path == trained
    raw = torch.load(trained, weights_only=True)
    for key, value in ckpt.model.state_dict().items():
        assert torch.equal(value, raw["state_dict"][key])
        assert torch.equal(value, same_dir.model.state_dict()[key])
    test = load_dataset("mnist", root=fake_data_dir, train=False)
    acc, per_class = evaluate(ckpt.model, test)
    assert acc == pytest.approx(ckpt.metrics["test_accuracy"])
    assert per_class.shape == (10,)
    np.testing.assert_allclose(per_class, ckpt.metrics["per_class_test_accuracy"])
    assert TrainConfig.from_dict({**ckpt.config.to_dict(), "future_option": 1}) == ckpt.config


def test_training_is_reproducible(fake_data_dir: Path, tmp_path: Path) -> None:
    cfg = small(data_root=str(fake_data_dir), epochs=1, prune_epochs=1, dropout=0.3)
    a = load_checkpoint(train(cfg, tmp_path / "a", progress=False)).model.state_dict()
    b = load_checkpoint(train(cfg, tmp_path / "b", progress=False)).model.state_dict()
    c = load_checkpoint(
        train(
            small(data_root=str(fake_data_dir), epochs=1, prune_epochs=1, dropout=0.3, seed=1),
            tmp_path / "c",
            progress=False,
        )
    ).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_unpruned_and_global_pruning(tmp_path: Path) -> None:
    line = dict(dataset="line", n_train=256, n_test=64, hidden=(16,), epochs=1, batch_size=64)
    unpruned = load_checkpoint(train(small(**line, prune_epochs=0), tmp_path / "u", progress=False))
    assert unpruned.metrics["sparsity"] == 0.0
    assert [h["phase"] for h in unpruned.history] == ["train"]
    glob = load_checkpoint(
        train(
            small(**line, prune_epochs=1, prune_scope="global", sparsity=0.5),
            tmp_path / "g",
            progress=False,
        )
    )
    assert glob.metrics["sparsity"] == pytest.approx(0.5, abs=0.01)
    finetune = load_checkpoint(train(small(**line, sparsity=0.0), tmp_path / "f", progress=False))
    assert [h["phase"] for h in finetune.history] == ["train", "finetune", "finetune"]


def test_weight_penalties_shrink_weights(tmp_path: Path) -> None:
    kw = dict(dataset="line", n_train=256, n_test=32, hidden=(16,), epochs=2, prune_epochs=0)
    norms = {}
    for name, extra in (("none", {}), ("l1", {"l1": 1e-2}), ("l2", {"l2": 1e-2})):
        model = load_checkpoint(train(small(**kw, **extra), tmp_path / name, progress=False)).model
        first = model.linear_layers()[0]  # type: ignore[operator]
        norms[name] = float(first.weight.detach().abs().sum())
    assert norms["l1"] < norms["none"] and norms["l2"] < norms["none"]


def test_cnn_and_clusterable_init(fake_data_dir: Path, tmp_path: Path) -> None:
    cfg = small(
        data_root=str(fake_data_dir),
        model="cnn",
        channels=(4, 4),
        pool_after=(True, True),
        dense=(16,),
        epochs=1,
        prune_epochs=1,
        conv_dropout=0.25,
        dropout=0.5,
        clusterable_init=True,
        n_train=128,
    )
    ckpt = load_checkpoint(train(cfg, tmp_path / "cnn", progress=True, verbose=True))
    assert isinstance(ckpt.model, SmallCNN)
    assert ckpt.model.conv_layers()[1].weight.eq(0).float().mean() == pytest.approx(0.8, abs=0.02)
    assert ckpt.metrics["test_accuracy"] is not None


def test_regression_run(tmp_path: Path) -> None:
    cfg = small(dataset="poly", n_train=256, n_test=64, hidden=(16,), epochs=1, prune_epochs=1)
    ckpt = load_checkpoint(train(cfg, tmp_path / "poly", progress=False))
    assert ckpt.metrics["test_accuracy"] is None and ckpt.metrics["train_accuracy"] is None
    assert math.isfinite(ckpt.metrics["test_loss"])
    assert ckpt.history[0]["accuracy"] is None
    poly = load_dataset("poly", n=64, train=False)
    assert evaluate_loss(ckpt.model, poly) == pytest.approx(ckpt.metrics["test_loss"], rel=1e-5)
    with pytest.raises(ValueError, match="regression"):
        evaluate(ckpt.model, poly)


def test_evaluate_per_class() -> None:
    class Fixed(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return nn.functional.one_hot(torch.zeros(len(x), dtype=torch.long), 3).float()

    data = ImageData(torch.zeros(4, 1), torch.tensor([0, 0, 1, 2]), 3, "toy")
    acc, per_class = evaluate(Fixed(), data)
    assert acc == 0.5
    np.testing.assert_array_equal(per_class, [1.0, 0.0, 0.0])
    empty_class = ImageData(torch.zeros(2, 1), torch.tensor([0, 0]), 3, "toy")
    assert np.isnan(evaluate(Fixed(), empty_class)[1][1])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"dataset": "imagenet"}, "unknown data set"),
        ({"model": "resnet"}, "unknown model"),
        ({"sparsity": 1.0}, "sparsity"),
        ({"dropout": -0.1}, "dropout"),
        ({"epochs": 0, "prune_epochs": 0}, "nothing to train"),
        ({"batch_size": 0}, "batch_size"),
        ({"prune_scope": "neuron"}, "prune_scope"),
        ({"lr": 0.0}, "lr"),
        ({"l1": -1.0}, "l1"),
        ({"seed": -1}, "seed"),
        ({"n_train": 0}, "n_train"),
        ({"threads": 0}, "threads"),
        ({"dataset": "poly", "model": "cnn"}, "not images"),
    ],
)
def test_config_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_devices() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


def test_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(
        ValueError, match=r"junk\.pt is not a modcut checkpoint \(it is not a torch file"
    ):
        load_checkpoint(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="not a modcut checkpoint"):
        load_checkpoint(other)
    future = tmp_path / "future.pt"
    torch.save({"format_version": 99, "state_dict": {}, "architecture": {}}, future)
    with pytest.raises(ValueError, match="format_version 99"):
        load_checkpoint(future)
    mismatch = tmp_path / "mismatch.pt"
    arch = MLP(4, hidden=(3,), out_features=2).architecture()
    torch.save(
        {
            "format_version": 1,
            "state_dict": MLP(5, hidden=(3,), out_features=2).state_dict(),
            "architecture": arch,
        },
        mismatch,
    )
    with pytest.raises(ValueError, match="do not fit"):
        load_checkpoint(mismatch)
    with pytest.raises(TypeError, match="TrainConfig"):
        train({"dataset": "line"}, tmp_path / "x")  # type: ignore[arg-type]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modcut")
    add_train_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_train(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli-run"
    args = _parser().parse_args(
        [
            "train",
            "--dataset",
            "line",
            "--n-train",
            "256",
            "--n-test",
            "64",
            "--hidden",
            "16x2",
            "--epochs",
            "1",
            "--prune-epochs",
            "1",
            "--sparsity",
            "0.5",
            "--l2",
            "--clusterable-init",
            "--seed",
            "3",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert args.func(args) == 0
    captured = capsys.readouterr()
    assert f"checkpoint: {out / CHECKPOINT_NAME}" in captured.out
    assert "[prune] epoch 1/1" in captured.err
    ckpt = load_checkpoint(out)
    assert ckpt.config.hidden == (16, 16) and ckpt.config.l2 == 5e-5 and ckpt.config.seed == 3
    assert ckpt.config.clusterable_init and ckpt.config.init_modules == 10
    assert ckpt.config.init == "glorot" and ckpt.planted is not None


def test_cli_model_defaults_and_errors(tmp_path: Path) -> None:
    from modcut.cli.train import config_from_args

    args = _parser().parse_args(["train", "--model", "cnn", "--out", str(tmp_path)])
    cfg = config_from_args(args)
    assert (cfg.epochs, cfg.prune_epochs, cfg.batch_size, cfg.dropout, cfg.conv_dropout) == (
        10,
        10,
        64,
        0.5,
        0.25,
    )
    args = _parser().parse_args(["train", "--hidden", "64", "32", "--dropout", "0.5", "--out", "x"])
    cfg = config_from_args(args)
    assert cfg.hidden == (64, 32) and cfg.dropout == 0.5 and cfg.epochs == 20
    with pytest.raises(SystemExit):
        _parser().parse_args(["train", "--hidden", "0", "--out", "x"])
    bad = _parser().parse_args(["train", "--dataset", "nope", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="unknown data set 'nope'"):
        bad.func(bad)


def test_a_killed_training_resumes_from_its_last_epoch(
    fake_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after epoch 2 (training), 3 (phase boundary) or 4 (pruning) of 3 + 2:
    the restarted run continues from there and ends with the uninterrupted weights."""
    import modcut.harness.train as tr

    # dropout draws from the global torch RNG: its state must be restored too
    config = small(data_root=str(fake_data_dir), epochs=3, prune_epochs=2, dropout=0.3)
    straight = torch.load(train(config, tmp_path / "straight", progress=False), weights_only=True)
    assert not (tmp_path / "straight" / tr.RESUME_NAME).exists()
    real_save = tr._save_resume
    kill = {"after": 0, "saves": 0}  # after = 0: never

    def save_then_die(*args: object, **kw: object) -> None:
        real_save(*args, **kw)  # type: ignore[arg-type]
        kill["saves"] += 1
        if kill["saves"] == kill["after"]:
            raise KeyboardInterrupt  # as if killed right after the epoch's checkpoint

    monkeypatch.setattr(tr, "_save_resume", save_then_die)
    for stop in (2, 3, 4):
        out = tmp_path / f"stop{stop}"
        kill.update(after=stop, saves=0)
        with pytest.raises(KeyboardInterrupt):
            train(config, out, progress=False)
        assert (out / tr.RESUME_NAME).exists() and not (out / CHECKPOINT_NAME).exists()
        kill.update(after=0, saves=0)
        resumed = torch.load(train(config, out, progress=False), weights_only=True)
        assert kill["saves"] == 5 - stop  # only the missing epochs ran
        for key, value in straight["state_dict"].items():
            assert torch.equal(resumed["state_dict"][key], value), (stop, key)
        assert [h["epoch"] for h in resumed["history"]] == [1, 2, 3, 1, 2]
        assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in straight["history"]]
        assert not (out / tr.RESUME_NAME).exists()
    # a state left by another config is never resumed from
    kill.update(after=2, saves=0)
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "foreign", progress=False)
    other = small(data_root=str(fake_data_dir), epochs=3, prune_epochs=2, dropout=0.2)
    assert tr._load_resume(tmp_path / "foreign" / tr.RESUME_NAME, other) is None
    assert tr._load_resume(tmp_path / "foreign" / tr.RESUME_NAME, config) is not None
    kill.update(after=0, saves=0)
    train(other, tmp_path / "foreign", progress=False)
    assert kill["saves"] == 5
