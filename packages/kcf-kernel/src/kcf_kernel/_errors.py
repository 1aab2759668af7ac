"""The errors kcf-kernel raises, all derived from :class:`kcf_spec.KcfError`.

Each also inherits the builtin that callers of the older Jupyter APIs already catch
(``OSError``, ``TimeoutError``...), and carries the file, port or channel that went wrong.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from kcf_spec import KcfError

__all__ = [
    "RuntimeDirError",
    "WriteError",
    "InsecureWriteError",
    "InsecureWriteWarning",
    "PortAllocationError",
    "BindError",
    "SocketPathTooLong",
    "LaunchError",
    "HandshakeError",
    "HandshakeTimeout",
    "LaunchTimeout",
    "KernelWaitTimeout",
    "InterruptTimeout",
    "KernelSocketError",
    "KernelSpecError",
    "NoSuchKernelSpec",
    "map_zmq_error",
]


def _fspath(path: str | os.PathLike[str] | None) -> str | None:
    return os.fspath(path) if path is not None else None


class _Message:
    """Keeps ``str(err)`` our message after OSError attributes (``filename``) are set."""

    args: tuple[object, ...]

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class RuntimeDirError(_Message, KcfError, OSError):
    """The Jupyter runtime directory cannot be created or used.

    Attributes:
        path: the directory.

    .. versionadded:: 0.1.0
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"runtime directory {self.path}: {reason}")
        self.filename = self.path


class WriteError(_Message, KcfError, OSError):
    """A connection (or registration) file could not be written.

    Nothing is left behind: the temporary file is removed and an existing file at
    ``path`` is unchanged.

    Attributes:
        path: the file that was to be written.
        reason: what went wrong, in words.

    .. versionadded:: 0.1.0
    """

    def __init__(self, path: str | os.PathLike[str], reason: str, errno: int | None = None) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"cannot write {self.path}: {reason}")
        self.errno = errno  # OSError's attribute, for callers that read it
        self.filename = self.path


class InsecureWriteError(WriteError, PermissionError):
    """The file system did not give the file mode 0600 (set ``JUPYTER_ALLOW_INSECURE_WRITES=1``
    to write it anyway, with a warning).

    Attributes:
        mode: the mode the file system gave the file.
        chmod_error: what ``chmod`` to 0600 failed with (``"Operation not permitted"``...),
            or ``None`` when it "succeeded" without effect (the file system ignores modes).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self, path: str | os.PathLike[str], mode: int, *, chmod_error: str | None = None
    ) -> None:
        self.mode = mode
        self.chmod_error = chmod_error
        super().__init__(
            path,
            f"{insecure_mode_reason(mode, 0o600, chmod_error)} "
            "(set JUPYTER_ALLOW_INSECURE_WRITES=1 to accept that, with a warning)",
        )


class InsecureWriteWarning(UserWarning):
    """A file or directory was left with a mode other than 0600 / 0700 because
    ``JUPYTER_ALLOW_INSECURE_WRITES`` is set and the file system refused the private mode.

    .. versionadded:: 0.1.0
    """


def insecure_mode_reason(mode: int, wanted: int, chmod_error: str | None) -> str:
    """What the file system did when asked for ``wanted``, in words (for errors and warnings)."""
    if chmod_error is not None:
        did = f"refused chmod {oct(wanted)} ({chmod_error})"
    else:
        did = f"accepted chmod {oct(wanted)} without effect (it ignores permission changes)"
    return f"the file system {did}: the mode is {oct(mode)}, not {oct(wanted)}"


class PortAllocationError(_Message, KcfError, OSError):
    """No port could be chosen or reserved.

    Attributes:
        ip: the address ports were wanted on.
        port: the port that failed, when one did.

    .. versionadded:: 0.1.0
    """

    def __init__(self, message: str, *, ip: str | None = None, port: int | None = None) -> None:
        self.ip = ip
        self.port = port
        super().__init__(message)


class BindError(PortAllocationError):
    """A kernel socket could not be bound to its endpoint (the port is in use...).

    Attributes:
        channel: the channel (``"shell"``...) whose socket failed.
        endpoint: the ZeroMQ endpoint it was bound to.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self, channel: str, endpoint: str, reason: str, *, port: int | None = None
    ) -> None:
        self.channel = channel
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"cannot bind the {channel} socket to {endpoint}: {reason}", port=port)


class SocketPathTooLong(KcfError, ValueError):
    """An ipc socket path is longer than the platform allows (``sun_path``).

    Attributes:
        path: the socket path.
        limit: the longest path the platform accepts, in bytes.

    .. versionadded:: 0.1.0
    """

    def __init__(self, path: str, limit: int) -> None:
        self.path = path
        self.limit = limit
        n = len(os.fsencode(path))
        super().__init__(
            f"ipc socket path is {n} bytes, longer than this platform's limit of {limit}: "
            f"{path} (use a shorter runtime directory or ip prefix)"
        )


class LaunchError(_Message, KcfError, OSError):
    """A kernel process could not be started, or died before it was ready.

    Attributes:
        argv: the command line.
        returncode: the exit status when the kernel died, else ``None``.

    .. versionadded:: 0.1.0
    """

    def __init__(self, argv: Sequence[str], reason: str, *, returncode: int | None = None) -> None:
        self.argv = list(argv)
        self.reason = reason
        self.returncode = returncode
        super().__init__(f"kernel {self.argv!r}: {reason}")


class HandshakeError(KcfError):
    """The JEP 66 handshake failed (a bad or unsigned report, a wrong kernel id, a kernel
    that exited before reporting...).

    Attributes:
        registration_file: the registration file of that handshake.
        dialect: the handshake dialect spoken (``"jupyter"``, ``"xeus"``, ``"kallichore"``),
            when known.
        returncode: the kernel's exit status when it exited before reporting, else ``None``.
        stderr_tail: the last lines the kernel wrote to its stderr, when captured.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``dialect``, ``returncode`` and ``stderr_tail``.
    """

    def __init__(
        self,
        message: str,
        *,
        registration_file: str | os.PathLike[str] | None,
        dialect: str | None = None,
        returncode: int | None = None,
        stderr_tail: str = "",
    ) -> None:
        self.registration_file = _fspath(registration_file)
        self.dialect = dialect
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        super().__init__(message)


class HandshakeTimeout(HandshakeError, TimeoutError):
    """No port report (launcher) or acknowledgement (kernel) came in time.

    .. versionadded:: 0.1.0
    """


class LaunchTimeout(LaunchError, TimeoutError):
    """A launched kernel was not ready in time (it never wrote its ports).

    .. versionadded:: 0.1.0
    """


class KernelWaitTimeout(KcfError, TimeoutError):
    """A kernel process did not exit within the time given to :meth:`KernelProcess.wait`.

    Attributes:
        pid: the process id.
        timeout: the seconds waited.

    .. versionadded:: 0.1.0
    """

    def __init__(self, pid: int, timeout: float | None) -> None:
        self.pid = pid
        self.timeout = timeout
        super().__init__(f"kernel process {pid} did not exit within {timeout} s")


class InterruptTimeout(KcfError, TimeoutError):
    """A kernel interrupted by message did not answer ``interrupt_request`` in time.

    Attributes:
        pid: the kernel's process id.
        timeout: the seconds waited.
        endpoint: the control endpoint the request went to.

    .. versionadded:: 0.2.0
    """

    def __init__(self, pid: int, timeout: float, endpoint: str) -> None:
        self.pid = pid
        self.timeout = timeout
        self.endpoint = endpoint
        super().__init__(
            f"kernel process {pid} did not answer interrupt_request on {endpoint} "
            f"within {timeout} s"
        )


class KernelSocketError(_Message, KcfError, OSError):
    """A ZeroMQ socket of the kernel side could not be made or used (the context was
    terminated, too many open files...).

    Attributes:
        doing: what was being done, in words (``"create the shell socket"``...).
        errno: the system error number, when ZeroMQ gave one.

    .. versionadded:: 0.2.0
    """

    def __init__(self, doing: str, reason: str, errno: int | None = None) -> None:
        self.doing = doing
        self.reason = reason
        super().__init__(f"cannot {doing}: {reason}")
        self.errno = errno


def map_zmq_error(exc: BaseException, doing: str) -> KernelSocketError:
    """Our error for a foreign socket error (``zmq.ZMQError``, ``OSError``): the one place
    kcf_kernel turns them into :class:`KernelSocketError`. Use as
    ``raise map_zmq_error(exc, "create the shell socket") from exc``.

    .. versionadded:: 0.2.0
    """
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return KernelSocketError(doing, reason, getattr(exc, "errno", None))


class KernelSpecError(_Message, KcfError, ValueError):
    """A kernelspec (``kernel.json``) cannot be read or is not valid.

    Attributes:
        path: the ``kernel.json`` file.
        pointer: the JSON pointer of the bad field (``""`` for the whole document).

    .. versionadded:: 0.2.0
    """

    def __init__(self, path: str | os.PathLike[str], pointer: str, reason: str) -> None:
        self.path = os.fspath(path)
        self.pointer = pointer
        self.reason = reason
        where = f" at {pointer}" if pointer else ""
        super().__init__(f"kernelspec {self.path}{where}: {reason}")


class NoSuchKernelSpec(KcfError, LookupError):
    """No kernelspec has that name.

    Attributes:
        name: the name asked for.
        searched: the directories that were searched.

    .. versionadded:: 0.2.0
    """

    def __init__(self, name: str, searched: Sequence[str | os.PathLike[str]]) -> None:
        self.name = name
        self.searched = [os.fspath(p) for p in searched]
        where = ", ".join(self.searched) or "(no directory)"
        super().__init__(f"no kernelspec named {name!r}; searched {where}")
