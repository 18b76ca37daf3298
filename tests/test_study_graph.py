"""The study's graphs and partition comparisons: the CNN's conv-only graph, the ARI, the CLI."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from modcut import study  # noqa: E402
from modcut.cli import build_parser  # noqa: E402
from modcut.harness import train  # noqa: E402
from modcut.harness.models import MLP, SmallCNN  # noqa: E402
from modcut.planted import adjusted_rand_index, planted_agreement  # noqa: E402
from modcut.readers.extract import extract_weights, part_offset  # noqa: E402


def test_cnn_conv_only_graph_is_the_conv_channels():
    cnn = SmallCNN(1, 10)  # the reference's small CNN: 64-64-64 conv, dense 128
    full = extract_weights(cnn)
    conv = extract_weights(cnn, part="conv")
    assert [w.shape for w in conv] == [(64, 64), (64, 64)]
    # 192 nodes, as the reference's CNN graph: conv channels only, the input channel left out
    assert conv[0].shape[0] + sum(w.shape[1] for w in conv) == 192
    assert [w.shape for w in full] == [(1, 64), (64, 64), (64, 64), (64, 128), (128, 10)]
    np.testing.assert_array_equal(conv[0], full[1])
    np.testing.assert_array_equal(conv[1], full[2])
    assert part_offset("conv") == 1 and part_offset("all") == 0
    with pytest.raises(ValueError, match="at least 2 Conv2d"):
        extract_weights(MLP(8, (4,), 2), part="conv")
    with pytest.raises(ValueError, match="part must be"):
        extract_weights(cnn, part="dense")
    # analyze reads the part the same way (checkpoints and modules)
    import modcut

    net = modcut.as_network(cnn, part="conv")
    assert net.widths == (64, 64, 64)
    assert net.provenance["graph"] == "conv" and net.provenance["n_layers"] == 6
    with pytest.raises(ValueError, match="needs a model"):
        modcut.as_network([np.ones((3, 2))], part="conv")


def test_adjusted_rand_index_matches_sklearn():
    rng = np.random.default_rng(0)
    for n, ka, kb in ((50, 3, 4), (200, 10, 10), (7, 2, 5), (30, 1, 3)):
        a, b = rng.integers(0, ka, n), rng.integers(0, kb, n)
        assert adjusted_rand_index(a, b) == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)
        assert adjusted_rand_index(a, a) == pytest.approx(1.0)
    perm = np.array([2, 0, 1])
    a = rng.integers(0, 3, 40)
    assert adjusted_rand_index(a, perm[a]) == pytest.approx(1.0)  # names do not matter
    assert adjusted_rand_index(np.zeros(5), np.zeros(5)) == 1.0
    assert np.isnan(adjusted_rand_index([1], [1]))
    with pytest.raises(ValueError, match="same length"):
        adjusted_rand_index([0, 1], [0, 1, 2])


def test_planted_agreement_pools_hidden_neurons():
    widths = [4, 6, 6, 3]  # inputs, 2 hidden layers, outputs
    planted = {
        "layers": [0, 1, 2, 3],
        "modules": [[0] * 4, [0, 0, 1, 1, 2, 2], [2, 2, 1, 1, 0, 0], [0, 1, 2]],
    }
    labels = np.concatenate([[5] * 4, [7, 7, 8, 8, 9, 9], [9, 9, 8, -1, 7, 7], [0, 1, 2]])
    res = planted_agreement(labels, widths, planted)
    assert res["layers"] == [1, 2] and res["n_neurons"] == 11  # isolated (-1) left out
    assert res["ari"] == pytest.approx(1.0) and res["per_layer"] == [1.0, 1.0]
    # the CNN's conv graph: analysed layer 0 is whole-graph layer 1, so no input layer in it
    conv = planted_agreement(labels[4:16], [6, 6], planted, offset=1, n_layers=6)
    assert conv["layers"] == [1, 2] and conv["ari"] == pytest.approx(1.0)
    shuffled = labels.copy()
    shuffled[4:10] = [7, 8, 9, 7, 8, 9]
    assert planted_agreement(shuffled, widths, planted)["per_layer"][0] < 0.5
    with pytest.raises(ValueError, match="widths sum"):
        planted_agreement(labels[:-1], widths, planted)


def test_reproduce_cli_options():
    args = build_parser().parse_args(
        [
            "reproduce",
            "--dataset",
            "halves",
            "--base",
            "fashion",
            "--model",
            "cnn",
            "--graph",
            "all",
            "--init",
            "torch",
            "--shuffle",
            "layer_nonzero",
            "--variants",
            "all",
        ]
    )
    assert (args.dataset, args.base, args.model, args.graph, args.init) == (
        "halves",
        "fashion",
        "cnn",
        "all",
        "torch",
    )
    assert args.shuffle == ["layer_nonzero"] and "untrained_pruned" in args.variants
    default = build_parser().parse_args(["reproduce"])
    assert default.shuffle == ["layer", "layer_nonzero"] and default.graph == "auto"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["reproduce", "--shuffle", "layer,nope"])
    from modcut.cli.train import config_from_args

    t = build_parser().parse_args(["train", "--init", "torch", "--clusterable-init", "--out", "x"])
    cfg = config_from_args(t)
    assert cfg.init == "torch" and cfg.clusterable_init and cfg.init_modules == 10
    assert config_from_args(build_parser().parse_args(["train", "--out", "x"])).init == "glorot"
    with pytest.raises(ValueError, match="needs model='cnn'"):
        study.reproduce(graph="conv", out_dir="unused", log=None)


def test_reproduce_cnn_and_halves_end_to_end(fake_data_dir, tmp_path):
    """`reproduce --model cnn` (conv-only graph by default) and `--dataset halves --base fashion`
    on tiny generated files: trained, analyzed against both nulls, tabled."""
    common = dict(
        seeds=1,
        epochs=1,
        prune_epochs=1,
        k=3,
        n_shuffles=4,
        n_jobs=1,
        data_root=str(fake_data_dir),
        progress=False,
        log=None,
    )
    torch.set_num_threads(1)
    cnn = study.reproduce(
        "mnist",
        variants=["control", "untrained_pruned"],
        out_dir=tmp_path / "cnn",
        model="cnn",
        train_overrides={"channels": (6, 6, 6), "dense": (8,), "n_train": 64, "n_test": 32},
        **common,
    )
    runs = list(csv.DictReader(cnn["runs_csv"].open()))
    assert [r["variant"] for r in runs] == ["control", "untrained_pruned"]
    meta = json.loads(
        (tmp_path / "cnn" / "control" / "seed0" / "analysis" / "meta.json").read_text()
    )
    assert meta["graph"] == "conv" and meta["widths"] == [6, 6, 6]
    assert "'conv' graph" in cnn["table_md"].read_text()
    cfg = json.loads((tmp_path / "cnn" / "control" / "seed0" / "run_config.json").read_text())
    assert cfg["model"] == "cnn" and cfg["batch_size"] == 64 and cfg["conv_dropout"] == 0.25

    halves = study.reproduce(
        "halves",
        variants=["control"],
        out_dir=tmp_path / "halves",
        base="fashion",
        train_overrides={"hidden": (16, 16), "n_train": 128, "n_test": 64},
        **common,
    )
    ckpt = train.load_checkpoint(tmp_path / "halves" / "control" / "seed0")
    assert ckpt.dataset_info["base"] == "fashion" and ckpt.config.base == "fashion"
    assert "halves (fashion)" in halves["table_md"].read_text()
