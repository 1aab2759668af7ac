"""The I/O primitives of the asyncio layer: reader tasks, a condition, a probe in a thread.

Nothing here blocks the event loop: sends never block (a message the socket cannot take
waits in the core's outbox), receives are awaited, and the port probe of a dead-kernel
diagnosis (short blocking connects) runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, cast

import zmq
import zmq.asyncio
from kcf_spec import Channel

from ._core import poll_ms
from ._errors import map_zmq_error
from ._link import ConnectionBase
from ._sockets import file_age, ports_closed

__all__ = ["AsyncLink"]


class AsyncLink(ConnectionBase[zmq.asyncio.Socket]):
    """:mod:`zmq.asyncio` sockets; one reader task per channel feeds the core."""

    _repr_name = "asyncio KernelConnection"

    def __init__(self, *args: Any, **kw: Any) -> None:
        self._readers: dict[Channel, asyncio.Task[None]] = {}
        self._arrived: asyncio.Condition | None = None
        self._failure: BaseException | None = None
        super().__init__(*args, **kw)

    def _send_now(self, channel: Channel, frames: list[bytes]) -> bool:
        # With NOBLOCK, pyzmq's asyncio socket tries at once and returns a finished future.
        fut = cast("asyncio.Future[Any]", self._socks[channel].send_multipart(frames, zmq.NOBLOCK))
        exc = fut.exception() if fut.done() else None
        if isinstance(exc, zmq.Again):
            return False
        if exc is not None:
            raise exc
        return True

    async def _writable(self, channel: Channel, timeout: float) -> None:
        """Wait up to ``timeout`` s until ``channel`` can take a message."""
        poller = zmq.asyncio.Poller()
        poller.register(self._socks[channel], zmq.POLLOUT)
        await poller.poll(poll_ms(timeout) + 1)

    def _condition(self) -> asyncio.Condition:
        if self._arrived is None:
            self._arrived = asyncio.Condition()
        return self._arrived

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
                frames = None
            if frames is not None:
                self._core.feed(channel, frames)
            async with cond:
                cond.notify_all()
            if frames is None:
                return

    async def _receive(self, channels: tuple[Channel, ...], timeout: float) -> bool:
        """Wait up to ``timeout`` s until a reader task feeds the core something."""
        for ch in channels:
            if ch not in self._readers:
                self._readers[ch] = asyncio.get_running_loop().create_task(
                    self._read(ch), name=f"kcf-reader-{ch.value}"
                )
        if self._failure is not None:
            raise self._failure
        cond = self._condition()
        async with cond:
            try:
                await asyncio.wait_for(cond.wait(), timeout)
            except asyncio.TimeoutError:
                return False
        if self._failure is not None:
            raise self._failure
        return True

    async def _diagnose(self) -> tuple[bool, float | None]:
        """Whether every port refuses, and the file's age: probed in a worker thread."""
        info, path = self._core.info, self._core.path
        return await asyncio.to_thread(lambda: (ports_closed(info), file_age(path)))

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
            with contextlib.suppress(asyncio.CancelledError, zmq.ZMQError):
                await task
        self._readers.clear()
