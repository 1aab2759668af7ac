"""Writing and removing connection files: atomic, 0600, never someone else's file."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
import uuid
import warnings
from pathlib import Path
from typing import Literal

from kcf_spec import Channel, ConnectionFileError, ConnectionInfo

from ._errors import (
    InsecureWriteError,
    InsecureWriteWarning,
    WriteError,
    insecure_mode_reason,
)
from ._ipc import ipc_socket_paths
from ._paths import ensure_private_dir, env_flag
from ._paths import runtime_dir as _runtime_dir

__all__ = [
    "new_key",
    "new_kernel_id",
    "default_connection_file",
    "write_connection_file",
    "write_private_file",
    "remove_connection_file",
    "remove_owned_file",
    "InsecureWriteWarning",
]

StrPath = str | os.PathLike[str]


def new_key() -> bytes:
    """A fresh HMAC key: 128 bits from :mod:`secrets`, as UUID-shaped ASCII hex (as the keys
    jupyter_client writes).

    .. versionadded:: 0.1.0
    """
    return str(uuid.UUID(bytes=secrets.token_bytes(16), version=4)).encode("ascii")


def new_kernel_id() -> str:
    """A fresh kernel id (a random UUID, from :mod:`secrets`).

    .. versionadded:: 0.1.0
    """
    return str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))


def default_connection_file(
    kernel_id: str | None = None, *, runtime_dir: StrPath | None = None
) -> Path:
    """``<runtime dir>/kernel-<kernel_id>.json`` (a new id when none is given); not created.

    .. versionadded:: 0.1.0
    """
    base = Path(runtime_dir) if runtime_dir is not None else _runtime_dir(create=False)
    return base / f"kernel-{kernel_id or new_kernel_id()}.json"


def _insecure_allowed() -> bool:
    # jupyter_core reads "true"/"1"; we accept any true word as its envset() does.
    return env_flag("JUPYTER_ALLOW_INSECURE_WRITES")


def write_private_file(path: StrPath, data: bytes, *, durable: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically with mode 0600.

    A temporary file is created beside ``path`` (``O_CREAT | O_EXCL``, mode 0600 from the
    start), filled, then renamed over ``path`` with :func:`os.replace`: a concurrent reader
    sees the old file or the new one, never a partial one. On any failure the temporary file
    is removed and ``path`` is unchanged.

    Args:
        path: the file to write; its directory must exist.
        data: the bytes.
        durable: ``fsync`` the file and its directory (survives a power cut; slower).

    Raises:
        WriteError: the directory is missing, not a directory, or not writable; ``path`` is
            a directory; the disk is full...
        InsecureWriteError: the file system would not give the file mode 0600 (unless
            ``JUPYTER_ALLOW_INSECURE_WRITES`` is set: then :class:`InsecureWriteWarning`).

    .. versionadded:: 0.1.0
    """
    target = Path(path)
    directory = target.parent
    tmp = directory / f".{target.name}.{secrets.token_hex(6)}.tmp"
    flags = (
        os.O_WRONLY
        | os.O_CREAT
        | os.O_EXCL
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_CLOEXEC", 0)
    )
    try:
        fd = os.open(tmp, flags, 0o600)
    except OSError as exc:
        raise _write_error(target, exc) from exc
    try:
        try:
            _make_private(fd, target)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)  # onto a directory: EISDIR, mapped below
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            raise _write_error(target, exc) from exc
        raise
    if durable and hasattr(os, "O_DIRECTORY"):
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return target


def _make_private(fd: int, target: Path) -> None:
    if os.name == "nt":  # pragma: no cover - POSIX modes do not apply
        return
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    chmod_error = None
    if mode != 0o600:  # the umask took bits away, or the file system ignores modes
        try:
            os.fchmod(fd, 0o600)
        except OSError as exc:  # CIFS, WSL drvfs... refuse it (EPERM)
            chmod_error = exc.strerror or str(exc)
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
    if mode != 0o600:
        if not _insecure_allowed():
            raise InsecureWriteError(target, mode, chmod_error=chmod_error)
        warnings.warn(
            f"{target} is written anyway because JUPYTER_ALLOW_INSECURE_WRITES is set: "
            f"{insecure_mode_reason(mode, 0o600, chmod_error)}; "
            "other users may be able to read its key",
            InsecureWriteWarning,
            stacklevel=4,
        )


def _write_error(target: Path, exc: OSError) -> WriteError:
    directory = target.parent
    code = exc.errno
    if code == errno.ENOENT:
        reason = f"the directory {directory} does not exist"
    elif code == errno.ENOTDIR:
        reason = f"{directory} (or one of its parents) is not a directory"
    elif code in (errno.EACCES, errno.EPERM):
        reason = f"the directory {directory} is not writable (permission denied)"
    elif code == errno.EROFS:
        reason = f"the directory {directory} is on a read-only file system"
    elif code == errno.EISDIR:
        reason = "it is a directory"
    elif code == errno.ENOSPC:
        reason = "no space left on the device"
    else:
        reason = exc.strerror or str(exc)
    return WriteError(target, reason, code)


def write_connection_file(
    info: ConnectionInfo,
    path: StrPath | None = None,
    *,
    runtime_dir: StrPath | None = None,
    profile: Literal["connect", "launch"] = "connect",
    durable: bool = False,
) -> Path:
    """Write ``info`` as a connection file, atomically and with mode 0600.

    Args:
        info: what to write. With the ``"connect"`` profile every port must be real
            (1..65535): the file is for clients.
        path: the file; by default ``<runtime dir>/kernel-<new id>.json``. A relative path
            is relative to the working directory.
        runtime_dir: the directory for the default name (default: :func:`runtime_dir`,
            created 0700 when missing).
        profile: ``"launch"`` allows port 0 ("choose"), for a file handed *to* a kernel.
        durable: ``fsync`` file and directory.

    Returns:
        The path written.

    Raises:
        kcf_spec.ConnectionFileError: a port is 0 with the ``"connect"`` profile.
        WriteError: the file cannot be written (see :func:`write_private_file`).

    .. versionadded:: 0.1.0
    """
    if profile == "connect":
        for channel in Channel:
            if info.port(channel) == 0:
                raise ConnectionFileError(
                    "a real port (1 to 65535) in a file for clients",
                    path=path,
                    pointer=f"/{channel.port_key}",
                    value=0,
                )
    if path is None:
        base = Path(runtime_dir) if runtime_dir is not None else _runtime_dir(create=False)
        ensure_private_dir(base)
        target = base / f"kernel-{new_kernel_id()}.json"
    else:
        target = Path(path)
    return write_private_file(target, info.dumps().encode("utf-8"), durable=durable)


def _file_key(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except (OSError, ValueError):
        return None
    key = data.get("key") if isinstance(data, dict) else None
    return key.encode("utf-8") if isinstance(key, str) else None


def remove_owned_file(path: StrPath, key: bytes) -> bool:
    """Remove the JSON file at ``path`` if it holds ``key`` (so it is one we, or the kernel we
    launched, wrote). Return whether it was removed.

    .. versionadded:: 0.1.0
    """
    target = Path(path)
    if _file_key(target) != key:
        return False
    try:
        target.unlink()
    except FileNotFoundError:
        return False
    return True


def remove_connection_file(path: StrPath, info: ConnectionInfo | None = None) -> bool:
    """Remove a connection file and, for ipc, the socket files of its endpoints.

    Never removes what we did not write: with ``info``, the file is removed only if it holds
    ``info.key`` (a key from :mod:`secrets` identifies the writer), and the ipc paths are
    removed only if they are sockets. Without ``info`` the file is read to learn the ipc
    paths and removed as the caller asks.

    Returns:
        Whether the connection file was removed (``False`` if it was missing or not ours).

    .. versionadded:: 0.1.0
    """
    target = Path(path)
    removed = False
    if info is None:
        try:
            info = ConnectionInfo.load(target, profile="launch")
        except Exception:  # noqa: BLE001 - unreadable or invalid: remove the file only
            info = None
        try:
            target.unlink()
            removed = True
        except FileNotFoundError:
            pass
    else:
        removed = remove_owned_file(target, info.key)
    if info is not None and info.transport == "ipc":
        remove_ipc_sockets(info)
    return removed


def remove_ipc_sockets(info: ConnectionInfo) -> list[Path]:
    """Remove the socket files of ``info``'s ipc endpoints (only paths that are sockets).

    .. versionadded:: 0.1.0
    """
    removed = []
    for sock in ipc_socket_paths(info):
        try:
            if stat.S_ISSOCK(os.lstat(sock).st_mode):
                os.unlink(sock)
                removed.append(sock)
        except FileNotFoundError:
            continue
    return removed
