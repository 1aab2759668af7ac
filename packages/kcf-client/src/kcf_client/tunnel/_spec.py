"""Server specs (``user@host:port`` or an alias) and where the server forwards to.

Pure: no sockets, no paramiko. The paramiko backend resolves ``~/.ssh/config`` in
``_sshconfig``; the OpenSSH backend lets ``ssh`` do it.
"""

from __future__ import annotations

import dataclasses

from kcf_spec import ConnectionInfo, connect_host, format_host

from ._errors import SSHConfigError, UnsupportedTransport

__all__ = ["ServerSpec", "parse_server", "forward_host", "check_tunnelable"]

_FORBIDDEN = set(" \t\r\n\"'\\;`$&|<>()")


@dataclasses.dataclass(frozen=True, slots=True)
class ServerSpec:
    """Where to ssh to: a host (or ``~/.ssh/config`` alias), and optionally user and port.

    ``user`` and ``port`` are ``None`` when the spec did not give them, so that the ssh
    configuration (``User``, ``Port``) still applies.

    .. versionadded:: 0.1.0
    """

    host: str
    user: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        host = format_host(self.host)
        user = f"{self.user}@" if self.user is not None else ""
        port = f":{self.port}" if self.port is not None else ""
        return f"{user}{host}{port}"


def parse_server(text: str) -> ServerSpec:
    """Parse ``[ssh://][user@]host[:port]``; IPv6 literals as ``[::1]:2222`` or bare ``::1``.

    Args:
        text: the spec as a user wrote it.

    Returns:
        The parsed spec.

    Raises:
        SSHConfigError: empty host, bad port, or a host or user that could be taken for
            an ssh option (starting with ``-``) or contains whitespace or shell characters.

    .. versionadded:: 0.1.0
    """
    original = text
    if text.startswith("ssh://"):
        text = text[len("ssh://") :].rstrip("/")
    user: str | None = None
    if "@" in text:
        user, _, text = text.rpartition("@")
        if not user:
            raise SSHConfigError(f"empty user name in server spec {original!r}")
    port: int | None = None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise SSHConfigError(f"unclosed '[' in server spec {original!r}")
        if rest:
            if not rest.startswith(":"):
                raise SSHConfigError(f"expected ':port' after ']' in server spec {original!r}")
            port = _port(rest[1:], original)
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(port_text, original)
    else:  # a name, an IPv4 address, or a bare IPv6 literal (no port possible)
        host = text
    if not host:
        raise SSHConfigError(f"no host in server spec {original!r}")
    for what, value in (("host", host), ("user", user)):
        if value is None:
            continue
        if value.startswith("-"):
            raise SSHConfigError(f"{what} {value!r} in server spec {original!r} starts with '-'")
        if any(ch in _FORBIDDEN for ch in value) or not value.isprintable():
            raise SSHConfigError(
                f"{what} {value!r} in server spec {original!r} contains whitespace, quotes "
                "or shell characters"
            )
    return ServerSpec(host=host, user=user, port=port)


def _port(text: str, original: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise SSHConfigError(f"port {text!r} in server spec {original!r} is not 1..65535")
    return int(text)


def forward_host(ip: str) -> str:
    """The address the SSH server connects to for a kernel whose file says ``ip``.

    A bind-all address (``0.0.0.0``, ``*``, ``::``) becomes the server's loopback of the
    same family; anything else is used as written (it must be reachable from the server).
    Brackets around an IPv6 literal are removed. The rule is :func:`kcf_spec.connect_host`'s,
    applied on the server.

    .. versionadded:: 0.1.0
    """
    return connect_host(ip)


def check_tunnelable(info: ConnectionInfo, server: str = "") -> None:
    """Refuse connection infos an SSH tunnel cannot carry.

    Raises:
        UnsupportedTransport: ``transport`` is ``ipc`` (Unix sockets are local to a host).

    .. versionadded:: 0.1.0
    """
    if info.transport != "tcp":
        raise UnsupportedTransport(
            f"cannot tunnel transport {info.transport!r} (the kernel's sockets are files "
            f"under {info.ip!r} on its own machine); start the kernel with transport 'tcp'",
            server=server,
        )
