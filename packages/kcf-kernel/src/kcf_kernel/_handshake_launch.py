"""The handshake port strategy (JEP 66), launcher side: orchestration only.

Bind a ``ROUTER`` registration socket (port 0, read back), write a registration file
(atomic, 0600), start the kernel with it (:func:`spawn`, where it runs), receive its signed
port report and acknowledge it, write the connection file, remove the registration file.
What goes over the wire (the report, the acknowledgement, the registration file's dialect)
is the message level of :mod:`._handshake`; ``handshake_dialect`` is passed to it as is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import stat
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import zmq
from kcf_spec import (
    DEFAULT_DIALECT,
    Codec,
    ConnectionInfo,
    RegistrationInfo,
    check_dialect,
    format_host,
)

from ._bind import bound_port, configure_kernel_socket
from ._errors import LaunchError, map_zmq_error
from ._handshake import REGISTRATION_IPC_SUFFIX, receive_report, write_registration_file
from ._ipc import check_ipc_paths
from ._plan import LaunchPlan, handshake_dialect_for, interrupt_mode_for, make_plan
from ._process import KernelProcess, Stream, stop_process
from ._stderr_tail import StderrTail
from ._write import StrPath, remove_ipc_sockets, remove_owned_file, write_connection_file

__all__ = ["launch_handshake", "start_handshake"]


def launch_handshake(
    argv: Sequence[str],
    *,
    ip: str = "127.0.0.1",
    transport: Literal["tcp", "ipc"] = "tcp",
    key: bytes | None = None,
    signature_scheme: str | None = None,
    connection_file: StrPath | None = None,
    env: Mapping[str, str] | None = None,
    cwd: StrPath | None = None,
    kernel_name: str | None = None,
    runtime_dir: StrPath | None = None,
    timeout: float = 60.0,
    stdin: Stream = None,
    stdout: Stream = None,
    stderr: Stream = None,
    die_with_launcher: bool = True,
    handshake_dialect: str | None = None,
) -> KernelProcess:
    """Start a kernel with the JEP 66 handshake and return it once it has reported its ports.

    ``{registration_file}`` (or ``{connection_file}``) in ``argv`` is replaced by the
    registration file, ``<runtime dir>/registration-<id>.json`` (not ``kernel-*.json``, so
    tools listing connection files never mistake it for one). Once the report is in and
    acknowledged, the connection file is written (default ``<runtime dir>/kernel-<id>.json``)
    and the registration file removed.

    Args:
        argv: the command template.
        ip: the address of the registration socket and of the kernel (tcp).
        transport: ``"tcp"`` or ``"ipc"`` (the sockets then live beside the connection file).
        key: the HMAC key (default: a new one).
        signature_scheme: default ``"hmac-sha256"``.
        connection_file: where to write the connection file.
        env: variables added to the environment of the kernel.
        cwd: the kernel's working directory.
        kernel_name: recorded in the connection file.
        runtime_dir: the directory of the default files.
        timeout: seconds to wait for the report.
        stdin: the kernel's stdin (default ``/dev/null``).
        stdout: the kernel's stdout (default: inherited).
        stderr: the kernel's stderr (default: passed on to this process's stderr, its last
            lines kept for the error when the kernel dies before reporting).
        die_with_launcher: end the kernel when the launcher dies (default); ``False`` for a
            kernel meant to outlive it.
        handshake_dialect: which JEP 66 dialect to speak: ``"jupyter"``, ``"xeus"`` or
            ``"kallichore"``; ``None``: the one :func:`choose_port_strategy` finds for
            ``argv`` (``"xeus"`` for xeus-python), else the documented ``"jupyter"``.

    Raises:
        HandshakeTimeout: no valid report within ``timeout`` (names the registration file;
            the kernel is killed and every file removed).
        HandshakeError: the kernel exited before reporting (its dialect, exit status and
            last stderr lines).
        LaunchError: the program cannot start, or ``argv`` has no placeholder for the
            registration file.
        ValueError: an unknown dialect, or ``"kallichore"`` over ipc.
        KernelSocketError: the registration socket cannot be made.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``die_with_launcher`` and ``handshake_dialect`` (chosen from ``argv`` when not
       given); the kernel is interrupted as :func:`interrupt_mode_for` says.
    """
    plan = make_plan(
        argv,
        connection=None,
        connection_file=connection_file,
        kernel_name=kernel_name,
        ip=ip,
        transport=transport,
        runtime_dir=runtime_dir,
        key=key,
        signature_scheme=signature_scheme,
        env=env,
        cwd=cwd,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        timeout=timeout,
        die_with_launcher=die_with_launcher,
        handshake_dialect=handshake_dialect or handshake_dialect_for(argv),
        interrupt_mode=interrupt_mode_for(argv),
    )
    return start_handshake(plan)


def _bind_registration(
    router: zmq.Socket[bytes], plan: LaunchPlan, reg_key: bytes, scheme: str
) -> RegistrationInfo:
    info = plan.connection
    if info.transport == "ipc":
        router.bind(f"ipc://{info.ip}-{REGISTRATION_IPC_SUFFIX}")
        return RegistrationInfo(
            plan.kernel_id, REGISTRATION_IPC_SUFFIX, info.ip, "ipc", reg_key, scheme
        )
    router.bind(f"tcp://{format_host(info.ip)}:*")
    return RegistrationInfo(plan.kernel_id, bound_port(router), info.ip, "tcp", reg_key, scheme)


def start_handshake(plan: LaunchPlan) -> KernelProcess:
    """The handshake strategy for ``plan`` (see :func:`launch_handshake`)."""
    if not any("{registration_file}" in a or "{connection_file}" in a for a in plan.argv):
        raise LaunchError(plan.argv, "has no {registration_file} or {connection_file} placeholder")
    dialect = check_dialect(plan.handshake_dialect or DEFAULT_DIALECT)
    info = plan.connection
    if dialect == "kallichore" and info.transport != "tcp":
        raise ValueError("the kallichore handshake dialect speaks tcp only")
    conn_path = plan.connection_file
    reg_path = conn_path.with_name(f"registration-{plan.kernel_id}.json")
    key, scheme = info.key, info.signature_scheme
    codec = Codec(key, scheme)
    if info.transport == "ipc":
        check_ipc_paths(
            info.replace(ports={c: c.ipc_index for c in info.ports}),
            largest_suffix=REGISTRATION_IPC_SUFFIX,
        )

    try:
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        router: zmq.Socket[bytes] = ctx.socket(zmq.ROUTER)
        configure_kernel_socket(router, info, curve=False)
    except zmq.ZMQError as exc:
        raise map_zmq_error(exc, "create the registration socket") from exc
    popen: subprocess.Popen[bytes] | None = None
    reg_written = False
    done = False
    argv = list(plan.argv)
    try:
        reg = _bind_registration(router, plan, key, scheme)
        write_registration_file(reg, reg_path, dialect)
        reg_written = True
        argv = plan.command(registration_file=reg_path, connection_file=reg_path)
        # no stderr given: pass it on to ours, keeping the last lines for the error
        tail_pipe = plan.stderr is None
        spawner = dataclasses.replace(plan, stderr=subprocess.PIPE) if tail_pipe else plan
        popen = spawner.spawn(argv)
        tail = StderrTail(popen.stderr) if tail_pipe and popen.stderr is not None else None
        ports = receive_report(
            router, codec, reg, reg_path, popen, argv, plan.timeout, dialect, tail
        )
        fields: dict[str, str] = {}
        if info.kernel_name is not None:
            fields["kernel_name"] = info.kernel_name
        final = reg.connection_info(ports, **fields)
        write_connection_file(final, conn_path)
        done = True
    except zmq.ZMQError as exc:
        raise LaunchError(argv, f"registration socket: {exc.strerror}") from exc
    finally:
        router.close()
        ctx.term()
        if info.transport == "ipc":  # libzmq leaves the socket file of a closed listener
            reg_sock = Path(f"{info.ip}-{REGISTRATION_IPC_SUFFIX}")
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISSOCK(reg_sock.lstat().st_mode):
                    reg_sock.unlink()
        if reg_written:
            remove_owned_file(reg_path, key)
        if not done:
            if popen is not None:
                stop_process(popen, 0)
            if info.transport == "ipc" and plan.owns_ipc:
                remove_ipc_sockets(ConnectionInfo(1, 2, 3, 4, 5, ip=info.ip, transport="ipc"))
    assert popen is not None
    return KernelProcess(
        popen,
        final,
        conn_path,
        argv=argv,
        kernel_id=plan.kernel_id,
        owns_ipc=plan.owns_ipc,
        strategy="handshake",
        handshake_dialect=dialect,
        interrupt_mode=plan.interrupt_mode,
    )
