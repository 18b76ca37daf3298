"""The ``modcut`` command line: one vocabulary of options across commands, help, entry points."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from modcut.cli import build_parser, main

COMMANDS = ("train", "analyze", "lesion", "reproduce", "demo")
#: the smallest argument list each command parses with (positional and required options)
MINIMAL = {
    "train": ["train", "--out", "o"],
    "analyze": ["analyze", "net.npz"],
    "lesion": ["lesion", "c.pt"],
    "reproduce": ["reproduce"],
    "demo": ["demo"],
}
#: every command reads data (train/reproduce/demo train on it; analyze --lesion and lesion
#: evaluate on its test split)
READS_DATA = COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: modcut {command}")
    for opt in ("--out", "--quiet", "--no-progress"):
        assert opt in text
    assert "--data-root" not in text and "--threads" not in text  # hidden deprecated aliases


@pytest.mark.parametrize("command", READS_DATA)
def test_data_dir_everywhere_and_the_deprecated_data_root(command, capsys):
    parser = build_parser()
    assert parser.parse_args(MINIMAL[command]).data_dir is None
    args = parser.parse_args([*MINIMAL[command], "--data-dir", "/d"])
    assert args.data_dir == "/d"
    assert "deprecated" not in capsys.readouterr().err
    args = parser.parse_args([*MINIMAL[command], "--data-root", "/old"])
    assert args.data_dir == "/old"
    err = capsys.readouterr().err
    assert "--data-root is deprecated; use --data-dir" in err


@pytest.mark.parametrize("command", COMMANDS)
def test_one_meaning_of_quiet_and_no_progress(command):
    from modcut.cli.options import log_of, progress_of, say

    parser = build_parser()
    plain = parser.parse_args(MINIMAL[command])
    assert (plain.quiet, plain.no_progress) == (False, False)
    assert progress_of(plain) is None and log_of(plain) is say
    no_bars = parser.parse_args([*MINIMAL[command], "--no-progress"])
    assert progress_of(no_bars) is False and log_of(no_bars) is say
    quiet = parser.parse_args([*MINIMAL[command], "--quiet"])
    assert progress_of(quiet) is False and log_of(quiet) is None


def test_shared_spellings_and_defaults():
    parser = build_parser()
    for command in ("analyze", "reproduce", "demo"):
        a = parser.parse_args([*MINIMAL[command], "--k", "5", "--shuffles", "7", "--jobs", "2"])
        # reproduce tests every run against both nulls by default (method.md §4), a list
        null = ["layer", "layer_nonzero"] if command == "reproduce" else "layer_nonzero"
        assert (a.k, a.shuffles, a.shuffle, a.jobs) == (5, 7, null, 2)
    for command in ("train", "analyze", "lesion", "demo"):
        assert parser.parse_args([*MINIMAL[command], "--seed", "4"]).seed == 4
    assert parser.parse_args([*MINIMAL["lesion"], "--k", "6"]).k == 6
    # train: --jobs sets the torch threads; --threads is the deprecated spelling
    from modcut.cli.train import config_from_args

    assert config_from_args(parser.parse_args([*MINIMAL["train"], "--jobs", "3"])).threads == 3
    assert config_from_args(parser.parse_args(MINIMAL["train"])).threads is None
    assert parser.parse_args([*MINIMAL["train"], "--threads", "2"]).jobs == 2


def test_quiet_prints_results_only(tmp_path, capsys):
    rng = np.random.default_rng(0)
    npz = tmp_path / "w.npz"
    np.savez(npz, rng.uniform(size=(6, 5)), rng.uniform(size=(5, 3)))
    base = ["analyze", str(npz), "--k", "2", "--shuffles", "3", "--jobs", "1"]
    assert main([*base, "--out", str(tmp_path / "a"), "--no-progress"]) == 0
    loud = capsys.readouterr().out
    assert f"clustering {npz}" in loud and "drawing figures" in loud
    assert main([*base, "--out", str(tmp_path / "b"), "--quiet"]) == 0
    quiet = capsys.readouterr()
    assert f"clustering {npz}" not in quiet.out and "drawing figures" not in quiet.out
    assert "n-cut" in quiet.out and "report: " in quiet.out and quiet.err == ""


def test_python_dash_m_modcut():
    out = subprocess.run(
        [sys.executable, "-m", "modcut", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in COMMANDS:
        assert command in out
