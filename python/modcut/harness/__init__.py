"""PyTorch harness: the networks studied, their data, and training with pruning and the regulariser.

Needs PyTorch (``pip install 'modcut[torch]'``): importing this package checks that torch
is installed and raises :class:`modcut.errors.MissingExtraError` naming the extra if not.

Modules (import them directly):

* :mod:`modcut.harness.data` — MNIST, Fashion-MNIST, CIFAR-10 from local files first
  (``load_dataset``, ``load_splits``, ``DatasetNotFoundError``).
* :mod:`modcut.harness.derived` — HALVES, HALVES-SAME, STACKED, LINE, POLY, built from a seed.
* :mod:`modcut.harness.models` — ``MLP``, ``SmallCNN``, ``build_model``, ``clusterable_init_``.
* :mod:`modcut.harness.prune` — ``PolynomialDecay`` schedule and ``MagnitudePruner``.
* :mod:`modcut.readers.checkpoint` — ``TrainConfig``, ``Checkpoint``, ``load_checkpoint``,
  ``checkpoint_from_dict``: what a run is and reading what it wrote (the readers use this,
  never the training loop).
* :mod:`modcut.harness.train` — ``train``, ``evaluate`` (and every name of ``checkpoint``),
  driven by the ``modcut train`` command.
* :mod:`modcut.readers.extract` — ``extract_weights``, ``layer_modules``: model or checkpoint
  to the weight matrices modcut's core takes.
* :mod:`modcut.harness.cluster_reg` — the clusterability regulariser:
  ``clusterability_penalty`` (also importable as ``modcut.harness.clusterability_penalty``),
  ``normalize_incoming_``.

Reading what training wrote and what a model holds is the readers' work:
:mod:`modcut.readers.checkpoint` (``TrainConfig``, ``Checkpoint``, ``load_checkpoint``) and
:mod:`modcut.readers.extract` (``extract_weights``, ``layer_modules``).
"""

from __future__ import annotations

from typing import Any

from modcut._optional import require

require("torch", extra="torch", purpose="modcut.harness (PyTorch models, training, extraction)")

__all__ = ["clusterability_penalty"]


def __getattr__(name: str) -> Any:
    if name == "clusterability_penalty":  # lazily: importing the package stays cheap
        from modcut.harness.cluster_reg import clusterability_penalty

        return clusterability_penalty
    raise AttributeError(f"module 'modcut.harness' has no attribute {name!r}")
