"""Significance of a network's clusterability against shuffled networks.

:func:`clusterability` clusters the observed network, then ``n_shuffles``
null networks (each a per-layer shuffle of the observed one, method.md §4),
each clustered with the same algorithm and settings, and compares n-cuts.

Determinism: null sample ``i`` draws its shuffle and its clustering from
random streams named by ``(random_state, i)`` alone, so the null
distribution is identical for any ``n_jobs`` and any chunking.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from modcut import _core
from modcut._io import float_or_nan, read_json, write_json
from modcut._params import check
from modcut._stats import empirical_test
from modcut._validate import check_count, check_n_jobs, check_random_state
from modcut.batched import check_device, default_batch, device_name, device_null_chunk
from modcut.cluster import (
    AutoRestarts,
    check_k,
    local_partition,
    n_init_setting,
    resolve_n_init,
    spectral_partition,
)
from modcut.cut import ncut as _ncut
from modcut.distributed import run_null_chunks
from modcut.network import Network, as_graph
from modcut.normalize import NORMALIZE_EPS, normalize_network
from modcut.shuffle import check_method
from modcut.store import ChunkStore, network_fingerprint

__all__ = ["ClusterabilityResult", "clusterability", "null_statistics"]


@dataclass
class ClusterabilityResult:
    """Outcome of :func:`clusterability`; every field is plain data.

    Attributes
    ----------
    ncut:
        n-cut of the observed network's partition (lower = more modular).
    labels:
        Cluster label per neuron, shape ``(n_nodes,)``, layer order, ``-1`` for
        isolated neurons.
    null_ncuts:
        n-cut of each null network, shape ``(n_shuffles,)``, in sample order.
    null_mean, null_std:
        Mean and standard deviation (ddof=1) of ``null_ncuts``.
    z_score:
        ``(ncut - null_mean) / null_std``.
    p_value:
        One-sided empirical p-value ``(#{null < ncut} + 1) / (n + 1)``: small
        means more clusterable than chance.
    percentile:
        Percentage of null n-cuts strictly below the observed one.
    widths:
        Neurons per layer of the analysed network.
    settings:
        k, n_init, shuffle method, n_shuffles, random_state, eigen_solver, n_jobs, eps.
    timings:
        Seconds spent: ``observed`` (clustering the network), ``null`` (all
        null samples), ``per_sample`` (``null / n_shuffles``).
    provenance:
        Where the network came from (:attr:`modcut.Network.provenance`: source,
        kind, and a checkpoint's dataset, metrics and config).
    """

    ncut: float
    labels: np.ndarray
    null_ncuts: np.ndarray
    null_mean: float
    null_std: float
    z_score: float
    p_value: float
    percentile: float
    widths: tuple[int, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def n_shuffles(self) -> int:
        return int(self.null_ncuts.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (arrays become lists)."""
        d = asdict(self)
        d["labels"] = self.labels.tolist()
        d["null_ncuts"] = self.null_ncuts.tolist()
        d["widths"] = list(self.widths)
        return d

    def to_json(self, path: str | os.PathLike[str] | None = None, *, indent: int = 2) -> str:
        """Serialise to JSON; also write it to ``path`` when given."""
        return write_json(self.to_dict(), path, indent=indent)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClusterabilityResult:
        """A result from :meth:`to_dict`'s dict. Raises ``ValueError`` naming the missing
        fields, or labels whose count does not match the widths."""
        missing = [k for k in _RESULT_FIELDS if k not in d]
        if missing:
            raise ValueError(
                f"not a clusterability result: missing {', '.join(missing)} (a file written by "
                "ClusterabilityResult.to_json has them all)"
            )
        try:
            return cls._from_complete_dict(d)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not a clusterability result: {exc}") from None

    @classmethod
    def _from_complete_dict(cls, d: dict[str, Any]) -> ClusterabilityResult:
        widths = tuple(int(w) for w in d["widths"])
        labels = np.asarray(d["labels"], dtype=np.int64)
        if labels.shape != (sum(widths),):
            raise ValueError(
                f"{labels.shape[0] if labels.ndim == 1 else labels.shape} labels for widths "
                f"{widths} ({sum(widths)} neurons)"
            )
        return cls(
            ncut=float_or_nan(d["ncut"]),
            labels=labels,
            null_ncuts=np.asarray(d["null_ncuts"], dtype=np.float64),
            null_mean=float_or_nan(d["null_mean"]),
            null_std=float_or_nan(d["null_std"]),
            z_score=float_or_nan(d["z_score"]),
            p_value=float_or_nan(d["p_value"]),
            percentile=float_or_nan(d["percentile"]),
            widths=widths,
            settings=dict(d.get("settings", {})),
            timings={k: float(v) for k, v in d.get("timings", {}).items()},
            provenance=dict(d.get("provenance", {})),
        )

    @classmethod
    def from_json(cls, path_or_text: str | os.PathLike[str]) -> ClusterabilityResult:
        """Read a result from a JSON file or from JSON text (what :meth:`to_json` returns)."""
        return cls.from_dict(read_json(path_or_text, what="a clusterability result"))

    def summary(self) -> str:
        """A few human-readable lines."""
        s = self.settings
        return (
            f"n-cut {self.ncut:.4f} (k={s.get('k')}) vs null {self.null_mean:.4f} ± "
            f"{self.null_std:.4f} over {self.n_shuffles} '{s.get('shuffle')}' shuffles\n"
            f"z = {self.z_score:.2f}, one-sided p = {self.p_value:.4g}, "
            f"percentile = {self.percentile:.1f}%"
        )


_RESULT_FIELDS = (
    "ncut",
    "labels",
    "null_ncuts",
    "null_mean",
    "null_std",
    "z_score",
    "p_value",
    "percentile",
    "widths",
)


def null_statistics(observed: float, null: np.ndarray) -> dict[str, float]:
    """z-score, one-sided empirical p-value, percentile, mean and std.

    Parameters
    ----------
    observed:
        The observed n-cut.
    null:
        Null n-cuts, shape ``(n,)`` with ``n ≥ 2``.

    Returns
    -------
    dict with ``null_mean``, ``null_std`` (ddof=1), ``z_score`` (``nan`` when the
    null has zero spread and equals the observation, ``±inf`` when it has zero
    spread otherwise), ``p_value = (#{null < observed} + 1) / (n + 1)`` and
    ``percentile = 100 · #{null < observed} / n``.
    """
    null = np.asarray(null, dtype=np.float64)
    if null.ndim != 1 or null.shape[0] < 2:
        raise ValueError("the null distribution needs at least 2 samples")
    if not np.all(np.isfinite(null)):
        raise ValueError("the null distribution contains NaN or infinite values")
    return empirical_test(observed, null, tail="below")


def clusterability(
    network: Any,
    k: int = 12,
    n_shuffles: int = 1000,
    shuffle: str = "layer_nonzero",
    random_state: Any = 0,
    n_jobs: int | None = -1,
    *,
    n_init: int | str | None = None,
    eigen_solver: str = "lanczos",
    progress: bool | None = None,
    chunk_size: int | None = None,
    scheduler: Any = None,
    store: str | os.PathLike[str] | None = None,
    normalize: bool = False,
    local: bool = False,
    device: str | None = None,
) -> ClusterabilityResult:
    """Is ``network`` more clusterable than its shuffles?

    Parameters
    ----------
    network:
        Weight matrices ``W1 … WL`` of shapes ``(n_{l-1}, n_l)`` (NumPy or SciPy
        sparse), a ``torch.nn.Module`` of Linear layers, a checkpoint path, or a
        :class:`modcut.Network` with skips (in memory or a ``.npz`` written by
        :meth:`~modcut.Network.save`; :func:`modcut.readers.load.as_graph`).
    k:
        Number of clusters (reference: 12).
    n_shuffles:
        Number of null networks (≥ 2).
    shuffle:
        ``"layer"``, ``"layer_nonzero"``, ``"layer_nonzero_distribution"`` or
        ``"layer_all_distribution"`` (method.md §4).
    random_state:
        Seed (int). The same seed gives the same result for any ``n_jobs``.
    n_jobs:
        Threads; -1 = all cores.
    n_init:
        k-means restarts, as for :func:`modcut.cluster` (``None``, an int or
        ``"auto"``: :class:`modcut.cluster.AutoRestarts`), for the observed network
        and every null sample (same result for any ``n_jobs``, chunking or
        scheduler); ``"auto"`` is recorded as
        ``settings["n_init"] == "auto"`` with the cap in ``settings["n_init_max"]``.
    eigen_solver:
        ``"lanczos"`` (Rust, default: whole null pipeline in Rust) or
        ``"arpack"`` (SciPy ``svds`` for the embedding, k-means in Rust; slow,
        for cross-checking).
    progress:
        Show a progress bar (tqdm, extra ``modcut[progress]``). None (default): only when
        stderr is a terminal and tqdm is installed; True: always, and a
        :class:`~modcut._optional.MissingExtraError` without tqdm; False: never.
    chunk_size:
        Null samples per call into Rust, i.e. per Dask task and per stored chunk
        (no effect on results). Default: ``n_shuffles // 50`` clipped to 8 … 256
        locally; on Dask ``n_shuffles // (4 × worker threads)`` clipped to 1 … 256,
        so that every worker gets tasks.
    scheduler:
        Compute the null on Dask: a ``dask.distributed.Client`` or a scheduler
        address (``"tcp://host:8786"``). The reduced network is scattered once;
        each chunk is one task computed in Rust on a worker (one thread per
        task). Same numbers as the local run. Needs ``pip install "modcut[dask]"``.
    store:
        Folder keeping finished null chunks (:class:`modcut.store.ChunkStore`):
        a rerun with the same network and settings reuses them and computes
        only the missing ones; other settings never reuse them.
    normalize:
        Apply the authors' weight normalisation (:mod:`modcut.normalize`: every hidden
        neuron's incoming weights rescaled to L2 norm 1, its outgoing weights by the
        inverse) to the network and, in the null, to every shuffle before it is
        clustered, as nn-clustering-pytorch does. Default ``False`` (the 2021 paper's).
        Recorded as ``settings["normalize"]``.
    local:
        Layer-local clustering (:func:`modcut.cluster.local_partition`) of the network and
        of every shuffle (a layered network; the null runs in Python, slice by slice).
        Recorded as ``settings["local"]``.

    device:
        ``None`` (default): the null in Rust on the CPU. A torch device (``"cuda"``,
        ``"cuda:1"``, ``"cpu"``): the null in batches of ``chunk_size`` samples as dense
        tensors on that device (:mod:`modcut.batched`, extra ``modcut[torch]``): the same
        procedure and null distribution with torch's random numbers, so other samples;
        deterministic for a seed on a given device, whatever the chunking. The observed
        network is clustered in Rust either way. Recorded as ``settings["device"]``;
        ``normalize``, ``local`` and ``eigen_solver="arpack"`` run on the CPU only.

    Returns
    -------
    ClusterabilityResult
    """
    net = as_graph(network)
    method, seed, threads, n_shuffles, chunk_size = check_null_args(
        shuffle, random_state, n_jobs, n_shuffles, eigen_solver, chunk_size
    )
    check("normalize", normalize)
    check("local", local)
    norm_eps = NORMALIZE_EPS if normalize else None
    if check("device", device) is not None:
        device = check_device_null(
            device, normalize=normalize, local=local, eigen_solver=eigen_solver
        )

    # The null is a shuffle of the network with isolated neurons removed (method.md §1).
    reduced_core, kept = _core.reduce_isolated(net.core)
    n_active = int(np.asarray(kept).shape[0])
    k = check_k(k, n_active)
    n_init = resolve_n_init(n_init, n_active)

    t0 = time.perf_counter()
    seen = normalize_network(net) if normalize else net  # the null normalises each shuffle
    if local:
        labels = local_partition(seen, k, n_init=n_init, seed=seed, eigen_solver=eigen_solver)
    else:
        labels = spectral_partition(seen, k=k, n_init=n_init, seed=seed, eigen_solver=eigen_solver)
    observed = _ncut(seen, labels)
    t_obs = time.perf_counter() - t0

    cstore = chunk_store(
        store,
        _fingerprint(reduced_core, net.is_chain()) if store else "",
        method,
        k,
        n_init,
        seed,
        eigen_solver,
        normalize=normalize,
        local=local,
        device=device,
    )
    t1 = time.perf_counter()
    if device is not None:
        compute: Any = device_null_chunk
        args: tuple[Any, ...] = (method, k, n_init, seed, device, isinstance(n_init, AutoRestarts))
        chunk_size = chunk_size or default_batch(n_active)
    else:
        compute = local_null_chunk if local else null_chunk
        args = (method, k, n_init, seed, eigen_solver, norm_eps)
    null = run_null_chunks(
        compute,
        reduced_core,
        args,
        n_shuffles,
        chunk_size,
        threads=threads,
        scheduler=scheduler,
        store=cstore,
        progress=progress,
        desc=f"null ({method})",
    )
    t_null = time.perf_counter() - t1
    settings = null_settings(
        k, n_init, method, n_shuffles, seed, eigen_solver, n_jobs, net.n_nodes - n_active
    )
    settings["normalize"] = bool(normalize)
    if local:
        settings["local"] = True
    if device is not None:
        settings.update(device=device, device_name=device_name(device), chunk_size=chunk_size)
    if not net.is_chain():  # the structure of a network with skips or concatenations
        settings.update(
            graph="groups",
            bipartite=net.is_bipartite(),
            groups=[gr.name for gr in net.groups],
            edge_groups=[[e.src, e.dst] for e in net.edges],
        )
    return make_result(observed, labels, null, net.widths, settings, t_obs, t_null, net.provenance)


def _fingerprint(reduced_core: Any, chain: bool) -> str:
    """What the chunk store keys a network by: the SHA-256 of its reduced matrices, plus
    the group sizes and edge-group ends of a network that is not a chain (a chain's
    structure follows from its matrices' shapes)."""

    sizes, edges = [int(s) for s in reduced_core.sizes], reduced_core.edges()
    fp = network_fingerprint([e[2:] for e in edges])
    return fp if chain else fp + str(sizes) + str([e[:2] for e in edges])


def null_settings(
    k: int,
    n_init: int,
    method: str,
    n_shuffles: int,
    seed: int,
    eigen_solver: str,
    n_jobs: int | None,
    n_isolated: int,
) -> dict[str, Any]:
    """The ``settings`` of a :class:`ClusterabilityResult` (chains and group networks)."""
    cap = {"n_init_max": int(n_init)} if isinstance(n_init, AutoRestarts) else {}
    return {
        "k": int(k),
        "n_init": n_init_setting(n_init),
        **cap,
        "shuffle": method,
        "n_shuffles": int(n_shuffles),
        "random_state": int(seed),
        "eigen_solver": eigen_solver,
        "n_jobs": n_jobs if n_jobs is not None else -1,
        "eps": 1e-8,
        "n_isolated": int(n_isolated),
    }


def check_null_args(
    shuffle: Any,
    random_state: Any,
    n_jobs: int | None,
    n_shuffles: Any,
    eigen_solver: Any,
    chunk_size: Any = None,
) -> tuple[str, int, int, int, int | None]:
    """Validate the null test's settings: ``(method, seed, threads, n_shuffles, chunk_size)``."""
    method = check_method(shuffle, "shuffle")
    seed = check_random_state(random_state)
    threads = check_n_jobs(n_jobs)
    n_shuffles = check_count("n_shuffles", n_shuffles)
    if check("chunk_size", chunk_size) is not None:
        chunk_size = int(chunk_size)
    check("eigen_solver", eigen_solver)
    return method, seed, threads, n_shuffles, chunk_size


def chunk_store(
    store: str | os.PathLike[str] | None,
    fingerprint: str,
    method: str,
    k: int,
    n_init: int,
    seed: int,
    eigen_solver: str,
    *,
    normalize: bool = False,
    local: bool = False,
    device: str | None = None,
) -> Any:
    """The :class:`~modcut.store.ChunkStore` of a null test's settings (``None`` without
    ``store``); ``normalize``, ``local`` and ``device`` are part of the settings only when
    set, so stores written before the options existed keep their hash."""
    if store is None:
        return None
    settings = {
        "modcut_version": _core.__version__,
        "network": fingerprint,
        "shuffle": method,
        "k": int(k),
        "n_init": n_init_setting(n_init),
        "random_state": int(seed),
        "eigen_solver": eigen_solver,
    }
    if normalize:
        settings["normalize"] = True
    if local:
        settings["local"] = True
    if device is not None:  # other random numbers: never mixed with the Rust null's chunks
        settings["device"] = device
    return ChunkStore(store, settings)


def check_device_null(device: Any, *, normalize: bool, local: bool, eigen_solver: str) -> str:
    """The canonical name of the torch device of a null (:func:`modcut.batched.check_device`),
    refusing the options the device path does not run."""
    dev = check_device(device)
    other = [
        name
        for name, on in (
            ("normalize=True", normalize),
            ("local=True", local),
            ("eigen_solver='arpack'", eigen_solver == "arpack"),
        )
        if on
    ]
    if other:
        raise ValueError(
            f"device={device!r} runs the null of the plain method (whole-network spectral "
            f"clustering, no normalisation); {' and '.join(other)} "
            f"{'is' if len(other) == 1 else 'are'} run by the Rust null only: leave device out"
        )
    return dev


def make_result(
    observed: float,
    labels: np.ndarray,
    null: np.ndarray,
    widths: tuple[int, ...],
    settings: dict[str, Any],
    t_obs: float,
    t_null: float,
    provenance: dict[str, Any] | None = None,
) -> ClusterabilityResult:
    """The :class:`ClusterabilityResult` of an observed n-cut and its null."""
    stats = null_statistics(observed, null)
    return ClusterabilityResult(
        ncut=float(observed),
        labels=labels,
        null_ncuts=null,
        widths=widths,
        settings=settings,
        provenance=dict(provenance or {}),
        timings={
            "observed": t_obs,
            "null": t_null,
            "per_sample": t_null / null.shape[0],
        },
        **stats,
    )


def null_chunk(
    reduced_core: Any,
    method: str,
    k: int,
    n_init: int,
    seed: int,
    eigen_solver: str,
    normalize: float | None,
    start: int,
    count: int,
    threads: int,
) -> np.ndarray:
    """n-cuts of null samples ``start … start + count - 1``, shape ``(count,)``.

    ``normalize``: the ``eps`` of the authors' normalisation applied to every shuffle
    before it is clustered (:mod:`modcut.normalize`), or ``None``.

    The one unit of null work (a Dask task, a stored chunk): sample ``i``
    depends on ``(seed, i)`` and the settings alone. ``reduced_core`` is the
    network without isolated neurons (``reduce_isolated``), a Rust handle
    that pickles as its matrices (so it travels to Dask workers). ``n_init`` may be
    an :class:`~modcut.cluster.AutoRestarts`.
    """
    if eigen_solver == "lanczos":
        return np.asarray(
            _core.null_ncuts(
                reduced_core,
                method,
                k,
                n_init,
                seed,
                start,
                count,
                threads,
                auto=isinstance(n_init, AutoRestarts),
                normalize=normalize,
            )
        )
    return _arpack_null_chunk(
        reduced_core, method, k, n_init, seed, start, count, threads, normalize
    )


def local_null_chunk(
    reduced_core: Any,
    method: str,
    k: int,
    n_init: int,
    seed: int,
    eigen_solver: str,
    normalize: float | None,
    start: int,
    count: int,
    threads: int,
) -> np.ndarray:
    """As :func:`null_chunk`, each shuffle clustered layer-locally
    (:func:`modcut.cluster.local_partition`, with null sample ``i``'s random streams)."""

    def partition(net: Network, stream: int) -> np.ndarray:
        return local_partition(
            net, k, n_init=n_init, seed=seed, eigen_solver=eigen_solver, stream=stream, null=True
        )

    return _null_in_python(reduced_core, method, seed, start, count, threads, normalize, partition)


def _null_in_python(
    reduced_core: Any,
    method: str,
    seed: int,
    start: int,
    count: int,
    threads: int,
    normalize: float | None,
    partition: Any,
) -> np.ndarray:
    """The null samples' n-cuts with the clustering in Python: the Rust shuffles of samples
    ``start …``, each normalised when asked, clustered by ``partition(network, stream)``
    and scored. The one loop of the ARPACK and the layer-local nulls."""
    out = np.empty(count, dtype=np.float64)
    samples = _core.shuffle(reduced_core, method, seed, start, count, threads)
    for i, core in enumerate(samples):
        if normalize is not None:
            core = _core.normalize(core, normalize)
        shuffled = Network.from_core(core)
        out[i] = _ncut(shuffled, partition(shuffled, start + i))
    return out


def _arpack_null_chunk(
    reduced_core: Any,
    method: str,
    k: int,
    n_init: int,
    seed: int,
    start: int,
    count: int,
    threads: int,
    normalize: float | None = None,
) -> np.ndarray:
    """Null samples with SciPy's ARPACK embedding (same shuffles as the Rust path)."""

    def partition(net: Network, stream: int) -> np.ndarray:
        return spectral_partition(
            net, k=k, n_init=n_init, seed=seed, eigen_solver="arpack", stream=stream, null=True
        )

    return _null_in_python(reduced_core, method, seed, start, count, threads, normalize, partition)
