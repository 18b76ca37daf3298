"""Run independent pieces of work locally or on a Dask cluster.

Two users: the null distribution (:func:`run_null_chunks`: chunks of null
samples, the network scattered once to every worker, each chunk computed in Rust
on a worker, finished chunks optionally kept in a :class:`~modcut.store.ChunkStore`
so that a killed run resumes) and the study (:func:`run_tasks`: one training per
(variant, seed)).

Dask is optional (``pip install "modcut[dask]"``): nothing here imports it until
a scheduler is asked for. Determinism does not depend on Dask: null sample ``i``
draws from the streams ``(seed, i)`` alone, so any number of workers, any chunk
size and any rerun of lost tasks give the same numbers; results are placed by
their sample index, never by arrival order.

Faults: a task on a worker that dies is rerun by the scheduler elsewhere (Dask's
own retry of lost tasks); each chunk's result is taken once, from the future that
finished it. Ctrl-C (or any error) cancels the outstanding futures before the
exception propagates. A scheduler that cannot be reached within
``timeout`` seconds raises :class:`SchedulerUnreachableError` at once.

Before a client is made for a ``tcp://`` address, :func:`probe_scheduler` checks
within the same ``timeout`` that a Dask scheduler is what answers there: Dask's
client trusts the first eight bytes it reads as a frame length, so a service that
accepts and never speaks would hang it and an HTTP server (the dashboard port
8787 typed for 8786) would make it allocate exabytes. The probe names the address
and what it found instead.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import struct
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from modcut._optional import progress_bar, require
from modcut._params import check
from modcut.errors import DaskMissingError, MissingExtraError, SchedulerUnreachableError
from modcut.store import plan_chunks

__all__ = [
    "DaskMissingError",
    "SchedulerUnreachableError",
    "connect",
    "probe_scheduler",
    "require_dask",
    "run_null_chunks",
    "run_tasks",
]

#: Seconds to wait for a scheduler before giving up (``MODCUT_DASK_TIMEOUT`` overrides).
CONNECT_TIMEOUT = 10.0


def require_dask() -> Any:
    """Import and return ``dask.distributed``, or raise :class:`DaskMissingError`."""
    try:
        return require(
            "distributed", extra="dask", purpose="running on Dask (--scheduler, --workers)"
        )
    except MissingExtraError as exc:
        raise DaskMissingError(
            exc.module, exc.extra, "running on Dask (--scheduler, --workers)"
        ) from exc


def _timeout(timeout: float | None) -> float:
    if timeout is not None:
        return float(timeout)
    return float(os.environ.get("MODCUT_DASK_TIMEOUT", CONNECT_TIMEOUT))


#: A scheduler's greeting (its handshake message) is a few hundred bytes; a length
#: prefix above this is not a Dask scheduler's.
_MAX_GREETING = 1 << 20


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a ``tcp://`` (or scheme-less) address, else ``None``."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme != "tcp":
        return None
    rest = rest.rstrip("/")
    m = re.fullmatch(r"\[(?P<h6>[^\]]+)\]:(?P<p6>\d+)|(?P<h>[^:\[\]]+):(?P<p>\d+)", rest)
    if m is None:
        raise SchedulerUnreachableError(
            f"the Dask scheduler address {address!r} is not of the form tcp://HOST:PORT"
        )
    host = m.group("h6") or m.group("h")
    port = int(m.group("p6") or m.group("p"))
    if not 0 < port < 65536:
        raise SchedulerUnreachableError(
            f"the Dask scheduler address {address!r} has port {port}, outside 1..65535"
        )
    return host, port


def _recv_until(sock: socket.socket, n: int, deadline: float) -> bytes:
    """Up to ``n`` bytes, stopping at ``deadline``, end of stream or ``n``."""
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            part = sock.recv(n - len(buf))
        except TimeoutError:
            break
        if not part:
            break
        buf += part
    return buf


def probe_scheduler(address: str, timeout: float) -> None:
    """Check within ``timeout`` seconds that a Dask scheduler answers at ``address``.

    A Dask scheduler speaks first: on accepting a connection it sends its
    handshake, one frame (an 8-byte little-endian length, then that many bytes).
    The probe connects, waits for that frame for half the time and, if nothing
    came, sends an HTTP request for the rest to tell an HTTP server (such as the
    dashboard) from a silent service. Only ``tcp://`` (and scheme-less)
    addresses are probed; others go to Dask as they are.

    Raises
    ------
    SchedulerUnreachableError
        Naming the address and what was found there: nothing listening, no
        answer, an HTTP server, or bytes that are not a Dask handshake.
    """
    hp = _host_port(address)
    if hp is None:
        return
    host, port = hp
    start = time.monotonic()
    deadline = start + timeout
    where = f"the Dask scheduler address {address}"
    try:
        sock = socket.create_connection((host, port), timeout=max(timeout, 1e-3))
    except OSError as exc:
        raise SchedulerUnreachableError(
            f"cannot reach {where} within {timeout:g} s ({exc}); is the scheduler running and "
            "is the address right (e.g. tcp://HOST:8786)?"
        ) from exc
    with sock:
        head = _recv_until(sock, 8, start + timeout / 2)
        if not head:
            with contextlib.suppress(OSError):
                sock.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            head = _recv_until(sock, 8, deadline)
        if head.startswith(b"HTTP/") or head.startswith(b"<"):
            line = head + _recv_until(sock, 64, min(deadline, time.monotonic() + 1.0))
            status = line.split(b"\r\n", 1)[0].decode("latin-1")[:60]
            raise SchedulerUnreachableError(
                f"{where} is an HTTP server (it answered {status!r}), not a Dask scheduler; "
                "the dashboard listens on 8787, the scheduler on 8786 by default: "
                "give the scheduler's address (tcp://HOST:8786)"
            )
        if not head:
            raise SchedulerUnreachableError(
                f"{where} accepted the connection but sent nothing within {timeout:g} s "
                "(a Dask scheduler greets every client at once); is another service "
                "listening on that port?"
            )
        if len(head) < 8:
            raise SchedulerUnreachableError(
                f"{where} sent {len(head)} bytes ({head!r}) and then nothing within "
                f"{timeout:g} s; that is not a Dask scheduler's greeting"
            )
        (length,) = struct.unpack("<Q", head)
        if not 0 < length <= _MAX_GREETING:
            raise SchedulerUnreachableError(
                f"{where} sent {head!r}, which is not a Dask scheduler's greeting (read as a "
                f"frame of {length} bytes); is another service listening on that port?"
            )
        body = _recv_until(sock, length, deadline)
        if len(body) < length:
            raise SchedulerUnreachableError(
                f"{where} began a {length}-byte greeting but sent {len(body)} bytes of it "
                f"within {timeout:g} s; is it a Dask scheduler?"
            )


@contextlib.contextmanager
def connect(
    scheduler: Any = None, *, workers: int | None = None, timeout: float | None = None
) -> Iterator[Any]:
    """A Dask client for ``scheduler`` or a new local cluster, closed on exit.

    Parameters
    ----------
    scheduler:
        ``None`` (no Dask unless ``workers`` is given), a
        ``dask.distributed.Client`` (yielded as is and left open) or a scheduler
        address such as ``"tcp://host:8786"``.
    workers:
        Start a ``LocalCluster`` of this many single-threaded worker processes
        (only when ``scheduler`` is ``None``).
    timeout:
        Seconds to wait for the scheduler (default :data:`CONNECT_TIMEOUT`).

    Yields
    ------
    The client, or ``None`` when neither ``scheduler`` nor ``workers`` is given.
    """
    if scheduler is not None and workers is not None:
        raise ValueError("give either a scheduler address or a number of local workers, not both")
    if scheduler is None and workers is None:
        yield None
        return
    dd = require_dask()
    if isinstance(scheduler, dd.Client):
        yield scheduler
        return
    if scheduler is not None:
        if not isinstance(scheduler, str):
            raise TypeError(
                f"scheduler must be a dask.distributed.Client or an address string, "
                f"got {type(scheduler).__name__}"
            )
        t = _timeout(timeout)
        probe_scheduler(scheduler, t)
        try:
            client = dd.Client(scheduler, timeout=t)
        except (OSError, TimeoutError) as exc:
            raise SchedulerUnreachableError(
                f"cannot reach the Dask scheduler at {scheduler} within {t:g} s ({exc}); "
                "is it running and is the address right (e.g. tcp://HOST:8786)?"
            ) from exc
        with client:
            yield client
        return
    n_workers = int(check("workers", workers))
    with (
        dd.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        dd.Client(cluster) as client,
    ):
        yield client


def run_tasks(
    client: Any,
    func: Callable[..., Any],
    calls: Sequence[tuple[Any, ...]],
    on_done: Callable[[int, Any], None],
    *,
    shared: Any = None,
    name: str = "modcut",
) -> None:
    """Run ``func(*calls[i])`` (or ``func(shared, *calls[i])``) for every ``i``.

    Parameters
    ----------
    client:
        ``None`` (run here, in order) or a ``dask.distributed.Client``.
    func:
        An importable function (workers unpickle it by name).
    calls:
        Argument tuples, one per task.
    on_done:
        Called as ``on_done(i, result)`` in this process, once per task, in
        completion order.
    shared:
        Data every task needs (e.g. the network): scattered once to all workers.
    name:
        Prefix of the task keys (shown on the Dask dashboard).
    """
    if client is None:
        for i, args in enumerate(calls):
            on_done(i, func(*args) if shared is None else func(shared, *args))
        return
    dd = require_dask()
    tag = f"{name}-{uuid.uuid4().hex[:8]}"
    futures: list[Any] = []
    try:
        head: tuple[Any, ...] = ()
        if shared is not None:
            # one future for the whole object, a copy on every worker (a dying
            # worker then takes no data with it)
            head = (client.scatter([shared], broadcast=True, hash=False)[0],)
        index = {}
        for i, args in enumerate(calls):
            fut = client.submit(func, *head, *args, key=f"{tag}-{i}", pure=False)
            futures.append(fut)
            index[fut.key] = i
        for fut in dd.as_completed(futures):
            on_done(index[fut.key], fut.result())
            fut.release()
    except BaseException:
        client.cancel(futures, force=True)
        raise


def run_null_chunks(
    compute: Callable[..., np.ndarray],
    network: Any,
    args: tuple[Any, ...],
    n: int,
    chunk_size: int | None,
    *,
    threads: int,
    scheduler: Any = None,
    store: Any = None,
    progress: bool | None = None,
    desc: str = "null",
) -> np.ndarray:
    """The ``n`` null samples, computed chunk by chunk, here or on Dask.

    Parameters
    ----------
    compute:
        ``compute(network, *args, start, count, threads) -> (count,) float64``.
    network:
        The (reduced) network every chunk reads; scattered once with Dask.
    args:
        The settings passed before ``start`` (e.g. method, k, n_init, seed).
    n, chunk_size:
        Number of samples and samples per chunk (``None``: ``n // 50`` clipped to
        8 … 256 here; ``n // (4 × worker threads)`` clipped to 1 … 256 on Dask).
    threads:
        Threads per chunk when computing here (on Dask: 1, one task per worker thread).
    scheduler:
        ``None``, a ``dask.distributed.Client`` or a scheduler address.
    store:
        A :class:`~modcut.store.ChunkStore`: chunks found there are not
        recomputed, every finished chunk is saved there at once.
    progress:
        Progress bar over samples (:func:`modcut._optional.progress_bar`'s rule).

    Returns
    -------
    Array of shape ``(n,)``, sample ``i`` at index ``i``.
    """

    out = np.full(n, np.nan)
    missing = np.ones(n, dtype=bool) if store is None else store.load_into(out)
    bar = progress_bar(
        progress, total=n, initial=n - int(missing.sum()), desc=desc, unit="sample", leave=False
    )
    plan: list[tuple[int, int]] = []

    def done(i: int, values: np.ndarray) -> None:
        start, count = plan[i]
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (count,):
            raise RuntimeError(f"chunk {start}+{count} returned shape {values.shape}")
        out[start : start + count] = values
        missing[start : start + count] = False
        if store is not None:
            store.save(start, values)
        bar.update(count)

    try:
        with connect(scheduler if missing.any() else None) as client:  # nothing missing: no Dask
            if chunk_size is None:
                if client is None:
                    chunk_size = max(8, min(256, n // 50 or 8))
                else:
                    slots = max(1, sum(client.nthreads().values()))
                    chunk_size = max(1, min(256, n // (4 * slots)))
            plan.extend(plan_chunks(missing, chunk_size))
            task_threads = threads if client is None else 1
            calls = [(*args, start, count, task_threads) for start, count in plan]
            run_tasks(client, compute, calls, done, shared=network, name="modcut-null")
    finally:
        bar.close()
    if missing.any():  # pragma: no cover - every chunk reports once or raises
        raise RuntimeError(f"{int(missing.sum())} null samples were not computed")
    return out
