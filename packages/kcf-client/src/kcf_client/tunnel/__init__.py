"""SSH tunnels to remote kernels: one SSH connection carrying all five channels.

Two backends with the same API and the same errors: the system OpenSSH client
(``backend="openssh"``) and paramiko (``backend="paramiko"``, the ``kcf-client[ssh]``
extra; imported only when used)::

    from kcf_client.tunnel import open_tunnel

    with open_tunnel(info, "me@gpu-box") as tunnel:
        path = tunnel.write_connection_file()   # for `jupyter console --existing PATH`
        ...                                      # connect to tunnel.local

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from ._base import Tunnel
from ._errors import (
    AuthenticationFailed,
    BackendUnavailable,
    ConnectTimeout,
    ForwardRefused,
    HostKeyError,
    HostKeyMismatch,
    HostKeyRevoked,
    HostKeyUnknown,
    HostUnreachable,
    SSHConfigError,
    TunnelDied,
    TunnelError,
    UnsupportedTransport,
)
from ._open import Backend, choose_backend, open_tunnel
from ._spec import ServerSpec, forward_host, parse_server

__all__ = [
    # opening
    "open_tunnel",
    "choose_backend",
    "Backend",
    "Tunnel",
    # server specs
    "ServerSpec",
    "parse_server",
    "forward_host",
    # errors
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
