"""Writing and removing connection files: atomic, 0600, never someone else's file."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import stat
import time
import uuid
import warnings
from pathlib import Path
from typing import Literal

from kcf_spec import (
    Channel,
    ConnectionFileError,
    ConnectionFileNotFound,
    ConnectionInfo,
    ConnectionValueError,
    read_document,
)

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
    "remove_abandoned_temp_files",
    "TEMP_GRACE_SECONDS",
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


#: How old (by mtime, in seconds) a temporary file of a dead writer must be before another
#: writer or ``kcf prune`` removes it.
TEMP_GRACE_SECONDS = 30.0

# ".<target name>.<writer pid>.<12 hex>.tmp": the pid says whose it is (see
# remove_abandoned_temp_files); the random part keeps two writes of one process apart.
_TEMP_RE = re.compile(r"\.(?P<target>.+)\.(?P<pid>[1-9][0-9]{0,9})\.[0-9a-f]{12}\.tmp")


def _temp_name(target: Path) -> Path:
    return target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    except OSError:  # no such signal support (Windows), or a pid out of range: keep it
        return True
    return True


def remove_abandoned_temp_files(
    directory: StrPath, *, grace: float = TEMP_GRACE_SECONDS, now: float | None = None
) -> list[Path]:
    """Remove the temporary files writers killed mid-write left in ``directory``.

    :func:`write_private_file` names its temporary file ``.<name>.<pid>.<12 hex>.tmp``
    (``pid``: the writer's process id). Such a file is provably abandoned, and removed, when
    it is a regular file owned by the current user, its writer's process no longer exists,
    and it was last modified more than ``grace`` seconds ago (a live writer needs
    milliseconds; the grace covers a writer in another pid namespace). Anything else is
    left alone. Every write calls this for its directory; ``kcf prune`` does too.

    Returns:
        The files removed.

    .. versionadded:: 0.2.0
    """
    base = Path(directory)
    now = time.time() if now is None else now
    me = os.geteuid() if hasattr(os, "geteuid") else None
    removed: list[Path] = []
    try:
        entries = os.scandir(base)
    except OSError:
        return removed
    with entries:
        for entry in entries:
            name = entry.name
            if not (name.startswith(".") and name.endswith(".tmp")):
                continue
            match = _TEMP_RE.fullmatch(name)
            if match is None:
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or (me is not None and st.st_uid != me):
                continue
            if now - st.st_mtime <= grace or _pid_alive(int(match["pid"])):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def write_private_file(path: StrPath, data: bytes, *, durable: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically with mode 0600.

    A temporary file ``.<name>.<pid>.<random>.tmp`` is created beside ``path``
    (``O_CREAT | O_EXCL``, mode 0600 from the start), filled, then renamed over ``path``
    with :func:`os.replace`: a concurrent reader sees the old file or the new one, never a
    partial one. On any failure the temporary file is removed and ``path`` is unchanged;
    the temporary files of writers killed mid-write are removed by the next write in the
    directory (see :func:`remove_abandoned_temp_files`).

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
    return _write_private(Path(path), data, durable)


def _write_private(target: Path, data: bytes, durable: bool) -> Path:
    # The one body of write_private_file and write_connection_file: each calls it directly,
    # so the InsecureWriteWarning below (stacklevel=4) names the public function's caller.
    directory = target.parent
    remove_abandoned_temp_files(directory)
    tmp = _temp_name(target)
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
        kcf_spec.ConnectionValueError: a port is 0 with the ``"connect"`` profile.
        WriteError: the file cannot be written (see :func:`write_private_file`).

    .. versionadded:: 0.1.0
    """
    if profile == "connect":
        for channel in Channel:
            if info.port(channel) == 0:
                raise ConnectionValueError(
                    "a real port (1 to 65535) in a file for clients; port 0 ('the kernel "
                    "chooses') is only for a file handed to a kernel: pass profile='launch'",
                    owner="write_connection_file",
                    field=f"info.{channel.port_key}",
                    value=0,
                )
    if path is None:
        base = Path(runtime_dir) if runtime_dir is not None else _runtime_dir(create=False)
        ensure_private_dir(base)
        target = base / f"kernel-{new_kernel_id()}.json"
    else:
        target = Path(path)
    return _write_private(target, info.dumps().encode("utf-8"), durable)


def _file_key(path: Path) -> bytes | None:
    try:
        data = json.loads(read_document(path))
    except (ConnectionFileNotFound, ConnectionFileError, ValueError, RecursionError):
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
        except (ConnectionFileNotFound, ConnectionFileError):  # unreadable or invalid
            info = None  # remove the file only
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
