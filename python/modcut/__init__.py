"""modcut: are trained neural networks modular?

Turn a network's weights into a graph of neurons, partition it by normalized
spectral clustering, score the partition by its normalized cut (n-cut: lower
is more modular), and test it against shuffled copies of the network.

>>> import numpy as np, modcut
>>> rng = np.random.default_rng(0)
>>> weights = [rng.normal(size=(20, 16)), rng.normal(size=(16, 10))]
>>> labels = modcut.cluster(weights, k=3, random_state=0)
>>> 0.0 <= modcut.ncut(weights, labels) <= 3.0
True
"""

from typing import Any

from modcut._core import __version__
from modcut.cluster import cluster, spectral_embedding
from modcut.cut import NcutParts, ncut, ncut_parts
from modcut.errors import (
    DaskMissingError,
    DatasetNotFoundError,
    MissingExtraError,
    NetworkFileError,
    SchedulerUnreachableError,
)
from modcut.graph import Graph, build_graph
from modcut.groupnet import deprecated_alias
from modcut.network import EdgeGroup, Network, NodeGroup
from modcut.null import ClusterabilityResult, clusterability, null_statistics
from modcut.readers.load import as_network
from modcut.shuffle import SHUFFLE_METHODS, shuffle


def network_graph(model: Any, input_shape: Any = None, **options: Any) -> Network:
    """The graph of a PyTorch model's neurons read from its forward pass
    (:func:`modcut.readers.fxgraph.network_graph`; imports torch)."""
    from modcut._optional import require

    require("torch", extra="torch", purpose="modcut.network_graph")
    from modcut.readers.fxgraph import network_graph as _network_graph

    return _network_graph(model, input_shape, **options)


def activation_graph(model: Any, data: Any, **options: Any) -> Any:
    """The activation-correlation graph (r²) of a model's hidden units over a data set
    (:func:`modcut.readers.activations.activation_graph`; imports torch)."""
    from modcut._optional import require

    require("torch", extra="torch", purpose="modcut.activation_graph")
    from modcut.readers.activations import activation_graph as _activation_graph

    return _activation_graph(model, data, **options)


def mlp_blocks(source: Any) -> list[Any]:
    """One network per transformer feed-forward block of a model folder, a ``.safetensors``
    file, a Hub id in the local cache, a state dict or a module, all loaded
    (:func:`modcut.readers.blocks.mlp_blocks`; :func:`find_blocks` reads one at a time)."""
    from modcut.readers.blocks import mlp_blocks as _mlp_blocks

    return _mlp_blocks(source)


def find_blocks(source: Any, **selection: Any) -> list[Any]:
    """The feed-forward blocks (and experts) of a transformer from its tensor names and
    shapes, each read on demand with ``.load()`` (:func:`modcut.readers.blocks.find_blocks`)."""
    from modcut.readers.blocks import find_blocks as _find_blocks

    return _find_blocks(source, **selection)


def register_layout(name: str, inputs: Any, output: str, **options: Any) -> Any:
    """Teach modcut a transformer block layout (:func:`modcut.readers.blocks.register_layout`)."""
    from modcut.readers.blocks import register_layout as _register_layout

    return _register_layout(name, inputs, output, **options)


__all__ = [
    "SHUFFLE_METHODS",
    "ClusterabilityResult",
    "DaskMissingError",
    "DatasetNotFoundError",
    "EdgeGroup",
    "Graph",
    "MissingExtraError",
    "NcutParts",
    "Network",
    "NetworkFileError",
    "NodeGroup",
    "SchedulerUnreachableError",
    "__version__",
    "activation_graph",
    "as_network",
    "build_graph",
    "cluster",
    "clusterability",
    "find_blocks",
    "mlp_blocks",
    "ncut",
    "ncut_parts",
    "network_graph",
    "null_statistics",
    "register_layout",
    "shuffle",
    "spectral_embedding",
]


def __getattr__(name: str) -> Any:
    if name == "GroupNetwork":  # the old name of modcut.Network
        return deprecated_alias(name)
    raise AttributeError(f"module 'modcut' has no attribute {name!r}")
