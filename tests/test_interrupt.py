"""Ctrl-C stops a long run within a second as KeyboardInterrupt, and the interpreter lives on."""

import signal
import subprocess
import sys
import time

import pytest
from interruptible import start_python

LONG_RUN = """
import sys
import dtp_gillespie as dg
model = {"states": ["N"], "exposures": ["off"], "division": {"N": 1.0}, "death": {"N": 1.0}}
print("started", flush=True)
try:
    dg.simulate(model, "off", initial={"N": 1_000_000}, t_end=1e6, n_replicates=4, seed=1,
                n_threads=2)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(0)
print("finished", flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT is POSIX")
def test_ctrl_c_stops_a_long_simulation_quickly() -> None:
    proc = start_python(LONG_RUN, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started"
        time.sleep(1.0)  # well inside the run, which would take hours
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        proc.kill()  # never leave a run of hours behind (a no-op once it has exited)
        proc.communicate()
    assert out.strip() == "interrupted", err
    assert proc.returncode == 0
    assert elapsed < 1.0, f"took {elapsed:.2f} s to stop"
