"""Keep the last lines a child process writes to its stderr, passing them on as they come.

When a kernel fails before it is ready, its last stderr lines say why (xeus: "type must be
string, but is number"). :class:`StderrTail` reads the child's stderr pipe on a daemon
thread, copies every chunk to where stderr would have gone (this process's fd 2), and keeps
a bounded tail for the error message. The thread ends when the pipe closes (the child and
every process that inherited its stderr have exited); it holds at most ``limit`` bytes.
"""

from __future__ import annotations

import os
import threading
from typing import IO

__all__ = ["StderrTail"]


class StderrTail:
    """Drain ``pipe`` on a thread, forward to ``sink_fd``, keep the last ``limit`` bytes.

    Args:
        pipe: the read end of the child's stderr (``Popen.stderr``); closed at EOF.
        sink_fd: where to copy the bytes (default 2, this process's stderr; ``None``: drop).
        limit: how many trailing bytes to keep.
    """

    __slots__ = ("_buf", "_limit", "_lock", "_pipe", "_sink", "_thread")

    def __init__(self, pipe: IO[bytes], *, sink_fd: int | None = 2, limit: int = 8192) -> None:
        self._pipe = pipe
        self._sink = sink_fd
        self._limit = limit
        self._buf = bytearray()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="kcf-stderr-tail", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        fd = self._pipe.fileno()
        try:
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                if self._sink is not None:
                    try:
                        os.write(self._sink, chunk)
                    except OSError:
                        self._sink = None  # our stderr is gone: keep the tail only
                with self._lock:
                    self._buf += chunk
                    del self._buf[: max(0, len(self._buf) - self._limit)]
        finally:
            self._pipe.close()

    def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the pipe to close (after the child exited)."""
        self._thread.join(timeout)

    def lines(self, count: int = 10) -> str:
        """The last ``count`` complete or partial lines, decoded (invalid UTF-8 replaced)."""
        with self._lock:
            data = bytes(self._buf)
        text = data.decode("utf-8", "replace").rstrip("\n")
        return "\n".join(text.splitlines()[-count:])
