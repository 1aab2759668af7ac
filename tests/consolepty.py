"""Driving a real jupyter-console in a pseudo-terminal, without fixed waits.

jupyter-console (6.6) prints a result only if its iopub message has arrived by the time the
``execute_reply`` has; under load the result can come later, and the console then shows it
only at the next input (an empty line flushes it). :func:`evaluate` presses Enter at each new
prompt until the result shows, so the test waits for the event, however late it is.
"""

from __future__ import annotations

import os
import select
import time

__all__ = ["read_until", "evaluate"]


def _read(fd: int, deadline: float) -> bytes:
    """What ``fd`` has within ``deadline`` (b"" once the terminal is closed or time is up)."""
    left = deadline - time.monotonic()
    if left <= 0 or not select.select([fd], [], [], left)[0]:
        return b""
    try:
        return os.read(fd, 4096)
    except OSError:  # the terminal closed
        return b""


def read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    """Read from ``fd`` until ``needle`` appears; fail after ``timeout`` seconds."""
    buf = b""
    deadline = time.monotonic() + timeout
    while needle not in buf:
        chunk = _read(fd, deadline)
        if not chunk:
            raise AssertionError(f"{needle!r} not seen within {timeout}s; got {buf[-800:]!r}")
        buf += chunk
    return buf


def evaluate(fd: int, code: bytes, timeout: float) -> bytes:
    """Type ``code`` at the console's prompt; return the text from ``Out[`` to the next prompt.

    Fails after ``timeout`` seconds without a result.
    """
    os.write(fd, code + b"\r")
    buf = b""
    prompts = 0
    deadline = time.monotonic() + timeout
    while True:
        if b"Out[" in buf and b"In [" in buf.split(b"Out[", 1)[1]:
            return buf.split(b"Out[", 1)[1]
        if buf.count(b"In [") > prompts:  # a new prompt, still no result: flush it
            prompts = buf.count(b"In [")
            os.write(fd, b"\r")
        chunk = _read(fd, deadline)
        if not chunk:
            raise AssertionError(f"no result for {code!r} within {timeout}s; got {buf[-800:]!r}")
        buf += chunk
