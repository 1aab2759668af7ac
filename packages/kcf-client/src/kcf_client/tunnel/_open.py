"""``open_tunnel``: choose a backend and open a tunnel with it."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Literal

from kcf_spec import ConnectionInfo

from ._base import Callback, StrPath, Tunnel, TunnelOptions
from ._errors import BackendUnavailable, SSHConfigError
from ._spec import check_tunnelable, parse_server

__all__ = ["open_tunnel", "choose_backend", "Backend"]

Backend = Literal["auto", "paramiko", "openssh"]


def choose_backend(backend: Backend = "auto") -> Literal["paramiko", "openssh"]:
    """The backend ``backend`` stands for here.

    ``"auto"`` is OpenSSH when an ``ssh`` command is on ``PATH`` on a POSIX system, else
    paramiko when it is installed. OpenSSH first because it honours *everything* in the
    user's ssh configuration (``Include``, ``Match``, certificates, hardware keys, GSSAPI,
    their agent setup) exactly as their own ``ssh`` does, it is faster (its crypto runs in
    another process, outside this one's GIL), and it needs no optional dependency.

    Raises:
        BackendUnavailable: neither is available (or the one named is not).

    .. versionadded:: 0.1.0
    """
    from ._openssh import find_ssh

    if backend == "openssh" or (backend == "auto" and os.name == "posix" and find_ssh()):
        return "openssh"
    if backend not in ("auto", "paramiko"):
        raise SSHConfigError(f"unknown backend {backend!r}; use auto, paramiko or openssh")
    if not _paramiko_installed():
        raise BackendUnavailable(
            "no SSH backend: install paramiko (pip install 'kcf-client[ssh]') or the OpenSSH "
            "client (the ssh command)"
            if backend == "auto"
            else "the paramiko backend needs paramiko: pip install 'kcf-client[ssh]'",
            backend="paramiko",
        )
    return "paramiko"


def _paramiko_installed() -> bool:
    try:
        return importlib.util.find_spec("paramiko") is not None
    except ValueError:  # sys.modules["paramiko"] is None: import blocked
        return False


def open_tunnel(
    info: ConnectionInfo,
    server: str,
    *,
    backend: Backend = "auto",
    accept_new: bool = False,
    ssh_config: StrPath | None = None,
    known_hosts: StrPath | None = None,
    identity_file: StrPath | None = None,
    password_callback: Callback | None = None,
    passphrase_callback: Callback | None = None,
    timeout: float = 15.0,
    connection_file: StrPath | None = None,
    check: bool = True,
) -> Tunnel:
    """Open one SSH connection to ``server`` carrying the five channels of ``info``.

    The kernel's address is seen from the server: ``127.0.0.1`` is the server's loopback,
    a bind-all address (``0.0.0.0``, ``*``, ``::``) is reached through the server's
    loopback, any other address is connected to from the server.

    Args:
        info: the kernel's connection info (``transport`` must be ``tcp``).
        server: ``[user@]host[:port]`` (IPv6 as ``[::1]:22``) or a ``~/.ssh/config`` alias.
        backend: ``"openssh"`` (the system ``ssh``), ``"paramiko"``, or ``"auto"`` (see
            :func:`choose_backend`).
        accept_new: trust a host seen for the first time and record its key (a changed
            key is always refused).
        ssh_config: the ssh configuration file (default ``~/.ssh/config``).
        known_hosts: use this known_hosts file instead of the configured ones.
        identity_file: a private key to try first.
        password_callback: asked for a password with the prompt; returns it, or ``None``
            to give up. Called up to 3 times if the server says it is wrong.
        passphrase_callback: asked for an encrypted key's passphrase, likewise.
        timeout: seconds for the whole opening (connect, authenticate, forward check).
        connection_file: the file ``info`` came from: names the default of
            :meth:`Tunnel.write_connection_file` (``<name>-ssh.json`` beside it).
        check: make sure the server forwards every channel (a ZeroMQ peer answers at
            once) before returning.

    Returns:
        The open :class:`Tunnel`; its :attr:`~Tunnel.local` is the local connection info.

    Raises:
        UnsupportedTransport: ``info`` uses ``ipc``.
        SSHConfigError: the server spec or the configuration is malformed.
        BackendUnavailable: the backend cannot run here.
        HostUnreachable: the server (or a jump host) cannot be resolved or reached.
        HostKeyUnknown: the host key is not known and not ``accept_new``.
        HostKeyMismatch: the host key differs from the recorded one.
        AuthenticationFailed: every authentication method failed.
        ForwardRefused: the server cannot (or may not) connect to the kernel's ports.
        ConnectTimeout: not open within ``timeout``.
        TunnelDied: the connection ended while opening.

    .. versionadded:: 0.1.0
    """
    check_tunnelable(info, server)
    chosen = choose_backend(backend)
    options = TunnelOptions(
        server=server,
        spec=parse_server(server),
        accept_new=accept_new,
        ssh_config=Path(ssh_config).expanduser() if ssh_config is not None else None,
        known_hosts=Path(known_hosts).expanduser() if known_hosts is not None else None,
        identity_file=Path(identity_file).expanduser() if identity_file is not None else None,
        password_callback=password_callback,
        passphrase_callback=passphrase_callback,
        timeout=timeout,
    )
    if chosen == "paramiko":
        from ._paramiko import open_paramiko

        return open_paramiko(info, options, connection_file, check=check)
    from ._openssh import open_openssh

    return open_openssh(info, options, connection_file, check=check)
