"""Start a Python subprocess that Ctrl-C can interrupt, whatever the test runner's own signals.

A shell starts a background job with SIGINT ignored, and a child inherits that: an interpreter
that starts with SIGINT ignored keeps it ignored and never raises KeyboardInterrupt. So a test
that sends SIGINT would hang, or fail, only when the suite runs in the background (nohup, CI
runners, `cmd &`). Restoring the default disposition in the child before it starts Python makes
the interpreter install its own handler, as in a terminal.
"""

import signal
import subprocess
import sys
from typing import Any


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_python(code: str, **kwargs: Any) -> "subprocess.Popen[Any]":
    """``subprocess.Popen([sys.executable, "-c", code], **kwargs)`` with Ctrl-C as in a terminal."""
    return subprocess.Popen([sys.executable, "-c", code], preexec_fn=_default_sigint, **kwargs)
