"""Socket mechanics of the client side, each written once: which socket type a channel
uses, how a client socket is configured and connected, and the liveness probes (is an
address on this machine, does a port or ipc socket refuse connections).

Where a channel connects is :meth:`kcf_spec.ConnectionInfo.connect_url` (loopback for a
wildcard bind, brackets for IPv6, ipc paths; :func:`kcf_spec.connect_host`). This module is
the only I/O the connection core and the listing rely on; :mod:`._core` itself does none.
"""

from __future__ import annotations

import _socket
import errno
import ipaddress
import os
import socket
import stat
import time
from typing import TYPE_CHECKING, Any

from kcf_spec import Channel, ConnectionInfo, connect_host, is_ipv6_host

from ._errors import map_zmq_error

if TYPE_CHECKING:
    from pathlib import Path

    import zmq

__all__ = [
    "configure_client_socket",
    "file_age",
    "ipc_refused",
    "local_address",
    "open_client_socket",
    "ports_closed",
    "socket_type",
    "tcp_refused",
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


def local_address(ip: str) -> str | None:
    """The address to probe ``ip`` at when it is on this machine, else ``None``.

    A bind-all address is probed at the loopback of its family
    (:func:`kcf_spec.connect_host`), ``localhost`` at ``127.0.0.1``. Never resolves a host
    name (no DNS wait): only literals and ``localhost`` count; an address counts when this
    machine owns it (a probe socket can bind it).
    """
    host = connect_host(ip)
    if host == "localhost":
        return "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return None
    if addr.is_loopback:
        return str(addr)
    if addr.is_multicast:  # bindable, but no kernel is "on" a group address
        return None
    family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.bind((str(addr), 0))  # succeeds only for an address this machine owns
    except OSError:
        return None
    finally:
        probe.close()
    return str(addr)


def tcp_refused(host: str, port: int) -> bool:
    """Whether ``host:port`` refuses a TCP connection (``False`` when it accepts, times out
    after half a second, or cannot be tried). No exception per probe: a dead kernel's
    five refusals are the common case of a listing."""
    family = socket.AF_INET6 if is_ipv6_host(host) else socket.AF_INET
    try:
        s = _socket.socket(family, socket.SOCK_STREAM)
    except OSError:
        return False
    try:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == errno.ECONNREFUSED
    except OSError:
        return False
    finally:
        s.close()


def ipc_refused(path: str) -> bool:
    """Whether the ipc socket ``path`` provably serves nobody: no such file, or a socket
    file that refuses connections (``False`` when it accepts or cannot be tried)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if not stat.S_ISSOCK(st.st_mode):
        return False
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        return True
    except OSError:
        return False
    finally:
        s.close()
    return False


def ports_closed(info: ConnectionInfo) -> bool:
    """``True`` when every port of ``info`` provably refuses connections on this machine
    (``False`` when one answers, or when that cannot be known from here: a remote address,
    an ipc path relative to the kernel's directory).

    Blocking (short TCP/ipc connects): the asyncio layer runs it in a worker thread.
    """
    if info.transport == "ipc":
        return os.path.isabs(info.ip) and all(
            ipc_refused(f"{info.ip}-{info.port(c)}") for c in Channel
        )
    host = local_address(info.ip)
    return host is not None and all(tcp_refused(host, info.port(c)) for c in Channel)


def file_age(path: Path | None) -> float | None:
    """Seconds since ``path`` was last written, or ``None`` (no file, or unreadable)."""
    if path is None:
        return None
    try:
        return max(0.0, time.time() - os.stat(path).st_mtime)
    except OSError:
        return None
