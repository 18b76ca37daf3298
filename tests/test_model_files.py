"""`modcut analyze` on model files: a torch.export program (.pt2) and a state dict with --arch."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import modcut
from modcut.cli import main
from modcut.load import model_file_graph
from test_fxgraph_export import _ShapeBranch, _TwoTowers, assert_same_graph

torchvision = pytest.importorskip("torchvision")

K, SHUFFLES = 4, 2


def _resnet() -> nn.Module:
    torch.manual_seed(20)
    net = torchvision.models.resnet18(weights=None, num_classes=10)
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.2, 2.0)
    return net.eval()


@pytest.fixture(scope="module")
def resnet_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("resnet")
    net = _resnet()
    torch.export.save(
        torch.export.export(net, (torch.zeros(2, 3, 32, 32),), strict=False), d / "resnet18.pt2"
    )
    torch.save(net.state_dict(), d / "resnet18.pt")
    from safetensors.torch import save_file

    save_file(
        {k: v.contiguous() for k, v in net.state_dict().items()}, str(d / "resnet18.safetensors")
    )
    return net, d


@pytest.fixture(scope="module")
def expected(resnet_files):
    net, _ = resnet_files
    g = modcut.network_graph(net, input_shape=(3, 32, 32))
    res = modcut.clusterability(g, k=K, n_shuffles=SHUFFLES, random_state=0, n_jobs=1)
    return g, res


@pytest.mark.parametrize("kind", ["pt2", "pt", "safetensors"])
def test_analyze_a_resnet18_model_file(resnet_files, expected, kind, tmp_path, capsys):
    _, d = resnet_files
    g, res = expected
    args = [
        "analyze",
        str(d / f"resnet18.{kind}"),
        "--k",
        str(K),
        "--shuffles",
        str(SHUFFLES),
        "--jobs",
        "1",
        "--quiet",
        "--out",
        str(tmp_path / "analysis"),
    ]
    if kind != "pt2":
        args += [
            "--arch",
            "torchvision.models:resnet18",
            "--arch-kwargs",
            '{"num_classes": 10}',
            "--input-shape",
            "3,32,32",
        ]
    assert main(args) == 0
    saved = modcut.ClusterabilityResult.from_json(tmp_path / "analysis" / "clusterability.json")
    assert saved.ncut == res.ncut
    np.testing.assert_array_equal(saved.null_ncuts, res.null_ncuts)
    assert saved.widths == g.sizes
    meta = json.loads((tmp_path / "analysis" / "meta.json").read_text())
    assert meta["groups"] == [gr.name for gr in g.groups]
    assert meta["source"] == str(d / f"resnet18.{kind}")  # the file, not a repr
    assert (tmp_path / "analysis" / "report.html").exists()
    assert "n-cut" in capsys.readouterr().out.lower()


def test_the_pt2_graph_is_the_models_graph(resnet_files, expected):
    _, d = resnet_files
    assert_same_graph(model_file_graph(d / "resnet18.pt2"), expected[0])


def test_pt2_of_a_model_fx_cannot_trace_and_of_two_inputs(tmp_path):
    torch.manual_seed(21)
    for model, xs in [
        (_ShapeBranch(), (torch.zeros(2, 6),)),
        (_TwoTowers(), (torch.zeros(2, 4), torch.zeros(2, 5))),
    ]:
        path = tmp_path / f"{type(model).__name__}.pt2"
        torch.export.save(torch.export.export(model.eval(), xs, strict=False), path)
        shapes = tuple(tuple(x.shape[1:]) for x in xs)
        want = modcut.network_graph(model, input_shape=shapes if len(xs) > 1 else shapes[0])
        assert_same_graph(model_file_graph(path), want)


def _error(args, capsys) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("modcut analyze: error: "), err
    return err


def test_model_file_errors_name_the_problem(resnet_files, tmp_path, capsys):
    _, d = resnet_files
    base = ["analyze", "--k", "2", "--shuffles", "2", "--quiet"]  # valid: the file is the problem
    pt = str(d / "resnet18.pt")
    # missing --input-shape
    msg = _error(
        [
            *base,
            pt,
            "--arch",
            "torchvision.models:resnet18",
            "--arch-kwargs",
            '{"num_classes": 10}',
        ],
        capsys,
    )
    assert "--input-shape" in msg and "Conv2d" in msg
    # keys that do not match the architecture (the default 1000-class head: shapes)
    msg = _error(
        [*base, pt, "--arch", "torchvision.models:resnet18", "--input-shape", "3,32,32"], capsys
    )
    assert "shapes do not match" in msg and "fc.weight" in msg
    msg = _error(
        [
            *base,
            pt,
            "--arch",
            "torchvision.models:resnet34",
            "--arch-kwargs",
            '{"num_classes": 10}',
            "--input-shape",
            "3,32,32",
        ],
        capsys,
    )
    assert "keys do not match" in msg and "missing layer1.2" in msg
    # an --arch that cannot be imported, or is not there
    msg = _error(
        [*base, pt, "--arch", "no_such_module_xyz:net", "--input-shape", "3,32,32"], capsys
    )
    assert "cannot import module 'no_such_module_xyz'" in msg
    msg = _error([*base, pt, "--arch", "torchvision.models:resnet1234"], capsys)
    assert "has no attribute 'resnet1234'" in msg
    msg = _error([*base, pt, "--arch", "torchvision.models"], capsys)
    assert "MODULE:CALLABLE" in msg
    # a state dict without --arch is not a network; --input-shape alone is refused
    msg = _error([*base, str(d / "resnet18.npz"), "--input-shape", "3,32,32"], capsys)
    assert "--input-shape needs --arch" in msg
    # a .pt2 needs no shape, and refuses a different one
    msg = _error([*base, str(d / "resnet18.pt2"), "--input-shape", "3,64,64"], capsys)
    assert "exported for inputs of shape [(3, 32, 32)]" in msg
    # a file that is not a state dict
    bad = tmp_path / "bad.pt"
    torch.save({"a": [1, 2]}, bad)
    msg = _error([*base, str(bad), "--arch", "torchvision.models:resnet18"], capsys)
    assert "does not hold a state dict" in msg
    bad2 = tmp_path / "bad.pt2"
    bad2.write_text("not a zip")
    msg = _error([*base, str(bad2)], capsys)
    assert "not a .pt2 archive" in msg


def test_a_pt2_holding_pickled_objects_is_refused_before_loading(tmp_path):
    """A .pt2 whose archive carries pickled Python objects (torch.export's custom/opaque
    object files) is refused by name; torch.export.load is never reached."""
    import zipfile

    from modcut.load import NetworkFileError, read_exported_program

    torch.manual_seed(22)
    good = tmp_path / "good.pt2"
    torch.export.save(
        torch.export.export(_ShapeBranch().eval(), (torch.zeros(2, 6),), strict=False), good
    )
    bad = tmp_path / "bad.pt2"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        names = src.namelist()
        for n in names:
            dst.writestr(n, src.read(n))
        root = names[0].split("/")[0]
        dst.writestr(f"{root}/data/constants/custom_obj_0", b"\x80\x04N.")  # pickle of None
    read_exported_program(good)  # the untouched program loads
    with pytest.raises(NetworkFileError, match="pickled Python objects"):
        read_exported_program(bad)
    plain = tmp_path / "plain.pt2"
    plain.write_text("not a zip archive")
    with pytest.raises(NetworkFileError, match=r"not a \.pt2 archive"):
        read_exported_program(plain)
