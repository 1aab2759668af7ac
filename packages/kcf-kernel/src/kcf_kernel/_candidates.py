"""Which ports a reservation may hand out: outside the range the system gives away by itself.

Every ``bind(port 0)`` on the machine and every outgoing connection gets its port from the
operating system's *ephemeral* range. A port chosen there can be taken by any program between
our check and the kernel's bind. A port outside it can be taken only by a program that binds
that very number on purpose. So candidates come from :data:`DEFAULT_PORT_RANGE` (or
``KCF_PORT_RANGE``, or the ``port_range`` argument) minus:

* Linux: ``/proc/sys/net/ipv4/ip_local_port_range`` (the ephemeral range) and
  ``/proc/sys/net/ipv4/ip_local_reserved_ports`` (ports the administrator keeps for services);
* macOS and the BSDs: ``net.inet.ip.portrange.first`` .. ``.last`` (``sysctl``);
* Windows: the dynamic range, 49152-65535 unless changed (``netsh int ipv4 show
  dynamicport tcp``).
"""

from __future__ import annotations

import math
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator

from ._errors import PortAllocationError

__all__ = [
    "DEFAULT_PORT_RANGE",
    "PORT_RANGE_ENV",
    "ephemeral_port_range",
    "reserved_ports",
    "port_range",
    "parse_port_range",
    "candidate_ports",
]

#: The range reservations choose from by default: below every common ephemeral range
#: (Linux 32768-60999, macOS and Windows 49152-65535) and above the well-known ports.
DEFAULT_PORT_RANGE = (20000, 32767)
#: The environment variable that changes the range: ``"LOW-HIGH"``, both inclusive.
PORT_RANGE_ENV = "KCF_PORT_RANGE"

_WINDOWS_DYNAMIC = (49152, 65535)
_MACOS_DYNAMIC = (49152, 65535)


def _linux_range() -> tuple[int, int] | None:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            low, high = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return None
    return low, high


def _sysctl(name: str) -> int | None:
    try:
        out = subprocess.run(
            ["/usr/sbin/sysctl", "-n", name], capture_output=True, text=True, timeout=5, check=True
        ).stdout
        return int(out.strip())
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def _windows_range() -> tuple[int, int]:  # pragma: no cover - Windows
    try:
        out = subprocess.run(
            ["netsh", "int", "ipv4", "show", "dynamicport", "tcp"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return _WINDOWS_DYNAMIC
    numbers = [int(n) for n in re.findall(r":\s*(\d+)", out)]
    if len(numbers) >= 2:
        start, count = numbers[0], numbers[1]
        return start, min(65535, start + count - 1)
    return _WINDOWS_DYNAMIC


def ephemeral_port_range() -> tuple[int, int]:
    """The range the operating system hands out for port 0 and outgoing connections.

    .. versionadded:: 0.2.0
    """
    platform = sys.platform  # a variable: every branch below is checked on every platform
    if platform.startswith("linux"):
        return _linux_range() or (32768, 60999)
    if platform == "win32":  # pragma: no cover - Windows
        return _windows_range()
    first = _sysctl("net.inet.ip.portrange.first")  # pragma: no cover - macOS, BSD
    last = _sysctl("net.inet.ip.portrange.last")  # pragma: no cover
    if first is None or last is None:  # pragma: no cover
        return _MACOS_DYNAMIC
    return first, last  # pragma: no cover


def _parse_port_list(text: str) -> frozenset[int]:
    ports: set[int] = set()
    for part in text.replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        ports.update(range(int(low), int(high or low) + 1))
    return frozenset(ports)


def reserved_ports() -> frozenset[int]:
    """Ports the administrator keeps out of the ephemeral pool for services
    (Linux ``ip_local_reserved_ports``; empty elsewhere). Never handed out by kcf.

    .. versionadded:: 0.2.0
    """
    try:
        with open("/proc/sys/net/ipv4/ip_local_reserved_ports", encoding="ascii") as f:
            return _parse_port_list(f.read())
    except (OSError, ValueError):
        return frozenset()


def parse_port_range(text: str, source: str = "port range") -> tuple[int, int]:
    """Parse ``LOW-HIGH`` (or ``LOW:HIGH``, both inclusive), the form of ``$KCF_PORT_RANGE``.

    Args:
        text: the range as written.
        source: where it came from (``KCF_PORT_RANGE``, ``--port-range``), named in the error.

    Returns:
        ``(low, high)``.

    Raises:
        ValueError: not two port numbers, or not ``1 <= LOW <= HIGH <= 65535``.

    .. versionadded:: 0.2.0
    """
    match = re.fullmatch(r"\s*(\d+)\s*[-:]\s*(\d+)\s*", text)
    if match is None:
        raise ValueError(f"{source}: expected 'LOW-HIGH' (two port numbers), got {text!r}")
    return _check_range((int(match[1]), int(match[2])), source)


def _check_range(value: tuple[int, int], source: str) -> tuple[int, int]:
    low, high = value
    if not 1 <= low <= high <= 65535:
        raise ValueError(f"{source}: expected 1 <= LOW <= HIGH <= 65535, got {low}-{high}")
    return low, high


def port_range(value: tuple[int, int] | None = None) -> tuple[int, int]:
    """The range reservations choose from: ``value``, else ``$KCF_PORT_RANGE``, else
    :data:`DEFAULT_PORT_RANGE`.

    Raises:
        ValueError: the range (or the variable) is not ``LOW-HIGH`` within 1-65535.

    .. versionadded:: 0.2.0
    """
    if value is not None:
        return _check_range(value, "port_range")
    env = os.environ.get(PORT_RANGE_ENV)
    if env:
        return parse_port_range(env, PORT_RANGE_ENV)
    return DEFAULT_PORT_RANGE


def candidate_ports(value: tuple[int, int] | None = None) -> Iterator[int]:
    """Candidate ports in random order, never in the ephemeral range nor reserved ports.

    Raises:
        PortAllocationError: the range holds no candidate once those are taken out (names
            the range, the ephemeral range and how to change it).
    """
    low, high = port_range(value)
    eph_low, eph_high = ephemeral_port_range()
    skip = reserved_ports()
    allowed = [p for p in range(low, high + 1) if not eph_low <= p <= eph_high and p not in skip]
    if not allowed:
        raise PortAllocationError(
            f"no port of the range {low}-{high} lies outside the system's ephemeral range "
            f"{eph_low}-{eph_high} (and its reserved ports): choose another range with "
            f"{PORT_RANGE_ENV}=LOW-HIGH or port_range=(LOW, HIGH)"
        )
    return _walk(allowed)


def _walk(allowed: list[int]) -> Iterator[int]:
    # Every candidate once, from a random start with a random stride prime to the length:
    # concurrent launchers start at different places without shuffling the whole range.
    n = len(allowed)
    start = secrets.randbelow(n)
    stride = 1 + secrets.randbelow(n)
    while math.gcd(stride, n) != 1:
        stride = 1 + secrets.randbelow(n)
    for i in range(n):
        yield allowed[(start + i * stride) % n]
