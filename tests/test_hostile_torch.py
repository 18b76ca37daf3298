"""Hostile and damaged torch files (issue 19): checkpoints, state dicts and .pt2 programs
are refused in modcut's words, naming the file (and the archive entry) and what it holds;
torch's advice ("weights_only", "the warnings above") and torch's logged tracebacks never
reach the user, and nothing is unpickled."""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modcut
from modcut.errors import NetworkFileError

torch = pytest.importorskip("torch")

from modcut.readers.load import read_exported_program, read_state_dict  # noqa: E402

TORCH_ADVICE = ("weights_only", "warnings above", "Re-running", "arbitrary code")


def _clean(msg: str) -> None:
    for phrase in TORCH_ADVICE:
        assert phrase not in msg, msg


@dataclasses.dataclass
class Settings:
    x: torch.Tensor


torch.export.register_dataclass(Settings, serialized_type_name="tests.hostile.Settings")


class _TakesSettings(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, s: Settings) -> torch.Tensor:
        return self.fc(s.x)


class _Plain(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 6)
        self.fc2 = torch.nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


@pytest.fixture(scope="module")
def pickled_inputs_pt2(tmp_path_factory) -> Path:
    """A real .pt2 (torch.export.save) whose sample inputs hold a pickled dataclass."""
    path = tmp_path_factory.mktemp("pt2") / "settings.pt2"
    ep = torch.export.export(_TakesSettings(), (Settings(torch.randn(2, 4)),))
    torch.export.save(ep, path)
    return path


@pytest.fixture(scope="module")
def plain_pt2(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("pt2") / "plain.pt2"
    torch.export.save(torch.export.export(_Plain(), (torch.randn(2, 4),)), path)
    return path.read_bytes()


def test_a_pt2_with_pickled_sample_inputs_is_refused_in_modcuts_words(
    pickled_inputs_pt2, capfd
) -> None:
    with pytest.raises(NetworkFileError) as info:
        read_exported_program(pickled_inputs_pt2)
    msg = str(info.value)
    assert str(pickled_inputs_pt2) in msg
    assert "sample_inputs/model.pt" in msg  # the entry
    assert "pickled Python object of type test_hostile_torch.Settings" in msg
    assert "never unpickles" in msg and "refused" in msg
    _clean(msg)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


def test_a_zip_holding_only_a_pickle_is_named_as_a_torch_save_file(tmp_path, capfd) -> None:
    path = tmp_path / "model.pt2"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"a": 1}))
    with pytest.raises(NetworkFileError, match=r"model\.pt2 is a torch\.save file") as info:
        read_exported_program(path)
    _clean(str(info.value))
    # as a state dict (.pt), the same zip lacks the records torch.save writes
    pt = tmp_path / "model.pt"
    pt.write_bytes(path.read_bytes())
    with pytest.raises(NetworkFileError, match=r"model\.pt is a zip archive without the records"):
        read_state_dict(pt)
    # a zip of other things is listed
    other = tmp_path / "other.pt2"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(NetworkFileError, match=r"zip archive of 1 entries \(readme\.txt\)"):
        read_exported_program(other)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


class _Boom:
    def __reduce__(self):  # a pickle that would run a command when unpickled
        return (os.system, ("touch /tmp/modcut-pwned",))


@pytest.mark.parametrize("reader", ["checkpoint", "state_dict"])
def test_a_pickle_that_would_run_code_is_refused_and_never_run(tmp_path, reader) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "x": _Boom()}, path)
    marker = Path("/tmp/modcut-pwned")
    marker.unlink(missing_ok=True)
    with pytest.raises(NetworkFileError) as info:
        if reader == "checkpoint":
            modcut.as_network(path)
        else:
            read_state_dict(path)
    msg = str(info.value)
    assert str(path) in msg and "pickled Python object of type" in msg and "system" in msg
    _clean(msg)
    assert not marker.exists()


@pytest.mark.parametrize("cut", [0, 5, 100, -100])
def test_truncated_and_empty_torch_files(tmp_path, cut) -> None:
    buf = io.BytesIO()
    torch.save({"fc.weight": torch.randn(6, 4)}, buf)
    data = buf.getvalue()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[:cut])
    with pytest.raises(NetworkFileError) as info:
        read_state_dict(path)
    msg = str(info.value)
    assert str(path) in msg
    assert ("empty (0 bytes)" if cut == 0 else "truncated or damaged") in msg, msg
    _clean(msg)


def test_the_cli_shows_one_line_and_no_torch_log(pickled_inputs_pt2, tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "modcut", "analyze", str(pickled_inputs_pt2), "--out",
         str(tmp_path / "o"), "--shuffles", "2"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("modcut analyze: error:") and "Settings" in lines[0]
    _clean(proc.stderr)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(["pt", "pt2"]),
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=4000)),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=3),
)
def test_damaged_torch_bytes_load_or_raise_a_named_file_error(
    tmp_path, plain_pt2, kind, cut, flips
) -> None:
    if kind == "pt":
        buf = io.BytesIO()
        torch.save(_Plain().state_dict(), buf)
        data = bytearray(buf.getvalue())
    else:
        data = bytearray(plain_pt2)
    if cut is not None:
        data = data[:cut]
    for pos, xor in flips:
        if data:
            data[pos % len(data)] ^= xor
    path = tmp_path / f"damaged.{kind}"
    path.write_bytes(bytes(data))
    try:
        got = read_state_dict(path) if kind == "pt" else read_exported_program(path)
    except NetworkFileError as exc:
        assert str(path) in str(exc)
        _clean(str(exc))
    else:
        assert got is not None
