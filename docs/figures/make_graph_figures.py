"""Draw what modcut.network_graph maps small example models to (docs/graphs.md).

Run: .venv/bin/python docs/figures/make_graph_figures.py   (writes docs/figures/*.png)
Every picture is drawn from the GroupNetwork that modcut itself builds: columns of
dots are node groups (neurons), lines are edges (width and opacity ∝ |w|), one
colour per edge group; curved lines are edges that skip a column.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import modcut
from modcut.readers.blocks import mlp_blocks

OUT = Path(__file__).parent


class ResidualBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc_in = nn.Linear(4, 5)
        self.fc1 = nn.Linear(5, 5)
        self.fc2 = nn.Linear(5, 5)
        self.head = nn.Linear(5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc_in(x))
        y = self.fc2(F.relu(self.fc1(h)))
        return self.head(F.relu(h + y))  # the skip: h feeds head with head's weights


class Concat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(4, 4)
        self.head = nn.Linear(7, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([F.relu(self.a(x)), F.relu(self.b(x))], dim=1))


class TransformerMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(4)
        self.fc = nn.Linear(4, 8)
        self.proj = nn.Linear(8, 4)
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x + self.proj(F.gelu(self.fc(self.ln(x)))))


def _columns(g: modcut.GroupNetwork) -> list[int]:
    """Column of each group: longest path from the input (groups are in forward order)."""
    col = [0] * len(g.groups)
    for e in sorted(g.edges, key=lambda e: e.dst):
        col[e.dst] = max(col[e.dst], col[e.src] + 1)
    return col


def draw(g: modcut.GroupNetwork, title: str, path: Path) -> None:
    col = _columns(g)
    n_cols = max(col) + 1
    fig, ax = plt.subplots(figsize=(1.6 * n_cols + 1.2, 3.2), dpi=80)
    pos: list[np.ndarray] = []
    stacked: dict[int, int] = {}
    for i, gr in enumerate(g.groups):
        y0 = stacked.get(col[i], 0)
        ys = -(np.arange(gr.size) + y0) * 0.5
        stacked[col[i]] = y0 + gr.size + 1
        pos.append(np.stack([np.full(gr.size, col[i] * 1.6), ys], axis=1))
    colours = plt.cm.tab10(np.arange(len(g.edges)) % 10)
    wmax = max(np.abs(e.weights.data).max() for e in g.edges)
    for c, e in zip(colours, g.edges, strict=True):
        w = np.abs(e.weights.toarray()) / wmax
        skip = col[e.dst] - col[e.src] > 1
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                if w[i, j] == 0:
                    continue
                (x0, y0), (x1, y1) = pos[e.src][i], pos[e.dst][j]
                if skip:
                    t = np.linspace(0, 1, 20)
                    xs, ys = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t + 0.8 * np.sin(np.pi * t)
                else:
                    xs, ys = np.array([x0, x1]), np.array([y0, y1])
                ax.plot(xs, ys, color=c, lw=0.3 + 1.2 * w[i, j], alpha=0.15 + 0.6 * w[i, j])
        ax.plot([], [], color=c, lw=2,
                label=f"{g.groups[e.src].name} → {g.groups[e.dst].name}")
    for i, gr in enumerate(g.groups):
        ax.scatter(pos[i][:, 0], pos[i][:, 1], s=30, color="black", zorder=3)
        ax.text(pos[i][0, 0], pos[i][0, 1] + 0.45, gr.name, ha="center", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6, loc="lower right", frameon=False)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    torch.manual_seed(0)
    draw(modcut.network_graph(ResidualBlock()), "residual block: h + fc2(fc1(h)) → head",
         OUT / "graph_residual.png")
    draw(modcut.network_graph(Concat()), "concatenation: cat([a(x), b(x)]) → head",
         OUT / "graph_concat.png")
    draw(modcut.network_graph(TransformerMLP(), input_shape=(2, 4)),
         "transformer MLP block: x + proj(gelu(fc(LN(x)))) → head",
         OUT / "graph_transformer_mlp.png")
    rng = np.random.default_rng(0)
    gated = mlp_blocks({"m.gate_proj.weight": rng.normal(size=(6, 4)),
                        "m.up_proj.weight": rng.normal(size=(6, 4)),
                        "m.down_proj.weight": rng.normal(size=(4, 6))})[0].network
    assert isinstance(gated, modcut.GroupNetwork)
    draw(gated, "gated (LLaMA) block: gate and up are parallel edge groups",
         OUT / "graph_gated_mlp.png")


if __name__ == "__main__":
    main()
