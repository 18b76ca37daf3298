"""``.safetensors`` files (issue 19): modcut's reader against the safetensors package as the
oracle on valid files, every dtype of the format (FP8 and BF16 exact, integer, boolean and
complex weights refused by name, unknown dtypes named), and damaged or hostile bytes always
a NetworkFileError naming the file."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modcut
from modcut.errors import NetworkFileError
from modcut.readers.safetensorfile import SafetensorsFile

st_numpy = pytest.importorskip("safetensors.numpy")
torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")


def _bert(rng: np.random.Generator, d: int = 6, h: int = 10) -> dict[str, np.ndarray]:
    return {
        "layer.0.intermediate.dense.weight": rng.normal(size=(h, d)).astype(np.float32),
        "layer.0.output.dense.weight": rng.normal(size=(d, h)).astype(np.float32),
    }


def _raw(header: dict, data: bytes) -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


@pytest.mark.parametrize(
    "dtype", [torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2, torch.float16]
)
def test_low_precision_weights_are_read_exactly(tmp_path: Path, dtype) -> None:
    rng = np.random.default_rng(0)
    tensors = {k: torch.from_numpy(v).to(dtype) for k, v in _bert(rng).items()}
    path = tmp_path / "low.safetensors"
    st_torch.save_file(tensors, str(path))
    (block,) = modcut.mlp_blocks(path)
    want = [t.to(torch.float64).numpy().T for t in tensors.values()]
    for got, w in zip(block.network.layers, want, strict=True):
        np.testing.assert_array_equal(got.toarray(), w)


@pytest.mark.parametrize(
    ("dtype", "why"),
    [
        (np.complex64, "C64.*imaginary part"),
        (np.bool_, "BOOL.*mask"),
        (np.int32, "I32.*quantized or packed"),
        (np.int8, "I8.*quantized or packed"),
    ],
)
def test_complex_boolean_and_integer_weights_are_refused_by_name(tmp_path, dtype, why) -> None:
    rng = np.random.default_rng(1)
    tensors = _bert(rng)
    key = "layer.0.output.dense.weight"
    tensors[key] = (tensors[key] * 3).astype(dtype)
    path = tmp_path / "odd.safetensors"
    st_numpy.save_file(tensors, str(path))
    with pytest.raises(
        NetworkFileError, match=rf"odd\.safetensors: tensor '{key}' has dtype {why}"
    ):
        modcut.mlp_blocks(path)
    # the same tensors from a state dict in memory are refused too, for the same reason
    reason = why.split(".*", 1)[-1]
    with pytest.raises(NetworkFileError, match=rf"tensor '{key}' has dtype .*{reason}"):
        modcut.mlp_blocks(dict(tensors))


def test_a_dtype_the_format_does_not_define_is_named(tmp_path) -> None:
    data = np.ones(4, np.float32).tobytes()
    header = {"w": {"dtype": "F4_E2M1", "shape": [8], "data_offsets": [0, 16]}}
    path = tmp_path / "new.safetensors"
    path.write_bytes(_raw(header, data + data))
    with pytest.raises(NetworkFileError, match=r"new\.safetensors: tensor 'w' has dtype 'F4_E2M1'"):
        SafetensorsFile(path)


@pytest.mark.parametrize(
    ("header", "data", "match"),
    [
        ({"w": {"dtype": "F32", "shape": [10**9, 10**9], "data_offsets": [0, 4 * 10**18]}},
         b"\0" * 16, "truncated"),
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 12]}}, b"\0" * 12,
         "needs 8 bytes"),
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
          "v": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12, "overlaps"),
        ({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, b"\0" * 8, "shape"),
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 20, "after its last"),
        ({"w": [1, 2]}, b"", "no entry object"),
        ({"__metadata__": {"a": 1}}, b"", "__metadata__"),
    ],
    ids=["terabytes", "size-mismatch", "overlap", "negative-shape", "trailing", "entry", "meta"],
)  # fmt: skip
def test_hostile_headers_are_named_before_any_allocation(tmp_path, header, data, match) -> None:
    path = tmp_path / "h.safetensors"
    path.write_bytes(_raw(header, data))
    with pytest.raises(NetworkFileError, match=match) as info:
        SafetensorsFile(path)
    assert str(path) in str(info.value)


def test_header_lengths_beyond_the_file_or_the_format_are_named(tmp_path) -> None:
    path = tmp_path / "len.safetensors"
    path.write_bytes(struct.pack("<Q", 2**63) + b"{}")
    with pytest.raises(NetworkFileError, match="at most 100,000,000"):
        SafetensorsFile(path)
    path.write_bytes(struct.pack("<Q", 50) + b"{}")
    with pytest.raises(NetworkFileError, match="only 2 bytes follow"):
        SafetensorsFile(path)
    path.write_bytes(b"")
    with pytest.raises(NetworkFileError, match=r"empty \(0 bytes\)"):
        SafetensorsFile(path)
    path.write_bytes(struct.pack("<Q", 3) + b"\xff\xfe{")
    with pytest.raises(NetworkFileError, match="not valid JSON"):
        SafetensorsFile(path)


_DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int32, np.uint8, np.bool_, np.complex64]


@st.composite
def _tensor_dicts(draw) -> dict[str, np.ndarray]:
    n = draw(st.integers(0, 4))
    out = {}
    for i in range(n):
        dtype = draw(st.sampled_from(_DTYPES))
        shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
        seed = draw(st.integers(0, 2**32 - 1))
        a = np.random.default_rng(seed).normal(size=shape) * 10
        out[f"t{i}.{draw(st.sampled_from(['weight', 'bias', 'x']))}"] = np.asarray(a).astype(dtype)
    return out


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tensors=_tensor_dicts())
def test_the_reader_equals_the_safetensors_package_on_valid_files(tmp_path, tensors) -> None:
    path = tmp_path / "valid.safetensors"
    st_numpy.save_file(tensors, str(path), metadata={"format": "np"})
    oracle = st_numpy.load_file(str(path))
    f = SafetensorsFile(path)
    assert set(f) == set(oracle)
    assert f.metadata == {"format": "np"}
    for k, want in oracle.items():
        got = f.array(k)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cut=st.one_of(st.none(), st.integers(0, 600)),
    flips=st.lists(st.tuples(st.integers(0, 10**5), st.integers(1, 255)), max_size=3),
)
def test_damaged_bytes_read_as_the_oracle_does_or_raise_a_named_error(tmp_path, cut, flips) -> None:
    rng = np.random.default_rng(2)
    path = tmp_path / "damaged.safetensors"
    st_numpy.save_file(_bert(rng, 3, 4), str(path))
    data = bytearray(path.read_bytes())
    if cut is not None:
        data = data[:cut]
    for pos, xor in flips:
        if data:
            data[pos % len(data)] ^= xor
    path.write_bytes(bytes(data))
    try:
        oracle = st_numpy.load_file(str(path))
    except Exception:
        oracle = None
    try:
        f = SafetensorsFile(path)
        ours = {k: np.array(f.array(k)) for k in f}
    except NetworkFileError as exc:
        assert str(path) in str(exc)
        assert oracle is None, "modcut refused a file the safetensors package reads"
        return
    assert oracle is not None, "modcut read a file the safetensors package refuses"
    assert set(ours) == set(oracle)
    for k in ours:
        np.testing.assert_array_equal(ours[k], oracle[k])
