"""Errors of the SSH tunnel, the same for both backends.

Foreign exceptions (paramiko's, ``OSError``, ssh's exit status and stderr) are mapped to
these at one place per backend: ``_paramiko._map_error`` and ``_openssh._classify``.
"""

from __future__ import annotations

from kcf_spec import KcfError

__all__ = [
    "TunnelError",
    "BackendUnavailable",
    "SSHConfigError",
    "HostUnreachable",
    "HostKeyError",
    "HostKeyUnknown",
    "HostKeyMismatch",
    "HostKeyRevoked",
    "AuthenticationFailed",
    "ForwardRefused",
    "ConnectTimeout",
    "TunnelDied",
    "UnsupportedTransport",
]


class TunnelError(KcfError):
    """Base of every SSH tunnel error.

    Attributes:
        server: the server spec or alias the tunnel was opened to (``""`` if not known).
        backend: ``"paramiko"`` or ``"openssh"`` (``""`` before one was chosen).

    .. versionadded:: 0.1.0
    """

    def __init__(self, message: str, *, server: str = "", backend: str = "") -> None:
        self.server = server
        self.backend = backend
        prefix = f"ssh {server}: " if server else "ssh: "
        super().__init__(prefix + message)


class BackendUnavailable(TunnelError, ImportError):
    """The backend asked for cannot run here (paramiko not installed, no ``ssh`` binary).

    .. versionadded:: 0.1.0
    """


class SSHConfigError(TunnelError, ValueError):
    """The server spec or the ssh configuration cannot be understood.

    .. versionadded:: 0.1.0
    """


class HostUnreachable(TunnelError, ConnectionError):
    """The SSH server (or a jump host) could not be resolved or reached.

    .. versionadded:: 0.1.0
    """


class HostKeyError(TunnelError):
    """The server's host key could not be verified.

    Attributes:
        host: the known_hosts name looked up (``host`` or ``[host]:port``).
        fingerprint: the SHA256 fingerprint of the key offered, when known.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        message: str,
        *,
        server: str = "",
        backend: str = "",
        host: str = "",
        fingerprint: str = "",
    ) -> None:
        self.host = host
        self.fingerprint = fingerprint
        super().__init__(message, server=server, backend=backend)


class HostKeyUnknown(HostKeyError):
    """The server's host key is not in known_hosts and ``accept_new`` was not given.

    .. versionadded:: 0.1.0
    """


class HostKeyMismatch(HostKeyError):
    """The server offered a key different from the one recorded: always fatal.

    .. versionadded:: 0.1.0
    """


class HostKeyRevoked(HostKeyMismatch):
    """The server offered a key that known_hosts marks ``@revoked``: never accepted, for any
    host (as OpenSSH refuses it).

    .. versionadded:: 0.2.0
    """


class AuthenticationFailed(TunnelError, PermissionError):
    """Every authentication method was refused (or a callback declined to answer).

    .. versionadded:: 0.1.0
    """


class ForwardRefused(TunnelError, ConnectionRefusedError):
    """The server refused to forward to the kernel's address and port.

    Attributes:
        target: ``(host, port)`` the server was asked to connect to.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        message: str,
        *,
        server: str = "",
        backend: str = "",
        target: tuple[str, int] | None = None,
    ) -> None:
        self.target = target
        super().__init__(message, server=server, backend=backend)


class ConnectTimeout(TunnelError, TimeoutError):
    """The tunnel was not up within the timeout.

    .. versionadded:: 0.1.0
    """


class TunnelDied(TunnelError, ConnectionError):
    """The tunnel ended without being closed (server gone, network down, ssh killed).

    Attributes:
        stderr_tail: the last lines ssh wrote to stderr (OpenSSH backend), else ``()``.
        returncode: ssh's exit status (OpenSSH backend), else ``None``.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        message: str,
        *,
        server: str = "",
        backend: str = "",
        stderr_tail: tuple[str, ...] = (),
        returncode: int | None = None,
    ) -> None:
        self.stderr_tail = stderr_tail
        self.returncode = returncode
        if stderr_tail:
            message = message + "; ssh said: " + " | ".join(stderr_tail)
        super().__init__(message, server=server, backend=backend)


class UnsupportedTransport(TunnelError, ValueError):
    """The connection info cannot be tunnelled (``transport: ipc``).

    .. versionadded:: 0.1.0
    """
