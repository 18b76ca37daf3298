"""Transformer MLP blocks from safetensors files and modules (modcut.mlp_blocks)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import save_file

import modcut
import reference as ref
from modcut.readers.blocks import mlp_blocks


def _bert(rng: np.random.Generator, layers: int = 2, d: int = 8, h: int = 16) -> dict:
    t = {}
    for i in range(layers):
        p = f"bert.encoder.layer.{i}"
        t[f"{p}.intermediate.dense.weight"] = rng.normal(size=(h, d)).astype(np.float32)
        t[f"{p}.intermediate.dense.bias"] = np.zeros(h, np.float32)
        t[f"{p}.output.dense.weight"] = rng.normal(size=(d, h)).astype(np.float32)
        t[f"{p}.output.dense.bias"] = np.zeros(d, np.float32)
        t[f"{p}.attention.output.dense.weight"] = rng.normal(size=(d, d)).astype(np.float32)
        t[f"{p}.output.LayerNorm.weight"] = np.ones(d, np.float32)
    t["bert.embeddings.word_embeddings.weight"] = rng.normal(size=(30, d)).astype(np.float32)
    return t


def _gpt2(rng: np.random.Generator, d: int = 8, h: int = 32) -> dict:
    return {
        "h.0.mlp.c_fc.weight": rng.normal(size=(d, h)).astype(np.float32),  # (in, out)
        "h.0.mlp.c_fc.bias": np.zeros(h, np.float32),
        "h.0.mlp.c_proj.weight": rng.normal(size=(h, d)).astype(np.float32),
        "h.0.attn.c_attn.weight": rng.normal(size=(d, 3 * d)).astype(np.float32),
    }


def _llama(rng: np.random.Generator, d: int = 8, h: int = 20) -> dict:
    p = "model.layers.0.mlp"
    return {
        f"{p}.gate_proj.weight": rng.normal(size=(h, d)).astype(np.float32),
        f"{p}.up_proj.weight": rng.normal(size=(h, d)).astype(np.float32),
        f"{p}.down_proj.weight": rng.normal(size=(d, h)).astype(np.float32),
    }


def test_bert_blocks_are_chains_of_the_transposed_linears(tmp_path):
    t = _bert(np.random.default_rng(0))
    path = tmp_path / "bert.safetensors"
    save_file(t, str(path))
    blocks = mlp_blocks(path)
    assert [(b.name, b.layout) for b in blocks] == [
        ("bert.encoder.layer.0", "bert"),
        ("bert.encoder.layer.1", "bert"),
    ]
    for i, b in enumerate(blocks):
        p = f"bert.encoder.layer.{i}"
        w1 = t[f"{p}.intermediate.dense.weight"].astype(np.float64).T
        w2 = t[f"{p}.output.dense.weight"].astype(np.float64).T
        assert isinstance(b.network, modcut.Network) and b.widths == (8, 16, 8)
        got = b.network.to_dense()
        np.testing.assert_array_equal(got[0], w1)
        np.testing.assert_array_equal(got[1], w2)
        labels = modcut.cluster(b.network, k=3)
        assert modcut.ncut(b.network, labels) == pytest.approx(
            ref.ncut([w1, w2], labels), rel=1e-12
        )


def test_gpt2_blocks_keep_the_stored_input_by_output_layout(tmp_path):
    t = _gpt2(np.random.default_rng(1))
    (b,) = mlp_blocks(t)
    assert b.layout == "gpt2" and b.name == "h.0" and b.widths == (8, 32, 8)
    np.testing.assert_array_equal(b.network.to_dense()[0], t["h.0.mlp.c_fc.weight"])
    np.testing.assert_array_equal(b.network.to_dense()[1], t["h.0.mlp.c_proj.weight"])


def test_llama_gate_and_up_are_parallel_edge_groups(tmp_path):
    t = _llama(np.random.default_rng(2))
    path = tmp_path / "llama.safetensors"
    save_file(t, str(path))
    (b,) = mlp_blocks(path)
    g = b.network
    assert isinstance(g, modcut.Network) and g.sizes == (8, 20, 8)
    assert [(e.src, e.dst) for e in g.edges] == [(0, 1), (0, 1), (1, 2)]
    assert g.is_bipartite() and not g.is_chain()
    p = "model.layers.0.mlp"
    gate, up, down = (
        t[f"{p}.{n}.weight"].astype(np.float64).T for n in ("gate_proj", "up_proj", "down_proj")
    )
    a = ref.general_adjacency([8, 20, 8], [(0, 1, gate), (0, 1, up), (1, 2, down)])
    np.testing.assert_array_equal(a[:8, 8:28], np.abs(gate) + np.abs(up))
    np.testing.assert_allclose(g.adjacency().toarray(), a, rtol=1e-15)
    labels = modcut.cluster(g, k=3)
    assert modcut.ncut(g, labels) == pytest.approx(ref.ncut_adjacency(a, labels), rel=1e-12)
    res = modcut.clusterability(g, k=3, n_shuffles=5, shuffle="layer", n_jobs=1)
    assert res.settings["bipartite"] is True
    # gate and up are shuffled separately: each keeps its own multiset
    s = modcut.shuffle(g, "layer", 1, random_state=3)[0]
    for e, f in zip(g.edges, s.edges, strict=True):
        np.testing.assert_array_equal(
            np.sort(e.weights.toarray(), axis=None), np.sort(f.weights.toarray(), axis=None)
        )


def test_modules_and_errors():
    torch = pytest.importorskip("torch")

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.intermediate = torch.nn.Module()
            self.intermediate.dense = torch.nn.Linear(6, 10)
            self.output = torch.nn.Module()
            self.output.dense = torch.nn.Linear(10, 6)

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.ModuleList([Block(), Block()])

    (b0, b1) = mlp_blocks(Model())
    assert (b0.name, b1.name, b0.widths) == ("layer.0", "layer.1", (6, 10, 6))
    with pytest.raises(ValueError, match="no transformer MLP block found"):
        mlp_blocks({"fc.weight": np.ones((3, 3))})
    with pytest.raises(ValueError, match="lacks"):
        mlp_blocks({"x.mlp.c_fc.weight": np.ones((3, 4))})
    with pytest.raises(ValueError, match="do not fit"):
        mlp_blocks(
            {
                "m.gate_proj.weight": np.ones((4, 3)),
                "m.up_proj.weight": np.ones((4, 3)),
                "m.down_proj.weight": np.ones((4, 3)),
            }
        )
    with pytest.raises(FileNotFoundError):
        mlp_blocks("missing.safetensors")


def test_modcut_analyze_writes_one_table_and_one_report(tmp_path):
    t = _bert(np.random.default_rng(4))
    t.update(_llama(np.random.default_rng(5)))
    path = tmp_path / "model.safetensors"
    save_file(t, str(path))
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "modcut",
            "analyze",
            str(path),
            "--k",
            "3",
            "--shuffles",
            "8",
            "--shuffle",
            "layer",
            "--jobs",
            "1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(open(out / "blocks.csv")))
    assert [r["block"] for r in rows] == [
        "bert.encoder.layer.0",
        "bert.encoder.layer.1",
        "model.layers.0.mlp",
    ]
    assert [r["layout"] for r in rows] == ["bert", "bert", "llama"]
    data = json.loads((out / "blocks.json").read_text())
    assert len(data["blocks"]) == 3 and data["settings"]["k"] == 3
    for r, block in zip(data["blocks"], mlp_blocks(path), strict=True):
        res = modcut.clusterability(
            block.network, k=3, n_shuffles=8, shuffle="layer", random_state=0, n_jobs=1
        )
        assert r["ncut"] == res.ncut and r["null_mean"] == res.null_mean
        assert r["p_value"] == res.p_value and r["z_score"] == pytest.approx(res.z_score)
    html = (out / "report.html").read_text()
    assert "model.layers.0.mlp" in html and "bert.encoder.layer.1" in html
