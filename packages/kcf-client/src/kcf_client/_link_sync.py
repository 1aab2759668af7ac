"""The I/O primitives of the blocking layer: a poll, a non-blocking send, a port probe."""

from __future__ import annotations

import contextlib
import errno
from typing import Any

import zmq
from kcf_spec import Channel

from ._core import poll_ms
from ._errors import map_zmq_error
from ._link import ConnectionBase
from ._sockets import file_age, ports_closed

__all__ = ["SyncLink"]


class SyncLink(ConnectionBase["zmq.Socket[bytes]"]):
    """Blocking sockets; every wait is a ``zmq.Poller`` with a timeout (no thread)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        self._pollers: dict[tuple[Channel, ...], tuple[zmq.Poller, dict[Any, Channel]]] = {}
        super().__init__(*args, **kw)

    def socket(self, channel: Channel) -> zmq.Socket[bytes]:
        """The socket of ``channel`` (for frontends that poll it themselves)."""
        self._check_open()
        if channel is Channel.HB:
            return self._heartbeat()
        return self._socks[channel]

    def _send_now(self, channel: Channel, frames: list[bytes]) -> bool:
        try:
            self._socks[channel].send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            return False
        return True

    def _writable(self, channel: Channel, timeout: float) -> None:
        """Wait up to ``timeout`` s until ``channel`` can take a message."""
        self._socks[channel].poll(poll_ms(timeout) + 1, zmq.POLLOUT)

    def _receive(self, channels: tuple[Channel, ...], timeout: float) -> bool:
        """Wait up to ``timeout`` s for messages on ``channels``; feed one from each ready
        socket to the core (the caller polls again at once while it is not done)."""
        entry = self._pollers.get(channels)
        if entry is None:
            poller = zmq.Poller()
            by = {}
            for c in channels:
                poller.register(self._socks[c], zmq.POLLIN)
                by[self._socks[c]] = c
            entry = self._pollers[channels] = (poller, by)
        poller, by = entry
        try:
            ready = poller.poll(int(timeout * 1000) + 1)
            for s, _ in ready:
                ch = by.get(s)
                if ch is None:  # a socket closed behind our back (its context destroyed)
                    raise zmq.ZMQError(errno.ENOTSOCK)
                self._core.feed(ch, s.recv_multipart(zmq.NOBLOCK))
        except zmq.ZMQError as exc:
            raise map_zmq_error(
                exc, kernel=self.name, channel=channels[0], doing="receive"
            ) from exc
        return bool(ready)

    def _diagnose(self) -> tuple[bool, float | None]:
        """Whether every port refuses, and the connection file's age (blocking probes)."""
        return ports_closed(self._core.info), file_age(self._core.path)

    def close(self) -> None:
        """Close every socket (without lingering) and the private context. Idempotent."""
        if not self._closed:
            self._pollers.clear()
            self._close()

    def __del__(self) -> None:
        # Not a substitute for close(); only lets a forgotten connection free its sockets.
        if not getattr(self, "_closed", True):
            with contextlib.suppress(zmq.ZMQError):  # never raise from a finalizer
                self.close()
