"""Strategy 2, the JEP 66 handshake: the kernel binds its own ports and reports them.

Launcher half (:func:`launch_handshake`): bind a ``ROUTER`` registration socket (port 0,
read back), write a registration file (atomic, 0600), start the kernel with it, receive its
signed port report, check the kernel id, acknowledge, write the connection file.

Kernel half (:func:`handshake_kernel`): read the registration file, bind first
(:func:`bind_kernel`), connect a ``REQ`` socket to the registration socket, send the report,
wait for the acknowledgement.

The messages are ordinary signed Jupyter messages (key and scheme from the registration
file). The report is ``msg_type`` :data:`REPORT_MSG_TYPE` with the documented content (the
five ports as decimal strings, :func:`kcf_spec.port_report`) plus ``kernel_id``; the
acknowledgement is :data:`ACK_MSG_TYPE` with ``{"status": "ok"}`` (or ``"error"`` and an
``evalue`` saying why).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import zmq
from kcf_spec import (
    Channel,
    Codec,
    ConnectionFileError,
    RegistrationInfo,
    WireError,
    parse_port_report,
    port_report,
)

from ._bind import KernelSockets, bind_kernel
from ._errors import HandshakeError, HandshakeTimeout, LaunchError
from ._listen import WILDCARD_LOOPBACK as _WILDCARD
from ._write import (
    StrPath,
    write_private_file,
)

__all__ = [
    "handshake_kernel",
    "report_ports",
    "write_registration_file",
    "REPORT_MSG_TYPE",
    "ACK_MSG_TYPE",
    "REGISTRATION_IPC_SUFFIX",
]

#: ``msg_type`` of the kernel's port report.
REPORT_MSG_TYPE = "kernel_registration_request"
#: ``msg_type`` of the launcher's acknowledgement.
ACK_MSG_TYPE = "kernel_registration_reply"
#: The ipc suffix of the registration socket (``<prefix>-99``); channels use 1..5.
REGISTRATION_IPC_SUFFIX = 99


def write_registration_file(registration: RegistrationInfo, path: StrPath) -> Path:
    """Write a registration file atomically with mode 0600.

    .. versionadded:: 0.1.0
    """
    return write_private_file(path, registration.dumps().encode("utf-8"))


def _ipv6(sock: zmq.Socket[bytes], ip: str, transport: str) -> None:
    if transport == "tcp" and ":" in ip:
        sock.ipv6 = True


# -- kernel half --------------------------------------------------------------------------


def report_ports(
    registration: RegistrationInfo,
    sockets: KernelSockets,
    *,
    timeout: float = 30.0,
    registration_file: StrPath | None = None,
) -> None:
    """Send the signed port report of ``sockets`` and wait for the acknowledgement.

    Raises:
        HandshakeTimeout: no acknowledgement within ``timeout`` seconds.
        HandshakeError: the launcher cannot be reached, refused the report, or answered
            with a bad message.

    .. versionadded:: 0.1.0
    """
    codec = Codec(registration.key, registration.signature_scheme)
    content: dict[str, Any] = dict(port_report(sockets.info.ports))
    content["kernel_id"] = registration.kernel_id
    target = registration
    if registration.transport == "tcp" and registration.registration_ip in _WILDCARD:
        # a bind-all address ("*", "0.0.0.0", "::") is reached over loopback
        target = registration.replace(registration_ip=_WILDCARD[registration.registration_ip])
    url = target.url
    req: zmq.Socket[bytes] = sockets.context.socket(zmq.REQ)
    req.linger = 0
    _ipv6(req, target.registration_ip, target.transport)
    where = registration_file if registration_file is not None else registration.url
    try:
        try:
            req.connect(url)
            req.send_multipart(codec.serialize(codec.message(REPORT_MSG_TYPE, content)))
        except zmq.ZMQError as exc:
            raise HandshakeError(
                f"cannot reach the launcher at {url} (registration file {where}): {exc.strerror}",
                registration_file=registration_file,
            ) from exc
        if not req.poll(int(timeout * 1000)):
            raise HandshakeTimeout(
                f"no acknowledgement from the launcher at {url} within "
                f"{timeout} s (registration file {where})",
                registration_file=registration_file,
            )
        try:
            ack = codec.parse(req.recv_multipart())
        except WireError as exc:
            raise HandshakeError(
                f"bad acknowledgement from {url}: {exc}",
                registration_file=registration_file,
            ) from exc
    finally:
        req.close(linger=0)
    if ack.header.msg_type != ACK_MSG_TYPE or ack.content.get("status") != "ok":
        raise HandshakeError(
            f"the launcher refused the port report: {ack.content.get('evalue', ack.content)!r}",
            registration_file=registration_file,
        )


def handshake_kernel(
    registration: RegistrationInfo | StrPath,
    context: zmq.Context[zmq.Socket[bytes]] | None = None,
    *,
    timeout: float = 30.0,
) -> KernelSockets:
    """The kernel half of the handshake: bind first, report the ports, wait for the ack.

    The sockets bind on ``registration_ip`` (tcp) or, for ipc, beside the registration
    socket (same prefix, suffixes 1..5). No connection file is written: the launcher writes
    it from the report.

    Args:
        registration: the registration file (or its parsed value).
        context: the ZeroMQ context (default: a new one, ended by ``close``).
        timeout: seconds to wait for the acknowledgement.

    Raises:
        kcf_spec.ConnectionFileError: the registration file is not valid.
        BindError: a socket could not be bound.
        HandshakeTimeout: no acknowledgement in time (the sockets are closed).
        HandshakeError: the launcher refused the report.

    .. versionadded:: 0.1.0
    """
    if isinstance(registration, RegistrationInfo):
        reg, reg_file = registration, None
    else:
        reg_file = Path(registration)
        reg = RegistrationInfo.load(reg_file)
    from kcf_spec import ConnectionInfo

    info = ConnectionInfo(
        0,
        0,
        0,
        0,
        0,
        ip=reg.registration_ip,
        transport=reg.transport,
        key=reg.key,
        signature_scheme=reg.signature_scheme,
    )
    sockets = bind_kernel(info, context, write=False)
    try:
        report_ports(reg, sockets, timeout=timeout, registration_file=reg_file)
    except BaseException:
        sockets.close()
        raise
    return sockets


# -- launcher half ------------------------------------------------------------------------


def _reject(router: zmq.Socket[bytes], codec: Codec, msg: Any, reason: str) -> None:
    reply = codec.message(
        ACK_MSG_TYPE,
        {"status": "error", "evalue": reason},
        parent=msg,
        identities=msg.identities,
    )
    router.send_multipart(codec.serialize(reply))


def _receive_report(
    router: zmq.Socket[bytes],
    codec: Codec,
    reg: RegistrationInfo,
    reg_path: Path,
    popen: subprocess.Popen[bytes],
    argv: list[str],
    timeout: float,
) -> dict[Channel, int]:
    deadline = time.monotonic() + timeout
    last_problem = ""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            extra = f"; last problem: {last_problem}" if last_problem else ""
            raise HandshakeTimeout(
                f"kernel {argv[0]!r} (pid {popen.pid}) did not report its ports within "
                f"{timeout} s to {reg.url} (registration file {reg_path}){extra}",
                registration_file=reg_path,
            )
        if not router.poll(int(min(remaining, 0.05) * 1000)):
            code = popen.poll()
            if code is not None:
                raise LaunchError(
                    argv,
                    f"exited with status {code} before reporting its ports "
                    f"(registration file {reg_path})",
                    returncode=code,
                )
            continue
        frames = router.recv_multipart()
        try:
            msg = codec.parse(frames)
        except WireError as exc:  # unsigned, or not for us: ignore, keep waiting
            last_problem = f"refused a message: {exc}"
            continue
        if msg.header.msg_type != REPORT_MSG_TYPE:
            last_problem = f"unexpected message type {msg.header.msg_type!r}"
            _reject(router, codec, msg, last_problem)
            continue
        if msg.content.get("kernel_id", reg.kernel_id) != reg.kernel_id:
            last_problem = f"report for another kernel {msg.content.get('kernel_id')!r}"
            _reject(router, codec, msg, last_problem)
            continue
        try:
            ports = parse_port_report(msg.content)
        except ConnectionFileError as exc:
            last_problem = f"bad port report: {exc}"
            _reject(router, codec, msg, last_problem)
            continue
        ack = codec.message(ACK_MSG_TYPE, {"status": "ok"}, parent=msg, identities=msg.identities)
        router.send_multipart(codec.serialize(ack))
        return ports
