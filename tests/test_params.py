"""The argument rules table (modcut._params) and the one message form of every public function."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import modcut
from modcut import _params
from modcut._params import EIGEN_SOLVERS, RULES, SHUFFLE_METHODS, check, k_rule, message

RNG = np.random.default_rng(0)
W = [RNG.normal(size=(6, 5)), RNG.normal(size=(5, 4))]  # 15 neurons, none isolated
N = 15

ints = st.integers(min_value=-(2**70), max_value=2**70)
not_numbers = st.one_of(st.text(max_size=5), st.lists(st.integers(), max_size=2), st.just(object()))


def refused(rule: str, value, name: str | None = None) -> type[Exception]:
    name = name or rule
    with pytest.raises((TypeError, ValueError)) as info:
        check(name, value, rule=rule)
    assert str(info.value) == message(name, value, rule=rule)
    assert str(info.value).startswith(f"{name} must be ")
    assert str(info.value).endswith(f", got {value!r}")
    return info.type


# --- each rule accepts and refuses as documented ------------------------------------------------


@given(ints)
def test_count_rules(v):
    for rule, minimum, maximum in [
        ("n_shuffles", 2, None),
        ("n_samples", 1, 2**31 - 1),
        ("start", 0, 2**62),
        ("min_size", 1, None),
    ]:
        if v >= minimum and (maximum is None or v <= maximum):
            assert check(rule, v) == v
            assert check(rule, np.int64(v)) == v if abs(v) < 2**63 else True
        else:
            assert refused(rule, v) is ValueError


@given(st.one_of(st.floats(), st.booleans(), not_numbers))
def test_counts_refuse_other_types_with_type_error(v):
    for rule in ("k", "n_shuffles", "n_samples", "start", "n_random", "n_init"):
        if rule == "n_init" and (v is None or v == "auto" or isinstance(v, str)):
            continue
        assert refused(rule, v) is TypeError


@given(st.integers(min_value=-5, max_value=50), st.integers(min_value=0, max_value=40))
def test_k_rule(k, n_active):
    if 2 <= k <= n_active:
        assert _params.check_k(k, n_active) == k
    else:
        with pytest.raises(ValueError) as info:
            _params.check_k(k, n_active)
        assert str(info.value) == k_rule(n_active).message("k", k)
        assert str(info.value) == (
            f"k must be an int at least 2 and at most {n_active} (the non-isolated neurons), got {k}"
        )


@given(st.one_of(ints, st.just("auto"), st.none(), st.text(max_size=6)))
def test_n_init_rule(v):
    ok = v is None or v == "auto" or (isinstance(v, int) and v >= 1)
    if ok:
        assert check("n_init", v) is v
    else:
        assert refused("n_init", v) is ValueError  # strings and small ints: ValueError
    assert RULES["n_init"].allowed() == "an int at least 1, 'auto' or None"


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), ints, st.booleans(), not_numbers))
def test_eps_rule(v):
    ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v >= 0
    if ok:
        assert check("eps", v) == v
    else:
        assert refused("eps", v) is ValueError  # eps has always raised ValueError only


@given(st.one_of(st.sampled_from([*EIGEN_SOLVERS, *SHUFFLE_METHODS]), st.text(max_size=8), ints))
def test_option_rules(v):
    for rule, options in [("eigen_solver", EIGEN_SOLVERS), ("shuffle", SHUFFLE_METHODS)]:
        if v in options:
            assert check(rule, v) == v
        else:
            assert refused(rule, v) is ValueError
    assert RULES["method"] is RULES["shuffle"] and RULES["seed"] is RULES["random_state"]


@given(st.one_of(ints, st.booleans(), st.floats(), st.text(max_size=3)))
def test_random_state_rule(v):
    if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**64:
        assert check("random_state", v) == v
    elif isinstance(v, int) and not isinstance(v, bool):
        assert refused("random_state", v) is ValueError
    else:
        assert refused("random_state", v) is TypeError
    assert refused("random_state", None) is ValueError  # None: not reproducible
    assert "reproducible" in message("random_state", None)
    gen = np.random.default_rng(1)
    assert check("random_state", gen) is gen


@given(st.one_of(st.integers(min_value=-10, max_value=10), st.none(), st.floats(), st.booleans()))
def test_n_jobs_rule(v):
    ok = v is None or (isinstance(v, int) and not isinstance(v, bool) and (v == -1 or v >= 1))
    if ok:
        assert check("n_jobs", v) is v
    else:
        assert refused("n_jobs", v) is ValueError  # n_jobs has always raised ValueError only


def test_chunk_size_and_workers_take_none():
    assert check("chunk_size", None) is None and check("workers", None) is None
    assert refused("chunk_size", 0) is ValueError
    assert refused("chunk_size", 1.5) is TypeError
    assert refused("workers", 1.5) is ValueError  # workers: ValueError only, as before


@given(st.one_of(st.floats(allow_nan=True), st.integers(-3, 3)))
def test_min_fraction_rule(v):
    if math.isfinite(v) and 0 <= v <= 1:
        assert check("min_fraction", v) == v
    else:
        assert refused("min_fraction", v) is ValueError


# --- every public function refuses with the one message form ------------------------------------


def _group():
    """A group network that is not a chain (a skip), for the general path."""
    g = modcut.Network.from_edges(
        [("in", 4), ("h", 3), ("out", 2)],
        [
            (0, 1, RNG.normal(size=(4, 3))),
            (1, 2, RNG.normal(size=(3, 2))),
            (0, 2, RNG.normal(size=(4, 2))),
        ],
    )
    assert not g.is_chain()
    return g


CASES = [
    # (function, kwargs, argument name, rule)
    (modcut.cluster, {"k": 3, "n_init": 0}, "n_init", "n_init"),
    (modcut.cluster, {"k": 3, "n_init": "atuo"}, "n_init", "n_init"),
    (modcut.cluster, {"k": 3, "random_state": -1}, "random_state", "random_state"),
    (modcut.cluster, {"k": 3, "random_state": None}, "random_state", "random_state"),
    (modcut.cluster, {"k": 3, "random_state": 1.5}, "random_state", "random_state"),
    (modcut.cluster, {"k": 3, "eigen_solver": "lobpcg"}, "eigen_solver", "eigen_solver"),
    (modcut.spectral_embedding, {"k": 3, "eigen_solver": "x"}, "eigen_solver", "eigen_solver"),
    (modcut.spectral_embedding, {"k": 3, "random_state": "0"}, "random_state", "random_state"),
    (modcut.shuffle, {"method": "columns"}, "method", "shuffle"),
    (modcut.shuffle, {"n_samples": 0}, "n_samples", "n_samples"),
    (modcut.shuffle, {"start": -1}, "start", "start"),
    (modcut.shuffle, {"n_jobs": 0}, "n_jobs", "n_jobs"),
    (modcut.shuffle, {"random_state": None}, "random_state", "random_state"),
    (modcut.clusterability, {"k": 3, "n_shuffles": 1}, "n_shuffles", "n_shuffles"),
    (modcut.clusterability, {"k": 3, "n_shuffles": True}, "n_shuffles", "n_shuffles"),
    (modcut.clusterability, {"k": 3, "shuffle": "global"}, "shuffle", "shuffle"),
    (modcut.clusterability, {"k": 3, "n_jobs": 2.5}, "n_jobs", "n_jobs"),
    (modcut.clusterability, {"k": 3, "chunk_size": 0}, "chunk_size", "chunk_size"),
    (modcut.clusterability, {"k": 3, "eigen_solver": "y"}, "eigen_solver", "eigen_solver"),
    (modcut.clusterability, {"k": 3, "n_init": 2.5}, "n_init", "n_init"),
    (modcut.clusterability, {"k": 3, "random_state": None}, "random_state", "random_state"),
]


@pytest.mark.parametrize("graph", ["chain", "groups"])
@pytest.mark.parametrize("func, kwargs, name, rule", CASES)
def test_public_functions_use_the_one_message(func, kwargs, name, rule, graph):
    net = W if graph == "chain" else _group()
    value = kwargs[name]
    with pytest.raises((TypeError, ValueError)) as info:
        func(net, **kwargs)
    assert str(info.value) == message(name, value, rule=rule)
    with pytest.raises(info.type):
        check(name, value, rule=rule)  # the same exception type as the table's


@pytest.mark.parametrize("graph", ["chain", "groups"])
@pytest.mark.parametrize("func", [modcut.cluster, modcut.spectral_embedding, modcut.clusterability])
@pytest.mark.parametrize("k", [1, 99, 2.5])
def test_k_message_names_the_non_isolated_neurons(func, k, graph):
    net = W if graph == "chain" else _group()
    n = N if graph == "chain" else 9
    with pytest.raises(TypeError if isinstance(k, float) else ValueError) as info:
        func(net, k=k)
    assert str(info.value) == k_rule(n).message("k", k)


@pytest.mark.parametrize("eps", [-1.0, float("nan"), float("inf"), "1e-8", True])
@pytest.mark.parametrize("func", [modcut.ncut, modcut.ncut_parts])
def test_eps_one_message_for_chains_and_groups(func, eps):
    for net, n in ((W, N), (_group(), 9)):
        with pytest.raises(ValueError) as info:
            func(net, np.zeros(n, dtype=np.int64), eps=eps)
        assert str(info.value) == message("eps", eps)


def test_analyze_checks_before_reading(tmp_path):
    from modcut import study

    missing = tmp_path / "nothing.npz"  # never read: the arguments are refused first
    for func in (study.analyze,):
        for kwargs, name, rule in [
            ({"k": 1}, "k", "k"),
            ({"n_shuffles": 1}, "n_shuffles", "n_shuffles"),
            ({"shuffle": "cols"}, "shuffle", "shuffle"),
            ({"seed": None}, "seed", "random_state"),
            ({"n_jobs": 0}, "n_jobs", "n_jobs"),
        ]:
            with pytest.raises(ValueError) as info:
                func(missing, tmp_path / "out", **kwargs)
            assert str(info.value) == message(name, kwargs[name], rule=rule)
    with pytest.raises(ValueError, match="n_init must be an int at least 1, 'auto' or None"):
        study.analyze(missing, tmp_path / "out", n_init="x")
    assert not (tmp_path / "out").exists()


def test_lesion_functions_use_the_table():
    pytest.importorskip("torch")
    from modcut.study import lesion

    labels = np.zeros(N, dtype=np.int64)
    widths = (6, 5, 4)
    for kwargs, name in [({"min_size": 0}, "min_size"), ({"min_fraction": 1.5}, "min_fraction")]:
        with pytest.raises(ValueError) as info:
            lesion.submodules(labels, widths, **kwargs)
        assert str(info.value) == message(name, kwargs[name])
    with pytest.raises(ValueError) as info:
        lesion.single_lesion_test(None, None, None, labels, widths, n_random=0)
    assert str(info.value) == message("n_random", 0)
    with pytest.raises(ValueError) as info:
        lesion.double_lesion_test(None, None, None, labels, widths, n_random=-1)
    assert str(info.value) == message("n_random", -1, rule="n_random_double")


def test_distributed_workers_use_the_table():
    pytest.importorskip("distributed")
    from modcut.distributed import connect

    with pytest.raises(ValueError) as info, connect(workers=0):
        pass
    assert str(info.value) == message("workers", 0)


def test_old_helpers_are_users_of_the_table():
    from modcut._validate import check_count, check_n_jobs, check_random_state
    from modcut.cluster import check_k, resolve_n_init
    from modcut.shuffle import check_method

    assert check_n_jobs(-1) == 0 and check_n_jobs(None) == 0 and check_n_jobs(3) == 3
    assert check_random_state(np.int64(5)) == 5
    assert check_count("n_shuffles", 4) == 4
    with pytest.raises(ValueError) as info:
        check_count("n_shuffles", 1)
    assert str(info.value) == message("n_shuffles", 1)
    with pytest.raises(ValueError) as info:
        check_k(5, 4)
    assert str(info.value) == k_rule(4).message("k", 5)
    assert resolve_n_init(None, 10) == 25 and resolve_n_init(7, 10) == 7
    with pytest.raises(ValueError) as info:
        check_method("x")
    assert str(info.value) == message("method", "x")


def test_exceptions_live_in_one_module():
    from modcut import _optional, distributed, errors
    from modcut.harness import data
    from modcut.readers import fxgraph, load

    assert load.NetworkFileError is errors.NetworkFileError is modcut.NetworkFileError
    assert _optional.MissingExtraError is errors.MissingExtraError is modcut.MissingExtraError
    assert distributed.DaskMissingError is errors.DaskMissingError
    assert distributed.SchedulerUnreachableError is errors.SchedulerUnreachableError
    assert data.DatasetNotFoundError is errors.DatasetNotFoundError
    assert fxgraph.Refused is errors.Refused
    for name in errors.__all__:
        assert getattr(errors, name).__module__ == "modcut.errors"
    assert issubclass(errors.NetworkFileError, ValueError)
    assert issubclass(errors.DaskMissingError, ImportError)
    assert issubclass(errors.DatasetNotFoundError, FileNotFoundError)


def test_reproduce_checks_before_training(tmp_path):
    pytest.importorskip("torch")
    from modcut import study

    for kwargs, name, value, rule in [
        ({"k": 1}, "k", 1, "k"),
        ({"n_shuffles": 1}, "n_shuffles", 1, "n_shuffles"),
        ({"n_init": 0}, "n_init", 0, "n_init"),
        ({"shuffle": "layer,cols"}, "shuffle", "cols", "shuffle"),
    ]:
        with pytest.raises(ValueError) as info:
            study.reproduce(seeds=1, out_dir=tmp_path / "study", log=None, **kwargs)
        assert str(info.value) == message(name, value, rule=rule)
    assert not any((tmp_path / "study").rglob("checkpoint.pt"))  # nothing was trained


def test_shuffle_bounds_its_counts_before_the_core():
    # a list of 2**62 networks, or a stream index past u64, is refused by name, not in Rust
    w = [np.ones((3, 2)), np.ones((2, 2))]
    with pytest.raises(
        ValueError, match=r"n_samples must be .* at most 2147483647, got 4611686018427387904"
    ):
        modcut.shuffle(w, n_samples=2**62)
    with pytest.raises(
        ValueError, match=r"start must be .* at most 4611686018427387904, got 18446744073709551616"
    ):
        modcut.shuffle(w, start=2**64)
