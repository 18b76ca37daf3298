"""The authors' weight normalisation, for every network.

The PyTorch port of the clusterability code (HumanCompatibleAI/nn-clustering-pytorch,
``normalize_weights_array``) clusters by default a network rescaled so that every hidden
neuron's incoming weights have L2 norm 1: its incoming weights are divided by
``c = ‖in‖₂ + eps`` (``eps = 1e-5``) and its outgoing weights multiplied by ``c``. A ReLU
network computes the same function after that rescaling, so two networks that differ only
by the scaling symmetry get the same graph. Hidden groups (groups with incoming and
outgoing edge groups) are rescaled in group order, each seeing the incoming weights the
groups before it left, as the reference loops over layers; for a CNN's channel graph the
incoming weights of a channel are its channel-to-channel edge weights (the kernels' L1
norms), which the symmetry scales the same way.

``normalize=True`` in :func:`modcut.ncut`, :func:`modcut.cluster` and
:func:`modcut.clusterability` (``--normalize`` on the command line) applies it to the
network, and, in the null, to every shuffle before it is clustered and scored, as the
reference does. The default stays the 2021 paper's (no normalisation). The operation is
written once, in Rust (``rust/src/normalize.rs``), for the observed network and the null.
"""

from __future__ import annotations

from typing import Any

from modcut import _core
from modcut._params import check
from modcut.network import Network, as_graph

__all__ = ["NORMALIZE_EPS", "normalize_network", "normalized"]

#: The reference's ``eps``.
NORMALIZE_EPS = 1e-5


def normalize_network(network: Any, eps: float = NORMALIZE_EPS) -> Network:
    """``network`` rescaled by the authors' rule (see the module docstring).

    Parameters
    ----------
    network:
        Anything :func:`modcut.as_network` takes, or a :class:`modcut.Network`.
    eps:
        Added to every norm (the reference's 1e-5); finite and > 0.

    Returns
    -------
    A new :class:`modcut.Network` with the same groups, edge groups and provenance
    (plus ``provenance["normalized"] = True``). For a network held by the core at another
    scale (weights beyond ``[2**-400, 2**400]``, :attr:`Network.core_scale`) the
    normalisation is applied at the core's scale.
    """
    net = as_graph(network)
    if any(e.src == e.dst for e in net.edges):
        raise ValueError(
            "the normalisation rescales a feed-forward network's hidden neurons; this network "
            "has edges within a group (an activation graph?), which it does not apply to"
        )
    check("eps", eps)
    if not eps > 0:
        raise ValueError(f"eps must be > 0 for the normalisation, got {eps!r}")
    core = _core.normalize(net.core, float(eps))
    return Network.from_core(core, {**net.provenance, "normalized": True}, like=net)


def normalized(network: Any, normalize: bool) -> Network:
    """``network`` as a :class:`Network`, normalised when ``normalize`` (checked by name)."""
    check("normalize", normalize)
    net = as_graph(network)
    return normalize_network(net) if normalize else net
