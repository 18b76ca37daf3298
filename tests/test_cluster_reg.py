"""modcut.harness.cluster_reg: the clusterability penalty, its gradient, the neuron normalisation,
and the training options."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import modcut
from modcut.harness import clusterability_penalty
from modcut.harness.cluster_reg import (
    ClusterabilityPenalty,
    ClusterRegulariser,
    check_penalty_k,
    live_sides,
    normalize_incoming_,
)
from modcut.harness.models import MLP, SmallCNN
from modcut.harness.train import TrainConfig, load_checkpoint, train
from modcut.readers.extract import extract_weights


def random_net(
    widths: list[int], seed: int, *, isolate: bool = False, zeros: float = 0.0
) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    ws = [rng.normal(size=(a, b)) for a, b in itertools.pairwise(widths)]
    if zeros:
        ws = [w * (rng.random(w.shape) >= zeros) for w in ws]
    if isolate:  # neuron 1 of layer 1 and input 0 lose every edge; so does one output
        ws[0][:, 1] = 0.0
        ws[1][1, :] = 0.0
        ws[0][0, :] = 0.0
        ws[-1][:, -1] = 0.0
    return ws


def dense_reference(ws: list[np.ndarray], k: int) -> float:
    """Σ λ_2..λ_{k+1} of L_sym = I − D^-1/2 |A| D^-1/2 with isolated nodes dropped (NumPy, dense)."""
    widths = [ws[0].shape[0]] + [w.shape[1] for w in ws]
    off = np.concatenate([[0], np.cumsum(widths)])
    a = np.zeros((off[-1], off[-1]))
    for i, w in enumerate(ws):
        a[off[i] : off[i + 1], off[i + 1] : off[i + 2]] = np.abs(w)
    a = a + a.T
    d = a.sum(1)
    live = d > 0
    a, d = a[np.ix_(live, live)], d[live]
    lap = np.eye(len(d)) - a / np.sqrt(np.outer(d, d))
    ev = np.linalg.eigvalsh(lap)
    return float(ev[1 : k + 1].sum())


def tensors(ws: list[np.ndarray], grad: bool = False) -> list[torch.Tensor]:
    return [torch.tensor(w, dtype=torch.float64, requires_grad=grad) for w in ws]


CASES = [
    ([9, 7, 6, 5], 0, False, 0.0),
    ([12, 8, 8, 8, 4], 1, True, 0.0),
    ([20, 10, 10, 3], 2, False, 0.5),
    ([15, 9, 11, 7, 5, 4], 3, True, 0.3),
]


@pytest.mark.parametrize("solver", ["dense", "iterative"])
@pytest.mark.parametrize(("widths", "seed", "isolate", "zeros"), CASES)
def test_value_matches_dense_eigendecomposition(
    solver: str, widths: list[int], seed: int, isolate: bool, zeros: float
) -> None:
    ws = random_net(widths, seed, isolate=isolate, zeros=zeros)
    for k in (1, 2, 3):
        got = clusterability_penalty(tensors(ws), k, solver=solver)
        assert got.dtype == torch.float64 and got.ndim == 0
        assert float(got) == pytest.approx(dense_reference(ws, k), abs=1e-9)


def test_value_matches_modcut_graph_laplacian() -> None:
    ws = random_net([14, 10, 9, 6], 5, isolate=True)
    g = modcut.build_graph(ws)
    live = ~g.isolated
    lap = g.laplacian().toarray()[np.ix_(live, live)]
    ev = np.linalg.eigvalsh(lap)
    for k in (2, 4):
        want = ev[1 : k + 1].sum()
        assert float(clusterability_penalty(tensors(ws), k)) == pytest.approx(want, abs=1e-10)
        assert float(clusterability_penalty(ws, k, solver="iterative")) == pytest.approx(
            want, abs=1e-9
        )


def test_disconnected_network_has_zero_second_eigenvalue() -> None:
    rng = np.random.default_rng(0)
    w1 = np.zeros((8, 6))
    w2 = np.zeros((6, 4))
    w1[:4, :3] = rng.normal(size=(4, 3))
    w1[4:, 3:] = rng.normal(size=(4, 3))
    w2[:3, :2] = rng.normal(size=(3, 2))
    w2[3:, 2:] = rng.normal(size=(3, 2))
    p1 = clusterability_penalty([w1, w2], 1)
    assert abs(float(p1)) < 1e-12  # two components: λ_2 = 0
    assert float(clusterability_penalty([w1, w2], 2)) == pytest.approx(
        dense_reference([w1, w2], 2), abs=1e-10
    )


@pytest.mark.parametrize(
    ("solver", "widths", "seed", "isolate", "zeros"),
    [("dense", *c) for c in CASES[:3]] + [("iterative", *c) for c in CASES[:2]],
)
def test_gradient_matches_finite_differences(
    solver: str, widths: list[int], seed: int, isolate: bool, zeros: float
) -> None:
    ws = tensors(random_net(widths, seed, isolate=isolate, zeros=zeros), grad=True)

    def f(*mats: torch.Tensor) -> torch.Tensor:
        return clusterability_penalty(list(mats), 3, solver=solver, tol=1e-10)

    assert torch.autograd.gradcheck(f, tuple(ws), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_zero_weights_get_zero_gradient_and_others_do_not() -> None:
    ws = tensors(random_net([12, 8, 8, 5], 4, isolate=True, zeros=0.4), grad=True)
    clusterability_penalty(ws, 3).backward()
    for w in ws:
        assert w.grad is not None
        assert torch.all(w.grad[w == 0] == 0)
        assert torch.count_nonzero(w.grad[w != 0]) == torch.count_nonzero(w)


def test_invariant_to_permuting_hidden_neurons() -> None:
    ws = random_net([10, 8, 7, 4], 6)
    rng = np.random.default_rng(1)
    p1, p2 = rng.permutation(8), rng.permutation(7)
    perm = [ws[0][:, p1], ws[1][p1][:, p2], ws[2][p2]]
    a, b = tensors(ws, grad=True), tensors(perm, grad=True)
    va, vb = clusterability_penalty(a, 3), clusterability_penalty(b, 3)
    assert float(va) == pytest.approx(float(vb), abs=1e-12)
    va.backward()
    vb.backward()
    assert a[0].grad is not None and b[0].grad is not None and b[1].grad is not None
    np.testing.assert_allclose(b[0].grad.numpy(), a[0].grad.numpy()[:, p1], atol=1e-10)
    np.testing.assert_allclose(b[1].grad.numpy(), a[1].grad.numpy()[p1][:, p2], atol=1e-10)


def test_scale_invariance() -> None:
    ws = random_net([10, 8, 6], 7)
    a = float(clusterability_penalty(ws, 2))
    b = float(clusterability_penalty([3.7 * w for w in ws], 2))
    assert a == pytest.approx(b, abs=1e-12)


def test_models_mlp_and_cnn_match_extracted_weights() -> None:
    torch.manual_seed(0)
    mlp = MLP(20, hidden=(12, 10), out_features=5).double()
    cnn = SmallCNN(
        1, 4, channels=(6, 5), pool_after=(False, True), dense=(7,), image_size=(8, 8)
    ).double()
    for model in (mlp, cnn):
        val = clusterability_penalty(model, 3)
        assert float(val) == pytest.approx(dense_reference(extract_weights(model), 3), abs=1e-9)
        val.backward()
        for name, p in model.named_parameters():
            if name.endswith("weight"):
                assert p.grad is not None and torch.count_nonzero(p.grad) > 0, name


def test_cnn_gradient_matches_finite_differences() -> None:
    torch.manual_seed(1)
    cnn = SmallCNN(
        2, 3, channels=(3, 3), pool_after=(False, True), dense=(4,), image_size=(4, 4)
    ).double()
    params = [m.weight for m in cnn.weight_layers()]

    def f(*ws: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            for m, w in zip(cnn.weight_layers(), ws, strict=True):
                m.weight.copy_(w)
        mats = modcut.readers.extract.graph_tensors(cnn)
        return clusterability_penalty(mats, 2)

    # analytic: through the module; numeric: central differences on copies
    val = clusterability_penalty(cnn, 2)
    val.backward()
    base = [p.detach().clone() for p in params]
    eps = 1e-6
    rng = np.random.default_rng(0)
    for li, p in enumerate(params):
        assert p.grad is not None
        for _ in range(5):
            idx = tuple(int(rng.integers(0, s)) for s in p.shape)
            plus = [b.clone() for b in base]
            minus = [b.clone() for b in base]
            plus[li][idx] += eps
            minus[li][idx] -= eps
            fd = (float(f(*plus)) - float(f(*minus))) / (2 * eps)
            assert float(p.grad[idx]) == pytest.approx(fd, abs=1e-6)
    f(*base)


def test_k_errors() -> None:
    ws = random_net([6, 4, 3], 0)  # even side: 6 + 3 = 9 nodes, odd side: 4
    assert live_sides(ws) == (9, 4)
    check_penalty_k(ws, 3)
    with pytest.raises(ValueError, match="too large"):
        check_penalty_k(ws, 4)
    with pytest.raises(ValueError, match="too large"):
        clusterability_penalty(ws, 4)
    with pytest.raises(ValueError, match="k ≥ 1"):
        clusterability_penalty(ws, 0)
    ws[0][:, 0] = 0.0
    ws[1][0, :] = 0.0  # an isolated odd neuron: only 3 left
    with pytest.raises(ValueError, match="too large"):
        clusterability_penalty(ws, 3)
    with pytest.raises(ValueError, match="NaN"):
        clusterability_penalty([np.full((3, 3), np.nan), np.ones((3, 2))], 1)
    with pytest.raises(ValueError, match="chain"):
        clusterability_penalty([np.ones((3, 3)), np.ones((4, 2))], 1)
    with pytest.raises(ValueError, match="solver"):
        ClusterabilityPenalty(1, solver="magic")


def test_warm_start_agrees_with_cold_start() -> None:
    torch.manual_seed(0)
    model = MLP(200, hidden=(90, 90, 90), out_features=10)  # 380 × 180 block: iterative path
    pen = ClusterabilityPenalty(3)
    first = float(pen(model))
    assert pen.info.iterations > 1 and pen.info.converged
    with torch.no_grad():
        for layer in model.linear_layers():
            layer.weight.mul_(1 + 0.01 * torch.randn_like(layer.weight))
    warm = float(pen(model))
    iters_warm = pen.info.iterations
    cold = float(clusterability_penalty(model, 3))
    exact = float(clusterability_penalty(model.double(), 3, solver="dense"))
    assert warm == pytest.approx(exact, abs=1e-5) and cold == pytest.approx(exact, abs=1e-5)
    assert first != warm and iters_warm < pen.info.iterations + 100


# --------------------------------------------------------------------------- normalisation


def reference_normalize(model: MLP) -> None:
    """The reference's NormalizeWeights, neuron by neuron (independent of the vectorised code)."""
    layers = model.linear_layers()
    with torch.no_grad():
        for h in range(len(layers) - 1):
            inc, out = layers[h], layers[h + 1]
            for j in range(inc.out_features):
                vec = torch.cat([inc.weight[j], inc.bias[j : j + 1]])
                s = float(vec.pow(2).sum().sqrt()) / np.sqrt(2.0)
                if s != 0:
                    inc.weight[j] /= s
                    inc.bias[j] /= s
                out.weight[:, j] *= s


def test_normalisation_matches_reference_loop_and_keeps_function() -> None:
    torch.manual_seed(0)
    a = MLP(30, hidden=(16, 12, 8), out_features=5).double()
    with torch.no_grad():
        a.linear_layers()[1].weight[3] = 0.0  # a dead neuron: incoming weights all zero …
        a.linear_layers()[1].bias[3] = 0.0  # … and zero bias: s = 0
    b = MLP(30, hidden=(16, 12, 8), out_features=5).double()
    b.load_state_dict(a.state_dict())
    x = torch.randn(50, 30, dtype=torch.float64)
    before = a(x)
    normalize_incoming_(a)
    reference_normalize(b)
    for (na, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=1e-12, atol=1e-12, msg=na)
    torch.testing.assert_close(a(x), before, rtol=1e-10, atol=1e-10)
    for layer in a.linear_layers()[:-1]:
        norms = torch.cat([layer.weight, layer.bias[:, None]], 1).norm(dim=1)
        live = norms > 0
        torch.testing.assert_close(norms[live], torch.full_like(norms[live], np.sqrt(2.0)))
    assert torch.all(a.linear_layers()[2].weight[:, 3] == 0)  # dead neuron's outgoing zeroed


def test_normalisation_cnn_keeps_function_and_pruned_zeros() -> None:
    torch.manual_seed(0)
    cnn = SmallCNN(
        1, 4, channels=(6, 5), pool_after=(False, True), dense=(7,), image_size=(8, 8)
    ).double()
    with torch.no_grad():
        for m in cnn.weight_layers():
            m.weight.mul_(torch.rand_like(m.weight) > 0.5)
    zeros = [m.weight == 0 for m in cnn.weight_layers()]
    x = torch.randn(9, 1, 8, 8, dtype=torch.float64)
    before = cnn(x)
    scales = normalize_incoming_(cnn)
    assert [s.shape[0] for s in scales] == [6, 5, 7]
    torch.testing.assert_close(cnn(x), before, rtol=1e-10, atol=1e-10)
    for m, z in zip(cnn.weight_layers(), zeros, strict=True):
        assert torch.all(m.weight[z] == 0)
    for m in cnn.weight_layers()[:-1]:
        norms = torch.cat([m.weight.reshape(m.weight.shape[0], -1), m.bias[:, None]], 1).norm(dim=1)
        torch.testing.assert_close(norms, torch.full_like(norms, np.sqrt(2.0)))


def test_normalisation_scope_all_also_normalises_the_outputs() -> None:
    torch.manual_seed(1)
    a = MLP(30, hidden=(16, 12), out_features=5).double()
    b = MLP(30, hidden=(16, 12), out_features=5).double()
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        out = a.linear_layers()[-1]
        out.weight.mul_(7.0)  # a scaled-up output layer, as the hidden normalisation leaves it
        b.linear_layers()[-1].weight.mul_(7.0)
        hidden = normalize_incoming_(b, "hidden")
        scales = normalize_incoming_(a, "all")
    assert [s.shape[0] for s in scales] == [16, 12, 5]
    for s_h, s_a in zip(hidden, scales, strict=False):  # the hidden layers: identical
        torch.testing.assert_close(s_h, s_a, rtol=0, atol=0)
    for layer in a.linear_layers():
        norms = torch.cat([layer.weight, layer.bias[:, None]], 1).norm(dim=1)
        torch.testing.assert_close(norms, torch.full_like(norms, np.sqrt(2.0)))
    # the output layer is b's divided row by row by the last scales (its scale is dropped)
    ob, oa = b.linear_layers()[-1], a.linear_layers()[-1]
    torch.testing.assert_close(oa.weight, ob.weight / scales[-1][:, None], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(oa.bias, ob.bias / scales[-1], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="scope"):
        normalize_incoming_(a, "outputs")
    with pytest.raises(ValueError, match="cluster_reg_normalize"):
        ClusterRegulariser(a, 0.1, 2, normalize="output")
    with pytest.raises(ValueError, match="cluster_reg_normalize"):
        TrainConfig(cluster_reg=0.1, cluster_reg_normalize="every")


def test_normalisation_refuses_non_homogeneous_models() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    with pytest.raises(ValueError, match="Tanh"):
        normalize_incoming_(model)


def test_regulariser_arguments() -> None:
    model = MLP(10, hidden=(4,), out_features=3)  # even: 10 + 3, odd: 4 → k ≤ 3
    ClusterRegulariser(model, 0.1, 3)
    with pytest.raises(ValueError, match="too large"):
        ClusterRegulariser(model, 0.1, 4)
    with pytest.raises(ValueError, match="cluster_reg"):
        ClusterRegulariser(model, -1.0, 2)
    with pytest.raises(ValueError, match="cluster_reg_every"):
        ClusterRegulariser(model, 0.1, 2, every=0)


# --------------------------------------------------------------------------- training


def small(**kw: object) -> TrainConfig:
    base: dict[str, object] = dict(
        dataset="mnist",
        hidden=(32, 32),
        epochs=3,
        prune_epochs=2,
        batch_size=32,
        sparsity=0.8,
        prune_every=5,
        seed=0,
        lr=3e-3,
    )
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cluster_reg": -0.1}, "cluster_reg must"),
        ({"cluster_reg": float("nan")}, "cluster_reg must"),
        ({"cluster_reg_k": 0}, "cluster_reg_k"),
        ({"cluster_reg_every": 0}, "cluster_reg_every"),
    ],
)
def test_config_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_training_with_the_regulariser(fake_data_dir: Path, tmp_path: Path) -> None:
    root = str(fake_data_dir)
    plain = load_checkpoint(train(small(data_root=root), tmp_path / "plain", progress=False))
    reg = load_checkpoint(
        train(
            small(data_root=root, cluster_reg=5.0, cluster_reg_k=2),
            tmp_path / "reg",
            progress=False,
        )
    )
    assert reg.metrics["sparsity"] == pytest.approx(0.8, abs=1e-3)  # pruning still reached
    hist = [h["cluster_penalty"] for h in reg.history]
    assert len(hist) == 5 and all(h is not None and 0 <= h <= 2 for h in hist)
    assert "cluster_penalty" not in plain.history[0]
    for ck in (plain, reg):  # the final penalty is recorded for every run (k = cluster_reg_k)
        want = dense_reference(extract_weights(ck.model), ck.config.cluster_reg_k)
        assert ck.metrics["cluster_penalty"] == pytest.approx(want, abs=1e-4)
    # the regulariser lowers the penalty (k = 2 for both)
    plain_k2 = dense_reference(extract_weights(plain.model), 2)
    assert reg.metrics["cluster_penalty"] < plain_k2 - 0.1
    # the trained model is normalised: hidden neurons' incoming weights + bias have norm √2
    for layer in reg.model.linear_layers()[:-1]:
        norms = torch.cat([layer.weight, layer.bias[:, None]], 1).norm(dim=1)
        live = norms > 0
        torch.testing.assert_close(norms[live], torch.full_like(norms[live], np.sqrt(2.0)))
    saved = json.loads((tmp_path / "reg" / "metrics.json").read_text())
    assert saved["history"][-1]["cluster_penalty"] == pytest.approx(hist[-1])


def test_training_cnn_with_the_regulariser(fake_data_dir: Path, tmp_path: Path) -> None:
    cfg = small(
        data_root=str(fake_data_dir),
        model="cnn",
        channels=(4, 4),
        pool_after=(False, True),
        dense=(8,),
        epochs=1,
        prune_epochs=1,
        cluster_reg=1.0,
        cluster_reg_k=2,
        cluster_reg_every=2,
    )
    ck = load_checkpoint(train(cfg, tmp_path / "cnn", progress=False))
    assert all(h["cluster_penalty"] is not None for h in ck.history)
    assert ck.metrics["sparsity"] == pytest.approx(0.8, abs=1e-3)


def test_k_too_large_is_refused_at_model_build(fake_data_dir: Path, tmp_path: Path) -> None:
    cfg = small(data_root=str(fake_data_dir), hidden=(3,), cluster_reg=0.1, cluster_reg_k=3)
    with pytest.raises(ValueError, match="too large"):
        train(cfg, tmp_path / "x", progress=False)


def test_cli_options(
    fake_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from modcut.cli import main

    common = ["train", "--dataset", "mnist", "--data-dir", str(fake_data_dir), "--no-progress"]
    for bad, match in [
        (["--cluster-reg", "-1"], "cluster_reg must be"),
        (["--cluster-reg", "0.1", "--cluster-reg-k", "0"], "cluster_reg_k must be"),
        (["--cluster-reg", "0.1", "--cluster-reg-every", "0"], "cluster_reg_every must be"),
        (["--cluster-reg", "0.1", "--hidden", "3", "--cluster-reg-k", "3"], "too large"),
    ]:
        assert main([*common, *bad, "--out", str(tmp_path / "bad")]) == 2
        assert match in capsys.readouterr().err
    out = tmp_path / "ok"
    args = ["--hidden", "16", "--epochs", "1", "--prune-epochs", "1", "--batch-size", "64"]
    reg = [
        "--cluster-reg",
        "0.5",
        "--cluster-reg-k",
        "2",
        "--cluster-reg-every",
        "3",
        "--cluster-reg-normalize",
        "all",
    ]
    assert main([*common, *args, *reg, "--quiet", "--out", str(out)]) == 0
    ck = load_checkpoint(out)
    cfg = ck.config
    assert (cfg.cluster_reg, cfg.cluster_reg_k, cfg.cluster_reg_every) == (0.5, 2, 3)
    assert cfg.cluster_reg_normalize == "all"
    for layer in ck.model.linear_layers():  # the output layer too
        norms = torch.cat([layer.weight, layer.bias[:, None]], 1).norm(dim=1)
        live = norms > 0
        torch.testing.assert_close(norms[live], torch.full_like(norms[live], np.sqrt(2.0)))


def test_study_variant() -> None:
    from modcut import study

    c = study.variant_config("cluster_reg", "fashion", 0)
    assert (c.cluster_reg, c.cluster_reg_k) == (0.05, 3) and c.pruned
    c = study.variant_config(
        "cluster_reg", "fashion", 0, variant_options={"cluster_reg": {"cluster_reg": 2.0}}
    )
    assert (c.cluster_reg, c.cluster_reg_k) == (2.0, 3)
    assert c.cluster_reg_normalize == "all"  # the study's measured default
    c = study.variant_config(
        "cluster_reg",
        "fashion",
        0,
        variant_options={"cluster_reg": {"cluster_reg_normalize": "hidden", "cluster_reg": None}},
    )
    assert (c.cluster_reg, c.cluster_reg_normalize) == (0.05, "hidden")
    from modcut.harness.train import TrainConfig as _TC

    assert _TC(cluster_reg=0.1).cluster_reg_normalize == "hidden"  # modcut train: the reference's
    assert (
        study.variant_config(
            "control", "fashion", 0, variant_options={"cluster_reg": {"cluster_reg": 2.0}}
        ).cluster_reg
        == 0.0
    )
