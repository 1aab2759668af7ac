"""Errors of remote kernels, and the one seam where the failures of a remote start become
them (:func:`start_failure`).

SSH failures keep the tunnel's errors (:class:`~kcf_client.tunnel.HostUnreachable`,
:class:`~kcf_client.tunnel.HostKeyUnknown`, :class:`~kcf_client.tunnel.HostKeyMismatch`,
:class:`~kcf_client.tunnel.AuthenticationFailed`...), so one ``except`` serves tunnels and
remote kernels alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from kcf_spec import KcfError

from kcf_client.tunnel import TunnelError
from kcf_client.tunnel._openssh import PortTaken, classify_exit

__all__ = [
    "RemoteKernelError",
    "RemoteSetupError",
    "RemoteLaunchFailed",
    "ConnectionLost",
    "start_failure",
]


class RemoteKernelError(KcfError):
    """Base of the errors of a remote kernel (besides the SSH ones).

    Attributes:
        host: the host as given.

    .. versionadded:: 0.2.0
    """

    def __init__(self, message: str, *, host: str = "") -> None:
        self.host = host
        super().__init__(f"remote kernel on {host}: {message}" if host else message)


class RemoteSetupError(RemoteKernelError):
    """The remote host lacks what the nanny needs: Python, or kcf-kernel for that Python.

    Attributes:
        install_command: what to run on the remote host to mend it (``""`` if unknown).

    .. versionadded:: 0.2.0
    """

    def __init__(self, message: str, *, host: str = "", install_command: str = "") -> None:
        self.install_command = install_command
        if install_command:
            message += f"; run there: {install_command}"
        super().__init__(message, host=host)


class RemoteLaunchFailed(RemoteKernelError):
    """The nanny ran but the kernel did not start (or died at once).

    Attributes:
        exit_status: the kernel's exit status, when it exited.
        stderr_tail: its last lines of output.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self,
        message: str,
        *,
        host: str = "",
        exit_status: int | None = None,
        stderr_tail: Sequence[str] = (),
    ) -> None:
        self.exit_status = exit_status
        self.stderr_tail = tuple(stderr_tail)
        if stderr_tail:
            message += "; its last output: " + " | ".join(self.stderr_tail[-5:])
        super().__init__(message, host=host)


class ConnectionLost(RemoteKernelError, ConnectionError):
    """The SSH connection dropped and did not come back within the grace period (the
    nanny has ended the kernel), or the kernel is gone.

    .. versionadded:: 0.2.0
    """


def start_failure(
    host: str, python: str, returncode: int | None, tail: Sequence[str], backend: str
) -> BaseException:
    """Our error for a nanny command that ended before it answered (the one mapping seam).

    Reads the SSH client's and the remote shell's last words: SSH failures become the
    tunnel's errors; a missing Python or kcf-kernel a :class:`RemoteSetupError`.
    """
    lines = list(tail)
    low = "\n".join(lines).lower()
    said = ("; it said: " + " | ".join(lines[-5:])) if lines else ""
    if "no module named kcf_kernel" in low or "no module named 'kcf_kernel'" in low:
        return RemoteSetupError(
            f"kcf-kernel is not installed for {python}",
            host=host,
            install_command=f"{python} -m pip install kcf-kernel",
        )
    if returncode == 127 or "not found" in low or "no such file or directory" in low:
        return RemoteSetupError(
            f"no Python at {python!r}" + said,
            host=host,
            install_command="install Python >= 3.10 and kcf-kernel, or pass remote_python=PATH",
        )
    err = classify_exit(lines, host, backend)
    if err is not None and not isinstance(err, PortTaken):
        return err
    return TunnelError(
        f"the nanny ended before it answered (status {returncode})" + said,
        server=host,
        backend=backend,
    )
