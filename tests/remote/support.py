"""Helpers of the remote-kernel tests (importable as ``remote.support``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from ssh.conftest import SSHServer

__all__ = ["Remote", "pids_with", "wait_for"]


class Remote:
    """What a test needs to reach "the remote host" (127.0.0.1 through the private sshd)."""

    def __init__(self, server: SSHServer, python: Path, runtime: Path) -> None:
        self.server = server
        self.python = str(python)
        self.runtime = runtime

    def kwargs(self, **kw: object) -> dict[str, object]:
        """start_remote_kernel's SSH arguments for this server."""
        base: dict[str, object] = {
            "remote_python": self.python,
            "ssh_config": self.server.ssh_config,
            "known_hosts": self.server.known_hosts,
            "timeout": 60.0,
        }
        base.update(kw)
        return base

    def leftovers(self) -> list[str]:
        """Files the nanny or its kernel left in the remote runtime dir."""
        if not self.runtime.exists():
            return []
        return sorted(p.name for p in self.runtime.iterdir())


def pids_with(text: str) -> list[int]:
    """Pids whose command line contains ``text`` (this machine is also "the remote")."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if text in cmd:
            out.append(int(entry.name))
    return out


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until true; fail naming ``what`` after ``timeout`` (an event
    deadline, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.05)
