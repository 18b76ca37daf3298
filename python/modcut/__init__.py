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

from modcut._core import __version__
from modcut._validate import Network
from modcut.cluster import cluster, spectral_embedding
from modcut.cut import NcutParts, ncut, ncut_parts
from modcut.graph import Graph, build_graph
from modcut.load import NetworkFileError, as_network
from modcut.null import ClusterabilityResult, clusterability, null_statistics
from modcut.shuffle import SHUFFLE_METHODS, shuffle

__all__ = [
    "SHUFFLE_METHODS",
    "ClusterabilityResult",
    "Graph",
    "NcutParts",
    "Network",
    "NetworkFileError",
    "__version__",
    "as_network",
    "build_graph",
    "cluster",
    "clusterability",
    "ncut",
    "ncut_parts",
    "null_statistics",
    "shuffle",
    "spectral_embedding",
]
