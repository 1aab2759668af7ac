"""The kernel a provisioner manages: one it launched, or one it re-attached to by pid."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from kcf_kernel import KernelProcess, remove_connection_file
from kcf_spec import ConnectionInfo

__all__ = ["KernelHandle", "LocalKernel", "AttachedKernel", "start_ticks"]


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux ``/proc``), else ``None``.

    With the pid it identifies one process: a reused pid has another start time.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[19])  # field 22 of stat(5); fields[0] is field 3 (state)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


class KernelHandle(Protocol):
    """What the provisioner needs from a kernel process."""

    def is_alive(self) -> bool: ...
    def exit_status(self) -> int: ...
    def signal_group(self, sig: int) -> None: ...
    def kill(self) -> None: ...
    def close(self, timeout: float = 5.0) -> None: ...
    def identity(self) -> dict[str, Any]: ...


class LocalKernel:
    """A kernel this process launched (a :class:`kcf_kernel.KernelProcess`)."""

    def __init__(self, proc: KernelProcess) -> None:
        self.proc = proc

    def is_alive(self) -> bool:
        """Whether it runs (an exited kernel is not reaped: its group can still be killed)."""
        return self.proc.is_alive()

    def exit_status(self) -> int:
        """Its exit status (negative: the signal), read without reaping where possible."""
        if self.proc.returncode is not None:
            return self.proc.returncode
        if hasattr(os, "waitid"):
            with contextlib.suppress(ChildProcessError):
                res = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                if res is not None:
                    exited = res.si_code == os.CLD_EXITED
                    return res.si_status if exited else -res.si_status
        return self.proc.popen.wait()

    def signal_group(self, sig: int) -> None:
        """``sig`` to its process group."""
        self.proc.signal_group(sig)

    def kill(self) -> None:
        """SIGKILL to its process group."""
        self.proc.kill()

    def close(self, timeout: float = 5.0) -> None:
        """Stop it if it runs, reap it, remove its files (idempotent)."""
        self.proc.close(timeout=timeout)

    def identity(self) -> dict[str, Any]:
        """``pid``, ``pgid`` and ``start_ticks``, for re-attaching."""
        pid = self.proc.pid
        return {"pid": pid, "pgid": pid, "start_ticks": start_ticks(pid)}


class AttachedKernel:
    """A kernel another process launched, managed by pid and process group.

    Its exit status cannot be known (it is not our child): it reads as 0 once it is gone,
    as LocalProvisioner reports. A pid reused by another process is not mistaken for the
    kernel where the start time can be read (Linux).
    """

    def __init__(
        self,
        pid: int,
        pgid: int,
        *,
        ticks: int | None,
        info: ConnectionInfo,
        connection_file: Path | None,
    ) -> None:
        self.pid = pid
        self.pgid = pgid
        self.ticks = ticks
        self.info = info
        self.connection_file = connection_file

    @classmethod
    def from_identity(
        cls, data: Mapping[str, Any], *, info: ConnectionInfo, connection_file: Path | None
    ) -> AttachedKernel:
        """From :meth:`LocalKernel.identity`'s fields."""
        pid = int(data["pid"])
        pgid = int(data.get("pgid") or pid)
        ticks = data.get("start_ticks")
        return cls(
            pid,
            pgid,
            ticks=int(ticks) if ticks is not None else None,
            info=info,
            connection_file=connection_file,
        )

    def is_alive(self) -> bool:
        """Whether the same process still runs."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # someone else's process now: not our kernel
            return False
        if self.ticks is not None and start_ticks(self.pid) != self.ticks:
            return False
        return not _zombie(self.pid)

    def exit_status(self) -> int:
        """0: the status of a process that is not our child is unknown."""
        return 0

    def signal_group(self, sig: int) -> None:
        """``sig`` to its process group, while it is the same process."""
        if self.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, sig)

    def kill(self) -> None:
        """SIGKILL to its process group."""
        self.signal_group(getattr(signal, "SIGKILL", signal.SIGTERM))

    def close(self, timeout: float = 5.0) -> None:
        """SIGTERM, SIGKILL after ``timeout``; then remove its connection file (if it still
        holds its key) and ipc sockets."""
        if self.is_alive():
            self.signal_group(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.is_alive() and time.monotonic() < deadline:
                time.sleep(0.02)
            self.kill()
        if self.connection_file is not None:
            remove_connection_file(self.connection_file, self.info)

    def identity(self) -> dict[str, Any]:
        """``pid``, ``pgid`` and ``start_ticks``."""
        return {"pid": self.pid, "pgid": self.pgid, "start_ticks": self.ticks}
