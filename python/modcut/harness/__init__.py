"""PyTorch harness: the networks studied, their data, training with pruning, and weight extraction.

Modules (import them directly; importing this package does not import torch):

* :mod:`modcut.harness.data` — MNIST, Fashion-MNIST, CIFAR-10 from local files first
  (``load_dataset``, ``load_splits``, ``DatasetNotFoundError``).
* :mod:`modcut.harness.derived` — HALVES, HALVES-SAME, STACKED, LINE, POLY, built from a seed.
* :mod:`modcut.harness.models` — ``MLP``, ``SmallCNN``, ``build_model``, ``clusterable_init_``.
* :mod:`modcut.harness.prune` — ``PolynomialDecay`` schedule and ``MagnitudePruner``.
* :mod:`modcut.harness.train` — ``TrainConfig``, ``train``, ``evaluate``, ``load_checkpoint``,
  and the ``modcut train`` command.
* :mod:`modcut.harness.extract` — ``extract_weights``, ``layer_modules``: model or checkpoint
  to the weight matrices modcut's core takes.
"""
