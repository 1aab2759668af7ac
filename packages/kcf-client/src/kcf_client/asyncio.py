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
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import zmq
import zmq.asyncio
from kcf_spec import Channel, Codec, ConnectionInfo

from ._core import Core, execute_content, probe_ports_closed, resolve, socket_type
from ._errors import ConnectionClosed, KernelTimeout, map_zmq_error
from ._results import ErrorInfo, ExecuteResult

if TYPE_CHECKING:
    from kcf_spec import Message

__all__ = ["KernelConnection", "connect", "ExecuteResult", "ErrorInfo"]

_DATA_CHANNELS = (Channel.SHELL, Channel.IOPUB, Channel.STDIN, Channel.CONTROL)


class KernelConnection:
    """A connection to one kernel for asyncio code: the blocking API's names, awaited.

    Build one with :func:`connect`; use ``async with`` or call :meth:`close`.

    .. versionadded:: 0.1.0
    """

    liveness_interval: float = 2.0

    def __init__(
        self,
        info: ConnectionInfo,
        *,
        path: str | os.PathLike[str] | None = None,
        codec: Codec | None = None,
        context: zmq.asyncio.Context | None = None,
    ) -> None:
        self._core = Core(info, Path(path) if path is not None else None, codec)
        self._own_context = context is None
        self._ctx = zmq.asyncio.Context() if context is None else context
        self._socks: dict[Channel, zmq.asyncio.Socket] = {}
        self._hb: zmq.asyncio.Socket | None = None
        self._readers: dict[Channel, asyncio.Task[None]] = {}
        self._arrived: asyncio.Condition | None = None
        self._failure: BaseException | None = None
        self._closed = False
        try:
            for ch in _DATA_CHANNELS:
                self._socks[ch] = self._open(ch)
        except BaseException:
            self.close()
            raise

    # -- properties -----------------------------------------------------------------------

    @property
    def info(self) -> ConnectionInfo:
        """The connection info."""
        return self._core.info

    @property
    def path(self) -> Path | None:
        """The connection file, or ``None``."""
        return self._core.path

    @property
    def name(self) -> str:
        """How errors name this kernel."""
        return self._core.name

    @property
    def codec(self) -> Codec:
        """The codec that signs and parses this connection's messages."""
        return self._core.codec

    @property
    def closed(self) -> bool:
        """``True`` after :meth:`close`."""
        return self._closed

    # -- sockets ------------------------------------------------------------------------

    def _open(self, channel: Channel) -> zmq.asyncio.Socket:
        endpoint = self._core.endpoint(channel)
        try:
            sock = self._ctx.socket(socket_type(channel))
        except zmq.ZMQError as exc:
            raise map_zmq_error(
                exc, kernel=self.name, channel=channel, endpoint=endpoint, doing="create the socket"
            ) from exc
        try:
            self._core.configure(sock, channel)
            sock.connect(endpoint)
        except zmq.ZMQError as exc:
            sock.close(0)
            raise map_zmq_error(
                exc, kernel=self.name, channel=channel, endpoint=endpoint, doing="connect"
            ) from exc
        return sock

    def _check_open(self) -> None:
        if self._closed:
            raise ConnectionClosed("the connection is closed", kernel=self.name)

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
        self._check_open()
        msg, frames = self._core.request(
            channel, msg_type, content, metadata=metadata, collect_iopub=collect_iopub
        )
        try:
            self._socks[channel].send_multipart(frames, zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            self._core.forget(msg.msg_id)
            raise map_zmq_error(
                exc, kernel=self.name, channel=channel, doing=f"send {msg_type}"
            ) from exc
        return msg

    async def get_reply(
        self, request: Message, channel: Channel = Channel.SHELL, timeout: float | None = 10.0
    ) -> Message:
        """Wait for the reply to ``request`` and return it.

        See :meth:`kcf_client.KernelConnection.get_reply`.
        """
        mid = request.msg_id
        try:
            await self._wait(
                lambda: self._core.reply(channel, mid) is not None,
                (channel,),
                timeout,
                request.msg_type,
            )
            reply = self._core.reply(channel, mid)
            assert reply is not None
            return reply
        finally:
            self._core.forget(mid)

    async def request(
        self,
        channel: Channel,
        msg_type: str,
        content: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = 10.0,
    ) -> Message:
        """Send a request and return its reply."""
        return await self.get_reply(self.send(channel, msg_type, content), channel, timeout)

    async def _wait(
        self,
        done: Callable[[], bool],
        channels: tuple[Channel, ...],
        timeout: float | None,
        request: str,
        *,
        check_alive: bool = True,
        resend: Callable[[], None] | None = None,
        resend_every: float = 1.0,
    ) -> None:
        self._check_open()
        for ch in channels:
            self._start_reader(ch)
        cond = self._condition()
        now = time.monotonic()
        deadline = None if timeout is None else now + timeout
        next_check = now + self.liveness_interval
        next_send = now + resend_every
        misses = 0
        async with cond:
            while not done():
                if self._failure is not None:
                    raise self._failure
                self._check_open()
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    assert timeout is not None
                    raise KernelTimeout(
                        kernel=self.name,
                        channel=channels[0],
                        timeout=timeout,
                        request=request,
                        detail=self._core.timeout_detail(),
                    )
                wake = min(
                    x
                    for x in (deadline, next_check, next_send if resend else None)
                    if x is not None
                )
                try:
                    await asyncio.wait_for(cond.wait(), max(0.0, wake - now))
                    misses = 0
                    continue
                except asyncio.TimeoutError:
                    pass
                now = time.monotonic()
                if resend is not None and now >= next_send:
                    resend()
                    next_send = now + resend_every
                if check_alive and now >= next_check:
                    why = await self._dead_why(misses)
                    misses += 1
                    if why is not None:
                        raise self._core.died(channels[0], request, why)
                    next_check = time.monotonic() + self.liveness_interval

    async def _dead_why(self, misses: int) -> str | None:
        if await self.is_alive(timeout=min(1.0, self.liveness_interval)):
            return None
        if probe_ports_closed(self.info):
            return "its heartbeat is silent and every port refuses connections"
        if misses >= 1:
            return "its heartbeat stopped answering"
        return None

    # -- talking ------------------------------------------------------------------------

    async def kernel_info(self, timeout: float | None = 10.0) -> Mapping[str, Any]:
        """Ask for the kernel's info and return the reply content."""
        reply = await self.request(Channel.SHELL, "kernel_info_request", {}, timeout=timeout)
        return reply.content

    async def wait_until_ready(self, timeout: float = 30.0) -> Mapping[str, Any]:
        """Return as soon as the kernel answers a ``kernel_info_request`` on shell.

        See :meth:`kcf_client.KernelConnection.wait_until_ready`.
        """
        sent: list[str] = [self.send(Channel.SHELL, "kernel_info_request", {}).msg_id]

        def again() -> None:
            sent.append(self.send(Channel.SHELL, "kernel_info_request", {}).msg_id)

        def answered() -> bool:
            return any(self._core.reply(Channel.SHELL, m) is not None for m in sent)

        try:
            await self._wait(
                answered,
                (Channel.SHELL,),
                timeout,
                "kernel_info_request",
                check_alive=False,
                resend=again,
            )
            reply = next(r for m in sent if (r := self._core.reply(Channel.SHELL, m)))
            return reply.content
        finally:
            for m in sent:
                self._core.forget(m)

    async def _ensure_iopub(self, deadline: float | None) -> None:
        if self._core.iopub_live:
            return
        sent: list[str] = []

        def poke() -> None:
            sent.append(self.send(Channel.SHELL, "kernel_info_request", {}).msg_id)

        poke()
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            await self._wait(
                lambda: self._core.iopub_live,
                (Channel.IOPUB, Channel.SHELL),
                left,
                "kernel_info_request",
                resend=poke,
                resend_every=0.25,
            )
        finally:
            for m in sent:
                self._core.forget(m)

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
        deadline = None if timeout is None else time.monotonic() + timeout
        await self._ensure_iopub(deadline)
        msg = self.send(
            Channel.SHELL,
            "execute_request",
            execute_content(
                code,
                silent=silent,
                store_history=store_history,
                user_expressions=user_expressions,
                allow_stdin=allow_stdin,
                stop_on_error=stop_on_error,
            ),
            collect_iopub=True,
        )
        mid = msg.msg_id
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            await self._wait(
                lambda: self._core.reply(Channel.SHELL, mid) is not None and self._core.idle(mid),
                (Channel.SHELL, Channel.IOPUB),
                left,
                "execute_request",
            )
            return self._core.execute_result(mid)
        finally:
            self._core.forget(mid)

    async def ping(self, timeout: float = 1.0) -> float:
        """Ping the heartbeat; return the round trip in seconds.

        Raises:
            KernelTimeout: no echo within ``timeout`` (the socket is then replaced).
        """
        self._check_open()
        if self._hb is None:
            self._hb = self._open(Channel.HB)
        hb = self._hb
        t0 = time.perf_counter()
        try:
            await hb.send(b"ping")
            if await hb.poll(int(timeout * 1000)):
                await hb.recv()
                return time.perf_counter() - t0
        except zmq.ZMQError as exc:
            self._drop_heartbeat()
            raise map_zmq_error(exc, kernel=self.name, channel=Channel.HB, doing="ping") from exc
        self._drop_heartbeat()
        raise KernelTimeout(
            kernel=self.name, channel=Channel.HB, timeout=timeout, request="heartbeat ping"
        )

    async def is_alive(self, timeout: float = 1.0) -> bool:
        """``True`` when the heartbeat answers within ``timeout``."""
        try:
            await self.ping(timeout)
        except KernelTimeout:
            return False
        return True

    def _drop_heartbeat(self) -> None:
        if self._hb is not None:
            self._hb.close(0)
            self._hb = None

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
        self._closed = True
        for task in self._readers.values():
            task.cancel()
        for s in self._socks.values():
            s.close(0)
        self._socks.clear()
        self._drop_heartbeat()
        if self._own_context:
            self._ctx.term()

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

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<asyncio KernelConnection {self.name} {state}>"


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
