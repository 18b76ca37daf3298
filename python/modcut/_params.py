"""The rules of every public function's arguments, in one declarative table.

Modelled on scikit-learn's ``sklearn.utils._param_validation``: a rule is a
tuple of constraints (:class:`Interval`, :class:`Options`, :data:`NONE`, …);
a value is accepted when one constraint holds. Every refusal has one form,

    ``"{name} must be {allowed}, got {value!r}"``

e.g. ``"k must be an int at least 2 and at most 7 (the non-isolated neurons), got 1"``,
raised as ``TypeError`` when the value's type fits no constraint (``ValueError``
for the rules that have always raised ``ValueError``: ``eps``, ``eigen_solver``,
``shuffle``, ``n_jobs``, ``workers``) and as ``ValueError`` otherwise.

:data:`RULES` maps a rule's name to its :class:`Rule`; :func:`check` validates
one argument (``check("method", m, rule="shuffle")`` when the argument's name
differs from the rule's). Which public function checks which argument:
``tests/test_params.py``. The lowest module with :mod:`modcut.errors`: NumPy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from numbers import Integral, Real
from typing import Any

import numpy as np

__all__ = [
    "EIGEN_SOLVERS",
    "NONE",
    "RULES",
    "SHUFFLE_METHODS",
    "Interval",
    "Options",
    "Rule",
    "check",
    "check_each",
    "check_k",
    "count_rule",
    "k_rule",
    "message",
]

#: Shuffle methods of the null (method.md §4).
SHUFFLE_METHODS: tuple[str, ...] = (
    "layer",
    "layer_nonzero",
    "layer_nonzero_distribution",
    "layer_all_distribution",
)
#: Eigensolvers of the spectral embedding.
EIGEN_SOLVERS: tuple[str, ...] = ("lanczos", "arpack")


def _is_int(value: Any) -> bool:
    """A Python or NumPy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    """A Python or NumPy int or float, not a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


@dataclass(frozen=True)
class Interval:
    """Integers (``kind=Integral``) or finite reals (``kind=Real``) in
    ``[left, right]`` (``None``: unbounded on that side; bounds are closed)."""

    kind: type
    left: float | None
    right: float | None = None
    text: str | None = None  # how the rule reads, where the default wording is not the best

    def fits_type(self, value: Any) -> bool:
        return _is_int(value) if self.kind is Integral else _is_real(value)

    def holds(self, value: Any) -> bool:
        if not self.fits_type(value):
            return False
        if self.kind is Real:
            try:
                if not math.isfinite(float(value)):
                    return False
            except OverflowError:  # an int too large for a float
                return False
        return (self.left is None or value >= self.left) and (
            self.right is None or value <= self.right
        )

    def __str__(self) -> str:
        if self.text is not None:
            return self.text
        what = "an int" if self.kind is Integral else "a finite number"
        if self.left is not None and self.right is not None:
            if self.kind is Real:
                return f"{what} in [{self.left:g}, {self.right:g}]"
            return f"{what} at least {self.left} and at most {self.right}"
        if self.left is not None:
            return (
                f"{what} at least {self.left}"
                if self.kind is Integral
                else f"{what} ≥ {self.left:g}"
            )
        if self.right is not None:
            return f"{what} at most {self.right}"
        return what


@dataclass(frozen=True)
class Options:
    """One of a few strings."""

    values: tuple[str, ...]

    def fits_type(self, value: Any) -> bool:
        return isinstance(value, str)

    def holds(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.values

    def __str__(self) -> str:
        if len(self.values) == 1:
            return repr(self.values[0])
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class _Exactly:
    """One value (``None``; ``-1`` for "all cores")."""

    value: Any
    text: str

    def fits_type(self, value: Any) -> bool:
        return value is None if self.value is None else _is_int(value)

    def holds(self, value: Any) -> bool:
        if self.value is None:
            return value is None
        return _is_int(value) and value == self.value

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class _InstanceOf:
    """An instance of a class (a NumPy ``Generator``; ``bool``)."""

    cls: type | tuple[type, ...]
    text: str

    def fits_type(self, value: Any) -> bool:
        return isinstance(value, self.cls)

    def holds(self, value: Any) -> bool:
        return isinstance(value, self.cls)

    def __str__(self) -> str:
        return self.text


#: ``None`` as an accepted value.
NONE = _Exactly(None, "None")


@dataclass(frozen=True)
class Rule:
    """The values one argument takes.

    Attributes
    ----------
    constraints:
        The value is accepted when one of them holds.
    note:
        Text after the list of allowed values (what ``None`` means, why a value is refused).
    type_error:
        Raise ``TypeError`` (default) when the value's type fits no constraint;
        ``False``: ``ValueError`` for every refusal.
    value_error_for:
        Values that fit no constraint's type but raise ``ValueError`` (``random_state=None``).
    """

    constraints: tuple[Any, ...]
    note: str = ""
    type_error: bool = True
    value_error_for: tuple[Any, ...] = field(default=())

    def allowed(self) -> str:
        """The accepted values in words: ``"an int at least 1, 'auto' or None"``."""
        parts = [str(c) for c in self.constraints]
        text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]
        return f"{text} {self.note}" if self.note else text

    def message(self, name: str, value: Any) -> str:
        """The one message of a refusal."""
        return f"{name} must be {self.allowed()}, got {value!r}"

    def check(self, name: str, value: Any) -> Any:
        """``value`` when accepted; otherwise ``TypeError``/``ValueError`` with :meth:`message`."""
        if any(c.holds(value) for c in self.constraints):
            return value
        wrong_type = not any(c.fits_type(value) for c in self.constraints)
        if wrong_type and self.type_error and not any(value is v for v in self.value_error_for):
            raise TypeError(self.message(name, value))
        raise ValueError(self.message(name, value))


def count_rule(
    minimum: int, *, maximum: int | None = None, none: bool = False, type_error: bool = True
) -> Rule:
    """A count: an int (not a bool) at least ``minimum`` and at most ``maximum`` (or ``None``)."""
    cons: tuple[Any, ...] = (Interval(Integral, minimum, maximum),)
    return Rule((*cons, NONE) if none else cons, type_error=type_error)


#: The table: rule name → :class:`Rule`.
RULES: dict[str, Rule] = {
    # clusters: the upper bound (non-isolated neurons) is added per network by check_k
    "k": count_rule(2),
    # k-means restarts: None → the reference's (25, or 100 above 2,000 non-isolated
    # neurons); "auto" → the stopping rule capped there (modcut.cluster.AutoRestarts)
    "n_init": Rule((Interval(Integral, 1), Options(("auto",)), NONE)),
    "n_shuffles": count_rule(2),
    # shuffled networks are returned as a list, and null sample i draws from stream
    # start + i (a u64 in the Rust core): bounded before anything is allocated
    "n_samples": count_rule(1, maximum=2**31 - 1),
    "start": count_rule(0, maximum=2**62),
    "chunk_size": count_rule(1, none=True),
    "workers": count_rule(1, none=True, type_error=False),
    "n_random": count_rule(1),  # random lesions per sub-module (single lesions)
    "n_random_double": count_rule(0),  # random lesions per pair (double lesions; 0: none)
    "n_permutations": count_rule(1),  # null permutations of partition agreement
    "min_size": count_rule(1),
    "min_fraction": Rule((Interval(Real, 0, 1),)),
    "eps": Rule((Interval(Real, 0),), type_error=False),
    "eigen_solver": Rule((Options(EIGEN_SOLVERS),), type_error=False),
    "shuffle": Rule((Options(SHUFFLE_METHODS),), type_error=False),
    "random_state": Rule(
        (
            Interval(Integral, 0, 2**64 - 1, text="an int in [0, 2**64)"),
            _InstanceOf(np.random.Generator, "a numpy Generator"),
        ),
        note="(not None: modcut results must be reproducible)",
        value_error_for=(None,),
    ),
    "n_jobs": Rule(
        (Interval(Integral, 1), _Exactly(-1, "-1"), NONE),
        note="(-1 and None: all cores)",
        type_error=False,
    ),
    # the authors' weight normalisation (modcut.normalize) on or off
    "normalize": Rule((_InstanceOf((bool, np.bool_), "True or False"),)),
    # layer-local clustering (modcut.cluster.local_partition) on or off
    "local": Rule((_InstanceOf((bool, np.bool_), "True or False"),)),
    # the torch device of the null (modcut.batched); the device itself is checked there
    "device": Rule((NONE, _InstanceOf(str, "a torch device name ('cuda', 'cuda:1', 'cpu')"))),
}


# Arguments named otherwise in some functions: the same rule under their name.
RULES["seed"] = RULES["random_state"]
RULES["method"] = RULES["shuffle"]


def check(name: str, value: Any, *, rule: str | None = None) -> Any:
    """Validate argument ``name`` against ``RULES[rule or name]``; returns ``value``."""
    return RULES[rule or name].check(name, value)


def check_each(**values: Any) -> None:
    """Validate several arguments, each by the rule of its name (``k`` without its
    upper bound, which needs the network: :func:`check_k`)."""
    for name, value in values.items():
        check(name, value)


def message(name: str, value: Any, *, rule: str | None = None) -> str:
    """The message :func:`check` raises for ``value``."""
    return RULES[rule or name].message(name, value)


def k_rule(n_active: int) -> Rule:
    """The ``k`` rule of a network with ``n_active`` non-isolated neurons."""
    base = RULES["k"].constraints[0]
    return replace(
        RULES["k"],
        constraints=(replace(base, right=int(n_active)),),
        note="(the non-isolated neurons)",
    )


def check_k(k: Any, n_active: int) -> int:
    """``k`` for a network with ``n_active`` non-isolated neurons: an int, 2 ≤ k ≤ n_active."""
    return int(k_rule(n_active).check("k", k))
