"""Strategy 2, the JEP 66 handshake: the kernel binds its own ports and reports them.

Three dialects of the handshake are deployed (jupyter_client's documented one, xeus-zmq 4's,
ark/Kallichore's); :mod:`kcf_spec`'s ``_handshake`` module knows their files and frames,
sans I/O. This module puts them on sockets.

Launcher half (message level; the orchestration is ``launch_handshake``): the registration
file of the kernel's dialect (atomic, 0600), then the kernel's port report in whatever
shape it comes (bare signed content or a full ``handshake_request``, from a DEALER or a
REQ), its signature and kernel id checked, answered in the report's own way.

Kernel half (:func:`handshake_kernel`): read the registration file (any dialect), bind first
(:func:`bind_kernel`), report the ports in the documented dialect (or the one asked for:
by default the dialect of the file), wait for the answer.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import zmq
from kcf_spec import (
    DEFAULT_DIALECT,
    Channel,
    Codec,
    Dialect,
    RegistrationInfo,
    RemoteProtocolError,
    Signer,
    WireError,
    build_refusal,
    build_reply,
    build_report,
    check_dialect,
    connect_host,
    is_ipv6_host,
    parse_reply,
    parse_report,
    registration_dialect,
    registration_document,
    report_socket_type,
)

from ._bind import KernelSockets, bind_kernel
from ._errors import HandshakeError, HandshakeTimeout, map_zmq_error
from ._stderr_tail import StderrTail
from ._write import StrPath, write_private_file

__all__ = [
    "handshake_kernel",
    "report_ports",
    "write_registration_file",
    "REGISTRATION_IPC_SUFFIX",
    "receive_report",
]

#: The ipc suffix of the registration socket (``<prefix>-99``); channels use 1..5.
REGISTRATION_IPC_SUFFIX = 99


def write_registration_file(
    registration: RegistrationInfo, path: StrPath, dialect: Dialect = DEFAULT_DIALECT
) -> Path:
    """Write the registration file of ``dialect`` atomically with mode 0600.

    Args:
        registration: what the file says.
        path: where to write it.
        dialect: ``"jupyter"`` (documented, the default), ``"xeus"`` (``registration_port``
            as a string, for xeus-zmq kernels) or ``"kallichore"`` (no ``kernel_id``, for
            ark); see :func:`kcf_spec.registration_document`.

    Raises:
        ValueError: an unknown dialect, or a file the dialect cannot express.
        WriteError: the file cannot be written.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``dialect``.
    """
    doc = registration_document(registration, check_dialect(dialect))
    return write_private_file(path, (json.dumps(doc, indent=2) + "\n").encode("utf-8"))


def _ipv6(sock: zmq.Socket[bytes], ip: str, transport: str) -> None:
    if transport == "tcp" and is_ipv6_host(ip):
        sock.ipv6 = True


# -- kernel half --------------------------------------------------------------------------


def report_ports(
    registration: RegistrationInfo,
    sockets: KernelSockets,
    *,
    timeout: float = 30.0,
    registration_file: StrPath | None = None,
    dialect: Dialect | None = None,
) -> None:
    """Send the signed port report of ``sockets`` and wait for the launcher's answer.

    Args:
        registration: the registration file's contents.
        sockets: the bound kernel sockets.
        timeout: seconds to wait for the answer.
        registration_file: the file, named in errors.
        dialect: ``"jupyter"`` (bare signed content from a DEALER, the documented form),
            ``"xeus"`` (the same bytes) or ``"kallichore"`` (a full ``handshake_request``
            from a REQ, integer ports). Default: ``"jupyter"``, or ``"kallichore"`` for a
            registration without a kernel id.

    Raises:
        HandshakeTimeout: no answer within ``timeout`` seconds.
        HandshakeError: the launcher cannot be reached, refused the report, or answered
            with a bad message.
        KernelSocketError: the report socket cannot be made (a broken context).

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``dialect``; the invented ``kernel_registration_request`` is gone.
    """
    if dialect is None:
        dialect = "kallichore" if registration.kernel_id is None else DEFAULT_DIALECT
    dialect = check_dialect(dialect)
    where = registration_file if registration_file is not None else registration.url
    try:
        frames = build_report(registration, sockets.info.ports, dialect)
    except ValueError as exc:
        raise HandshakeError(
            f"cannot report in the {dialect} dialect: {exc} (registration file {where})",
            registration_file=registration_file,
            dialect=dialect,
        ) from None
    target = registration
    if registration.transport == "tcp":
        # a bind-all address ("*", "0.0.0.0", "::") is reached over loopback
        target = registration.replace(registration_ip=connect_host(registration.registration_ip))
    url = target.url
    kind = zmq.REQ if report_socket_type(dialect) == "REQ" else zmq.DEALER
    try:
        sock: zmq.Socket[bytes] = sockets.context.socket(kind)
        sock.linger = 0
        _ipv6(sock, target.registration_ip, target.transport)
    except zmq.ZMQError as exc:
        raise map_zmq_error(exc, f"create the {report_socket_type(dialect)} report socket") from exc
    try:
        try:
            sock.connect(url)
            sock.send_multipart(frames)
        except zmq.ZMQError as exc:
            raise HandshakeError(
                f"cannot reach the launcher at {url} (registration file {where}): {exc.strerror}",
                registration_file=registration_file,
                dialect=dialect,
            ) from exc
        if not sock.poll(int(timeout * 1000)):
            raise HandshakeTimeout(
                f"no answer from the launcher at {url} within {timeout} s "
                f"({dialect} dialect, registration file {where})",
                registration_file=registration_file,
                dialect=dialect,
            )
        try:
            answer = parse_reply(
                sock.recv_multipart(), Signer(registration.key, registration.signature_scheme)
            )
        except WireError as exc:
            raise HandshakeError(
                f"bad answer from the launcher at {url}: {exc}",
                registration_file=registration_file,
                dialect=dialect,
            ) from exc
    finally:
        sock.close(linger=0)
    if not answer.ok:
        raise HandshakeError(
            f"the launcher refused the port report: {answer.error}",
            registration_file=registration_file,
            dialect=dialect,
        )


def handshake_kernel(
    registration: RegistrationInfo | StrPath,
    context: zmq.Context[zmq.Socket[bytes]] | None = None,
    *,
    timeout: float = 30.0,
    dialect: Dialect | None = None,
) -> KernelSockets:
    """The kernel half of the handshake: bind first, report the ports, wait for the answer.

    The registration file may be in any dialect (see :func:`write_registration_file`).
    The sockets bind on the file's ``ip`` (else ``registration_ip``) for tcp or, for ipc,
    beside the registration socket (same prefix, suffixes 1..5). No connection file is
    written: the launcher writes it from the report.

    Args:
        registration: the registration file (or its parsed value).
        context: the ZeroMQ context (default: a new one, ended by ``close``).
        timeout: seconds to wait for the answer.
        dialect: the dialect to report in. Default: the dialect of the file, which is
            ``"jupyter"`` (the documented one) for a documented file.

    Raises:
        kcf_spec.ConnectionFileError: the registration file is not valid.
        BindError: a socket could not be bound.
        HandshakeTimeout: no answer in time (the sockets are closed).
        HandshakeError: the launcher refused the report.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Reads every dialect's file; ``dialect``.
    """
    if isinstance(registration, RegistrationInfo):
        reg, reg_file = registration, None
        file_dialect: Dialect = "kallichore" if reg.kernel_id is None else DEFAULT_DIALECT
    else:
        reg_file = Path(registration)
        reg = RegistrationInfo.load(reg_file)
        file_dialect = registration_dialect(reg.to_dict() | _raw_port(reg_file))
    from kcf_spec import ConnectionInfo

    bind_ip = reg.extras.get("ip", reg.registration_ip)
    info = ConnectionInfo(
        0,
        0,
        0,
        0,
        0,
        ip=bind_ip if isinstance(bind_ip, str) else reg.registration_ip,
        transport=reg.transport,
        key=reg.key,
        signature_scheme=reg.signature_scheme,
    )
    sockets = bind_kernel(info, context, write=False)
    try:
        report_ports(
            reg,
            sockets,
            timeout=timeout,
            registration_file=reg_file,
            dialect=dialect if dialect is not None else file_dialect,
        )
    except BaseException:
        sockets.close()
        raise
    return sockets


def _raw_port(path: Path) -> dict[str, Any]:
    """The file's ``registration_port`` as written (a string marks the xeus dialect)."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):  # pragma: no cover - load() just read it
        return {}
    return {"registration_port": data.get("registration_port")} if isinstance(data, dict) else {}


# -- launcher half ------------------------------------------------------------------------


def _reject(
    router: zmq.Socket[bytes], codec: Codec, frames: list[bytes], dialect: Dialect, reason: str
) -> None:
    """Answer a well-signed but wrong report with the dialect's refusal (xeus has none)."""
    reply = build_refusal(frames, dialect, codec, reason)
    if reply is not None:
        router.send_multipart(reply)


def receive_report(
    router: zmq.Socket[bytes],
    codec: Codec,
    reg: RegistrationInfo,
    reg_path: Path,
    popen: subprocess.Popen[bytes],
    argv: list[str],
    timeout: float,
    dialect: Dialect = DEFAULT_DIALECT,
    stderr_tail: StderrTail | None = None,
) -> dict[Channel, int]:
    """Wait for the kernel's report in any shape, verify it, answer it in its own way.

    A report that is not for us (unsigned, wrongly signed, not a report) is ignored; a
    well-signed one that is wrong (another kernel's id, bad ports) is refused in the
    dialect's way; both are remembered for the error.

    Raises:
        HandshakeTimeout: no valid report within ``timeout``.
        HandshakeError: the kernel exited first (its status and last stderr lines).
    """
    deadline = time.monotonic() + timeout
    last_problem = ""
    signer = Signer(reg.key, reg.signature_scheme)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            extra = f"; last problem: {last_problem}" if last_problem else ""
            raise HandshakeTimeout(
                f"kernel {argv[0]!r} (pid {popen.pid}) did not report its ports within "
                f"{timeout} s to {reg.url} ({dialect} dialect, registration file "
                f"{reg_path}){extra}",
                registration_file=reg_path,
                dialect=dialect,
            )
        if not router.poll(int(min(remaining, 0.05) * 1000)):
            code = popen.poll()
            if code is not None:
                raise _exited(popen, code, argv, reg_path, dialect, last_problem, stderr_tail)
            continue
        frames = router.recv_multipart()
        try:
            report = parse_report(frames, signer, kernel_id=reg.kernel_id)
        except RemoteProtocolError as exc:
            last_problem = str(exc)
            _reject(router, codec, frames, dialect, last_problem)
            continue
        except WireError as exc:  # unsigned, or not for us: ignore, keep waiting
            last_problem = f"refused a message: {exc}"
            continue
        reply = build_reply(report, dialect, codec)
        if reply is not None:
            router.send_multipart(reply)
        return report.ports


def _exited(
    popen: subprocess.Popen[bytes],
    code: int,
    argv: list[str],
    reg_path: Path,
    dialect: Dialect,
    last_problem: str,
    stderr_tail: StderrTail | None,
) -> HandshakeError:
    tail = ""
    if stderr_tail is not None:
        stderr_tail.wait(2.0)  # the pipe closes once the kernel is gone
        tail = stderr_tail.lines()
    message = (
        f"kernel {argv[0]!r} (pid {popen.pid}) exited with status {code} before reporting "
        f"its ports ({dialect} dialect, registration file {reg_path})"
    )
    if last_problem:
        message += f"; last problem: {last_problem}"
    if tail:
        message += "; its stderr ended with:\n" + tail
    return HandshakeError(
        message, registration_file=reg_path, dialect=dialect, returncode=code, stderr_tail=tail
    )
