"""The blocking API: every call blocks until its answer or its timeout.

GENERATED from ``asyncio.py`` by ``packages/kcf-client/scripts/unasync.py``: do not edit
by hand; edit ``asyncio.py`` and run the script (a test fails when the two drift apart).
The I/O primitives it calls (a poller, non-blocking sends, the port probe) are in
``_link_sync.py``; everything that does not wait is in ``_core.py`` and ``_link.py``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

import zmq
from kcf_spec import Channel, Codec, ConnectionInfo

from ._core import Waiting, execute_content, poll_ms
from ._errors import KernelTimeout
from ._link_sync import SyncLink

if TYPE_CHECKING:
    from kcf_spec import Message

    from ._core import Steps
    from ._results import ExecuteResult

__all__ = ["KernelConnection", "connect"]

_T = TypeVar("_T")


class KernelConnection(SyncLink):
    """A connection to one kernel: owns its channel sockets and closes them.

    Build one with :func:`connect`. Every call waits until its answer or its timeout;
    nothing else runs in the background, so opening and closing connections in a tight
    loop is safe. Use it as a context manager, or call :meth:`close`.

    Attributes:
        info: the connection info.
        path: the connection file, when connected from one.
        name: how errors name this kernel (the file, else the shell endpoint).
        liveness_interval: while waiting for a reply, seconds between checks that the
            kernel is still alive (its heartbeat, or on this machine its ports).
        lost_request_after: seconds after which an ``execute_request`` that the kernel,
            idle otherwise, never started (no busy status) is reported as lost
            (:class:`KernelTimeout`); ``None`` waits for the whole timeout.

    .. versionadded:: 0.1.0
    """

    lost_request_after: float | None = 10.0

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

    # Defined on the base class; named here so that the API docs list them.
    info = SyncLink.info
    path = SyncLink.path
    name = SyncLink.name
    codec = SyncLink.codec
    closed = SyncLink.closed
    send = SyncLink.send
    close = SyncLink.close

    # -- the driver: runs the core's steps --------------------------------------------------

    def _run(self, steps: Steps[_T]) -> _T:
        """Drive ``steps``: wait for each :class:`Waiting` it yields, until it returns."""
        self._note_iopub_drops()  # before the steps ask whether iopub is live
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
        """Send what is queued, then receive until ``w.done()``; raise on timeout or death."""
        self._check_open()
        if self._core.outbox:
            self._flush(w)
        while not w.done():
            self._check_open()
            self._note_iopub_drops()
            if self._receive(w.channels, w.due_in()):
                w.arrived()
            elif w.quiet():
                self._flush(w)
                self._check(w)
            elif self._core.outbox:
                self._flush(w)

    def _flush(self, w: Waiting) -> None:
        """Send what the core queued, waiting for the socket at most until the deadline."""
        while not self._push():
            channel, mid, msg_type, _ = self._core.outbox[0]
            left = w.left()
            if left is not None and left <= 0:
                self._core.forget(mid)
                raise w.timed_out(
                    f"{msg_type} could not even be sent: the kernel has not accepted our "
                    f"connection on {channel.value} (is it CURVE-encrypted, and the client "
                    "without its key?)"
                )
            wait = 1.0 if left is None else min(left, 1.0)
            self._writable(channel, wait)

    def _check(self, w: Waiting) -> None:
        """Check the kernel's liveness for ``w``: heartbeat, then (if silent) the ports."""
        limit = w.ping_timeout()
        if limit < 0.01:
            w.postpone()
            return
        if self.is_alive(timeout=limit):
            w.checked(True)
        else:
            closed, age = self._diagnose()
            w.checked(False, closed, age)

    # -- low level ------------------------------------------------------------------------

    def get_reply(
        self, request: Message, channel: Channel = Channel.SHELL, timeout: float | None = 10.0
    ) -> Message:
        """Wait for the reply to ``request`` (sent with :meth:`send`) and return it.

        Raises:
            KernelTimeout: no reply within ``timeout`` seconds (``None``: no limit).
            KernelDied: the kernel stopped answering while we waited.
        """
        return self._run(self._core.get_reply(request, channel, timeout))

    def request(
        self,
        channel: Channel,
        msg_type: str,
        content: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = 10.0,
    ) -> Message:
        """Send a request and return its reply (see :meth:`send`, :meth:`get_reply`)."""
        return self._run(self._core.request(channel, msg_type, content, timeout))

    # -- talking ------------------------------------------------------------------------

    def kernel_info(self, timeout: float | None = 10.0) -> Mapping[str, Any]:
        """Ask for the kernel's info and return the reply content.

        Raises:
            KernelTimeout: no reply within ``timeout`` seconds.
            KernelDied: the kernel stopped answering.
        """
        reply = self.request(Channel.SHELL, "kernel_info_request", {}, timeout=timeout)
        return reply.content

    def wait_until_ready(self, timeout: float = 30.0) -> Mapping[str, Any]:
        """Return as soon as the kernel answers a ``kernel_info_request`` on shell.

        The request is sent at once and again every second while there is no answer
        (a kernel that is still starting), until ``timeout``. There is no fixed delay.

        Returns:
            The content of the first ``kernel_info_reply``.

        Raises:
            KernelTimeout: no answer within ``timeout`` seconds.
            KernelDied: its ports have refused connections for seconds, and for longer
                than a kernel takes to start since its connection file was written.
        """
        return self._run(self._core.wait_until_ready(timeout))

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
            KernelTimeout: not finished within ``timeout``, or the request was lost
                (see :attr:`lost_request_after`).
            KernelDied: the kernel died while running it.
            MalformedReply: the kernel's messages are not shaped as the protocol says.
        """
        content = execute_content(
            code,
            silent=silent,
            store_history=store_history,
            user_expressions=user_expressions,
            allow_stdin=allow_stdin,
            stop_on_error=stop_on_error,
        )
        return self._run(self._core.execute(content, timeout, self.lost_request_after))

    def ping(self, timeout: float = 1.0) -> float:
        """Ping the heartbeat; return the round trip in seconds.

        Raises:
            KernelTimeout: no echo within ``timeout`` (the socket is then replaced, so
                the next ping starts clean).
        """
        hb = self._heartbeat()
        t0 = time.perf_counter()
        try:
            hb.send(b"ping", zmq.NOBLOCK)
            if hb.poll(poll_ms(timeout)):
                hb.recv()
                return time.perf_counter() - t0
        except zmq.Again:
            pass  # the heartbeat has not accepted our connection: no echo
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
        reply = self.request(
            Channel.CONTROL, "shutdown_request", {"restart": restart}, timeout=timeout
        )
        return reply.content

    def interrupt(self, timeout: float = 5.0) -> Mapping[str, Any]:
        """Send an ``interrupt_request`` over control (kernels with ``interrupt_mode``
        ``"message"``) and return the reply content."""
        reply = self.request(Channel.CONTROL, "interrupt_request", {}, timeout=timeout)
        return reply.content

    # -- lifetime -----------------------------------------------------------------------

    def __enter__(self) -> KernelConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
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
    if isinstance(target, ConnectionInfo):
        return KernelConnection(target, codec=codec, context=context)
    from ._find import find_connection_file

    path = find_connection_file(os.fspath(target))
    return KernelConnection(
        ConnectionInfo.load(path), path=Path(path), codec=codec, context=context
    )
