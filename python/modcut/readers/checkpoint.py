"""Training configurations and checkpoints: what a run is (:class:`TrainConfig`) and
reading what it wrote (:class:`Checkpoint`, :func:`load_checkpoint`,
:func:`checkpoint_from_dict`).

The readers (:mod:`modcut.readers.load`, :mod:`modcut.readers.extract`) read checkpoints
through this module, never through the training loop (:mod:`modcut.harness.train`,
which re-exports every name here). The checkpoint format is described in
:mod:`modcut.harness.train`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modcut._optional import require

require("torch", extra="torch", purpose="modcut.readers.checkpoint (reading modcut checkpoints)")

from torch import nn  # noqa: E402

from modcut.harness.data import canonical_name  # noqa: E402
from modcut.harness.models import model_from_architecture  # noqa: E402
from modcut.readers.torchfile import load_tensors  # noqa: E402

__all__ = [
    "CHECKPOINT_NAME",
    "FORMAT_VERSION",
    "Checkpoint",
    "TrainConfig",
    "checkpoint_file",
    "checkpoint_from_dict",
    "load_checkpoint",
    "model_defaults",
]

FORMAT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in the checkpoint).

    Attributes
    ----------
    dataset:
        Data set name (see :data:`modcut.harness.data.DATASET_NAMES`).
    model:
        ``"mlp"`` or ``"cnn"``.
    hidden:
        MLP hidden widths.
    epochs, prune_epochs:
        Epochs of plain training, then of fine-tuning while pruning (0: unpruned).
    sparsity, initial_sparsity:
        Final and initial sparsity of the pruning schedule (the initial one is
        capped at the final one).
    prune_every:
        Steps between mask updates.
    prune_scope:
        ``"layer"`` (every weight matrix to the same sparsity, TF's default) or ``"global"``.
    batch_size, lr:
        Adam's batch size and learning rate.
    dropout, conv_dropout:
        Dropout after dense hidden layers / after CNN conv blocks.
    l1, l2:
        Weight penalties on weight matrices (not biases), ``l1·Σ|w| + l2·Σw²``; the
        reference's rate is 5e-5. 0 disables.
    init:
        ``"glorot"`` (default: Glorot-uniform kernels, zero biases — Keras's default,
        which the reference used; :func:`~modcut.harness.models.glorot_init_`) or
        ``"torch"`` (PyTorch's default ``Linear``/``Conv2d`` initialisation).
    clusterable_init, init_modules, init_assignment, init_scale_first:
        Plant ``init_modules`` modules (default 10, the reference's) in the initial
        weights, drawn ``"random"``-ly per neuron (reference) or ``"contiguous"``;
        ``init_scale_first`` also scales the first layer (the reference did not)
        (:func:`~modcut.harness.models.clusterable_init_`).
    untrained:
        Do not train: the checkpoint holds the seeded initialisation (the same
        weights the trained run of this seed starts from), magnitude-pruned in one
        step to ``sparsity`` with ``prune_scope`` when :attr:`pruned`; the untrained
        baselines of the 2020 paper.
    seed:
        Seeds weights, dropout, batch order and derived data sets.
    data_root:
        Directory searched first for data files.
    device:
        ``"auto"`` (GPU if present), ``"cpu"``, ``"cuda"``, ``"cuda:1"`` …
    base:
        Image set derived sets are built from (default MNIST).
    n_train, n_test:
        Use a seeded subset (image sets) or generate this many examples (derived sets).
    download:
        Allow downloading image sets (None: unless ``MODCUT_OFFLINE`` is set).
    channels, pool_after, dense:
        CNN conv channels, max-pool flags and dense widths.
    cluster_reg, cluster_reg_k, cluster_reg_every:
        The clusterability regulariser (:mod:`modcut.harness.cluster_reg`): loss +
        ``cluster_reg / cluster_reg_k`` · (sum of the ``cluster_reg_k`` smallest
        non-trivial eigenvalues of the normalized Laplacian), added every
        ``cluster_reg_every`` steps, with every hidden neuron's incoming weights and
        bias rescaled to L2 norm √2 before every step (the reference's
        ``NormalizeWeights``). The reference's small-MLP setting is 0.1 and 3.
        0 disables.
    cluster_reg_normalize:
        ``"hidden"`` (the reference: hidden neurons only) or ``"all"`` (the output
        neurons' incoming weights too, not function-preserving; see
        :func:`modcut.harness.cluster_reg.normalize_incoming_`).
    threads:
        CPU threads for the run (restored after). ``None``: 1 for the MLP (its
        per-batch work is too small to gain from intra-op threads — 1.3 vs 1.8 s per
        Fashion-MNIST epoch on an idle 2-core machine — while OpenMP threads that
        spin on shared cores slowed it 10–30×), torch's default for the CNN.
        Results are reproducible for a given thread count.
    """

    dataset: str = "fashion"
    model: str = "mlp"
    hidden: tuple[int, ...] = (256, 256, 256, 256)
    epochs: int = 20
    prune_epochs: int = 20
    sparsity: float = 0.9
    initial_sparsity: float = 0.5
    prune_every: int = 10
    prune_scope: str = "layer"
    batch_size: int = 128
    lr: float = 1e-3
    dropout: float = 0.0
    conv_dropout: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    clusterable_init: bool = False
    init_modules: int = 10
    init: str = "glorot"
    init_assignment: str = "random"
    init_scale_first: bool = False
    untrained: bool = False
    seed: int = 0
    data_root: str | None = None
    device: str = "auto"
    base: str | None = None
    n_train: int | None = None
    n_test: int | None = None
    download: bool | None = None
    channels: tuple[int, ...] = (64, 64, 64)
    pool_after: tuple[bool, ...] = (False, True, True)
    dense: tuple[int, ...] = (128,)
    threads: int | None = None
    cluster_reg: float = 0.0
    cluster_reg_k: int = 3
    cluster_reg_every: int = 1
    cluster_reg_normalize: str = "hidden"

    def __post_init__(self) -> None:
        self.dataset = canonical_name(self.dataset)
        if self.base is not None:
            self.base = canonical_name(self.base)
        self.model = str(self.model).lower()
        if self.model not in ("mlp", "cnn"):
            raise ValueError(f"unknown model {self.model!r} (expected 'mlp' or 'cnn')")
        self.hidden = tuple(int(h) for h in self.hidden)
        self.channels = tuple(int(c) for c in self.channels)
        self.pool_after = tuple(bool(p) for p in self.pool_after)
        self.dense = tuple(int(d) for d in self.dense)
        if self.data_root is not None:
            self.data_root = str(self.data_root)
        for name in ("epochs", "prune_epochs"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be ≥ 0, got {getattr(self, name)}")
        if self.epochs + self.prune_epochs < 1 and not self.untrained:
            raise ValueError("nothing to train: epochs + prune_epochs must be ≥ 1")
        self.init = str(self.init).lower()
        if self.init not in ("torch", "glorot"):
            raise ValueError(f"init must be 'torch' or 'glorot', got {self.init!r}")
        if self.init_assignment not in ("random", "contiguous"):
            raise ValueError(
                f"init_assignment must be 'random' or 'contiguous', got {self.init_assignment!r}"
            )
        for name in ("batch_size", "prune_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        for name in ("sparsity", "initial_sparsity", "dropout", "conv_dropout"):
            v = float(getattr(self, name))
            if not 0.0 <= v < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {v}")
        if self.prune_scope not in ("layer", "global"):
            raise ValueError(f"prune_scope must be 'layer' or 'global', got {self.prune_scope!r}")
        if self.lr <= 0 or not math.isfinite(self.lr):
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.l1 < 0 or self.l2 < 0:
            raise ValueError("l1 and l2 must be ≥ 0")
        if self.clusterable_init and self.init_modules < 2:
            raise ValueError("clusterable_init needs init_modules ≥ 2")
        if self.seed < 0:
            raise ValueError(f"seed must be ≥ 0, got {self.seed}")
        for name in ("n_train", "n_test"):
            v = getattr(self, name)
            if v is not None and int(v) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {v}")
        if self.threads is not None and int(self.threads) < 1:
            raise ValueError(f"threads must be ≥ 1 (or None), got {self.threads}")
        if not (self.cluster_reg >= 0 and math.isfinite(self.cluster_reg)):
            raise ValueError(f"cluster_reg must be a finite number ≥ 0, got {self.cluster_reg}")
        if int(self.cluster_reg_k) != self.cluster_reg_k or self.cluster_reg_k < 1:
            raise ValueError(f"cluster_reg_k must be an integer ≥ 1, got {self.cluster_reg_k}")
        if int(self.cluster_reg_every) != self.cluster_reg_every or self.cluster_reg_every < 1:
            raise ValueError(
                f"cluster_reg_every must be an integer ≥ 1, got {self.cluster_reg_every}"
            )
        if self.cluster_reg_normalize not in ("hidden", "all"):
            raise ValueError(
                "cluster_reg_normalize must be 'hidden' (the reference) or 'all', got "
                f"{self.cluster_reg_normalize!r}"
            )
        self.cluster_reg_k, self.cluster_reg_every = (
            int(self.cluster_reg_k),
            int(self.cluster_reg_every),
        )
        if self.dataset == "poly" and self.model == "cnn":
            raise ValueError("the poly data set is not images: use model='mlp'")

    @property
    def pruned(self) -> bool:
        """Whether the run prunes (``prune_epochs > 0`` and ``sparsity > 0``)."""
        return self.prune_epochs > 0 and self.sparsity > 0

    def to_dict(self) -> dict[str, Any]:
        """``dataclasses.asdict(self)``: plain Python values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys (from newer versions) are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def model_defaults(model: str) -> dict[str, Any]:
    """Reference settings that differ by model: the CNN trains 10 + 10 epochs, batch 64,
    dropout 0.25 after convs and 0.5 in dense layers; the MLP 20 + 20 epochs, batch 128, no dropout."""
    if model == "cnn":
        return {
            "epochs": 10,
            "prune_epochs": 10,
            "batch_size": 64,
            "dropout": 0.5,
            "conv_dropout": 0.25,
        }
    return {
        "epochs": 20,
        "prune_epochs": 20,
        "batch_size": 128,
        "dropout": 0.0,
        "conv_dropout": 0.0,
    }


@dataclass
class Checkpoint:
    """A loaded checkpoint.

    ``model`` is a plain ``nn.Module`` in eval mode on the CPU (pruned weights are
    exactly 0); ``config`` the :class:`TrainConfig`; ``metrics``, ``dataset_info``,
    ``architecture`` and ``history`` as stored (see the module docstring);
    ``dataset`` the data set's name; ``planted`` the planted module assignment of a
    clusterable initialisation (``model.planted_modules`` of
    :func:`~modcut.harness.models.clusterable_init_`), else None.
    """

    model: nn.Module
    config: TrainConfig
    metrics: dict[str, Any]
    dataset: str
    dataset_info: dict[str, Any] = field(default_factory=dict)
    architecture: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None
    format_version: int = FORMAT_VERSION
    planted: dict[str, Any] | None = None


def checkpoint_file(path: str | os.PathLike[str]) -> Path:
    """The checkpoint file of ``path`` (a file, or a run folder holding ``checkpoint.pt``)."""
    p = Path(path)
    if p.is_dir():
        p = p / CHECKPOINT_NAME
    if not p.is_file():
        raise FileNotFoundError(f"no checkpoint at {p}")
    return p


#: Settings of checkpoints written before these fields existed (PyTorch's default
#: initialisation, contiguous planted modules).
_LEGACY_CONFIG: dict[str, Any] = {
    "init": "torch",
    "init_assignment": "contiguous",
    "init_scale_first": False,
}


def checkpoint_from_dict(raw: dict[str, Any], path: Path | None = None) -> Checkpoint:
    """Build a :class:`Checkpoint` from a checkpoint dict (as :func:`torch.load` returns it).

    Raises ``ValueError`` when the dict is not a modcut checkpoint.
    """
    where = f" {path}" if path is not None else ""
    if not isinstance(raw, dict) or "state_dict" not in raw or "architecture" not in raw:
        raise ValueError(
            f"checkpoint{where} is not a modcut checkpoint (no 'state_dict'/'architecture'); "
            "modcut reads the files that `modcut train` writes"
        )
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"checkpoint{where} has format_version {version!r}; this modcut reads {FORMAT_VERSION}"
        )
    model = model_from_architecture(dict(raw["architecture"]))
    try:
        model.load_state_dict(raw["state_dict"], strict=True)
    except RuntimeError as exc:
        raise ValueError(f"checkpoint{where}: weights do not fit the architecture: {exc}") from exc
    model.eval()
    config = TrainConfig.from_dict({**_LEGACY_CONFIG, **dict(raw.get("config", {}))})
    dataset_info = dict(raw.get("dataset", {}))
    return Checkpoint(
        model=model,
        config=config,
        metrics=dict(raw.get("metrics", {})),
        dataset=str(dataset_info.get("name", config.dataset)),
        dataset_info=dataset_info,
        architecture=dict(raw["architecture"]),
        history=list(raw.get("history", [])),
        path=path,
        format_version=int(version),
        planted=dict(raw["planted"]) if raw.get("planted") else None,
    )


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Load ``path`` (a checkpoint file, or a run directory holding ``checkpoint.pt``).

    Loads with ``weights_only=True`` onto the CPU. Raises ``FileNotFoundError`` for a
    missing file and ``ValueError`` for a file that is not a modcut checkpoint.
    """
    p = checkpoint_file(path)
    raw = load_tensors(p, str(p), "a modcut checkpoint")
    return checkpoint_from_dict(raw, p)
