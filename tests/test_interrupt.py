"""Ctrl-C during a long null run stops it cleanly (KeyboardInterrupt, no crash)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

SCRIPT = textwrap.dedent(
    """
    import faulthandler
    import signal
    import sys
    import numpy as np
    import modcut

    faulthandler.register(signal.SIGUSR1)  # the test asks for every thread's stack on a hang
    # Ctrl-C at a terminal reaches Python's default handler; make sure the child has it
    # whatever its parent's SIGINT disposition (defensive: the two CI hangs had it too).
    signal.signal(signal.SIGINT, signal.default_int_handler)

    rng = np.random.default_rng(0)
    ws = [rng.normal(size=(200, 120)), rng.normal(size=(120, 120)), rng.normal(size=(120, 10))]
    print("started", flush=True)
    try:
        modcut.clusterability(ws, k=6, n_shuffles=10**7, progress=False, chunk_size=16)
    except KeyboardInterrupt:
        print("interrupted cleanly", flush=True)
        sys.exit(3)
    """
)


def test_ctrl_c_stops_a_null_run_cleanly():
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    time.sleep(1.0)  # let it get into the Rust null loop
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        try:  # the child's signal masks: blocked, ignored, caught
            with open(f"/proc/{proc.pid}/status") as f:
                masks = "".join(line for line in f if line.startswith("Sig"))
        except OSError:
            masks = "(no /proc)"
        proc.send_signal(signal.SIGUSR1)  # dump where it hangs (faulthandler), then kill
        time.sleep(2.0)
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(
            f"the run did not stop after SIGINT\n{masks}stdout:\n{out}\nstacks:\n{err}"
        ) from None
    assert proc.returncode == 3, err
    assert "interrupted cleanly" in out
