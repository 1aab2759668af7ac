"""ipc endpoints: absolute paths next to the connection file, checked against ``sun_path``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kcf_spec import Channel, ConnectionInfo

from ._errors import SocketPathTooLong

__all__ = ["max_ipc_path_length", "ipc_socket_paths", "check_ipc_paths", "default_ipc_prefix"]


def max_ipc_path_length() -> int:
    """The longest socket path (bytes, without the final NUL) this platform accepts.

    ``sun_path`` is 108 bytes on Linux and 104 on macOS and the BSDs.

    .. versionadded:: 0.1.0
    """
    return 107 if sys.platform.startswith("linux") else 103


def default_ipc_prefix(connection_file: str | os.PathLike[str]) -> str:
    """The ipc prefix for a kernel: beside its connection file, ``<dir>/<stem>-ipc``.

    Endpoints are then ``ipc://<dir>/<stem>-ipc-1`` ... (absolute, so a client with another
    working directory finds them).

    .. versionadded:: 0.1.0
    """
    path = Path(connection_file).absolute()
    return str(path.with_name(f"{path.stem}-ipc"))


def ipc_socket_paths(info: ConnectionInfo) -> list[Path]:
    """The socket file of each channel (canonical order); empty for tcp.

    .. versionadded:: 0.1.0
    """
    if info.transport != "ipc":
        return []
    return [Path(f"{info.ip}-{info.port(c)}") for c in Channel]


def check_ipc_paths(info: ConnectionInfo, *, largest_suffix: int | None = None) -> None:
    """Raise :class:`SocketPathTooLong` if a socket path of ``info`` is too long.

    Args:
        info: the connection (tcp: nothing to check).
        largest_suffix: check ``<ip>-<largest_suffix>`` too (for ports still to be chosen).

    .. versionadded:: 0.1.0
    """
    if info.transport != "ipc":
        return
    limit = max_ipc_path_length()
    paths = [str(p) for p in ipc_socket_paths(info)]
    if largest_suffix is not None:
        paths.append(f"{info.ip}-{largest_suffix}")
    for p in paths:
        if len(os.fsencode(os.path.abspath(p))) > limit:
            raise SocketPathTooLong(os.path.abspath(p), limit)
