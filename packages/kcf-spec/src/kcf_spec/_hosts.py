"""Host addresses, the one place for their rules: is it IPv6, where does a bind-all address
connect, how is it written in an endpoint.

Pure string rules (no socket, no name resolution), shared by the connection model, the
kernel's binding and probing, the client's liveness probes and the SSH tunnels (where the
"local" host is the SSH server, the rule the same).
"""

from __future__ import annotations

__all__ = ["connect_host", "format_host", "is_ipv6_host"]

# Bind-all addresses, mapped to the loopback address of the same family (binds nothing).
_WILDCARD_LOOPBACK = {
    "": "127.0.0.1",
    "*": "127.0.0.1",
    "0.0.0.0": "127.0.0.1",  # noqa: S104 - a key to translate, not a bind
    "::": "::1",
}


def is_ipv6_host(host: str) -> bool:
    """``True`` when ``host`` is an IPv6 literal (``::1``, ``[::1]``, ``fe80::1%eth0``).

    A host name or an IPv4 address never contains a colon, so no parsing is needed.

    .. versionadded:: 0.2.0
    """
    return ":" in host


def connect_host(host: str) -> str:
    """Where a client connects for a kernel bound on ``host``.

    A bind-all address (``0.0.0.0``, ``*``, ``""``, ``::``) becomes the loopback address of
    the same family (``127.0.0.1`` or ``::1``), on the machine the kernel runs on: this
    machine for a local client, the SSH server for a tunnel. Brackets around an IPv6
    literal are removed; any other address is returned as it is.

    .. versionadded:: 0.2.0
    """
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return _WILDCARD_LOOPBACK.get(host, host)


def format_host(host: str) -> str:
    """``host`` as written in an endpoint before ``:port``: an IPv6 literal in brackets
    (``[::1]``, added once), anything else as it is.

    .. versionadded:: 0.2.0
    """
    if is_ipv6_host(host) and not host.startswith("["):
        return f"[{host}]"
    return host
