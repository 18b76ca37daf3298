"""Null samples in batches on a torch device: ``clusterability(..., device="cuda")``.

The Rust core computes one null sample per thread, sparse and in float64 on the CPU.
This module computes a batch of ``B`` samples at once as dense float64 tensors on any
torch device (a GPU; the CPU runs the same code, which is how it is tested without one),
step for step the procedure of method.md §2-§4:

1. **Shuffle** (§4). Every edge group of sample ``i`` is shuffled with its own
   ``torch.Generator`` on the device, seeded from ``(random_state, i)`` alone: ``layer``
   permutes all entries of the matrix (zeros included; only the entries above the
   diagonal of an edge group within one node group), ``layer_nonzero`` permutes the
   non-zero values among the non-zero positions, ``*_distribution`` draws each
   non-zero value from the Gaussian KDE (bandwidth ``KDE_BANDWIDTH``) of the layer's
   non-zero values.
2. **Graph** (§1): the dense ``(B, n, n)`` adjacency of ``|w|`` and the degrees. A
   neuron a shuffle leaves without edges is left out of its sample's clustering
   (label -1), as in the Rust null.
3. **Embedding** (§2): the top ``k`` eigenvectors of ``N = D^-1/2 A D^-1/2``, rows
   divided by ``sqrt(degree)``. A 2-colourable network (a chain always is) takes the
   SVD shortcut: the top eigenvectors of the Gram matrix of the normalized
   even-to-odd block on its smaller side (``torch.linalg.eigh``), the other side from
   one product. Any other network: a thick-restart block Krylov method (block size
   ``k + 8``, five blocks per restart, two passes of Gram–Schmidt, Rayleigh–Ritz) on
   the shifted operator ``(I + N)/2``, so that its largest eigenvalues are the largest
   algebraic ones of ``N``; residuals below ``1e-8``. Every product is a batched dense
   matrix product, which is what a GPU does best.
4. **k-means** (§2): greedy k-means++ (``2 + floor(ln k)`` trials per center), Lloyd
   iterations to strict convergence or a center shift of at most ``KMEANS_TOL`` times
   the mean per-feature variance (``KMEANS_MAX_ITER`` at most), empty clusters moved to
   the farthest points, the best of ``n_init`` restarts by inertia; all restarts of all
   samples at once. ``n_init="auto"`` runs restarts in rounds of ``AUTO_ROUND`` per
   sample and stops a sample by the Rust core's rule (``AUTO_TOL``, ``AUTO_PATIENCE``).
5. **n-cut** (§3): from the one-hot partition, with the reference's ε.

The constants are the Rust core's (``modcut._core``), so the two paths run one
procedure. The random numbers are torch's, not the Rust core's ChaCha streams: the
null distribution is the same (tests compare the two within sampling error), the
samples are not. Deterministic for a seed on a given device: sample ``i`` depends on
``(random_state, i)`` and the settings alone, never on the batch it is computed in
(a converged sample is frozen while the rest of its batch iterates), so chunking,
``chunk_size`` and resuming from a store change no number. On a GPU the same holds
for a given device model and library versions (cuBLAS and cuSOLVER kernels).

Memory: about ``32 n²`` bytes per sample in a batch (the adjacency, the operator and
their temporaries); :func:`default_batch` keeps a batch near 8 GiB.

torch is imported when a device is asked for (extra ``modcut[torch]``); the rest of
the core never needs it.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from modcut import _core
from modcut._optional import require
from modcut.network import Network

__all__ = [
    "batch_embedding",
    "batch_kmeans",
    "batch_ncut",
    "check_device",
    "default_batch",
    "device_null_chunk",
    "shuffled_adjacency",
]

#: Residual target of the block Krylov eigensolver (the operator's norm is at most 1).
EIG_TOL = 1e-8
#: Restart limit of the eigensolver; past it the null fails with a RuntimeError.
EIG_MAX_RESTARTS = 500
#: Networks of at most this many neurons are decomposed densely (``torch.linalg.eigh``).
EIG_DENSE_MAX = 512
#: Bytes one batch of the null may hold (about ``32 n²`` per sample).
BATCH_BYTES = 8 * 2**30


def _torch() -> Any:
    return require("torch", extra="torch", purpose="the null on a torch device (device=...)")


def check_device(device: Any) -> str:
    """The torch device ``device`` names, checked to exist here: ``"cuda"``, ``"cuda:1"``,
    ``"cpu"``, ``"mps"``. Returns its canonical name (``"cuda:0"`` for ``"cuda"``).

    Raises ``TypeError`` for a non-string, ``ValueError`` for a name torch does not know
    or a device this machine lacks (naming what it has), and
    :class:`~modcut.errors.MissingExtraError` without torch.
    """
    if not isinstance(device, str):
        raise TypeError(
            f"device must be a torch device name such as 'cuda' or 'cpu', got {device!r}"
        )
    torch = _torch()
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as e:
        raise ValueError(
            f"device must be a torch device name such as 'cuda', 'cuda:1' or 'cpu', got {device!r}"
        ) from e
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r}: torch finds no CUDA GPU on this machine "
                f"(torch {torch.__version__}, built for CUDA {torch.version.cuda}); "
                "leave device out to compute the null on the CPU in Rust"
            )
        index = dev.index if dev.index is not None else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
        return f"cuda:{index}"
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r}: torch finds no MPS device on this machine")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device={device!r}: modcut runs the null on 'cpu', 'cuda' or 'mps'")
    return str(dev)


def default_batch(n_nodes: int) -> int:
    """Null samples per batch for a network of ``n_nodes`` neurons: about
    :data:`BATCH_BYTES` of dense matrices, between 1 and 64 (a rule of the size alone,
    so the same on every device)."""
    return int(max(1, min(64, BATCH_BYTES // max(1, 32 * n_nodes * n_nodes))))


def device_name(device: str) -> str:
    """What ``device`` is, for the settings: ``"NVIDIA H100 80GB HBM3"``, ``"cpu"``."""
    torch = _torch()
    if device.startswith("cuda"):
        return str(torch.cuda.get_device_name(torch.device(device)))
    return device


def _sample_seed(seed: int, index: int) -> int:
    """The torch seed of null sample ``index``: a function of ``(seed, index)`` alone."""
    state = np.random.SeedSequence([int(seed), int(index), 0x6D6F64637574]).generate_state(2)
    return int((int(state[0]) << 32 | int(state[1])) & (2**63 - 1))


@contextmanager
def _threads(torch: Any, threads: int) -> Any:
    """torch's intra-op threads set to ``threads`` inside the block (CPU work); ``0``
    (``n_jobs=-1``): torch's own setting, all cores."""
    before = torch.get_num_threads()
    if threads > 0:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------- shuffles


@dataclass
class _Group:
    """One edge group on the device: its positions in the flat ``n × n`` adjacency and
    its values (``full``: every position the ``layer`` shuffle permutes over, zeros
    included, built only for the methods that permute them; ``nz``: the stored non-zero
    entries)."""

    full_pos: Any  # (P,) int64, positions of all (or all upper-triangular) entries, or None
    full_val: Any  # (P,) float64, signed values there (zeros included), or None
    nz_pos: Any  # (Q,) int64, positions of the non-zero entries
    nz_val: Any  # (Q,) float64, their signed values


#: The shuffle methods that permute every entry, zeros included (the others keep the
#: positions of the non-zero weights).
_FULL = ("layer", "layer_all_distribution")


def _groups(net: Network, method: str, torch: Any, dev: Any) -> list[_Group]:
    n = net.n_nodes
    off = net.offsets
    out = []
    for e in net.edges:
        w = e.weights.tocsr()
        coo = w.tocoo()
        keep = coo.data != 0
        nz_pos = (off[e.src] + coo.row[keep].astype(np.int64)) * n + off[e.dst] + coo.col[keep]
        full_pos = full_val = None
        if method in _FULL:  # dense positions only where the method permutes them
            rows, cols = w.shape
            if e.src == e.dst:  # within one node group: the strictly upper triangle
                r, c = np.triu_indices(rows, k=1)
            else:
                r, c = np.divmod(np.arange(rows * cols, dtype=np.int64), cols)
            full_pos = torch.as_tensor((off[e.src] + r) * n + off[e.dst] + c, device=dev)
            full_val = torch.as_tensor(w.toarray()[r, c], dtype=torch.float64, device=dev)
        out.append(
            _Group(
                full_pos,
                full_val,
                torch.as_tensor(nz_pos, dtype=torch.int64, device=dev),
                torch.as_tensor(coo.data[keep], dtype=torch.float64, device=dev),
            )
        )
    return out


def _shuffle_group(g: _Group, method: str, gen: Any, torch: Any) -> tuple[Any, Any]:
    """``(positions, signed values)`` of one shuffled edge group."""
    dev = g.nz_val.device
    if method in _FULL:
        perm = torch.randperm(g.full_val.shape[0], generator=gen, device=dev)
        pos, val = g.full_pos, g.full_val[perm]
        if method == "layer":
            return pos, val
        keep = val != 0
        pos = pos[keep]
    elif method == "layer_nonzero":
        perm = torch.randperm(g.nz_val.shape[0], generator=gen, device=dev)
        return g.nz_pos, g.nz_val[perm]
    else:  # layer_nonzero_distribution
        pos = g.nz_pos
    # the Gaussian KDE of the layer's non-zero values: a uniformly chosen one plus noise
    m = int(pos.shape[0])
    if g.nz_val.shape[0] == 0:
        return pos, torch.zeros(0, dtype=torch.float64, device=dev)
    pick = torch.randint(g.nz_val.shape[0], (m,), generator=gen, device=dev)
    noise = torch.randn(m, generator=gen, device=dev, dtype=torch.float64)
    return pos, g.nz_val[pick] + _core.KDE_BANDWIDTH * noise


def shuffled_adjacency(network: Network, method: str, seeds: list[int], device: str = "cpu") -> Any:
    """The ``|w|`` adjacency of one shuffle of ``network`` per seed, a ``(B, n, n)``
    float64 tensor on ``device`` (symmetric, zero diagonal); sample ``b`` is drawn from
    a generator seeded with ``seeds[b]`` (:func:`device_null_chunk` uses
    ``_sample_seed(random_state, i)``)."""
    torch = _torch()
    dev = torch.device(device)
    groups = _groups(network, method, torch, dev)
    a, _ = _shuffled(groups, network.n_nodes, method, seeds, dev, torch)
    return a


def _shuffled(
    groups: list[_Group], n: int, method: str, seeds: list[int], dev: Any, torch: Any
) -> tuple[Any, list[Any]]:
    """The batch's adjacency and each sample's generator (left where the shuffle left it,
    for the sample's later draws)."""
    a = torch.zeros((len(seeds), n * n), dtype=torch.float64, device=dev)
    gens = []
    for b, s in enumerate(seeds):
        gen = torch.Generator(device=dev)
        gen.manual_seed(s)
        for g in groups:  # parallel edge groups add up; positions within one are distinct
            pos, val = _shuffle_group(g, method, gen, torch)
            a[b].index_add_(0, pos, val.abs())
        gens.append(gen)
    a = a.view(len(seeds), n, n)
    return a + a.transpose(1, 2), gens


# --------------------------------------------------------------------------- embedding


def _orthonormal(y: Any, basis: Any | None, torch: Any) -> Any:
    """Columns of ``y`` (B, n, p) made orthonormal and orthogonal to ``basis``
    (B, n, m): two passes of block classical Gram–Schmidt around a QR."""
    for _ in range(2):
        if basis is not None:
            y = y - basis @ (basis.transpose(1, 2) @ y)
        y, _ = torch.linalg.qr(y)
    return y


def _top_eigh_dense(s: Any, k: int, torch: Any) -> tuple[Any, Any]:
    vals, vecs = torch.linalg.eigh(s)
    return vals[:, -k:].flip(-1), vecs[:, :, -k:].flip(-1)


def _top_eigh(s: Any, k: int, start: Any, torch: Any) -> tuple[Any, Any]:
    """Top ``k`` eigenpairs of the symmetric PSD ``s`` (B, n, n), spectrum in [0, 1]:
    eigenvalues (B, k) descending, eigenvectors (B, n, k). ``start`` (B, n, p) is the
    start block (p ≥ k). Thick-restart block Krylov with Rayleigh–Ritz; every sample
    stops on its own residuals, and a converged sample is left out of the rest. A block
    of p vectors finds up to p copies of a repeated eigenvalue (λ = 1 of N once per
    connected component), so the top k < p are found whatever the multiplicities."""
    n_b, n, p = start.shape
    if n <= EIG_DENSE_MAX or n < 8 * p:
        return _top_eigh_dense(s, k, torch)
    steps = 4  # Krylov blocks after the start block
    vals = torch.empty((n_b, k), dtype=s.dtype, device=s.device)
    vecs = torch.empty((n_b, n, k), dtype=s.dtype, device=s.device)
    todo = torch.arange(n_b, device=s.device)
    x = _orthonormal(start, None, torch)
    for _ in range(EIG_MAX_RESTARTS):
        op = s[todo]
        blocks, images = [x], []
        for _j in range(steps):
            y = op @ blocks[-1]
            images.append(y)
            blocks.append(_orthonormal(y, torch.cat(blocks, -1), torch))
        images.append(op @ blocks[-1])
        q, w = torch.cat(blocks, -1), torch.cat(images, -1)
        t = q.transpose(1, 2) @ w
        theta, z = torch.linalg.eigh(0.5 * (t + t.transpose(1, 2)))
        theta, z = theta[:, -p:].flip(-1), z[:, :, -p:].flip(-1)
        ritz = q @ z
        res = torch.linalg.vector_norm(w @ z[:, :, :k] - ritz[:, :, :k] * theta[:, None, :k], dim=1)
        done = (res <= EIG_TOL).all(-1)
        if bool(done.any()):
            idx = todo[done]
            vals[idx], vecs[idx] = theta[done, :k], ritz[done, :, :k]
        if bool(done.all()):
            return vals, vecs
        todo, x = todo[~done], _orthonormal(ritz[~done], None, torch)
    raise RuntimeError(
        f"the eigensolver on the device did not converge in {EIG_MAX_RESTARTS} restarts "
        f"for {int(todo.shape[0])} null sample(s); run the null on the CPU (leave device out)"
    )


def batch_embedding(
    a: Any, k: int, colouring: np.ndarray | None, start: Any | None = None
) -> tuple[Any, Any, Any]:
    """Spectral embeddings of a batch of graphs.

    Parameters
    ----------
    a:
        ``(B, n, n)`` float64 adjacency (``|w|``, symmetric).
    k:
        Eigenvectors.
    colouring:
        A 2-colouring of the nodes, shape ``(n,)`` (``Network.colouring()`` of each
        node's group), or ``None`` when the network is not 2-colourable.
    start:
        ``(B, n, k + 8)`` start block of the Krylov method (random; standard normal
        when ``None``, from torch's global generator).

    Returns
    -------
    ``(x, eigenvalues, active)``: the embedding ``(B, n, k)`` (rows divided by
    ``sqrt(degree)``, zero for nodes without edges), the ``k`` largest eigenvalues of
    ``D^-1/2 A D^-1/2`` ``(B, k)`` descending, and the nodes with edges ``(B, n)`` bool.
    """
    torch = _torch()
    n_b, n, _ = a.shape
    deg = a.sum(-1)
    active = deg > 0
    inv = torch.where(active, deg.clamp_min(torch.finfo(a.dtype).tiny).rsqrt(), 0.0)
    if colouring is not None:
        colouring = np.asarray(colouring)
        if colouring.shape != (n,):
            raise ValueError(
                f"colouring must give a colour to each of the {n} nodes, got shape {colouring.shape}"
            )
        even = torch.as_tensor(np.flatnonzero(colouring == 0), device=a.device)
        odd = torch.as_tensor(np.flatnonzero(colouring != 0), device=a.device)
        if k < min(len(even), len(odd)):
            x, vals = _bipartite_embedding(a, inv, even, odd, k, torch)
            return x, vals, active
    s = 0.5 * (a * inv[:, :, None] * inv[:, None, :])
    s.diagonal(dim1=1, dim2=2).add_(0.5 * active.to(a.dtype))
    if start is None:
        start = torch.randn((n_b, n, k + 8), dtype=a.dtype, device=a.device)
    theta, vecs = _top_eigh(s, k, start, torch)
    return vecs * inv[:, :, None], 2.0 * theta - 1.0, active


def _bipartite_embedding(
    a: Any, inv: Any, even: Any, odd: Any, k: int, torch: Any
) -> tuple[Any, Any]:
    """The SVD shortcut: top-k singular triplets of the normalized even-to-odd block."""
    blk = a[:, even][:, :, odd] * inv[:, even, None] * inv[:, None, odd]
    tall = blk.shape[1] > blk.shape[2]
    if tall:  # Gram on the smaller side
        blk = blk.transpose(1, 2)
    lam, u = _top_eigh_dense(blk @ blk.transpose(1, 2), k, torch)
    sigma = lam.clamp_min(0).sqrt()
    v = blk.transpose(1, 2) @ u / sigma.clamp_min(torch.finfo(a.dtype).tiny)[:, None, :]
    weak = sigma[:, -1] <= 1e-6 * sigma[:, 0]
    for b in torch.nonzero(weak).flatten().tolist():  # rank below k: a thin SVD instead
        uu, ss, vh = torch.linalg.svd(blk[b], full_matrices=False)
        u[b], sigma[b], v[b] = uu[:, :k], ss[:k], vh[:k].T
    if tall:
        u, v = v, u
    x = torch.zeros((a.shape[0], a.shape[1], k), dtype=a.dtype, device=a.device)
    x[:, even] = u * inv[:, even, None]
    x[:, odd] = v * inv[:, odd, None]
    return x, sigma


# --------------------------------------------------------------------------- k-means


def _sqdist(x: Any, c: Any, xx: Any) -> Any:
    """Squared distances ``(…, n, m)`` of points ``x`` (B, n, d) to centers
    ``c`` (B, R, m, d), broadcast over restarts: ``‖x‖² − 2 x·c + ‖c‖²``."""
    cc = (c * c).sum(-1)
    return (
        xx[:, None, :, None] - 2.0 * (x[:, None] @ c.transpose(-1, -2)) + cc[..., None, :]
    ).clamp_min(0)


def _kmeans_pp(x: Any, xx: Any, w: Any, k: int, first: Any, trials: Any, torch: Any) -> Any:
    """Greedy k-means++ centers (B, R, k, d); ``first`` (B, R) and ``trials``
    (B, R, k-1, T) are uniform [0, 1) draws, ``w`` (B, n) the point weights (0 or 1)."""
    n_b, n, d = x.shape
    r = first.shape[1]
    bidx = torch.arange(n_b, device=x.device)[:, None]

    def pick(weights: Any, u: Any) -> Any:  # inverse-CDF sampling, weights (B, R, n)
        cum = weights.cumsum(-1)
        hit = torch.searchsorted(cum.contiguous(), (u * cum[..., -1:]).contiguous(), right=True)
        return hit.clamp_max(n - 1)

    idx0 = pick(w[:, None, :].expand(n_b, r, n), first[..., None])[..., 0]  # (B, R)
    centers = torch.empty((n_b, r, k, d), dtype=x.dtype, device=x.device)
    centers[:, :, 0] = x[bidx, idx0]
    dist = _sqdist(x, centers[:, :, :1], xx)[..., 0] * w[:, None, :]  # (B, R, n)
    for c in range(1, k):
        cand = pick(dist, trials[:, :, c - 1])  # (B, R, T)
        cx = x[bidx[..., None], cand]  # (B, R, T, d)
        dc = _sqdist(x, cx, xx).transpose(-1, -2)  # (B, R, T, n)
        new = torch.minimum(dist[:, :, None, :], dc) * w[:, None, None, :]
        best = new.sum(-1).argmin(-1)  # (B, R)
        dist = torch.gather(new, 2, best[..., None, None].expand(n_b, r, 1, n))[:, :, 0]
        centers[:, :, c] = torch.gather(cx, 2, best[..., None, None].expand(n_b, r, 1, d))[:, :, 0]
    return centers


def _lloyd(x: Any, xx: Any, w: Any, centers: Any, tol: Any, torch: Any) -> Any:
    """Lloyd iterations from ``centers`` (B, R, k, d) until the labels stop changing, the
    squared center shift is at most ``tol`` (B,), or ``KMEANS_MAX_ITER``; a converged
    restart is frozen. Returns the final centers."""
    n_b, r, k, _ = centers.shape
    going = torch.ones((n_b, r), dtype=torch.bool, device=x.device)
    prev = None
    for _ in range(_core.KMEANS_MAX_ITER):
        dist = _sqdist(x, centers, xx)  # (B, R, n, k)
        lab = dist.argmin(-1)
        if prev is not None:
            same = ((lab == prev) | (w[:, None, :] == 0)).all(-1)
            going &= ~same
            if not bool(going.any()):
                break
        onehot = torch.nn.functional.one_hot(lab, k).to(x.dtype) * w[:, None, :, None]
        counts = onehot.sum(-2)  # (B, R, k)
        sums = onehot.transpose(-1, -2) @ x[:, None]  # (B, R, k, d)
        new = sums / counts.clamp_min(1)[..., None]
        empty = (counts == 0) & going[..., None]
        if bool(empty.any()):
            new = _relocate(new, empty, dist, lab, x, w, torch)
        shift = ((new - centers) ** 2).sum((-1, -2))
        centers = torch.where(going[..., None, None], new, centers)
        going &= shift > tol[:, None]
        prev = lab
        if not bool(going.any()):
            break
    return centers


def _relocate(new: Any, empty: Any, dist: Any, lab: Any, x: Any, w: Any, torch: Any) -> Any:
    """Empty clusters moved to the points farthest from their centers (scikit-learn's
    rule), restart by restart (rare)."""
    for b, r in torch.nonzero(empty.any(-1)).tolist():
        own = torch.gather(dist[b, r], 1, lab[b, r][:, None])[:, 0] * w[b]
        far = torch.argsort(own, descending=True, stable=True)
        for j, c in enumerate(torch.nonzero(empty[b, r]).flatten().tolist()):
            new[b, r, c] = x[b, far[j]]
    return new


def batch_kmeans(
    x: Any,
    active: Any,
    k: int,
    n_init: int,
    draws: tuple[Any, Any],
    *,
    auto: bool = False,
) -> tuple[Any, Any]:
    """The best of ``n_init`` k-means runs on each of a batch of point sets.

    Parameters
    ----------
    x:
        ``(B, n, d)`` float64 points.
    active:
        ``(B, n)`` bool, the points to cluster (the others get label -1).
    k:
        Clusters.
    n_init:
        Restarts (the cap with ``auto``).
    draws:
        ``(first, trials)``: uniform draws ``(B, n_init)`` and
        ``(B, n_init, k - 1, 2 + floor(ln k))`` of the k-means++ seeding of every restart.
    auto:
        ``n_init="auto"``: restarts in rounds of ``AUTO_ROUND``; a sample stops once its
        best inertia improved by at most ``AUTO_TOL`` (relative) in ``AUTO_PATIENCE``
        consecutive rounds.

    Returns
    -------
    ``(labels, inertia)``: ``(B, n)`` int64 labels (-1 where not active) and ``(B,)``
    inertia of the best run.
    """
    torch = _torch()
    first, trials = draws
    w = active.to(x.dtype)
    cnt = w.sum(-1)
    mean = (x * w[..., None]).sum(1) / cnt[:, None]
    x = (x - mean[:, None]) * w[..., None]  # centered, as scikit-learn does
    var = ((x * x).sum(1) / cnt[:, None]).mean(-1)  # mean per-feature variance
    tol = _core.KMEANS_TOL * var
    xx = (x * x).sum(-1)
    n_b, n, _ = x.shape
    best_in = torch.full((n_b,), math.inf, dtype=x.dtype, device=x.device)
    best_lab = torch.zeros((n_b, n), dtype=torch.int64, device=x.device)
    todo = torch.arange(n_b, device=x.device)
    stalled = torch.zeros(n_b, dtype=torch.int64, device=x.device)
    round_size = _core.AUTO_ROUND if auto else n_init
    for lo in range(0, n_init, round_size):
        hi = min(n_init, lo + round_size)
        sub = (x[todo], xx[todo], w[todo])
        centers = _kmeans_pp(*sub, k, first[todo, lo:hi], trials[todo, lo:hi], torch)
        centers = _lloyd(*sub, centers, tol[todo], torch)
        dist = _sqdist(sub[0], centers, sub[1])  # the final assignment, in float64
        dmin, lab = dist.min(-1)
        inertia = (dmin * sub[2][:, None, :]).sum(-1)  # (b, R)
        run_best, run_arg = inertia.min(-1)  # first of equal ones: restart order
        prev = best_in[todo]
        better = run_best < prev
        best_in[todo] = torch.where(better, run_best, prev)
        pick = lab[torch.arange(len(todo), device=x.device), run_arg]
        best_lab[todo] = torch.where(better[:, None], pick, best_lab[todo])
        if auto:
            seen = torch.isfinite(prev)
            flat = seen & (prev - best_in[todo] <= _core.AUTO_TOL * prev.abs())
            stalled[todo] = torch.where(
                flat, stalled[todo] + 1, torch.where(seen, 0, stalled[todo])
            )
            todo = todo[stalled[todo] < _core.AUTO_PATIENCE]
            if todo.numel() == 0:
                break
    return torch.where(active, best_lab, -1), best_in


# --------------------------------------------------------------------------- n-cut


def batch_ncut(a: Any, labels: Any, k: int, eps: float = _core.NCUT_EPS) -> Any:
    """n-cuts ``(B,)`` of partitions ``labels`` (B, n) (``0 … k-1``, -1 for nodes in no
    cluster) of graphs ``a`` (B, n, n), as :func:`modcut.ncut` defines them: the sum over
    non-empty clusters of ``cut / (volume + eps · min(1, total volume))``."""
    torch = _torch()
    h = torch.nn.functional.one_hot(labels.clamp_min(0), k).to(a.dtype)
    h = h * (labels >= 0).to(a.dtype)[..., None]
    ah = a @ h  # (B, n, k): weight from each node into each cluster
    cut = (ah * (1.0 - h)).sum(1)  # leaving each cluster
    deg = a.sum(-1)
    vol = (deg[..., None] * h).sum(1)  # degree sums
    e = eps * deg.sum(-1).clamp_max(1.0)
    return torch.where(vol > 0, cut / (vol + e[:, None]), 0.0).sum(-1)


# --------------------------------------------------------------------------- the chunk


def device_null_chunk(
    reduced_core: Any,
    method: str,
    k: int,
    n_init: int,
    seed: int,
    device: str,
    auto: bool,
    start: int,
    count: int,
    threads: int,
) -> np.ndarray:
    """n-cuts of null samples ``start … start + count - 1`` computed in one batch on
    ``device``, shape ``(count,)`` (the device's counterpart of
    :func:`modcut.null.null_chunk`; sample ``i`` depends on ``(seed, i)`` alone).

    ``reduced_core`` is the network without isolated neurons; ``threads`` sets torch's
    CPU threads.
    """
    torch = _torch()
    dev = torch.device(device)
    net = Network.from_core(reduced_core)
    n = net.n_nodes
    trials_per = 2 + math.floor(math.log(k))
    with _threads(torch, threads), torch.no_grad():
        groups = _groups(net, method, torch, dev)
        seeds = [_sample_seed(seed, start + i) for i in range(count)]
        a, gens = _shuffled(groups, n, method, seeds, dev, torch)

        # each sample's remaining draws, from its own generator: Krylov start block,
        # then the k-means++ draws of every restart
        def draw(shape: tuple[int, ...], normal: bool = False) -> Any:
            make = torch.randn if normal else torch.rand
            return torch.stack(
                [make(shape, generator=g, device=dev, dtype=torch.float64) for g in gens]
            )

        start_block = draw((n, k + 8), normal=True)
        first = draw((n_init,))
        trials = draw((n_init, k - 1, trials_per))
        colour = net.colouring()  # per group: each node takes its group's colour
        node_colour = None if colour is None else colour[net.node_group()]
        x, _, active = batch_embedding(a, k, node_colour, start_block)
        n_active = active.sum(-1)
        if bool((n_active < k).any()):
            low = int(n_active.min())
            raise ValueError(
                f"k={k} must be between 1 and the number of non-isolated neurons of every "
                f"null network; a shuffle left {low}"
            )
        labels, _ = batch_kmeans(x, active, k, n_init, (first, trials), auto=auto)
        out = batch_ncut(a, labels, k)
    return out.cpu().numpy().astype(np.float64)
