"""Whether a process still runs, as the tests that kill launchers need to know it (Linux).

A process whose main thread has exited is a zombie leader while its other threads (zmq's
I/O threads, say) still run and hold its sockets open: it has ended only when its last
thread has. ``/proc/<pid>/stat`` shows the leader alone, so each task is looked at.
"""

from __future__ import annotations

import contextlib
import os


def pid_alive(pid: int) -> bool:
    """``True`` while any thread of ``pid`` runs (a zombie nobody reaps counts as dead)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return False
    for tid in tids:
        with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/task/{tid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                return True
    return False
