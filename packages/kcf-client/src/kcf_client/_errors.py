"""The errors kcf-client raises, all under :class:`kcf_spec.KcfError`.

Foreign exceptions (pyzmq's ``ZMQError``, ``OSError`` from sockets) are mapped to these in
one place, :func:`map_zmq_error`, so callers only ever catch ours.
"""

from __future__ import annotations

from kcf_spec import Channel, KcfError, RemoteProtocolError

__all__ = [
    "ClientError",
    "KernelTimeout",
    "KernelDied",
    "ChannelError",
    "ConnectionClosed",
    "MalformedReply",
    "ExecutionError",
    "ProgramNotFound",
    "NotInKernel",
    "map_zmq_error",
]


class ClientError(KcfError):
    """Root of the errors raised while talking to a kernel.

    Attributes:
        kernel: the kernel, named by its connection file or, without one, its address.
        channel: the channel that went wrong, or ``None`` when it is not about one channel.

    .. versionadded:: 0.1.0
    """

    def __init__(self, message: str, *, kernel: str, channel: Channel | None = None) -> None:
        self.kernel = kernel
        self.channel = channel
        on = f" on {channel.value}" if channel is not None else ""
        super().__init__(f"kernel {kernel}{on}: {message}")


class KernelTimeout(ClientError, TimeoutError):
    """The kernel did not answer within the time allowed.

    Attributes:
        timeout: the seconds waited.
        request: the message type that was not answered (``"kernel_info_request"``...).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        *,
        kernel: str,
        channel: Channel,
        timeout: float,
        request: str,
        detail: str = "",
    ) -> None:
        self.timeout = timeout
        self.request = request
        tail = f"; {detail}" if detail else ""
        super().__init__(
            f"no answer to {request} within {timeout:g} s{tail}", kernel=kernel, channel=channel
        )


class KernelDied(ClientError, ConnectionError):
    """The kernel stopped answering (its heartbeat or its ports are gone) while we waited.

    .. versionadded:: 0.1.0
    """

    def __init__(self, *, kernel: str, channel: Channel | None, request: str, why: str) -> None:
        self.request = request
        self.why = why
        super().__init__(
            f"kernel died while waiting for {request}: {why}", kernel=kernel, channel=channel
        )


class ChannelError(ClientError, OSError):
    """A channel socket could not be set up or used (bad endpoint, closed context...).

    Attributes:
        endpoint: the ZeroMQ endpoint involved, when known.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self, message: str, *, kernel: str, channel: Channel | None, endpoint: str | None = None
    ) -> None:
        self.endpoint = endpoint
        at = f" ({endpoint})" if endpoint else ""
        super().__init__(f"{message}{at}", kernel=kernel, channel=channel)


class ConnectionClosed(ClientError, RuntimeError):
    """The :class:`~kcf_client.KernelConnection` was used after :meth:`close`.

    .. versionadded:: 0.1.0
    """


class MalformedReply(ClientError, RemoteProtocolError):
    """The kernel sent a correctly signed message whose content is not shaped as the
    protocol says (``"traceback": 5``, an ``execute_result`` whose ``data`` is a list).

    The peer is at fault, not the caller: this is a :class:`kcf_spec.RemoteProtocolError`.

    Attributes:
        msg_type: the type of the message at fault.
        pointer: the JSON pointer of the field at fault, within the message.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self, *, kernel: str, channel: Channel, msg_type: str, pointer: str, expected: str, got: str
    ) -> None:
        self.msg_type = msg_type
        self.pointer = pointer
        super().__init__(
            f"{msg_type} has {got} at {pointer}, expected {expected}",
            kernel=kernel,
            channel=channel,
        )
        self.check = "shape"
        self.frame = pointer.split("/")[1] if pointer.count("/") >= 1 else None


class ExecutionError(ClientError):
    """Code run by :meth:`~kcf_client.ExecuteResult.raise_for_error` ended in an error.

    Attributes:
        ename: the exception class name the kernel reported.
        evalue: the exception value the kernel reported.
        traceback: the kernel's traceback lines (may hold ANSI colour codes).

    .. versionadded:: 0.1.0
    """

    def __init__(self, *, kernel: str, ename: str, evalue: str, traceback: tuple[str, ...]) -> None:
        self.ename = ename
        self.evalue = evalue
        self.traceback = traceback
        super().__init__(
            f"execution failed: {ename}: {evalue}", kernel=kernel, channel=Channel.SHELL
        )


class ProgramNotFound(KcfError, FileNotFoundError):
    """A frontend program (``jupyter-console``, ``jupyter-qtconsole``...) is not installed.

    Attributes:
        program: the program that was looked for.
        hint: how to install it, when known.

    .. versionadded:: 0.1.0
    """

    def __init__(self, program: str, hint: str = "") -> None:
        self.program = program
        self.hint = hint
        tail = f" ({hint})" if hint else ""
        super().__init__(f"program not found: {program}{tail}")
        self.filename = program

    def __str__(self) -> str:
        # OSError would render "[Errno None] None: ..." once ``filename`` is set.
        return str(self.args[0])


class NotInKernel(KcfError, RuntimeError):
    """A compatibility helper needs the current kernel but is not running inside one.

    .. versionadded:: 0.1.0
    """


def map_zmq_error(
    exc: BaseException,
    *,
    kernel: str,
    channel: Channel | None,
    endpoint: str | None = None,
    doing: str = "use the socket",
) -> ChannelError:
    """Return our error for a foreign socket error (``zmq.ZMQError``, ``OSError``).

    The one place foreign exceptions become ours; call it as ``raise map_zmq_error(exc,
    ...) from exc``.
    """
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return ChannelError(
        f"cannot {doing}: {text}", kernel=kernel, channel=channel, endpoint=endpoint
    )
