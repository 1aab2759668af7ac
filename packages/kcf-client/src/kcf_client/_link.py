"""What both ``KernelConnection`` layers share that neither waits for: sockets, properties,
queueing a request, closing.

A layer (``_link_sync``, ``_link_async``) adds the I/O primitives the driver in
``asyncio.py`` / ``_blocking.py`` awaits or calls: ``_send_now``, ``_receive``,
``_diagnose``, and closing its reader tasks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from kcf_spec import Channel, Codec, ConnectionInfo

from ._core import DATA_CHANNELS, Core
from ._errors import ConnectionClosed, KernelTimeout, map_zmq_error
from ._sockets import open_client_socket

if TYPE_CHECKING:
    import zmq
    from kcf_spec import Message

    from ._errors import ClientError

__all__ = ["ConnectionBase"]

_S = TypeVar("_S", bound="zmq.Socket[Any]")


class ConnectionBase(Generic[_S]):
    """Sockets, properties, sending and closing, for both layers."""

    _repr_name = "KernelConnection"

    def __init__(
        self,
        info: ConnectionInfo,
        path: str | os.PathLike[str] | None,
        codec: Codec | None,
        context: zmq.Context[Any],
        *,
        own_context: bool,
    ) -> None:
        self._core = Core(info, Path(path) if path is not None else None, codec)
        self._own_context = own_context
        self._ctx = context
        self._socks: dict[Channel, _S] = {}
        self._hb: _S | None = None
        self._closed = False
        self._curve: tuple[bytes, bytes] | None = None
        self._iopub_events: zmq.Socket[bytes] | None = None
        try:
            if info.curve_publickey is not None:
                import zmq

                self._curve = zmq.curve_keypair()
            for ch in DATA_CHANNELS:
                self._socks[ch] = self._open(ch)
            self._iopub_events = self._watch_drops(self._socks[Channel.IOPUB])
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

    @property
    def liveness_interval(self) -> float:
        """While waiting, seconds between checks that the kernel is still alive."""
        return self._core.liveness_interval

    @liveness_interval.setter
    def liveness_interval(self, value: float) -> None:
        self._core.liveness_interval = value

    # -- sockets ------------------------------------------------------------------------

    def _open(self, channel: Channel) -> _S:
        sock: _S = open_client_socket(
            self._ctx,
            self._core.info,
            channel,
            kernel=self.name,
            identity=self._core.codec.session.encode("utf-8"),
            curve_keypair=self._curve,
        )
        return sock

    def _watch_drops(self, sock: _S) -> zmq.Socket[bytes]:
        """A (blocking, never blocked on) PAIR socket told each time ``sock`` disconnects."""
        import secrets

        import zmq

        address = f"inproc://kcf-drops-{secrets.token_hex(8)}"
        sock.monitor(address, zmq.EVENT_DISCONNECTED)
        # A plain socket, asyncio layer or not, of our context (so that destroying the
        # context closes it too).
        events: zmq.Socket[bytes] = self._ctx.socket(zmq.PAIR, socket_class=zmq.Socket)
        events.linger = 0
        events.connect(address)
        return events

    def _note_iopub_drops(self) -> None:
        """Tell the core of every iopub disconnect since the last call (never blocks)."""
        import zmq

        events = self._iopub_events
        # Closed: the context was destroyed under us; the next real socket call says so.
        while events is not None and not events.closed:
            try:
                events.recv_multipart(zmq.NOBLOCK)  # only EVENT_DISCONNECTED is subscribed
            except zmq.Again:
                return
            self._core.iopub_dropped()

    def _heartbeat(self) -> _S:
        self._check_open()
        if self._hb is None:
            self._hb = self._open(Channel.HB)
        return self._hb

    def _drop_heartbeat(self) -> None:
        if self._hb is not None:
            self._hb.close(0)
            self._hb = None

    def _ping_failed(self, exc: BaseException) -> ClientError:
        """Replace the heartbeat socket; the error for a ping that failed with ``exc``."""
        self._drop_heartbeat()
        return map_zmq_error(exc, kernel=self.name, channel=Channel.HB, doing="ping")

    def _ping_timed_out(self, timeout: float) -> KernelTimeout:
        """Replace the heartbeat socket; the error for a ping without echo."""
        # A REQ socket that got no reply cannot send again: replace it.
        self._drop_heartbeat()
        return KernelTimeout(
            kernel=self.name, channel=Channel.HB, timeout=timeout, request="heartbeat ping"
        )

    def _check_open(self) -> None:
        if self._closed:
            raise ConnectionClosed("the connection is closed", kernel=self.name)

    def _close(self) -> None:
        """Close every socket (without lingering) and the private context."""
        self._closed = True
        if self._iopub_events is not None:
            self._iopub_events.close(0)
            self._iopub_events = None
        for s in self._socks.values():
            s.close(0)
        self._socks.clear()
        self._drop_heartbeat()
        if self._own_context:
            self._ctx.term()

    def close(self) -> None:
        """Close every socket (without lingering) and the private context. Idempotent."""
        if not self._closed:
            self._close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{self._repr_name} {self.name} {state}>"

    # -- sending ------------------------------------------------------------------------

    def _send_now(self, channel: Channel, frames: list[bytes]) -> bool:
        """Send without blocking; ``False`` when the socket cannot take it now."""
        raise NotImplementedError

    def _push(self) -> bool:
        """Send what the core queued, without blocking; ``True`` once nothing is left."""
        import zmq

        out = self._core.outbox
        while out:
            channel, mid, msg_type, frames = out[0]
            try:
                if not self._send_now(channel, frames):
                    return False
            except zmq.ZMQError as exc:
                self._core.forget(mid)
                raise map_zmq_error(
                    exc, kernel=self.name, channel=channel, doing=f"send {msg_type}"
                ) from exc
            del out[0]
        return True

    def send(
        self,
        channel: Channel,
        msg_type: str,
        content: Mapping[str, Any] | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        collect_iopub: bool = False,
    ) -> Message:
        """Sign and send a request; its reply is then kept for :meth:`get_reply`.

        Never blocks: a message the socket cannot take at once (a kernel that has not
        accepted the connection yet) is sent by the next wait, within its timeout.

        Args:
            channel: shell, control or stdin.
            msg_type: e.g. ``"comm_info_request"``.
            content: the request content.
            metadata: the request metadata.
            collect_iopub: also keep the iopub messages this request causes.
        """
        self._check_open()
        msg = self._core.send(
            channel, msg_type, content, metadata=metadata, collect_iopub=collect_iopub
        )
        self._push()
        return msg
