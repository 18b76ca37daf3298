"""Readers: everything a user has becomes a :class:`modcut.Network` here.

* :mod:`modcut.readers.load` — matrices, ``.npz``/``.npy`` files, checkpoints and run
  folders, torch modules that are chains, saved graphs, model files (``.pt2``, state
  dicts with an architecture); :func:`~modcut.readers.load.as_network` /
  :func:`~modcut.readers.load.as_graph` are the one input path of every public function;
* :mod:`modcut.readers.fxgraph` and :mod:`modcut.readers.exportgraph` — any PyTorch
  model's graph of neurons from its forward pass (torch.fx, torch.export);
* :mod:`modcut.readers.blocks` — transformer feed-forward blocks of ``.safetensors``
  files, state dicts and modules;
* :mod:`modcut.readers.extract` — a PyTorch model's (or checkpoint's) weight matrices
  (``extract_weights``, ``layer_modules``, convolution norms);
* :mod:`modcut.readers.checkpoint` — what a training run is and reading what it wrote
  (``TrainConfig``, ``Checkpoint``, ``load_checkpoint``; the model is rebuilt from
  :mod:`modcut.harness.models`).

Torch is imported only by the modules that need it (``fxgraph``, ``exportgraph``,
``extract``, ``checkpoint``, and ``load``/``blocks`` when they read a torch object).
"""
