"""The blocking connection: five sockets, a poller with timeouts, no background thread.

Everything that does not wait is shared with :mod:`kcf_client.asyncio` in
:class:`~kcf_client._core.ConnectionBase`; this layer adds how to wait (a poller).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

import zmq
from kcf_spec import Channel, Codec, ConnectionInfo

from ._core import ConnectionBase, Waiting, execute_content, poll_ms, resolve
from ._errors import KernelTimeout, map_zmq_error

if TYPE_CHECKING:
    from kcf_spec import Message

    from ._core import Steps
    from ._results import ExecuteResult

__all__ = ["KernelConnection", "connect"]

_T = TypeVar("_T")


class KernelConnection(ConnectionBase["zmq.Socket[bytes]"]):
    """A connection to one kernel: owns its channel sockets and closes them.

    Build one with :func:`connect`. Every call blocks until its answer or its timeout;
    nothing runs in the background, so opening and closing connections in a tight loop
    is safe. Use it as a context manager, or call :meth:`close`.

    Attributes:
        info: the connection info.
        path: the connection file, when connected from one.
        name: how errors name this kernel (the file, else the shell endpoint).
        liveness_interval: while waiting for a reply, seconds between checks that the
            kernel is still alive (its heartbeat, or on this machine its ports).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        info: ConnectionInfo,
        *,
        path: str | os.PathLike[str] | None = None,
        codec: Codec | None = None,
        context: zmq.Context[Any] | None = None,
    ) -> None:
        ctx = zmq.Context() if context is None else context
        super().__init__(info, path, codec, ctx, own_context=context is None)

    # Defined on ConnectionBase; named here so that the API docs list them.
    info = ConnectionBase.info
    path = ConnectionBase.path
    name = ConnectionBase.name
    codec = ConnectionBase.codec
    closed = ConnectionBase.closed

    def socket(self, channel: Channel) -> zmq.Socket[bytes]:
        """The socket of ``channel`` (for frontends that poll it themselves)."""
        self._check_open()
        if channel is Channel.HB:
            return self._heartbeat()
        return self._socks[channel]

    # -- waiting: the one thing this layer adds -------------------------------------------

    def _run(self, steps: Steps[_T]) -> _T:
        """Drive ``steps``: wait for each :class:`Waiting` it yields, until it returns."""
        try:
            waiting = next(steps)
            while True:
                try:
                    self._wait(waiting)
                except BaseException as exc:  # noqa: BLE001 - handed to the steps, which re-raise it
                    waiting = steps.throw(exc)
                else:
                    waiting = next(steps)
        except StopIteration as stop:
            return cast("_T", stop.value)

    def _wait(self, w: Waiting) -> None:
        """Receive on ``w.channels`` until ``w.done()``; raise on timeout or a dead kernel."""
        self._check_open()
        poller = zmq.Poller()
        by_sock = {}
        for ch in w.channels:
            s = self._socks[ch]
            poller.register(s, zmq.POLLIN)
            by_sock[s] = ch
        while not w.done():
            timeout_ms = int(w.due_in() * 1000) + 1
            try:
                ready = poller.poll(timeout_ms)
            except zmq.ZMQError as exc:
                raise map_zmq_error(
                    exc, kernel=self.name, channel=w.channels[0], doing="poll"
                ) from exc
            for s, _ in ready:
                ch = by_sock[s]
                while True:  # drain: several messages may be waiting
                    try:
                        frames = s.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    except zmq.ZMQError as exc:
                        raise map_zmq_error(
                            exc, kernel=self.name, channel=ch, doing="receive"
                        ) from exc
                    self._core.feed(ch, frames)
            if ready:
                w.arrived()
            elif w.quiet():
                w.checked(self.is_alive(timeout=w.ping_timeout))

    # -- low level ------------------------------------------------------------------------

    send = ConnectionBase.send

    def get_reply(
        self, request: Message, channel: Channel = Channel.SHELL, timeout: float | None = 10.0
    ) -> Message:
        """Wait for the reply to ``request`` (sent with :meth:`send`) and return it.

        Raises:
            KernelTimeout: no reply within ``timeout`` seconds (``None``: no limit).
            KernelDied: the kernel stopped answering while we waited.
        """
        return self._run(self._get_reply(request, channel, timeout))

    def request(
        self,
        channel: Channel,
        msg_type: str,
        content: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = 10.0,
    ) -> Message:
        """Send a request and return its reply (see :meth:`send`, :meth:`get_reply`)."""
        return self._run(self._request(channel, msg_type, content, timeout))

    # -- talking ------------------------------------------------------------------------

    def kernel_info(self, timeout: float | None = 10.0) -> Mapping[str, Any]:
        """Ask for the kernel's info and return the reply content.

        Raises:
            KernelTimeout: no reply within ``timeout`` seconds.
            KernelDied: the kernel stopped answering.
        """
        return self.request(Channel.SHELL, "kernel_info_request", {}, timeout=timeout).content

    def wait_until_ready(self, timeout: float = 30.0) -> Mapping[str, Any]:
        """Return as soon as the kernel answers a ``kernel_info_request`` on shell.

        The request is sent at once and again every second while there is no answer
        (a kernel that is still starting), until ``timeout``. There is no fixed delay.

        Returns:
            The content of the first ``kernel_info_reply``.

        Raises:
            KernelTimeout: no answer within ``timeout`` seconds.
        """
        return self._run(self._wait_until_ready(timeout))

    def execute(
        self,
        code: str,
        *,
        timeout: float | None = None,
        silent: bool = False,
        store_history: bool = True,
        user_expressions: Mapping[str, str] | None = None,
        allow_stdin: bool = False,
        stop_on_error: bool = True,
    ) -> ExecuteResult:
        """Run ``code`` and collect its output until the kernel is idle again.

        Args:
            code: the code.
            timeout: seconds for the whole run (``None``: no limit; a dead kernel still
                raises :class:`KernelDied`).
            silent: run without broadcasting output or counting the execution.
            store_history: record the code in the kernel's history.
            user_expressions: expressions to evaluate after the code.
            allow_stdin: whether the kernel may ask for input.
            stop_on_error: abort queued executions if this one fails.

        Returns:
            The reply and the output (stdout, stderr, result, displays, error).

        Raises:
            KernelTimeout: not finished within ``timeout``.
            KernelDied: the kernel died while running it.
        """
        content = execute_content(
            code,
            silent=silent,
            store_history=store_history,
            user_expressions=user_expressions,
            allow_stdin=allow_stdin,
            stop_on_error=stop_on_error,
        )
        return self._run(self._execute(timeout, content))

    def ping(self, timeout: float = 1.0) -> float:
        """Ping the heartbeat; return the round trip in seconds.

        Raises:
            KernelTimeout: no echo within ``timeout`` (the socket is then replaced, so
                the next ping starts clean).
        """
        hb = self._heartbeat()
        t0 = time.perf_counter()
        try:
            hb.send(b"ping")
            if hb.poll(poll_ms(timeout), zmq.POLLIN):
                hb.recv()
                return time.perf_counter() - t0
        except zmq.ZMQError as exc:
            raise self._ping_failed(exc) from exc
        raise self._ping_timed_out(timeout)

    def is_alive(self, timeout: float = 1.0) -> bool:
        """``True`` when the heartbeat answers within ``timeout``."""
        try:
            self.ping(timeout)
        except KernelTimeout:
            return False
        return True

    def shutdown(self, restart: bool = False, timeout: float = 5.0) -> Mapping[str, Any]:
        """Ask the kernel to shut down (over control) and return the reply content.

        Raises:
            KernelTimeout: no reply within ``timeout``.
        """
        return self.request(
            Channel.CONTROL, "shutdown_request", {"restart": restart}, timeout=timeout
        ).content

    def interrupt(self, timeout: float = 5.0) -> Mapping[str, Any]:
        """Send an ``interrupt_request`` over control (kernels with ``interrupt_mode``
        ``"message"``) and return the reply content."""
        return self.request(Channel.CONTROL, "interrupt_request", {}, timeout=timeout).content

    # -- lifetime -----------------------------------------------------------------------

    close = ConnectionBase.close

    def __enter__(self) -> KernelConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # Not a substitute for close(); only lets a forgotten connection free its sockets.
        if not getattr(self, "_closed", True):
            with contextlib.suppress(Exception):  # never raise from a finalizer
                self.close()


def connect(
    target: ConnectionInfo | str | os.PathLike[str],
    *,
    codec: Codec | None = None,
    context: zmq.Context[Any] | None = None,
) -> KernelConnection:
    """Connect to a kernel (sockets connect lazily: this does not wait for it).

    Args:
        target: a :class:`~kcf_spec.ConnectionInfo`, or a connection file given as a
            path, a name or a glob (see :func:`find_connection_file`).
        codec: the codec to sign with (default: one for the file's key and scheme).
        context: a ZeroMQ context to use (default: a private one, closed with the
            connection).

    Raises:
        ConnectionFileNotFound: no file matches ``target``.
        ConnectionFileError: the file is not a valid connection file.
        ChannelError: a socket could not be set up.

    .. versionadded:: 0.1.0
    """
    info, path = resolve(target)
    return KernelConnection(info, path=path, codec=codec, context=context)
