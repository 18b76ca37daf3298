"""Lesion mechanics and statistics (modcut.study.lesion, method.md §6)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from modcut.study.lesion import (  # noqa: E402
    DoubleLesionResult,
    LesionEvaluator,
    SingleLesionResult,
    double_lesion_test,
    importance_statistics,
    lesion,
    lesion_groups,
    single_lesion_test,
    submodules,
)

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny tensors: torch's thread pool only adds contention on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def random_mlp(widths=(12, 10, 8, 6, 4), seed=0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Flatten()]
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers).eval()


def small_cnn(seed=0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 5, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(5 * 4 * 4, 7),
        nn.ReLU(),
        nn.Linear(7, 3),
    ).eval()


class CustomForward(nn.Module):
    """Same maths as random_mlp but with a hand-written forward (no fast path)."""

    def __init__(self, seq: nn.Sequential) -> None:
        super().__init__()
        self.lins = nn.ModuleList([m for m in seq if isinstance(m, nn.Linear)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(1)
        for i, lin in enumerate(self.lins):
            h = lin(h)
            if i < len(self.lins) - 1:
                h = torch.relu(h)
        return h


N_MODULES = 5
PER_CLASS = 3  # neurons per class in each hidden layer


def planted_network() -> tuple[nn.Sequential, np.ndarray, tuple[int, ...]]:
    """A hand-built modular MLP: module m carries classes 2m and 2m+1.

    Inputs: 10 features, feature c signals class c. Two hidden layers of 30
    neurons: module m owns neurons 6m … 6m+5 (3 copies of feature 2m, then 3 of
    feature 2m+1). The logit of class c averages its 3 copies.
    """
    n_in, n_hidden, n_out = 10, N_MODULES * 2 * PER_CLASS, 10
    w1 = torch.zeros(n_hidden, n_in)
    for j in range(n_hidden):
        w1[j, j // PER_CLASS] = 1.0
    w2 = torch.eye(n_hidden)
    w3 = torch.zeros(n_out, n_hidden)
    for j in range(n_hidden):
        w3[j // PER_CLASS, j] = 1.0 / PER_CLASS
    net = nn.Sequential(
        nn.Linear(n_in, n_hidden),
        nn.ReLU(),
        nn.Linear(n_hidden, n_hidden),
        nn.ReLU(),
        nn.Linear(n_hidden, n_out),
    )
    with torch.no_grad():
        for lin, w in zip([net[0], net[2], net[4]], [w1, w2, w3], strict=True):
            lin.weight.copy_(w)
            lin.bias.zero_()
    labels = np.concatenate(
        [
            np.arange(n_in) // 2,
            np.arange(n_hidden) // (2 * PER_CLASS),
            np.arange(n_hidden) // (2 * PER_CLASS),
            np.arange(n_out) // 2,
        ]
    )
    return net.eval(), labels, (n_in, n_hidden, n_hidden, n_out)


def planted_data(n=2000, seed=0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    x = 0.3 * torch.randn(n, 10, generator=g)
    x[torch.arange(n), y] += 3.0
    return x, y


# --------------------------------------------------------------------------- sub-modules


def test_submodules_split_hidden_layers_and_skip_tiny():
    widths = (4, 10, 6, 2)
    labels = np.concatenate(
        [
            [0, 0, 1, 1],  # input: never a sub-module
            [0, 0, 0, 0, 1, 1, 1, 2, -1, -1],  # cluster 2 has one neuron
            [1, 1, 1, 1, 2, 2],
            [0, 1],  # output: never a sub-module
        ]
    )
    subs = submodules(labels, widths, min_size=2, min_fraction=0.0)
    assert [(s.layer, s.cluster, s.size) for s in subs] == [
        (1, 0, 4),
        (1, 1, 3),
        (2, 1, 4),
        (2, 2, 2),
    ]
    np.testing.assert_array_equal(subs[1].neurons, [4, 5, 6])
    assert subs[0].name == "L1:C0"
    # min_fraction is of the layer's clustered neurons (8 in layer 1, 6 in layer 2)
    subs = submodules(labels, widths, min_size=1, min_fraction=0.5)
    assert [(s.layer, s.cluster) for s in subs] == [(1, 0), (2, 1)]
    with pytest.raises(ValueError):
        submodules(labels[:-1], widths)


# --------------------------------------------------------------------------- mechanics


def test_lesion_zeroes_in_out_bias_and_restores():
    model = random_mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    lins = [m for m in model if isinstance(m, nn.Linear)]
    with lesion(model, 2, [1, 5]):
        assert torch.all(lins[1].weight[[1, 5]] == 0)  # incoming
        assert torch.all(lins[1].bias[[1, 5]] == 0)  # biases
        assert torch.all(lins[2].weight[:, [1, 5]] == 0)  # outgoing
        assert torch.count_nonzero(lins[1].weight) == lins[1].weight.numel() - 2 * 10
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    with pytest.raises(ValueError, match="hidden"):
        with lesion(model, 0, [1]):
            pass
    with pytest.raises(ValueError, match="hidden"):
        with lesion(model, 4, [1]):
            pass
    with pytest.raises(ValueError, match="range"):
        with lesion(model, 1, [10]):
            pass


def test_overlapping_groups_restore_exactly():
    model = random_mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with lesion_groups(model, [(1, [0, 1, 2]), (1, [2, 3]), (2, [0])]):
        pass
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


@pytest.mark.parametrize("layer", [1, 2, 3])
def test_lesioned_neuron_has_no_effect_path(layer):
    model = random_mlp()
    lins = [m for m in model if isinstance(m, nn.Linear)]
    x = torch.randn(64, 12)
    j = 2
    src = lins[layer - 1]

    def perturb_inputs() -> None:  # new incoming weights, bias, and noise on the activation
        with torch.no_grad():
            src.weight[j] = torch.randn(src.weight.shape[1]) * 5
            src.bias[j] = 3.0

    noise = {"on": False}

    def add_noise(_m, _inp, out):
        if noise["on"]:
            out = out.clone()
            out[:, j] += 7.0 * torch.randn(out.shape[0])
        return out

    handle = src.register_forward_hook(add_noise)
    try:
        # sanity: without the lesion, the same perturbation changes the output
        ref = model(x)
        noise["on"] = True
        assert not torch.allclose(model(x), ref)
        noise["on"] = False
        with lesion(model, layer, [j]):
            lesioned = model(x)
            perturb_inputs()
            noise["on"] = True
            assert torch.equal(model(x), lesioned)
    finally:
        handle.remove()


@pytest.mark.parametrize("layer", [1, 2, 3])
def test_lesioned_channel_has_no_effect_path_in_cnn(layer):
    model = small_cnn()
    x = torch.rand(16, 1, 8, 8)
    j = 1
    from modcut.readers.extract import layer_modules

    src = layer_modules(model)[layer - 1]
    with lesion(model, layer, [j]):
        lesioned = model(x)
        with torch.no_grad():
            src.weight[j] = torch.randn_like(src.weight[j]) * 5
            src.bias[j] = 2.0
        assert torch.equal(model(x), lesioned)
    # after the context the perturbed weights are restored to the originals, so the
    # lesion is a no-op on the intact model's parameters
    assert torch.count_nonzero(src.weight[j]) > 0


def test_fast_path_equals_full_forward():
    model = random_mlp(widths=(20, 16, 12, 10, 5), seed=1)
    x = torch.randn(700, 20)
    y = model(x).argmax(1)
    fast = LesionEvaluator(model, x, y, n_classes=5, batch_size=256)
    slow = LesionEvaluator(model, x, y, n_classes=5, batch_size=256, fast=False)
    assert fast.fast and not slow.fast
    custom = LesionEvaluator(CustomForward(model), x, y, n_classes=5)
    assert not custom.fast
    rng = np.random.default_rng(0)
    cases = [[]]
    for _ in range(12):
        la, lb = sorted(rng.choice([1, 2, 3], size=2, replace=True))
        cases.append(
            [
                (int(la), rng.choice(16 if la == 1 else 12 if la == 2 else 10, 3, replace=False)),
                (int(lb), rng.choice(16 if lb == 1 else 12 if lb == 2 else 10, 2, replace=False)),
            ]
        )
    for groups in cases:
        a_f, pc_f = fast.accuracy(groups)
        a_s, pc_s = slow.accuracy(groups)
        a_c, _ = custom.accuracy(groups)
        assert a_f == pytest.approx(a_s, abs=2e-3)  # float rounding may flip a near-tie
        assert a_c == a_s
        np.testing.assert_allclose(pc_f, pc_s, atol=2e-2)
    assert fast.accuracy([])[0] == 1.0


def test_fast_path_with_cnn_matches():
    model = small_cnn()
    x = torch.rand(300, 1, 8, 8)
    y = model(x).argmax(1)
    fast = LesionEvaluator(model, x, y, n_classes=3)
    slow = LesionEvaluator(model, x, y, n_classes=3, fast=False)
    assert fast.fast
    for groups in ([(1, [0, 2])], [(2, [1, 3, 4])], [(3, [0, 5])], [(1, [1]), (2, [2])]):
        assert fast.accuracy(groups)[0] == pytest.approx(slow.accuracy(groups)[0], abs=1e-2)


# --------------------------------------------------------------------------- statistics


def test_importance_statistics_hand_cases():
    null = [0.0, 0.1, 0.2, 0.3]
    s = importance_statistics(0.25, null)
    assert s["p_value"] == pytest.approx((1 + 1) / 5)  # one null drop ≥ 0.25
    assert s["percentile"] == pytest.approx(75.0)
    assert s["null_mean"] == pytest.approx(0.15)
    assert s["null_std"] == pytest.approx(np.std(null, ddof=1))
    assert s["z_score"] == pytest.approx((0.25 - 0.15) / np.std(null, ddof=1))
    s = importance_statistics(1.0, null)
    assert s["p_value"] == pytest.approx(1 / 5) and s["percentile"] == 100.0
    s = importance_statistics(-1.0, null)
    assert s["p_value"] == 1.0 and s["percentile"] == 0.0
    # ties count against significance
    assert importance_statistics(0.3, null)["p_value"] == pytest.approx(2 / 5)
    # degenerate nulls
    assert math.isnan(importance_statistics(0.0, [0.0, 0.0])["z_score"])
    assert importance_statistics(0.1, [0.0, 0.0])["z_score"] == math.inf
    assert importance_statistics(0.1, [0.0])["null_std"] == 0.0
    with pytest.raises(ValueError):
        importance_statistics(0.1, [])


# --------------------------------------------------------------------------- planted modules


def test_planted_module_lesion_hurts_its_own_classes():
    net, labels, widths = planted_network()
    x, y = planted_data()
    res = single_lesion_test(net, x, y, labels, widths, n_random=40, seed=3, progress=False)
    assert res.base_accuracy == 1.0
    assert [(s.layer, s.cluster) for s in res.lesions] == [
        (layer, m) for layer in (1, 2) for m in range(N_MODULES)
    ]
    for s in res.lesions:
        own = [2 * s.cluster, 2 * s.cluster + 1]
        other = [c for c in range(10) if c not in own]
        assert np.all(s.per_class_drop[own] > 0.9), (s.name, s.per_class_drop)
        assert np.all(np.abs(s.per_class_drop[other]) < 0.02), (s.name, s.per_class_drop)
        assert s.drop == pytest.approx(0.2, abs=0.01)
        # random lesions of 6 of the 30 neurons rarely take out all 3 copies of a class
        assert s.null_mean < 0.05
        assert s.p_value <= 2 / 41 and s.percentile >= 95
        assert s.null_drops.shape == (40,)
    # same seed → same null; different seed → different null
    again = single_lesion_test(net, x, y, labels, widths, n_random=40, seed=3, progress=False)
    np.testing.assert_array_equal(again.lesions[0].null_drops, res.lesions[0].null_drops)
    # a sub-module's null does not depend on which other sub-modules are tested
    only = single_lesion_test(
        net,
        x,
        y,
        labels,
        widths,
        n_random=40,
        seed=3,
        modules=[submodules(labels, widths)[4]],
        progress=False,
    )
    np.testing.assert_array_equal(only.lesions[0].null_drops, res.lesions[4].null_drops)


def test_double_lesion_series_vs_parallel_modules():
    net, labels, widths = planted_network()
    x, y = planted_data()
    single = single_lesion_test(net, x, y, labels, widths, n_random=5, progress=False)
    dbl = double_lesion_test(
        net, x, y, labels, widths, single=single, max_submodules=None, n_random=3, progress=False
    )
    assert len(dbl.pairs) == N_MODULES * N_MODULES  # only pairs across the two layers
    for p in dbl.pairs:
        assert p.layer_a == 1 and p.layer_b == 2
        if p.cluster_a == p.cluster_b:
            # the same pathway in series: the second lesion adds nothing
            assert p.joint_drop == pytest.approx(0.2, abs=0.01)
            assert p.interaction == pytest.approx(-0.2, abs=0.02)
        else:
            # two independent modules: drops add up
            assert p.joint_drop == pytest.approx(0.4, abs=0.02)
            assert p.interaction == pytest.approx(0.0, abs=0.02)
        assert p.null_drops.shape == (3,)
    m = dbl.matrix("joint_drop")
    assert m.shape == (10, 10) and np.isnan(m[0, 1]) and m[0, 5] == pytest.approx(0.2, abs=0.01)
    # without a single-lesion result, and keeping only the 4 most damaging
    dbl2 = double_lesion_test(net, x, y, labels, widths, max_submodules=4, progress=False)
    assert len(dbl2.submodules) == 4
    assert all(p.null_drops.size == 0 and math.isnan(p.p_value) for p in dbl2.pairs)


# --------------------------------------------------------------------------- serialisation


def test_results_round_trip_json_and_csv(tmp_path):
    net, labels, widths = planted_network()
    x, y = planted_data(400)
    single = single_lesion_test(net, x, y, labels, widths, n_random=4, progress=False)
    path = tmp_path / "single.json"
    single.to_json(path)
    json.loads(path.read_text())  # strict JSON (no NaN)
    back = SingleLesionResult.from_json(path)
    assert back.base_accuracy == single.base_accuracy
    assert len(back.lesions) == len(single.lesions)
    np.testing.assert_array_equal(back.lesions[3].null_drops, single.lesions[3].null_drops)
    np.testing.assert_array_equal(back.lesions[3].neurons, single.lesions[3].neurons)
    csv_text = single.to_csv(tmp_path / "single.csv")
    header = csv_text.splitlines()[0].split(",")
    assert header[:4] == ["submodule", "layer", "cluster", "size"]
    assert "p_value" in header and "drop_class_9" in header
    assert len(csv_text.splitlines()) == 1 + len(single.lesions)

    dbl = double_lesion_test(net, x, y, labels, widths, single=single, progress=False)
    text = dbl.to_json()
    assert "NaN" not in text
    back2 = DoubleLesionResult.from_json(text)
    assert back2.submodules == dbl.submodules
    assert back2.pairs[0].joint_drop == dbl.pairs[0].joint_drop
    assert math.isnan(back2.pairs[0].p_value)
    assert dbl.to_csv().splitlines()[0].startswith("a,b,size_a,size_b")


def test_widths_must_match_model():
    net, _labels, widths = planted_network()
    x, y = planted_data(100)
    with pytest.raises(ValueError, match="widths"):
        single_lesion_test(net, x, y, np.zeros(sum(widths) + 1, int), (11, 30, 30, 10))
