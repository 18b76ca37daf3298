"""Damaged and hostile weight files (issue 19): every reader either returns a network or
raises modcut.NetworkFileError naming the file; never a bare library error, a traceback
or an allocation the file cannot back."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modcut
from modcut.errors import NetworkFileError

W = np.random.default_rng(0).normal(size=(12, 9))
V = np.random.default_rng(1).normal(size=(9, 4))


def _bytes(kind: str) -> bytes:
    buf = io.BytesIO()
    if kind == "npy":
        np.save(buf, W)
    elif kind == "npz":
        np.savez(buf, W, V)
    else:
        np.savez_compressed(buf, W, V)
    return buf.getvalue()


def _read(path: Path) -> None:
    try:
        net = modcut.as_network(path)
    except NetworkFileError as exc:
        assert str(path) in str(exc)
    else:
        assert net.n_nodes > 0


@pytest.mark.parametrize("suffix", [".npz", ".npy"])
def test_an_empty_file_is_named_as_empty(tmp_path, suffix):
    path = tmp_path / f"weights{suffix}"
    path.write_bytes(b"")
    with pytest.raises(NetworkFileError, match=rf"weights\{suffix} is empty \(0 bytes\)"):
        modcut.as_network(path)


def test_a_header_asking_for_terabytes_is_refused_before_allocating(tmp_path):
    buf = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (100_000, 1_000_000)}
    np.lib.format.write_array_header_1_0(buf, header)
    path = tmp_path / "huge.npy"
    path.write_bytes(buf.getvalue() + b"\0" * 64)
    with pytest.raises(NetworkFileError, match=r"huge\.npy.*800,000,000,000 bytes.*truncated"):
        modcut.as_network(path)


def test_a_truncated_npz_member_is_blamed_on_truncation_not_on_objects(tmp_path):
    good, bad = tmp_path / "good.npz", tmp_path / "trunc.npz"
    np.savez(good, W, V)
    with zipfile.ZipFile(good) as z, zipfile.ZipFile(bad, "w") as out:
        for name in z.namelist():
            data = z.read(name)
            out.writestr(name, data[:-40] if name == "arr_1.npy" else data)
    with pytest.raises(NetworkFileError, match=r"trunc\.npz: entry 'arr_1' declares .* truncated"):
        modcut.as_network(bad)


def test_object_entries_are_named_and_never_unpickled(tmp_path):
    path = tmp_path / "obj.npz"
    buf = io.BytesIO()
    np.save(buf, np.array([1, None], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("arr_0.npy", buf.getvalue())
    with pytest.raises(NetworkFileError, match=r"obj\.npz: entry 'arr_0' holds Python objects"):
        modcut.as_network(path)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    kind=st.sampled_from(["npy", "npz", "npz_compressed"]),
    cut=st.integers(min_value=0, max_value=4000),
    flips=st.lists(
        st.tuples(st.integers(min_value=0, max_value=4000), st.integers(0, 255)), max_size=4
    ),
)
def test_damaged_bytes_give_a_network_or_a_named_file_error(tmp_path, kind, cut, flips):
    data = bytearray(_bytes(kind))
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    del data[len(data) - min(cut, len(data)) :]
    path = tmp_path / ("w.npy" if kind == "npy" else "w.npz")
    path.write_bytes(bytes(data))
    _read(path)


def test_the_cli_turns_file_system_errors_into_one_line(tmp_path):
    weights = tmp_path / "w.npz"
    np.savez(weights, W, V)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for out in (blocker / "out", blocker):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "modcut",
                "analyze",
                str(weights),
                "--k",
                "2",
                "--shuffles",
                "2",
                "--out",
                str(out),
                "--quiet",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("modcut analyze: error:")
        assert "a-file" in lines[0]


def test_damaged_null_chunks_and_manifest_are_recomputed_not_fatal(tmp_path):
    rng = np.random.default_rng(3)
    ws = [rng.normal(size=(10, 8)), rng.normal(size=(8, 6))]
    ref = modcut.clusterability(ws, k=3, n_shuffles=12, progress=False)
    modcut.clusterability(ws, k=3, n_shuffles=12, progress=False, store=tmp_path, chunk_size=4)
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    chunks = sorted(folder.glob("null-*.npy"))
    assert len(chunks) == 3
    chunks[0].write_bytes(b"")  # empty (a killed copy)
    chunks[1].write_bytes(chunks[1].read_bytes()[:-5])  # truncated
    np.save(chunks[2], np.full(4, np.nan))  # readable but not null n-cuts
    manifest = folder / "manifest.json"
    manifest.write_text(manifest.read_text()[:10])  # truncated JSON
    again = modcut.clusterability(
        ws, k=3, n_shuffles=12, progress=False, store=tmp_path, chunk_size=4
    )
    assert again.null_ncuts.tobytes() == ref.null_ncuts.tobytes()
    assert json.loads(manifest.read_text())["k"] == 3  # rewritten from the folder's settings
    for p in chunks:  # recomputed and stored again
        assert np.array_equal(np.load(p), ref.null_ncuts[int(p.stem.split("-")[-2]) :][:4])


def test_a_damaged_result_file_is_named(tmp_path):
    rng = np.random.default_rng(4)
    res = modcut.clusterability(
        [rng.normal(size=(6, 5)), rng.normal(size=(5, 4))], k=2, n_shuffles=3, progress=False
    )
    path = tmp_path / "run-3" / "clusterability.json"
    res.to_json(path)
    assert not list(path.parent.glob("*.tmp"))  # written through a renamed temporary file
    assert modcut.ClusterabilityResult.from_json(path).ncut == res.ncut
    path.write_text(path.read_text()[:40])  # a killed copy
    with pytest.raises(ValueError, match=r"run-3.clusterability\.json: not .*invalid JSON"):
        modcut.ClusterabilityResult.from_json(path)
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match=r"run-3.clusterability\.json: .*not UTF-8"):
        modcut.ClusterabilityResult.from_json(path)


def test_save_and_load_name_the_same_file(tmp_path):
    g = modcut.Network.from_edges([3, 4, 2], [(0, 1, np.ones((3, 4))), (1, 2, np.ones((4, 2)))])
    written = g.save(tmp_path / "graph")
    assert written == tmp_path / "graph.npz" and written.is_file()
    assert modcut.Network.load(tmp_path / "graph").sizes == (3, 4, 2)
    assert modcut.Network.load(written).sizes == (3, 4, 2)
    with pytest.raises(FileNotFoundError, match=r"graph\.npz exists"):
        modcut.cluster(tmp_path / "graph", k=2)


def test_a_result_missing_fields_or_with_wrong_labels_is_refused():
    rng = np.random.default_rng(5)
    res = modcut.clusterability(
        [rng.normal(size=(6, 5)), rng.normal(size=(5, 4))], k=2, n_shuffles=3, progress=False
    )
    d = res.to_dict()
    del d["null_ncuts"]
    with pytest.raises(ValueError, match="missing null_ncuts"):
        modcut.ClusterabilityResult.from_dict(d)
    d = res.to_dict()
    d["labels"] = d["labels"][:-1]
    with pytest.raises(ValueError, match=r"14 labels for widths \(6, 5, 4\) \(15 neurons\)"):
        modcut.ClusterabilityResult.from_dict(d)


def test_damaged_zip_fields_and_npy_headers_found_by_fuzzing_are_named(tmp_path):
    """Cases a fuzzing run found: a damaged "version needed" field of a zip entry (zipfile
    raises NotImplementedError) and a .npy header dict cut mid-way (NumPy's tokenizer raises
    TokenError) are named file errors too."""
    data = bytearray(_bytes("npz"))
    central = data.index(b"PK\x01\x02")
    data[central + 6 : central + 8] = (254).to_bytes(2, "little")  # version 25.4
    path = tmp_path / "version.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(NetworkFileError, match=r"version\.npz"):
        modcut.as_network(path)
    npy = bytearray(_bytes("npy"))
    npy[npy.index(b"}")] = ord(" ")
    path = tmp_path / "header.npy"
    path.write_bytes(bytes(npy))
    with pytest.raises(NetworkFileError, match=r"header\.npy"):
        modcut.as_network(path)


@pytest.mark.parametrize("suffix", [".npz", ".safetensors", ".pt2"])
def test_analyze_lesion_refuses_weight_files_before_the_null(tmp_path, suffix, capsys):
    """--lesion needs a trained model and its data: a weight or model file is refused by
    name before any null sample runs (nothing is written)."""
    from modcut.cli import main

    path = tmp_path / f"w{suffix}"
    np.savez(tmp_path / "w.npz", W, V)
    if suffix != ".npz":
        path.write_bytes(b"not read")
    out = tmp_path / "out"
    code = main(["analyze", str(path), "--lesion", "--shuffles", "100000", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"({path})" in err and "need a trained model and its data set" in err
    assert not out.exists()
