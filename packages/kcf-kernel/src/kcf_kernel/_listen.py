"""Is a kernel listening yet? One probe and one wait, used by every launch strategy.

On Linux the probe reads the listening sockets from ``/proc/net/tcp`` and ``/proc/net/tcp6``:
no connection is opened, so waiting for a kernel creates no traffic and takes no ephemeral
port from anyone. Elsewhere (or when ``/proc`` cannot be read) it connects to each port; the
source port of such a probe is an ephemeral one, and reserved ports are chosen outside the
ephemeral range (:mod:`._candidates`), so the probes can never take a reserved port.

ipc: a channel is bound once its socket file exists.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable

from kcf_spec import connect_host, is_ipv6_host

__all__ = [
    "address_family",
    "port_is_listening",
    "listening_ports",
    "wait_until_bound",
]


def address_family(host: str) -> socket.AddressFamily:
    """The socket family of an address literal (IPv6 by :func:`kcf_spec.is_ipv6_host`)."""
    return socket.AF_INET6 if is_ipv6_host(host) else socket.AF_INET


def port_is_listening(ip: str, port: int, timeout: float = 0.2) -> bool:
    """``True`` when something accepts tcp connections on ``ip:port``.

    A connect probe, never a bind: a probe that binds would itself take the port from the
    kernel for an instant. (:func:`wait_until_bound` avoids even the connection on Linux.)

    .. versionadded:: 0.1.0
    """
    host = connect_host(ip)
    with socket.socket(address_family(host), socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect((host, port))
        except OSError:
            return False
        return True


_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_LISTEN = "0A"
_PROC_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


def _proc_address(hex_addr: str) -> _Address:
    raw = bytes.fromhex(hex_addr)
    # The kernel prints each 32-bit word in host byte order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if sys.byteorder == "big":  # pragma: no cover - big-endian hosts print network order
        words = raw
    if len(words) == 4:
        return ipaddress.IPv4Address(words)
    return ipaddress.IPv6Address(words)


def _proc_listeners() -> list[tuple[_Address, int]] | None:
    """Every listening tcp socket of this network namespace, or ``None`` without ``/proc``."""
    found: list[tuple[_Address, int]] = []
    read_any = False
    for table in _PROC_TABLES:
        try:
            with open(table, encoding="ascii") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        read_any = True
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != _LISTEN:
                continue
            addr, _, port = fields[1].partition(":")
            found.append((_proc_address(addr), int(port, 16)))
    return found if read_any else None


def _matches(bound: _Address, wanted: _Address | None) -> bool:
    if bound.is_unspecified or wanted is None:
        return True
    if isinstance(bound, ipaddress.IPv6Address) and bound.ipv4_mapped is not None:
        bound = bound.ipv4_mapped
    return bound == wanted


def listening_ports(ip: str, ports: Iterable[int]) -> set[int]:
    """The subset of ``ports`` on which something listens on ``ip`` (tcp).

    Linux: read from ``/proc/net/tcp*`` without opening a connection; elsewhere one connect
    probe per port.
    """
    wanted_ports = set(ports)
    listeners = _proc_listeners() if sys.platform.startswith("linux") else None
    if listeners is None:
        return {p for p in wanted_ports if port_is_listening(ip, p)}
    try:
        wanted: _Address | None = ipaddress.ip_address(connect_host(ip))
    except ValueError:  # a host name: any listener on that port counts
        wanted = None
    if wanted is not None and wanted.is_unspecified:
        wanted = None
    return {port for addr, port in listeners if port in wanted_ports and _matches(addr, wanted)}


def _pending(ip: str, transport: str, pending: list[int]) -> list[int]:
    if transport == "ipc":
        return [p for p in pending if not os.path.exists(f"{ip}-{p}")]
    up = listening_ports(ip, pending)
    return [p for p in pending if p not in up]


def wait_until_bound(
    ip: str,
    ports: Iterable[int],
    *,
    transport: str = "tcp",
    timeout: float,
    alive: Callable[[], bool] | None = None,
    stop: threading.Event | None = None,
    interval: float = 0.01,
) -> bool:
    """Wait until a kernel has bound every one of ``ports`` (``True``).

    Returns ``False`` when ``alive()`` turns false, ``stop`` is set, or ``timeout`` passes.
    tcp: every port listens on ``ip``; ipc: every socket file ``<ip>-<port>`` exists.
    """
    deadline = time.monotonic() + timeout
    pending = sorted(set(ports))
    while True:
        pending = _pending(ip, transport, pending)
        if not pending:
            return True
        if alive is not None and not alive():
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if stop is not None:
            if stop.wait(min(interval, remaining)):
                return False
        else:
            time.sleep(min(interval, remaining))
