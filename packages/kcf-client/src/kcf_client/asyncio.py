"""The asyncio API: the same names as :mod:`kcf_client`, awaited.

``KernelConnection`` here uses :mod:`zmq.asyncio` sockets. One reader task per channel
(started on first use) feeds the shared core; waiters wake when something of theirs
arrives, so several requests can be awaited at once on one connection.

Example::

    from kcf_client.asyncio import connect

    async with connect("kernel-*.json") as kc:
        await kc.wait_until_ready()
        result = await kc.execute("1 + 1")
        print(result.text)

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

import zmq
import zmq.asyncio
from kcf_spec import Channel, Codec, ConnectionInfo

from ._core import ConnectionBase, Waiting, execute_content, poll_ms, resolve
from ._errors import KernelTimeout, map_zmq_error
from ._results import ErrorInfo, ExecuteResult

if TYPE_CHECKING:
    from kcf_spec import Message

    from ._core import Steps

__all__ = ["KernelConnection", "connect", "ExecuteResult", "ErrorInfo"]

_T = TypeVar("_T")


class KernelConnection(ConnectionBase[zmq.asyncio.Socket]):
    """A connection to one kernel for asyncio code: the blocking API's names, awaited.

    Build one with :func:`connect`; use ``async with`` or call :meth:`close`.

    .. versionadded:: 0.1.0
    """

    _send_flags = zmq.NOBLOCK
    _repr_name = "asyncio KernelConnection"

    def __init__(
        self,
        info: ConnectionInfo,
        *,
        path: str | os.PathLike[str] | None = None,
        codec: Codec | None = None,
        context: zmq.asyncio.Context | None = None,
    ) -> None:
        self._readers: dict[Channel, asyncio.Task[None]] = {}
        self._arrived: asyncio.Condition | None = None
        self._failure: BaseException | None = None
        ctx = zmq.asyncio.Context() if context is None else context
        super().__init__(info, path, codec, ctx, own_context=context is None)

    # Defined on ConnectionBase; named here so that the API docs list them.
    info = ConnectionBase.info
    path = ConnectionBase.path
    name = ConnectionBase.name
    codec = ConnectionBase.codec
    closed = ConnectionBase.closed

    # -- waiting: the one thing this layer adds -------------------------------------------

    def _condition(self) -> asyncio.Condition:
        if self._arrived is None:
            self._arrived = asyncio.Condition()
        return self._arrived

    def _start_reader(self, channel: Channel) -> None:
        if channel not in self._readers:
            self._readers[channel] = asyncio.get_running_loop().create_task(
                self._read(channel), name=f"kcf-reader-{channel.value}"
            )

    async def _read(self, channel: Channel) -> None:
        sock = self._socks[channel]
        cond = self._condition()
        while True:
            try:
                frames = await sock.recv_multipart()
            except zmq.ZMQError as exc:
                if self._closed:
                    return
                self._failure = map_zmq_error(
                    exc, kernel=self.name, channel=channel, doing="receive"
                )
                async with cond:
                    cond.notify_all()
                return
            self._core.feed(channel, frames)
            async with cond:
                cond.notify_all()

    async def _run(self, steps: Steps[_T]) -> _T:
        """Drive ``steps``: await each :class:`Waiting` it yields, until it returns."""
        try:
            waiting = next(steps)
            while True:
                try:
                    await self._wait(waiting)
                except BaseException as exc:  # noqa: BLE001 - handed to the steps, which re-raise it
                    waiting = steps.throw(exc)
                else:
                    waiting = next(steps)
        except StopIteration as stop:
            return cast("_T", stop.value)

    async def _wait(self, w: Waiting) -> None:
        self._check_open()
        for ch in w.channels:
            self._start_reader(ch)
        cond = self._condition()
        async with cond:
            while not w.done():
                if self._failure is not None:
                    raise self._failure
                self._check_open()
                wake = w.due_in()  # KernelTimeout is a TimeoutError: not inside the try
                try:
                    await asyncio.wait_for(cond.wait(), wake)
                except asyncio.TimeoutError:
                    if w.quiet():
                        w.checked(await self.is_alive(timeout=w.ping_timeout))
                else:
                    w.arrived()

    # -- low level ------------------------------------------------------------------------

    def send(
        self,
        channel: Channel,
        msg_type: str,
        content: Mapping[str, Any] | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        collect_iopub: bool = False,
    ) -> Message:
        """Sign and send a request (immediately; not a coroutine).

        See :meth:`kcf_client.KernelConnection.send`.
        """
        return super().send(
            channel, msg_type, content, metadata=metadata, collect_iopub=collect_iopub
        )

    async def get_reply(
        self, request: Message, channel: Channel = Channel.SHELL, timeout: float | None = 10.0
    ) -> Message:
        """Wait for the reply to ``request`` and return it.

        See :meth:`kcf_client.KernelConnection.get_reply`.
        """
        return await self._run(self._get_reply(request, channel, timeout))

    async def request(
        self,
        channel: Channel,
        msg_type: str,
        content: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = 10.0,
    ) -> Message:
        """Send a request and return its reply."""
        return await self._run(self._request(channel, msg_type, content, timeout))

    # -- talking ------------------------------------------------------------------------

    async def kernel_info(self, timeout: float | None = 10.0) -> Mapping[str, Any]:
        """Ask for the kernel's info and return the reply content."""
        reply = await self.request(Channel.SHELL, "kernel_info_request", {}, timeout=timeout)
        return reply.content

    async def wait_until_ready(self, timeout: float = 30.0) -> Mapping[str, Any]:
        """Return as soon as the kernel answers a ``kernel_info_request`` on shell.

        See :meth:`kcf_client.KernelConnection.wait_until_ready`.
        """
        return await self._run(self._wait_until_ready(timeout))

    async def execute(
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

        See :meth:`kcf_client.KernelConnection.execute`.
        """
        content = execute_content(
            code,
            silent=silent,
            store_history=store_history,
            user_expressions=user_expressions,
            allow_stdin=allow_stdin,
            stop_on_error=stop_on_error,
        )
        return await self._run(self._execute(timeout, content))

    async def ping(self, timeout: float = 1.0) -> float:
        """Ping the heartbeat; return the round trip in seconds.

        Raises:
            KernelTimeout: no echo within ``timeout`` (the socket is then replaced).
        """
        hb = self._heartbeat()
        t0 = time.perf_counter()
        try:
            await hb.send(b"ping")
            if await hb.poll(poll_ms(timeout)):
                await hb.recv()
                return time.perf_counter() - t0
        except zmq.ZMQError as exc:
            raise self._ping_failed(exc) from exc
        raise self._ping_timed_out(timeout)

    async def is_alive(self, timeout: float = 1.0) -> bool:
        """``True`` when the heartbeat answers within ``timeout``."""
        try:
            await self.ping(timeout)
        except KernelTimeout:
            return False
        return True

    async def shutdown(self, restart: bool = False, timeout: float = 5.0) -> Mapping[str, Any]:
        """Ask the kernel to shut down (over control) and return the reply content."""
        reply = await self.request(
            Channel.CONTROL, "shutdown_request", {"restart": restart}, timeout=timeout
        )
        return reply.content

    async def interrupt(self, timeout: float = 5.0) -> Mapping[str, Any]:
        """Send an ``interrupt_request`` over control and return the reply content."""
        reply = await self.request(Channel.CONTROL, "interrupt_request", {}, timeout=timeout)
        return reply.content

    # -- lifetime -----------------------------------------------------------------------

    def close(self) -> None:
        """Stop the reader tasks, close every socket and the private context. Idempotent."""
        if self._closed:
            return
        for task in self._readers.values():
            task.cancel()
        self._close()

    async def aclose(self) -> None:
        """:meth:`close`, then wait for the reader tasks to finish."""
        tasks = list(self._readers.values())
        self.close()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._readers.clear()

    async def __aenter__(self) -> KernelConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def connect(
    target: ConnectionInfo | str | os.PathLike[str],
    *,
    codec: Codec | None = None,
    context: zmq.asyncio.Context | None = None,
) -> KernelConnection:
    """Connect to a kernel for asyncio code (not a coroutine: sockets connect lazily).

    See :func:`kcf_client.connect`.

    .. versionadded:: 0.1.0
    """
    info, path = resolve(target)
    return KernelConnection(info, path=path, codec=codec, context=context)
