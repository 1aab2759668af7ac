"""Socket mechanics of the client side, each written once: which socket type a channel
uses, how a client socket is configured and connected, and the liveness probe.

Where a channel connects is :meth:`kcf_spec.ConnectionInfo.connect_url` (loopback for a
wildcard bind, brackets for IPv6, ipc paths). This module is the only I/O the connection
core relies on; :mod:`._core` itself does none.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from kcf_spec import Channel, ConnectionInfo

from ._errors import map_zmq_error

if TYPE_CHECKING:
    from pathlib import Path

    import zmq

__all__ = [
    "configure_client_socket",
    "file_age",
    "open_client_socket",
    "ports_closed",
    "socket_type",
]


def socket_type(channel: Channel) -> int:
    """The ZeroMQ socket type a client uses for ``channel``."""
    import zmq

    return {
        Channel.SHELL: zmq.DEALER,
        Channel.IOPUB: zmq.SUB,
        Channel.STDIN: zmq.DEALER,
        Channel.CONTROL: zmq.DEALER,
        Channel.HB: zmq.REQ,
    }[channel]


def configure_client_socket(
    sock: zmq.Socket[Any],
    info: ConnectionInfo,
    channel: Channel,
    *,
    identity: bytes | None = None,
    curve_keypair: tuple[bytes, bytes] | None = None,
) -> None:
    """Set the options of a new client socket for ``channel`` (before it connects).

    Args:
        sock: the socket.
        info: the kernel's connection info (IPv6, CURVE server key).
        channel: the channel the socket is for (iopub subscribes to everything).
        identity: the routing identity (shell and stdin must share one: the kernel
            routes ``input_request`` by the shell sender's identity).
        curve_keypair: our CURVE ``(public, secret)`` pair; a new one when ``None`` and
            the kernel has a CURVE key.
    """
    import zmq

    sock.linger = 0
    if identity is not None and channel in (Channel.SHELL, Channel.STDIN, Channel.CONTROL):
        sock.identity = identity
    if info.is_ipv6:
        sock.ipv6 = True
    if info.curve_publickey is not None:
        pub, sec = curve_keypair if curve_keypair is not None else zmq.curve_keypair()
        sock.curve_serverkey = info.curve_publickey.encode("ascii")
        sock.curve_publickey, sock.curve_secretkey = pub, sec
    if channel is Channel.IOPUB:
        sock.setsockopt(zmq.SUBSCRIBE, b"")


def open_client_socket(
    ctx: zmq.Context[Any],
    info: ConnectionInfo,
    channel: Channel,
    *,
    kernel: str,
    identity: bytes | None = None,
    curve_keypair: tuple[bytes, bytes] | None = None,
) -> Any:
    """A configured client socket of ``ctx``, connected to ``channel`` of ``info``.

    Raises:
        ChannelError: the socket could not be created, configured or connected.
    """
    import zmq

    endpoint = info.connect_url(channel)
    try:
        sock = ctx.socket(socket_type(channel))
    except zmq.ZMQError as exc:
        raise map_zmq_error(
            exc, kernel=kernel, channel=channel, endpoint=endpoint, doing="create the socket"
        ) from exc
    try:
        configure_client_socket(sock, info, channel, identity=identity, curve_keypair=curve_keypair)
        sock.connect(endpoint)
    except zmq.ZMQError as exc:
        sock.close(0)
        raise map_zmq_error(
            exc, kernel=kernel, channel=channel, endpoint=endpoint, doing="connect"
        ) from exc
    return sock


def ports_closed(info: ConnectionInfo) -> bool:
    """``True`` when every port of ``info`` provably refuses connections on this machine.

    Blocking (short TCP/ipc connects): the asyncio layer runs it in a worker thread.
    """
    from ._listing import _ports_closed

    closed, _ = _ports_closed(info)
    return closed is True


def file_age(path: Path | None) -> float | None:
    """Seconds since ``path`` was last written, or ``None`` (no file, or unreadable)."""
    if path is None:
        return None
    try:
        return max(0.0, time.time() - os.stat(path).st_mtime)
    except OSError:
        return None
