"""The blocking connection: five sockets, a poller with timeouts, no background thread."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import zmq
from kcf_spec import Channel, Codec, ConnectionInfo

from ._core import Core, execute_content, probe_ports_closed, resolve, socket_type
from ._errors import ConnectionClosed, KernelTimeout, map_zmq_error

if TYPE_CHECKING:
    from kcf_spec import Message

    from ._results import ExecuteResult

__all__ = ["KernelConnection", "connect"]

_DATA_CHANNELS = (Channel.SHELL, Channel.IOPUB, Channel.STDIN, Channel.CONTROL)


class KernelConnection:
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

    liveness_interval: float = 2.0

    def __init__(
        self,
        info: ConnectionInfo,
        *,
        path: str | os.PathLike[str] | None = None,
        codec: Codec | None = None,
        context: zmq.Context[Any] | None = None,
    ) -> None:
        self._core = Core(info, Path(path) if path is not None else None, codec)
        self._own_context = context is None
        self._ctx: zmq.Context[Any] = zmq.Context() if context is None else context
        self._socks: dict[Channel, zmq.Socket[bytes]] = {}
        self._hb: zmq.Socket[bytes] | None = None
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

    def socket(self, channel: Channel) -> zmq.Socket[bytes]:
        """The socket of ``channel`` (for frontends that poll it themselves)."""
        self._check_open()
        if channel is Channel.HB:
            return self._heartbeat()
        return self._socks[channel]

    # -- sockets ------------------------------------------------------------------------

    def _open(self, channel: Channel) -> zmq.Socket[bytes]:
        endpoint = self._core.endpoint(channel)
        try:
            sock: zmq.Socket[bytes] = self._ctx.socket(socket_type(channel))
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

    def _heartbeat(self) -> zmq.Socket[bytes]:
        if self._hb is None:
            self._hb = self._open(Channel.HB)
        return self._hb

    def _check_open(self) -> None:
        if self._closed:
            raise ConnectionClosed("the connection is closed", kernel=self.name)

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
        """Sign and send a request; its reply is then kept for :meth:`get_reply`.

        Args:
            channel: shell, control or stdin.
            msg_type: e.g. ``"comm_info_request"``.
            content: the request content.
            metadata: the request metadata.
            collect_iopub: also keep the iopub messages this request causes.
        """
        self._check_open()
        msg, frames = self._core.request(
            channel, msg_type, content, metadata=metadata, collect_iopub=collect_iopub
        )
        try:
            self._socks[channel].send_multipart(frames)
        except zmq.ZMQError as exc:
            self._core.forget(msg.msg_id)
            raise map_zmq_error(
                exc, kernel=self.name, channel=channel, doing=f"send {msg_type}"
            ) from exc
        return msg

    def get_reply(
        self, request: Message, channel: Channel = Channel.SHELL, timeout: float | None = 10.0
    ) -> Message:
        """Wait for the reply to ``request`` (sent with :meth:`send`) and return it.

        Raises:
            KernelTimeout: no reply within ``timeout`` seconds (``None``: no limit).
            KernelDied: the kernel stopped answering while we waited.
        """
        mid = request.msg_id
        try:
            self._wait(
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

    def request(
        self,
        channel: Channel,
        msg_type: str,
        content: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = 10.0,
    ) -> Message:
        """Send a request and return its reply (see :meth:`send`, :meth:`get_reply`)."""
        return self.get_reply(self.send(channel, msg_type, content), channel, timeout)

    def _wait(
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
        """Receive on ``channels`` until ``done()``; raise on timeout or a dead kernel."""
        self._check_open()
        poller = zmq.Poller()
        by_sock = {}
        for ch in channels:
            s = self._socks[ch]
            poller.register(s, zmq.POLLIN)
            by_sock[s] = ch
        now = time.monotonic()
        deadline = None if timeout is None else now + timeout
        next_check = now + self.liveness_interval
        next_send = now + resend_every
        misses = 0
        while not done():
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
                x for x in (deadline, next_check, next_send if resend else None) if x is not None
            )
            try:
                ready = poller.poll(int(max(0.0, wake - now) * 1000) + 1)
            except zmq.ZMQError as exc:
                raise map_zmq_error(
                    exc, kernel=self.name, channel=channels[0], doing="poll"
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
                misses = 0
                continue
            now = time.monotonic()
            if resend is not None and now >= next_send:
                resend()
                next_send = now + resend_every
            if check_alive and now >= next_check:
                why = self._dead_why(misses)
                misses += 1
                if why is not None:
                    raise self._core.died(channels[0], request, why)
                next_check = time.monotonic() + self.liveness_interval

    def _dead_why(self, misses: int) -> str | None:
        if self.is_alive(timeout=min(1.0, self.liveness_interval)):
            return None
        if probe_ports_closed(self.info):
            return "its heartbeat is silent and every port refuses connections"
        if misses >= 1:
            return "its heartbeat stopped answering"
        return None

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
        sent: list[str] = [self.send(Channel.SHELL, "kernel_info_request", {}).msg_id]

        def again() -> None:
            sent.append(self.send(Channel.SHELL, "kernel_info_request", {}).msg_id)

        def answered() -> bool:
            return any(self._core.reply(Channel.SHELL, m) is not None for m in sent)

        try:
            self._wait(
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

    def _ensure_iopub(self, deadline: float | None) -> None:
        """Make sure the iopub subscription is live, so no output of ours is missed."""
        if self._core.iopub_live:
            return
        sent: list[str] = []

        def poke() -> None:
            sent.append(self.send(Channel.SHELL, "kernel_info_request", {}).msg_id)

        poke()
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            self._wait(
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
        deadline = None if timeout is None else time.monotonic() + timeout
        self._ensure_iopub(deadline)
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
            self._wait(
                lambda: self._core.reply(Channel.SHELL, mid) is not None and self._core.idle(mid),
                (Channel.SHELL, Channel.IOPUB),
                left,
                "execute_request",
            )
            return self._core.execute_result(mid)
        finally:
            self._core.forget(mid)

    def ping(self, timeout: float = 1.0) -> float:
        """Ping the heartbeat; return the round trip in seconds.

        Raises:
            KernelTimeout: no echo within ``timeout`` (the socket is then replaced, so
                the next ping starts clean).
        """
        hb = self.socket(Channel.HB)
        t0 = time.perf_counter()
        try:
            hb.send(b"ping")
            if hb.poll(int(timeout * 1000), zmq.POLLIN):
                hb.recv()
                return time.perf_counter() - t0
        except zmq.ZMQError as exc:
            self._drop_heartbeat()
            raise map_zmq_error(exc, kernel=self.name, channel=Channel.HB, doing="ping") from exc
        # A REQ socket that got no reply cannot send again: replace it.
        self._drop_heartbeat()
        raise KernelTimeout(
            kernel=self.name, channel=Channel.HB, timeout=timeout, request="heartbeat ping"
        )

    def is_alive(self, timeout: float = 1.0) -> bool:
        """``True`` when the heartbeat answers within ``timeout``."""
        try:
            self.ping(timeout)
        except KernelTimeout:
            return False
        return True

    def _drop_heartbeat(self) -> None:
        if self._hb is not None:
            self._hb.close(0)
            self._hb = None

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

    def close(self) -> None:
        """Close every socket (without lingering) and the private context. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for s in self._socks.values():
            s.close(0)
        self._socks.clear()
        self._drop_heartbeat()
        if self._own_context:
            self._ctx.term()

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

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<KernelConnection {self.name} {state}>"


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
