"""The networks studied (method.md section 5): an MLP and a small CNN.

* :class:`MLP` — flatten, then ``Linear → ReLU [→ Dropout]`` per hidden layer
  (default 4 × 256), then a ``Linear`` output layer (logits; the loss applies the
  softmax). Dropout, when on, follows every hidden layer (as the reference).
* :class:`SmallCNN` — the reference's small CNN: 3 × 3 ``same`` convolutions of
  64 channels with ReLU, 2 × 2 max-pooling after the 2nd and 3rd, optional
  dropout after each conv block, flatten, dense 128 ReLU (+ dropout), output.

Both expose :meth:`weight_layers` (the ``Linear``/``Conv2d`` modules in forward
order — the order :func:`modcut.readers.extract.layer_modules` finds) and
:meth:`architecture` (a plain dict from which :func:`model_from_architecture`
rebuilds the same module; it is stored in checkpoints).

Initialisation: PyTorch's defaults when a module is built; :func:`glorot_init_`
re-draws every ``Linear``/``Conv2d`` kernel Glorot-uniform (bounds
``±sqrt(6 / (fan_in + fan_out))``, fans counting the kernel's receptive field) with
zero biases, Keras's default and so the reference's.

Clusterable initialisation (:func:`clusterable_init_`, method.md §5, as the
reference's ``src/train_nn.py`` did it) plants ``k`` modules (default 10): each
neuron of each neuron layer gets a module drawn independently and uniformly from
``0 … k-1`` (seeded; :func:`draw_modules`), except the output layer, where class
``c`` is in module ``c`` when there are at most ``k`` classes. Every weight between
two neurons of the same module is multiplied by ``1 + (1 − d)(k − 1)`` and every
other weight by ``d``; ``d = 0.6`` for MLPs (4.6 / 0.6 for k = 10) and ``0.8`` for
the CNN's conv kernels (2.8 / 0.8). The first weight matrix (from the pixels) is
left alone, as in the reference, and for the CNN only conv-to-conv layers are
scaled (modules over conv channels; the dense layers are untouched).
``assignment="contiguous"`` (neuron ``i`` of ``n`` in module ``floor(i·k/n)``, the
same ids in every layer) and ``scale_first=True`` reproduce modcut's earlier
variant, for comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

__all__ = [
    "MLP",
    "SmallCNN",
    "build_model",
    "clusterable_init_",
    "draw_modules",
    "glorot_init_",
    "model_from_architecture",
    "module_assignment",
]


def _ints(values: Sequence[int], what: str) -> tuple[int, ...]:
    out = tuple(int(v) for v in values)
    if any(v < 1 for v in out):
        raise ValueError(f"{what} must be positive integers, got {list(values)}")
    return out


def _rate(p: float, what: str) -> float:
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"{what} must be in [0, 1), got {p}")
    return float(p)


class MLP(nn.Module):
    """Multi-layer perceptron on flattened inputs.

    Parameters
    ----------
    in_features:
        Inputs after flattening (784 for 28 × 28 images, 3072 for CIFAR-10).
    hidden:
        Hidden widths, default ``(256, 256, 256, 256)``.
    out_features:
        Outputs (classes or regression targets).
    dropout:
        Dropout rate after every hidden layer (0 disables).

    ``forward`` takes ``(N, *)`` (flattened to ``(N, in_features)``) and returns
    ``(N, out_features)`` logits or predictions.
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] = (256, 256, 256, 256),
        out_features: int = 10,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_features = int(in_features)
        self.hidden = _ints(hidden, "hidden widths")
        self.out_features = int(out_features)
        self.dropout = _rate(dropout, "dropout")
        if self.in_features < 1 or self.out_features < 1:
            raise ValueError("in_features and out_features must be positive")
        layers: list[nn.Module] = [nn.Flatten()]
        width = self.in_features
        for h in self.hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if self.dropout > 0:
                layers.append(nn.Dropout(self.dropout))
            width = h
        layers.append(nn.Linear(width, self.out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, *)`` → ``(N, out_features)``."""
        out: torch.Tensor = self.net(x)
        return out

    def linear_layers(self) -> list[nn.Linear]:
        """The ``Linear`` layers in forward order (input → output)."""
        return [m for m in self.net if isinstance(m, nn.Linear)]

    def weight_layers(self) -> list[nn.Module]:
        """Same as :meth:`linear_layers`: the modules whose weights are graph edges."""
        return list(self.linear_layers())

    def architecture(self) -> dict[str, Any]:
        """A plain dict that :func:`model_from_architecture` turns back into this model."""
        return {
            "type": "mlp",
            "in_features": self.in_features,
            "hidden": list(self.hidden),
            "out_features": self.out_features,
            "dropout": self.dropout,
        }


class SmallCNN(nn.Module):
    """Small CNN: ``same`` 3 × 3 convolutions with ReLU and max-pooling, then dense layers.

    Parameters
    ----------
    in_channels:
        Input channels (1 for MNIST, 2 for ``stacked``, 3 for CIFAR-10).
    n_classes:
        Outputs.
    channels:
        Output channels of each conv layer, default ``(64, 64, 64)``.
    pool_after:
        Whether a 2 × 2 max-pool follows each conv layer, default ``(False, True, True)``.
    dense:
        Widths of the dense hidden layers, default ``(128,)``.
    conv_dropout, dropout:
        Dropout after each conv block / each dense hidden layer (reference: 0.25 / 0.5).
    image_size:
        ``(H, W)`` of the inputs, needed to size the first dense layer.

    ``forward``: ``(N, in_channels, H, W)`` → ``(N, n_classes)`` logits.
    """

    def __init__(
        self,
        in_channels: int,
        n_classes: int,
        channels: Sequence[int] = (64, 64, 64),
        pool_after: Sequence[bool] = (False, True, True),
        dense: Sequence[int] = (128,),
        conv_dropout: float = 0.0,
        dropout: float = 0.0,
        image_size: Sequence[int] = (28, 28),
    ) -> None:
        super().__init__()
        self.in_channels = int(in_channels)
        self.n_classes = int(n_classes)
        self.channels = _ints(channels, "channels")
        self.pool_after = tuple(bool(p) for p in pool_after)
        self.dense = _ints(dense, "dense widths")
        self.conv_dropout = _rate(conv_dropout, "conv_dropout")
        self.dropout = _rate(dropout, "dropout")
        self.image_size = _ints(image_size, "image_size")
        if len(self.pool_after) != len(self.channels):
            raise ValueError("pool_after needs one entry per conv layer")
        if len(self.image_size) != 2:
            raise ValueError("image_size must be (H, W)")
        if not self.channels:
            raise ValueError("SmallCNN needs at least one conv layer")
        feats: list[nn.Module] = []
        c, (h, w) = self.in_channels, self.image_size
        for out_c, pool in zip(self.channels, self.pool_after, strict=True):
            feats += [nn.Conv2d(c, out_c, kernel_size=3, padding=1), nn.ReLU()]
            if pool:
                feats.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            if self.conv_dropout > 0:
                feats.append(nn.Dropout(self.conv_dropout))
            c = out_c
        if h < 1 or w < 1:
            raise ValueError(
                f"image_size {self.image_size} is too small for {sum(self.pool_after)} poolings"
            )
        self.features = nn.Sequential(*feats)
        head: list[nn.Module] = [nn.Flatten()]
        width = c * h * w
        for d in self.dense:
            head += [nn.Linear(width, d), nn.ReLU()]
            if self.dropout > 0:
                head.append(nn.Dropout(self.dropout))
            width = d
        head.append(nn.Linear(width, self.n_classes))
        self.classifier = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` → ``(N, n_classes)``."""
        out: torch.Tensor = self.classifier(self.features(x))
        return out

    def conv_layers(self) -> list[nn.Conv2d]:
        """The ``Conv2d`` layers in forward order."""
        return [m for m in self.features if isinstance(m, nn.Conv2d)]

    def linear_layers(self) -> list[nn.Linear]:
        """The ``Linear`` layers in forward order."""
        return [m for m in self.classifier if isinstance(m, nn.Linear)]

    def weight_layers(self) -> list[nn.Module]:
        """All ``Conv2d`` then ``Linear`` layers, in forward order."""
        return [*self.conv_layers(), *self.linear_layers()]

    def architecture(self) -> dict[str, Any]:
        """A plain dict that :func:`model_from_architecture` turns back into this model."""
        return {
            "type": "cnn",
            "in_channels": self.in_channels,
            "n_classes": self.n_classes,
            "channels": list(self.channels),
            "pool_after": list(self.pool_after),
            "dense": list(self.dense),
            "conv_dropout": self.conv_dropout,
            "dropout": self.dropout,
            "image_size": list(self.image_size),
        }


def model_from_architecture(arch: dict[str, Any]) -> nn.Module:
    """Rebuild a model (fresh weights) from :meth:`MLP.architecture` / :meth:`SmallCNN.architecture`."""
    kind = arch.get("type")
    kwargs = {k: v for k, v in arch.items() if k != "type"}
    if kind == "mlp":
        return MLP(**kwargs)
    if kind == "cnn":
        return SmallCNN(**kwargs)
    raise ValueError(f"unknown architecture type {kind!r} (expected 'mlp' or 'cnn')")


def build_model(
    config: Any, input_shape: Sequence[int] | None = None, n_outputs: int | None = None
) -> nn.Module:
    """The model a :class:`~modcut.harness.train.TrainConfig` describes.

    ``input_shape`` (one example, no batch axis) and ``n_outputs`` default to the
    data set's (:func:`modcut.harness.data.dataset_spec`). Weights come from
    PyTorch's default initialisation under the current torch RNG state, re-drawn by
    :func:`glorot_init_` when ``config.init == "glorot"``, then planted modules
    (:func:`clusterable_init_`) when ``config.clusterable_init``; the planted
    assignment is kept on the model as ``model.planted_modules`` (see
    :func:`clusterable_init_`).
    """
    if input_shape is None or n_outputs is None:
        from modcut.harness.data import dataset_spec

        spec = dataset_spec(config.dataset, getattr(config, "base", None))
        input_shape = spec.input_shape if input_shape is None else input_shape
        n_outputs = spec.n_outputs if n_outputs is None else n_outputs
    shape = tuple(int(s) for s in input_shape)
    model: nn.Module
    if config.model == "mlp":
        in_features = 1
        for s in shape:
            in_features *= s
        model = MLP(in_features, config.hidden, int(n_outputs), config.dropout)
    elif config.model == "cnn":
        if len(shape) != 3:
            raise ValueError(f"the CNN needs image inputs (C, H, W), got input shape {shape}")
        model = SmallCNN(
            shape[0],
            int(n_outputs),
            channels=config.channels,
            pool_after=config.pool_after,
            dense=config.dense,
            conv_dropout=config.conv_dropout,
            dropout=config.dropout,
            image_size=shape[1:],
        )
    else:
        raise ValueError(f"unknown model {config.model!r} (expected 'mlp' or 'cnn')")
    init = getattr(config, "init", "torch")
    if init == "glorot":
        glorot_init_(model)
    elif init != "torch":
        raise ValueError(f"unknown init {init!r} (expected 'torch' or 'glorot')")
    if config.clusterable_init:
        clusterable_init_(
            model,
            int(config.init_modules),
            assignment=getattr(config, "init_assignment", "random"),
            scale_first=bool(getattr(config, "init_scale_first", False)),
            seed=int(getattr(config, "seed", 0)),
        )
    return model


@torch.no_grad()
def glorot_init_(model: nn.Module) -> nn.Module:
    """Keras's default initialisation, in place: Glorot-uniform kernels, zero biases.

    Every ``Linear`` and ``Conv2d`` weight is drawn from ``U(-a, a)``,
    ``a = sqrt(6 / (fan_in + fan_out))`` (``fan_in = in · kh · kw``, ``fan_out =
    out · kh · kw`` for a convolution), from the global torch RNG; biases are set
    to 0. Other modules are left alone. Returns ``model``.
    """
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


def module_assignment(width: int, k: int) -> torch.Tensor:
    """Planted module of each of ``width`` neurons: ``floor(i·k / width)``, int64 ``(width,)``."""
    return torch.div(torch.arange(width) * k, width, rounding_mode="floor")


def _planted_layers(model: nn.Module) -> tuple[list[nn.Linear] | list[nn.Conv2d], list[int], float]:
    """The layers clusterable initialisation scales, the widths of their neuron layers and d."""
    if isinstance(model, SmallCNN):
        convs = list(model.conv_layers())
        widths = [model.in_channels, *model.channels]
        return convs, widths, 0.8
    if isinstance(model, MLP):
        linears = list(model.linear_layers())
        return linears, [model.in_features, *model.hidden, model.out_features], 0.6
    raise TypeError("clusterable_init_ supports modcut's MLP and SmallCNN")


def draw_modules(
    widths: Sequence[int],
    k: int,
    *,
    assignment: str = "random",
    seed: int = 0,
    n_classes: int | None = None,
) -> list[torch.Tensor]:
    """Planted module of every neuron of each neuron layer, int64 tensors ``(widths[l],)``.

    ``assignment="random"`` (the reference): each neuron's module is drawn
    independently and uniformly from ``0 … k-1`` (not balanced), layer by layer,
    from a NumPy generator seeded with ``(seed, 0x6D6F64)``; when ``n_classes`` is
    given (the last layer is an MLP's output layer) and ``n_classes ≤ k``, class
    ``c`` is in module ``c`` instead. ``"contiguous"``: neuron ``i`` of ``n`` in
    module ``floor(i·k/n)`` (:func:`module_assignment`).
    """
    if k < 2:
        raise ValueError(f"clusterable initialisation needs k ≥ 2 modules, got {k}")
    if assignment == "contiguous":
        return [module_assignment(int(w), k) for w in widths]
    if assignment != "random":
        raise ValueError(f"assignment must be 'random' or 'contiguous', got {assignment!r}")
    import numpy as np

    rng = np.random.default_rng([int(seed), 0x6D6F64])
    out = [torch.from_numpy(rng.integers(0, k, size=int(w))).to(torch.int64) for w in widths]
    if n_classes is not None and n_classes <= k:
        out[-1] = torch.arange(int(n_classes), dtype=torch.int64)
    return out


@torch.no_grad()
def clusterable_init_(
    model: nn.Module,
    k: int = 10,
    *,
    across: float | None = None,
    assignment: str = "random",
    scale_first: bool = False,
    seed: int = 0,
) -> nn.Module:
    """Plant ``k`` modules in ``model``'s initial weights, in place (see the module docstring).

    Parameters
    ----------
    model:
        A modcut :class:`MLP` or :class:`SmallCNN`.
    k:
        Number of modules (the reference's published row: 10).
    across:
        Factor for weights between different modules (default 0.6 for an MLP,
        0.8 for a CNN); weights inside a module are multiplied by
        ``1 + (1 − across)(k − 1)``.
    assignment:
        ``"random"`` (reference) or ``"contiguous"``; see :func:`draw_modules`.
    scale_first:
        Also scale the first weight matrix (from the inputs); the reference did not.
    seed:
        Seeds the random assignment.

    The assignment is stored on the model as ``model.planted_modules``, a dict
    ``{"k", "assignment", "layers", "modules"}``: ``layers`` are neuron-layer
    indices of the full graph of :func:`modcut.readers.extract.extract_weights`
    (0 = inputs; for the CNN 0 = input channels, 1 … = conv channels) and
    ``modules[i]`` the module of every neuron of ``layers[i]`` (lists of ints).
    Returns ``model``.
    """
    layers, widths, default_across = _planted_layers(model)
    d = default_across if across is None else float(across)
    if not 0.0 <= d <= 1.0:
        raise ValueError(f"across must be in [0, 1], got {d}")
    n_classes = widths[-1] if isinstance(model, MLP) else None
    mods = draw_modules(widths, k, assignment=assignment, seed=seed, n_classes=n_classes)
    within = 1.0 + (1.0 - d) * (k - 1)
    for i, layer in enumerate(layers):
        if i == 0 and not scale_first:  # the first layer (from the pixels) is left alone
            continue
        w = layer.weight  # (out, in, ...) for Linear and Conv2d
        assert isinstance(w, torch.Tensor)
        out_mod, in_mod = mods[i + 1].to(w.device), mods[i].to(w.device)
        same = out_mod[:, None] == in_mod[None, :]
        factor = torch.full(same.shape, d, dtype=w.dtype, device=w.device)
        factor[same] = within
        w.mul_(factor.reshape(*factor.shape, *([1] * (w.ndim - 2))))
    model.planted_modules = {  # type: ignore[assignment]
        "k": int(k),
        "assignment": assignment,
        "across": d,
        "within": within,
        "scale_first": bool(scale_first),
        "layers": list(range(len(mods))),
        "modules": [m.tolist() for m in mods],
    }
    return model
