"""Deprecated module: group networks are :class:`modcut.Network` (:mod:`modcut.network`).

``GroupNetwork`` is a deprecated alias of :class:`~modcut.network.Network` (one network
type: node groups and edge groups; a layered chain is the case whose groups form a
path): older code that builds ``GroupNetwork.from_edges(...)`` keeps working and is
warned (``DeprecationWarning``) to use ``modcut.Network``.
"""

from __future__ import annotations

import warnings
from typing import Any

from modcut.network import EdgeGroup, Network, NodeGroup

__all__ = ["EdgeGroup", "NodeGroup"]


def deprecated_alias(name: str) -> Any:
    """``Network`` for the old name ``GroupNetwork``, with a ``DeprecationWarning``."""
    if name != "GroupNetwork":
        raise AttributeError(name)
    warnings.warn(
        "modcut.GroupNetwork is deprecated: it is modcut.Network (one type for chains and "
        "networks with skips)",
        DeprecationWarning,
        stacklevel=3,
    )
    return Network


def __getattr__(name: str) -> Any:
    try:
        return deprecated_alias(name)
    except AttributeError:
        raise AttributeError(f"module 'modcut.groupnet' has no attribute {name!r}") from None
