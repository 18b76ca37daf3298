"""Record and compare modcut's numbers bit for bit across a refactor.

    python benches/baseline.py record DIR     # before: writes DIR/baseline.npz
    python benches/baseline.py compare DIR    # after: recomputes and compares every array

What is recorded (the public API only, so the record survives any internal move):

* the chain baseline: the README quickstart network and a pruned 784-256×4-10 MLP
  (90 % of its weights zeroed, seeded): labels, n-cut and embedding under both
  eigen solvers, and the null n-cuts under every shuffle method (Lanczos; ARPACK
  for `layer` and `layer_nonzero`);
* the group baseline: ResNet-18's channel graph, a residual MLP and a concatenation
  read by both tracers (fx, export), and a planted non-bipartite residual graph:
  labels, embeddings and null n-cuts with Lanczos and ARPACK.

Every value is compared with ``np.array_equal`` (bit-identical, NaN never expected).
This is a tool for developers, not a test: the numbers depend on the machine's
floating-point kernels, so a record is only compared on the machine that made it.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

import modcut

N_NULL = 6


def _quickstart() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    widths = [100, 80, 60, 10]
    weights = []
    for a, b in itertools.pairwise(widths):
        same = (np.arange(a)[:, None] * 2 // a) == (np.arange(b)[None, :] * 2 // b)
        weights.append(rng.normal(size=(a, b)) * np.where(same, 1.0, 0.02))
    return weights


def _pruned_mlp() -> list[sp.csr_matrix]:
    rng = np.random.default_rng(1)
    widths = [784, 256, 256, 256, 256, 10]
    out = []
    for a, b in itertools.pairwise(widths):
        w = rng.normal(size=(a, b)) / np.sqrt(a)
        w[rng.random((a, b)) < 0.9] = 0.0
        out.append(sp.csr_matrix(w))
    return out


def _nonbipartite() -> Any:
    rng = np.random.default_rng(2)
    n, k = 60, 3
    sizes = [n, n, n, n // 2]
    truth = [np.arange(s) * k // s for s in sizes]
    edges = []
    for s, d in [(0, 1), (1, 2), (2, 3), (0, 2), (1, 3)]:
        same = truth[s][:, None] == truth[d][None, :]
        w = rng.uniform(0.5, 1.5, (sizes[s], sizes[d])) * same
        w += 0.2 * rng.uniform(0.0, 1.0, w.shape) * ~same
        w *= rng.choice([-1.0, 1.0], w.shape)
        edges.append((s, d, w))
    return modcut.Network.from_edges([(f"g{i}", s) for i, s in enumerate(sizes)], edges)


def _torch_graphs() -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    import torchvision
    from torch import nn

    class ResidualMLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(20, 32)
            self.fc2 = nn.Linear(32, 32)
            self.fc3 = nn.Linear(32, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            a = self.fc1(x)
            b = self.fc2(F.relu(a))
            return self.fc3(torch.relu(a + b))

    class Concat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(20, 12)
            self.b = nn.Linear(20, 16)
            self.head = nn.Linear(28, 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(torch.cat([F.relu(self.a(x)), self.b(x)], dim=1))

    graphs: dict[str, Any] = {}
    for tracer in ("fx", "export"):
        torch.manual_seed(0)
        graphs[f"residual_{tracer}"] = modcut.network_graph(ResidualMLP(), tracer=tracer)
        torch.manual_seed(0)
        graphs[f"concat_{tracer}"] = modcut.network_graph(Concat(), tracer=tracer)
    torch.manual_seed(0)
    graphs["resnet18"] = modcut.network_graph(
        torchvision.models.resnet18(weights=None), input_shape=(3, 64, 64)
    )
    return graphs


def _record_network(out: dict[str, np.ndarray], name: str, net: Any, k: int, methods: Any) -> None:
    for solver in ("lanczos", "arpack"):
        labels = modcut.cluster(net, k, random_state=0, eigen_solver=solver)
        out[f"{name}/{solver}/labels"] = labels
        out[f"{name}/{solver}/ncut"] = np.array([modcut.ncut(net, labels)])
        emb = modcut.spectral_embedding(net, k, random_state=0, eigen_solver=solver)
        for field in ("node_ids", "x", "eigenvalues"):
            out[f"{name}/{solver}/embedding.{field}"] = np.asarray(getattr(emb, field))
        auto = modcut.cluster(net, k, random_state=0, eigen_solver=solver, n_init="auto")
        out[f"{name}/{solver}/labels_auto"] = auto
        for method in methods if solver == "lanczos" else ("layer", "layer_nonzero"):
            res = modcut.clusterability(
                net,
                k,
                n_shuffles=N_NULL,
                shuffle=method,
                random_state=3,
                eigen_solver=solver,
                progress=False,
            )
            out[f"{name}/{solver}/null.{method}"] = np.asarray(res.null_ncuts)
            out[f"{name}/{solver}/observed.{method}"] = np.array([res.ncut])
        shuffled = modcut.shuffle(net, "layer_nonzero", n_samples=1, random_state=5)[0]
        out[f"{name}/shuffle.layer_nonzero"] = np.asarray(
            modcut.ncut(shuffled, modcut.cluster(shuffled, k, random_state=0, eigen_solver=solver))
        ).reshape(1)


def compute() -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    methods = modcut.SHUFFLE_METHODS
    print("chain: quickstart", flush=True)
    _record_network(out, "quickstart", _quickstart(), 2, methods)
    print("chain: pruned 784-256x4-10", flush=True)
    _record_network(out, "pruned_mlp", _pruned_mlp(), 12, methods)
    print("group: non-bipartite", flush=True)
    _record_network(out, "nonbipartite", _nonbipartite(), 3, ("layer", "layer_nonzero"))
    for name, g in _torch_graphs().items():
        print(f"group: {name}", flush=True)
        k = 12 if name == "resnet18" else 3
        _record_network(out, name, g, k, ("layer", "layer_nonzero"))
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("record", "compare"):
        print(__doc__)
        return 2
    folder = Path(argv[2])
    path = folder / "baseline.npz"
    now = compute()
    if argv[1] == "record":
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(path, **now)
        print(f"recorded {len(now)} arrays in {path}")
        return 0
    with np.load(path) as f:
        before = {key: f[key] for key in f.files}
    bad = []
    for key in sorted(set(before) | set(now)):
        if key not in now or key not in before:
            bad.append(f"{key}: only {'before' if key in before else 'now'}")
        elif before[key].shape != now[key].shape or not np.array_equal(before[key], now[key]):
            bad.append(f"{key}: differs")
    for line in bad:
        print(line)
    print("BIT-IDENTICAL" if not bad else f"{len(bad)} of {len(before)} arrays differ")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
