"""Reading a connection or registration file: bounded, never blocking, never a device.

Every load path (:meth:`ConnectionInfo.load`, :meth:`RegistrationInfo.load`, ``kcf validate``,
``kcf list`` / ``prune``) reads through :func:`read_document`, so a FIFO, a device, a
directory or a huge file planted where a connection file should be is refused with an error
that names it, instead of hanging the reader or filling its memory.
"""

from __future__ import annotations

import os
import stat

from ._errors import ConnectionFileError, ConnectionFileNotFound

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds at every start
if TYPE_CHECKING:
    from typing import Any

__all__ = ["MAX_DOCUMENT_SIZE", "read_document", "ownership_problem", "parse_json_document"]

#: The largest connection or registration file :func:`read_document` reads (1 MiB). A real
#: one is a few hundred bytes; the cap only stops a reader from filling its memory.
MAX_DOCUMENT_SIZE = 1 << 20

# O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one (we
# then refuse it as "not a regular file"). O_NOCTTY: a terminal never becomes ours.
_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def ownership_problem(st: os.stat_result, what: str = "file") -> str | None:
    """Why a file or directory with status ``st`` cannot be trusted, or ``None``.

    The rule is OpenSSH's ``StrictModes``: it must be owned by the current user (or by
    root) and must not be writable by its group or by others, or someone else could have
    put or replaced what it holds. Always ``None`` where POSIX owners do not apply
    (Windows).

    Args:
        st: the status, from :func:`os.stat` or :func:`os.fstat` (of what was opened).
        what: the word for it in the reason (``"file"``, ``"directory"``).

    .. versionadded:: 0.2.0
    """
    geteuid = getattr(os, "geteuid", None)
    if geteuid is None:  # pragma: no cover - Windows
        return None
    me = geteuid()
    if st.st_uid not in (me, 0):
        return f"the {what} is owned by uid {st.st_uid}, not by you (uid {me}) or root"
    mode = stat.S_IMODE(st.st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        who = "others" if mode & stat.S_IWOTH else "its group"
        return f"the {what} is writable by {who} (mode {mode:04o})"
    return None


def read_document(
    path: str | os.PathLike[str],
    *,
    max_size: int = MAX_DOCUMENT_SIZE,
    check_owner: bool = False,
) -> bytes:
    """The bytes of a connection or registration file, read safely.

    The file is opened without blocking (a FIFO does not hang the reader); what was opened
    is checked (it must be a regular file: not a FIFO, a device, a socket or a directory)
    and at most ``max_size`` bytes are read. A final symlink is followed, as by every other
    reader: linked connection files are legitimate.

    Args:
        path: the file.
        max_size: refuse a file larger than this many bytes (default 1 MiB).
        check_owner: also refuse a file that :func:`ownership_problem` rejects (owned by
            another user, or writable by group or others). Off by default: a path the user
            names is theirs to trust; tools that pick files up from a directory (listing,
            pruning the runtime dir) turn it on.

    Raises:
        ConnectionFileNotFound: there is no such file.
        ConnectionFileError: it is not a regular file, it is too large, it cannot be read,
            or (``check_owner``) it is not safely owned; the message says which.

    .. versionadded:: 0.2.0
    """
    try:
        fd = os.open(path, _FLAGS)
    except FileNotFoundError:
        raise ConnectionFileNotFound(os.fspath(path)) from None
    except IsADirectoryError:  # Windows; POSIX opens a directory and fstat says so below
        raise ConnectionFileError("a file", path=path, detail="it is a directory") from None
    except OSError as exc:
        raise ConnectionFileError(
            "a readable file", path=path, detail=f"it cannot be read: {exc.strerror or exc}"
        ) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ConnectionFileError(
                "a regular file", path=path, detail=f"it is {_kind(st.st_mode)}"
            )
        if check_owner:
            problem = ownership_problem(st)
            if problem is not None:
                raise ConnectionFileError(
                    "a file only you can write",
                    path=path,
                    detail=f"{problem}; refusing to trust it (someone else may have put it there)",
                )
        if st.st_size > max_size:
            raise _too_large(path, st.st_size, max_size)
        chunks = []
        left = max_size + 1  # one byte more: a file that grew past the cap is caught
        while left > 0:
            try:
                chunk = os.read(fd, min(left, 65536))
            except BlockingIOError:  # pragma: no cover - regular files never block
                break
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_size:
            raise _too_large(path, None, max_size)
        return data
    except OSError as exc:
        raise ConnectionFileError(
            "a readable file", path=path, detail=f"it cannot be read: {exc.strerror or exc}"
        ) from None
    finally:
        os.close(fd)


def _too_large(path: str | os.PathLike[str], size: int | None, limit: int) -> ConnectionFileError:
    got = f"{size} bytes" if size is not None else f"more than {limit} bytes"
    return ConnectionFileError(
        f"a connection file of at most {limit} bytes (a real one is a few hundred)",
        path=path,
        detail=f"it is too large: {got}",
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


def parse_json_document(text: str | bytes, path: str | os.PathLike[str] | None) -> object:
    """Decode a whole JSON document; every failure is a :class:`ConnectionFileError`."""
    import json  # here: checking a directory's ownership (every kcf start) needs no JSON

    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        detail = f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
    except (ValueError, RecursionError) as exc:  # bad UTF-8, NaN, a 5000-digit number, depth
        detail = str(exc)
    raise ConnectionFileError(
        "a JSON document", path=path, detail=f"it is not valid JSON: {detail}"
    )
