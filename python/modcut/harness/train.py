"""Training, pruning, evaluation and checkpoints (method.md section 5).

The ``modcut train`` command that drives :func:`train` is :mod:`modcut.cli.train`.

:func:`train` runs the reference recipe: Adam (lr 1e-3), batch 128, cross-entropy
(mean squared error for ``poly``), ``epochs`` epochs of training, then
``prune_epochs`` epochs of fine-tuning with a fresh Adam while magnitude pruning
follows a polynomial-decay schedule from ``initial_sparsity`` to ``sparsity``,
masks updated every ``prune_every`` steps (:mod:`modcut.harness.prune`).
``prune_epochs = 0`` or ``sparsity = 0`` trains an unpruned network.

Data are whole tensors on the device; each epoch visits a permutation of the
training set drawn from a ``torch.Generator`` seeded with ``seed`` (the last batch
may be smaller, as in Keras). The model's initial weights and dropout use the
global torch RNG, seeded with ``seed``; deterministic algorithms are switched on
for the run (and restored after), so a run is bit-for-bit reproducible on the same
machine and thread count. The device is the GPU when one is present
(``device="auto"``), else the CPU, where the MLP runs on one thread unless
``threads`` says otherwise (see :class:`TrainConfig`). On a 2-core machine the
full Fashion-MNIST recipe (20 + 20 epochs, 4 × 256 MLP) takes about 3 minutes and
reaches about 89 % test accuracy at 90 % sparsity (docs/harness-measurements.md).

The checkpoint ``out_dir/checkpoint.pt`` is a ``torch.save`` of a dict of plain
Python values and CPU tensors only, loadable with ``torch.load(...,
weights_only=True)``::

    format_version  1
    modcut_version  str
    state_dict      the weights, pruned entries exactly 0 (no masks or hooks)
    architecture    dict for models.model_from_architecture
    config          dataclasses.asdict(TrainConfig)
    dataset         {name, base, train_size, test_size, input_shape, n_outputs, task, source}
    metrics         {train_accuracy, test_accuracy, train_loss, test_loss,
                     per_class_test_accuracy, sparsity, layer_sparsity, epochs,
                     prune_epochs, steps, seconds, device}
    history         one dict per epoch {phase, epoch, loss, accuracy, test_accuracy,
                     test_loss, sparsity, seconds}

Accuracies are ``None`` for the regression set ``poly``. ``out_dir/metrics.json``
repeats everything but the weights, for people.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from modcut._io import jsonable
from modcut._optional import progress_bar, want_progress
from modcut.harness.data import (
    ImageData,
    load_splits,
)
from modcut.harness.models import build_model
from modcut.harness.prune import MagnitudePruner, PolynomialDecay, prunable_weights, weight_sparsity
from modcut.readers.checkpoint import (
    CHECKPOINT_NAME,
    FORMAT_VERSION,
    Checkpoint,
    TrainConfig,
    checkpoint_from_dict,
    load_checkpoint,
    model_defaults,
)

__all__ = [
    "CHECKPOINT_NAME",
    "FORMAT_VERSION",
    "Checkpoint",
    "TrainConfig",
    "checkpoint_from_dict",
    "evaluate",
    "evaluate_loss",
    "initial_model",
    "load_checkpoint",
    "model_defaults",
    "resolve_device",
    "train",
]


def initial_model(config: TrainConfig, input_shape: Sequence[int], n_outputs: int) -> nn.Module:
    """The network a run of ``config`` starts from: the global torch RNG seeded with
    ``config.seed``, then :func:`~modcut.harness.models.build_model` (init, planted
    modules). ``untrained`` runs keep exactly these weights (pruned when ``pruned``)."""
    torch.manual_seed(config.seed)
    return build_model(config, input_shape, n_outputs)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → ``cuda`` when available, else ``cpu``; other values as ``torch.device``.

    Raises ``ValueError`` for a CUDA device when CUDA is not available.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return dev


def _threads_for(config: TrainConfig, device: torch.device) -> int | None:
    if device.type != "cpu":
        return None
    if config.threads is not None:
        return int(config.threads)
    return 1 if config.model == "mlp" else None


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    prev = torch.get_num_threads()
    if n is not None and n != prev:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != prev:
            torch.set_num_threads(prev)


@contextlib.contextmanager
def _deterministic() -> Iterator[None]:
    prev = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    prev_bench = torch.backends.cudnn.benchmark
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev, warn_only=prev_warn)
        torch.backends.cudnn.benchmark = prev_bench


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


@torch.no_grad()
def _predict(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    device = _model_device(model)
    outs = [model(x[i : i + batch_size].to(device)) for i in range(0, x.shape[0], batch_size)]
    return torch.cat(outs) if outs else torch.empty(0)


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def evaluate(model: nn.Module, data: ImageData, batch_size: int = 1024) -> tuple[float, np.ndarray]:
    """Accuracy of ``model`` on a classification set, overall and per class.

    Returns ``(accuracy, per_class_accuracy)``, the latter float64 ``(n_classes,)``
    (NaN for a class with no examples). The model is evaluated in eval mode
    (dropout off) and left in the mode it was in.

    Raises ``ValueError`` for a regression set (use :func:`evaluate_loss`).
    """
    if data.task != "classification":
        raise ValueError(
            f"{data.name} is a regression set: accuracy is undefined; use evaluate_loss"
        )
    acc, per_class, _ = _evaluate_all(model, data, batch_size)
    assert acc is not None and per_class is not None
    return acc, per_class


def _evaluate_all(
    model: nn.Module, data: ImageData, batch_size: int = 1024
) -> tuple[float | None, np.ndarray | None, float]:
    """One pass over ``data``: ``(accuracy, per_class_accuracy, mean loss)``; accuracies None
    for regression."""
    with _eval_mode(model):
        out = _predict(model, data.x, batch_size).cpu().float()
    y = data.y.cpu()
    if data.task != "classification":
        return None, None, float(nn.functional.mse_loss(out, y.float()).item())
    loss = float(nn.functional.cross_entropy(out, y).item())
    correct = (out.argmax(dim=1) == y).to(torch.float64)
    counts = torch.bincount(y, minlength=data.n_classes).to(torch.float64)
    hits = torch.bincount(y, weights=correct, minlength=data.n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = (hits / counts).numpy()
    acc = float(correct.mean().item()) if len(y) else float("nan")
    return acc, per_class, loss


def _loss_fn(data: ImageData) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return nn.functional.cross_entropy if data.task == "classification" else nn.functional.mse_loss


def evaluate_loss(model: nn.Module, data: ImageData, batch_size: int = 1024) -> float:
    """Mean loss of ``model`` on ``data``: cross-entropy, or mean squared error for regression."""
    return _evaluate_all(model, data, batch_size)[2]


def _penalty(weights: Sequence[torch.Tensor], l1: float, l2: float) -> torch.Tensor | None:
    if not l1 and not l2:
        return None
    total = torch.zeros((), device=weights[0].device)
    for w in weights:
        if l1:
            total = total + l1 * w.abs().sum()
        if l2:
            total = total + l2 * w.pow(2).sum()
    return total


def _final_cluster_penalty(model: nn.Module, k: int) -> float | None:
    """The clusterability penalty of the trained weights (None when ``k`` is too large for them)."""
    from modcut.harness.cluster_reg import ClusterabilityPenalty

    try:
        return float(ClusterabilityPenalty(k, tol=1e-6)(model).item())
    except ValueError:
        return None


def _show_progress(progress: bool | None) -> bool:
    return want_progress(progress) is not None


def _fit_phase(
    *,
    phase: str,
    model: nn.Module,
    data: ImageData,
    test: ImageData,
    epochs: int,
    config: TrainConfig,
    generator: torch.Generator,
    pruner: MagnitudePruner | None,
    schedule: PolynomialDecay | None,
    show: bool,
    verbose: bool,
    history: list[dict[str, Any]],
    t_start: float,
    start_epoch: int = 0,
    opt_state: dict[str, Any] | None = None,
    on_epoch: Callable[[int, torch.optim.Optimizer], None] | None = None,
) -> None:
    """One phase of training; with ``start_epoch``/``opt_state`` it continues a
    phase from a :func:`_save_resume` state, and ``on_epoch(epochs_done, opt)``
    runs after every finished epoch."""
    device = data.x.device
    n = len(data)
    bs = config.batch_size
    steps_per_epoch = math.ceil(n / bs)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    loss_fn = _loss_fn(data)
    classify = data.task == "classification"
    pen_weights = [w for _, w in prunable_weights(model)]
    reg = None
    if config.cluster_reg > 0:
        from modcut.harness.cluster_reg import ClusterRegulariser

        reg = ClusterRegulariser(
            model,
            config.cluster_reg,
            config.cluster_reg_k,
            config.cluster_reg_every,
            config.cluster_reg_normalize,
        )
    step = start_epoch * steps_per_epoch
    bar = progress_bar(
        show,
        total=epochs * steps_per_epoch,
        initial=step,
        desc=phase,
        leave=False,
        dynamic_ncols=True,
        file=sys.stderr,
    )
    try:
        for epoch in range(start_epoch, epochs):
            model.train()
            perm = torch.randperm(n, generator=generator).to(device)
            loss_sum = torch.zeros((), device=device, dtype=torch.float64)
            correct = torch.zeros((), device=device, dtype=torch.int64)
            seen = 0
            t_epoch = time.perf_counter()
            for b in range(steps_per_epoch):
                idx = perm[b * bs : (b + 1) * bs]
                xb, yb = data.x[idx], data.y[idx]
                if pruner is not None and schedule is not None and schedule.is_update_step(step):
                    pruner.set_sparsity(schedule.sparsity(step))
                cluster_term = reg.before_step(step) if reg is not None else None
                out = model(xb)
                loss = loss_fn(out, yb)
                pen = _penalty(pen_weights, config.l1, config.l2)
                total = loss if pen is None else loss + pen
                if cluster_term is not None:
                    total = total + cluster_term
                opt.zero_grad(set_to_none=True)
                total.backward()
                if pruner is not None:
                    pruner.mask_grads_()
                opt.step()
                if pruner is not None:
                    pruner.apply_()
                step += 1
                loss_sum += loss.detach().double() * len(idx)
                if classify:
                    correct += (out.detach().argmax(dim=1) == yb).sum()
                seen += len(idx)
                if show and (b % 25 == 0 or b == steps_per_epoch - 1):
                    post = {"ep": f"{epoch + 1}/{epochs}", "loss": f"{loss_sum.item() / seen:.4f}"}
                    if classify:
                        post["acc"] = f"{correct.item() / seen:.4f}"
                    if pruner is not None:
                        post["sparsity"] = f"{pruner.sparsity():.3f}"
                    bar.set_postfix(post, refresh=False)
                bar.update(1)
            record: dict[str, Any] = {
                "phase": phase,
                "epoch": epoch + 1,
                "loss": loss_sum.item() / seen,
                "accuracy": (correct.item() / seen) if classify else None,
                "sparsity": pruner.sparsity() if pruner is not None else 0.0,
                "seconds": time.perf_counter() - t_epoch,
            }
            if reg is not None:
                record.update(reg.epoch_penalty())
            test_acc, _, record["test_loss"] = _evaluate_all(model, test)
            if classify:
                record["test_accuracy"] = test_acc
            history.append(record)
            if verbose:
                msg = (
                    f"[{phase}] epoch {epoch + 1}/{epochs}  loss {record['loss']:.4f}"
                    + (
                        f"  acc {record['accuracy']:.4f}  test acc {record['test_accuracy']:.4f}"
                        if classify
                        else f"  test mse {record['test_loss']:.4f}"
                    )
                    + (f"  sparsity {record['sparsity']:.3f}" if pruner is not None else "")
                    + (
                        f"  cluster penalty {record['cluster_penalty']:.4f}"
                        if record.get("cluster_penalty") is not None
                        else ""
                    )
                    + f"  ({record['seconds']:.1f} s, total {time.perf_counter() - t_start:.0f} s)"
                )
                bar.write(msg, file=sys.stderr)
            if on_epoch is not None:
                on_epoch(epoch + 1, opt)
        if reg is not None:
            reg.finish()
    finally:
        bar.close()


RESUME_NAME = "resume.pt"


def _save_resume(
    path: Path,
    config: TrainConfig,
    phase: int,
    epoch: int,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    pruner: MagnitudePruner | None,
    generator: torch.Generator,
    history: list[dict[str, Any]],
) -> None:
    """Write the state after ``epoch`` epochs of phase ``phase`` atomically: model,
    optimiser, pruning masks, the data-order generator and the global torch RNG
    (dropout), so that the resumed run continues bit for bit."""
    state = {
        "config": _plain(config.to_dict()),
        "phase": phase,
        "epoch": epoch,
        "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "optimizer": opt.state_dict(),
        "masks": None if pruner is None else [m.cpu().clone() for m in pruner.masks],
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "history": _plain(history),
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_resume(path: Path, config: TrainConfig) -> dict[str, Any] | None:
    """The state :func:`_save_resume` left, when it belongs to ``config``."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a damaged file: start again
        return None
    same = json.dumps(state.get("config"), sort_keys=True, default=str) == json.dumps(
        _plain(config.to_dict()), sort_keys=True, default=str
    )
    return state if same else None


# Plain Python values for weights_only loading: the one JSON policy (modcut._io.jsonable).
_plain = jsonable


def train(
    config: TrainConfig,
    out_dir: str | os.PathLike[str],
    *,
    progress: bool | None = None,
    verbose: bool = False,
    resume: bool = True,
) -> Path:
    """Train (and prune) the network ``config`` describes; write ``out_dir/checkpoint.pt``.

    ``progress``: tqdm bars with loss/accuracy (None: only when stderr is a
    terminal and tqdm is installed; True without tqdm: ``MissingExtraError``
    naming ``modcut[progress]``). ``verbose``: one line per epoch on stderr. Returns the
    checkpoint's path. See the module docstring for the recipe and the file.

    ``resume``: after every epoch the full training state is written atomically
    to ``out_dir/resume.pt`` (removed when the run finishes); a run started again
    with the same config continues from the last finished epoch and ends with the
    same weights as an uninterrupted run. ``resume=False`` starts from zero.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    t_start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    show = _show_progress(progress)
    history: list[dict[str, Any]] = []
    n_threads = _threads_for(config, device)
    with _deterministic(), _threads(n_threads):
        torch.manual_seed(config.seed)
        train_data, test_data = load_splits(
            config.dataset,
            config.data_root,
            seed=config.seed,
            n_train=config.n_train,
            n_test=config.n_test,
            base=config.base,
            download=config.download,
        )
        train_data, test_data = train_data.to(device), test_data.to(device)
        model = initial_model(config, train_data.input_shape, train_data.n_outputs).to(device)
        if config.cluster_reg > 0:
            from modcut.harness.cluster_reg import check_penalty_k

            check_penalty_k(model, config.cluster_reg_k)
        generator = torch.Generator().manual_seed(config.seed)
        resume_path = out / RESUME_NAME
        state = _load_resume(resume_path, config) if resume else None
        if state is not None:
            model.load_state_dict(state["model"])
            generator.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
            if state["cuda_rng"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(state["cuda_rng"])
            history.extend(state["history"])
        phase_index = 0

        def fit(
            phase: str,
            epochs: int,
            pruner: MagnitudePruner | None = None,
            schedule: PolynomialDecay | None = None,
        ) -> None:
            nonlocal phase_index
            index, phase_index = phase_index, phase_index + 1
            start, opt_state = 0, None
            if state is not None and index < state["phase"]:
                return  # finished before the restart
            if state is not None and index == state["phase"]:
                start, opt_state = int(state["epoch"]), state["optimizer"]
                if pruner is not None and state["masks"] is not None:
                    pruner.masks = [m.to(device) for m in state["masks"]]
            if start >= epochs:
                return

            def checkpoint(done: int, opt: torch.optim.Optimizer) -> None:
                _save_resume(
                    resume_path, config, index, done, model, opt, pruner, generator, history
                )

            _fit_phase(
                phase=phase,
                model=model,
                data=train_data,
                test=test_data,
                epochs=epochs,
                config=config,
                generator=generator,
                pruner=pruner,
                schedule=schedule,
                show=show,
                verbose=verbose,
                history=history,
                t_start=t_start,
                start_epoch=start,
                opt_state=opt_state,
                on_epoch=checkpoint if resume else None,
            )

        if config.untrained:
            if config.pruned:  # the initialisation, magnitude-pruned in one step
                init_pruner = MagnitudePruner(model, scope=config.prune_scope)
                init_pruner.set_sparsity(config.sparsity)
                init_pruner.apply_()
        else:
            if config.epochs > 0:
                fit("train", config.epochs)
            if config.pruned:
                steps = config.prune_epochs * math.ceil(len(train_data) / config.batch_size)
                schedule = PolynomialDecay.for_steps(
                    steps,
                    min(config.initial_sparsity, config.sparsity),
                    config.sparsity,
                    config.prune_every,
                )
                pruner = MagnitudePruner(model, scope=config.prune_scope)
                fit("prune", config.prune_epochs, pruner, schedule)
            elif config.prune_epochs > 0:  # sparsity 0: fine-tune without pruning
                fit("finetune", config.prune_epochs)
        model.eval()
        train_acc, _, train_loss = _evaluate_all(model, train_data)
        test_acc, per_class, test_loss = _evaluate_all(model, test_data)
        cluster_penalty = _final_cluster_penalty(model, config.cluster_reg_k)
    sparsity, layers = weight_sparsity(model)
    seconds = time.perf_counter() - t_start
    metrics = {
        "train_accuracy": train_acc,
        "test_accuracy": test_acc,
        "train_loss": train_loss,
        "test_loss": test_loss,
        "per_class_test_accuracy": per_class,
        "sparsity": sparsity,
        "layer_sparsity": [layer["sparsity"] for layer in layers],
        "layers": layers,
        "epochs": 0 if config.untrained else config.epochs,
        "prune_epochs": 0 if config.untrained else config.prune_epochs,
        "steps": 0
        if config.untrained
        else (config.epochs + config.prune_epochs) * math.ceil(len(train_data) / config.batch_size),
        "seconds": seconds,
        "device": str(device),
        "threads": n_threads if n_threads is not None else torch.get_num_threads(),
        "cluster_penalty": cluster_penalty,
    }
    from modcut._core import __version__ as modcut_version

    dataset_info = {
        "name": config.dataset,
        "base": train_data.info.get("base"),
        "train_size": len(train_data),
        "test_size": len(test_data),
        "input_shape": list(train_data.input_shape),
        "n_outputs": train_data.n_outputs,
        "task": train_data.task,
        "source": train_data.source,
    }
    arch_fn = getattr(model, "architecture", None)
    arch = arch_fn() if callable(arch_fn) else {}
    ckpt = {
        "format_version": FORMAT_VERSION,
        "modcut_version": str(modcut_version),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "architecture": _plain(arch),
        "config": _plain(config.to_dict()),
        "dataset": _plain(dataset_info),
        "metrics": _plain(metrics),
        "history": _plain(history),
    }
    planted = getattr(model, "planted_modules", None)
    if planted is not None:
        ckpt["planted"] = _plain(planted)
    path = out / CHECKPOINT_NAME
    tmp = out / (CHECKPOINT_NAME + ".tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, path)
    (out / RESUME_NAME).unlink(missing_ok=True)
    summary = {k: v for k, v in ckpt.items() if k != "state_dict"}
    (out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    return path
