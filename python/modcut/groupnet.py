"""Deprecated module: group networks are :class:`modcut.Network` (:mod:`modcut.network`).

``GroupNetwork`` is kept as an alias of :class:`~modcut.network.Network` (one network
type: node groups and edge groups; a layered chain is the case whose groups form a
path), so older code that builds ``GroupNetwork.from_edges(...)`` keeps working.
"""

from __future__ import annotations

from modcut.network import EdgeGroup, Network, NodeGroup

GroupNetwork = Network

__all__ = ["EdgeGroup", "GroupNetwork", "NodeGroup"]
