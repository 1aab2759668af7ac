"""The port strategies that hand the kernel a connection file: reserve, kernel, given.

Each takes a :class:`LaunchPlan` and returns a running :class:`KernelProcess`; the handshake
strategy lives in :mod:`._handshake_launch`. They share one sequence: settle the ports, write
the file, :func:`spawn` the kernel (where it runs), then wait as the strategy needs:

* ``reserve``: ports chosen outside the ephemeral range and locked across kcf launchers
  (:func:`reserve_ports`), released in the background once the kernel listens.
* ``kernel``: the file says port ``0`` ("choose"); the kernel binds port 0 and rewrites the
  file with its real ports; we wait for that rewrite.
* ``given``: every port is in the plan already.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from kcf_spec import Channel, ConnectionInfo, KcfError

from ._errors import LaunchError, LaunchTimeout
from ._ipc import check_ipc_paths
from ._plan import LaunchPlan
from ._process import KernelProcess, stop_process
from ._reserve import PortReservation, reserve_ports
from ._write import remove_connection_file, write_connection_file

__all__ = ["start_with_file"]


def start_with_file(plan: LaunchPlan, strategy: str) -> KernelProcess:
    """Start the kernel of ``plan`` with the ``reserve``, ``kernel`` or ``given`` strategy.

    Raises:
        ValueError: ``"given"`` with a port 0.
        PortAllocationError, SocketPathTooLong, WriteError, LaunchError, LaunchTimeout: as
            :func:`launch_kernel` says.
    """
    info = plan.connection
    zeros = [c for c in Channel if info.port(c) == 0]
    if strategy == "given" and zeros:
        raise ValueError(f"ports='given' needs every port; {zeros[0].port_key} is 0")
    reservation: PortReservation | None = None
    if info.transport == "ipc":
        if zeros and strategy == "reserve":  # the prefix is ours alone: the small numbers do
            info = info.replace(ports={c: c.ipc_index for c in zeros})
        check_ipc_paths(info, largest_suffix=99)
    elif zeros and strategy == "reserve":
        reservation = reserve_ports(
            len(zeros), ip=info.ip, runtime_dir=plan.runtime_dir, port_range=plan.port_range
        )
        info = info.replace(ports=dict(zip(zeros, reservation.ports, strict=True)))

    path = plan.connection_file
    argv = plan.command()
    try:
        write_connection_file(info, path, profile="launch" if strategy == "kernel" else "connect")
        popen = plan.spawn(argv)
    except BaseException:
        if reservation is not None:
            reservation.release()
        remove_connection_file(path, info)
        raise
    proc = KernelProcess(
        popen,
        info,
        path,
        argv=argv,
        kernel_id=plan.kernel_id,
        owns_ipc=plan.owns_ipc,
        reservation=reservation,
        strategy=strategy,
        interrupt_mode=plan.interrupt_mode,
    )
    if reservation is not None:
        reservation.release_when_bound(alive=proc.is_alive, timeout=max(plan.timeout, 1.0))
    if strategy == "kernel" and zeros:
        try:
            proc.info = _wait_for_ports(proc, info, plan.timeout)
        except BaseException:
            stop_process(popen, 0)
            proc.cleanup()
            raise
    return proc


def _rewritten(path: Path, sent: ConnectionInfo) -> ConnectionInfo | None:
    """The file's connection once the kernel has written real ports with our key, else None.

    Cheap on purpose (polled): a document still holding port 0 is recognised without asking
    the schema to explain why it is not a connect document.
    """
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read(1 << 16))
    except (OSError, ValueError):  # not there, or caught mid-rewrite by a non-atomic writer
        return None
    if not isinstance(data, dict) or data.get("key") != sent.key.decode("utf-8"):
        return None
    for channel in Channel:
        port = data.get(channel.port_key)
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            return None
    try:
        return ConnectionInfo.from_dict(data, profile="connect", path=path)
    except KcfError:
        return None


def _wait_for_ports(proc: KernelProcess, sent: ConnectionInfo, timeout: float) -> ConnectionInfo:
    """Poll the connection file until the kernel has rewritten it with real ports."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        alive = proc.is_alive()  # before reading: a kernel that wrote, then exited, counts
        info = _rewritten(proc.connection_file, sent)
        if info is not None:
            return info
        if not alive:
            stop_process(proc.popen, 0)  # ends what it left in its group, then reaps
            code = proc.popen.returncode
            raise LaunchError(
                proc.argv,
                f"exited with status {code} before writing its ports to {proc.connection_file}",
                returncode=code,
            )
        if time.monotonic() >= deadline:
            raise LaunchTimeout(
                proc.argv,
                f"did not write its ports to {proc.connection_file} within {timeout} s",
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
