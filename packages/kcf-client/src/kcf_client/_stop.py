"""Ending a kernel by its connection file: ``shutdown_request``, then proof that it is gone."""

from __future__ import annotations

import dataclasses
import glob
import os
import time
from pathlib import Path

from kcf_spec import Channel, ConnectionInfo

from ._errors import KernelDied, KernelTimeout

__all__ = ["StopResult", "stop_kernel"]


@dataclasses.dataclass(frozen=True, slots=True)
class StopResult:
    """What :func:`stop_kernel` did.

    Attributes:
        path: the connection file.
        replied: the kernel answered the ``shutdown_request``.
        gone: the kernel is provably gone (no heartbeat, every port closed on this machine).
        file_removed: the connection file was removed (only when ``gone`` and the file still
            held this kernel's key).
        reason: why the kernel counts as gone, or why that cannot be proven.

    .. versionadded:: 0.2.0
    """

    path: Path
    replied: bool
    gone: bool
    file_removed: bool
    reason: str


def stop_kernel(connection_file: str | os.PathLike[str], *, timeout: float = 10.0) -> StopResult:
    """Ask a kernel to shut down and wait, up to ``timeout``, until it is provably gone.

    Sends ``shutdown_request`` over control, waits for the heartbeat to stop, then for every
    port to refuse connections. The connection file is removed only then, and only if it still
    holds the key it was read with (a kernel restarted with a new file keeps it).

    Args:
        connection_file: a path, a name or a glob (see :func:`find_connection_file`).
        timeout: seconds for the whole stop; the call returns by then.

    Returns:
        What was done. ``gone`` is ``False`` when the heartbeat stopped but death cannot be
        proven from here (a remote kernel, a port taken by another process).

    Raises:
        ConnectionFileNotFound: no file matches.
        ConnectionFileError: the file is not a valid connection file.
        KernelTimeout: the kernel still answers its heartbeat after ``timeout``.

    .. versionadded:: 0.2.0
    """
    from kcf_kernel import remove_connection_file

    from ._blocking import KernelConnection
    from ._find import find_connection_file
    from ._listing import KernelState, list_kernels

    deadline = time.monotonic() + timeout
    path = find_connection_file(os.fspath(connection_file))
    info = ConnectionInfo.load(path)

    def left(cap: float) -> float:
        return max(0.01, min(cap, deadline - time.monotonic()))

    with KernelConnection(info, path=path) as kc:
        try:
            kc.shutdown(timeout=left(5.0))
            replied = True
        except (KernelTimeout, KernelDied):  # dead already, or deaf on control: judge by heartbeat
            replied = False
        while True:
            try:
                kc.ping(left(0.5))
            except KernelTimeout:
                break  # the heartbeat has stopped
            if time.monotonic() >= deadline:
                raise KernelTimeout(
                    kernel=str(path),
                    channel=Channel.HB,
                    timeout=timeout,
                    request="shutdown_request",
                    detail="the kernel still answers its heartbeat",
                )
            time.sleep(0.02)
    pattern = glob.escape(path.name)
    while True:
        entries = list_kernels(path.parent, pattern=pattern, timeout=left(0.2), grace=0.0)
        entry = next((e for e in entries if e.path == path), None)
        if entry is None:
            return StopResult(path, replied, True, False, "the connection file is gone")
        if entry.state is KernelState.DEAD:
            removed = remove_connection_file(path, info)
            return StopResult(path, replied, True, removed, entry.reason)
        if time.monotonic() >= deadline or entry.state is not KernelState.UNKNOWN:
            return StopResult(path, replied, False, False, entry.reason)
        time.sleep(0.05)  # ports still closing: look again
