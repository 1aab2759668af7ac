"""The core shared by the blocking and the asyncio connection: nothing here waits.

:class:`Core` knows which socket each channel uses and how to configure it, builds and
signs requests with :class:`kcf_spec.Codec`, parses what arrives, keeps the messages that
answer a request still waited for (keyed by channel and parent ``msg_id``) and drops the
rest, and turns collected messages into results.

:class:`ConnectionBase` is what both ``KernelConnection`` classes share: sockets, the
properties, sending, closing, and every request written once as *steps*, a generator that
yields a :class:`Waiting` each time it must wait for the kernel. The blocking layer drives
the steps with a poller, the asyncio layer with ``await``; that is all they add.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from kcf_spec import Channel, Codec, ConnectionInfo, WireError

from ._errors import ConnectionClosed, KernelDied, KernelTimeout, map_zmq_error

if TYPE_CHECKING:
    from collections.abc import Generator

    import zmq
    from kcf_spec import Message

    from ._errors import ClientError
    from ._results import ErrorInfo, ExecuteResult

__all__ = ["DATA_CHANNELS", "ConnectionBase", "Core", "Steps", "Waiting", "resolve", "socket_type"]

_T = TypeVar("_T")
_S = TypeVar("_S", bound="zmq.Socket[Any]")

if TYPE_CHECKING:
    from typing import TypeAlias

    #: A request written once: it yields each wait, and returns the request's result.
    Steps: TypeAlias = Generator["Waiting", None, _T]

#: The channels a connection opens at once (the heartbeat socket is opened on first ping).
DATA_CHANNELS = (Channel.SHELL, Channel.IOPUB, Channel.STDIN, Channel.CONTROL)


def socket_type(channel: Channel) -> int:
    """The ZeroMQ socket type a client uses for ``channel``."""
    import zmq

    return {
        Channel.SHELL: zmq.DEALER,
        Channel.IOPUB: zmq.SUB,
        Channel.STDIN: zmq.DEALER,
        Channel.CONTROL: zmq.DEALER,
        Channel.HB: zmq.REQ,
    }[channel]


def resolve(
    target: ConnectionInfo | str | os.PathLike[str],
) -> tuple[ConnectionInfo, Path | None]:
    """A connection info and its file from an info, a path, a name or a glob."""
    if isinstance(target, ConnectionInfo):
        return target, None
    from ._find import find_connection_file

    path = find_connection_file(os.fspath(target))
    return ConnectionInfo.load(path), path


class Core:
    """State shared by both layers: codec, socket settings, waiting requests, inbox."""

    __slots__ = (
        "_curve",
        "_waiting",
        "codec",
        "dropped",
        "info",
        "iopub_live",
        "last_wire_error",
        "name",
        "path",
    )

    def __init__(self, info: ConnectionInfo, path: Path | None, codec: Codec | None = None) -> None:
        self.info = info
        self.path = path
        self.name = str(path) if path is not None else f"{info.connect_url(Channel.SHELL)}"
        self.codec = codec if codec is not None else Codec.from_connection(info)
        self._waiting: dict[tuple[Channel, str], list[Message]] = {}
        self._curve: tuple[bytes, bytes] | None = None
        self.dropped = 0
        self.last_wire_error: str | None = None
        self.iopub_live = False

    # -- sockets ------------------------------------------------------------------------

    def configure(self, sock: zmq.Socket[Any], channel: Channel) -> None:
        """Set the options of a new socket for ``channel`` (before it connects)."""
        import zmq

        sock.linger = 0
        if channel in (Channel.SHELL, Channel.STDIN, Channel.CONTROL):
            # One identity for shell and stdin: the kernel routes input_request to the
            # stdin peer with the identity of the shell request's sender.
            sock.identity = self.codec.session.encode("utf-8")
        if self.info.transport == "tcp" and ":" in self.info.ip:
            sock.ipv6 = True
        if self.info.curve_publickey is not None:
            if self._curve is None:
                self._curve = zmq.curve_keypair()
            sock.curve_serverkey = self.info.curve_publickey.encode("ascii")
            sock.curve_publickey, sock.curve_secretkey = self._curve
        if channel is Channel.IOPUB:
            sock.setsockopt(zmq.SUBSCRIBE, b"")

    def endpoint(self, channel: Channel) -> str:
        """Where a client connects for ``channel``."""
        return self.info.connect_url(channel)

    # -- requests -----------------------------------------------------------------------

    def request(
        self,
        channel: Channel,
        msg_type: str,
        content: Mapping[str, Any] | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        collect_iopub: bool = False,
    ) -> tuple[Message, list[bytes]]:
        """Build a request, start waiting for its reply, and return it with its frames."""
        msg = self.codec.message(msg_type, content, metadata=metadata)
        self._waiting[(channel, msg.msg_id)] = []
        if collect_iopub:
            self._waiting[(Channel.IOPUB, msg.msg_id)] = []
        return msg, self.codec.serialize(msg)

    def forget(self, msg_id: str) -> None:
        """Stop waiting for anything answering ``msg_id`` (drop what was kept)."""
        for ch in Channel:
            self._waiting.pop((ch, msg_id), None)

    def feed(self, channel: Channel, frames: Sequence[Any]) -> Message | None:
        """Accept the frames of one received message; keep it when it answers a request
        still waited for. Returns the message, or ``None`` when it was dropped."""
        if channel is Channel.IOPUB:
            self.iopub_live = True
        try:
            msg = self.codec.parse(frames)
        except WireError as exc:
            self.dropped += 1
            self.last_wire_error = f"{type(exc).__name__}: {exc}"
            return None
        parent = msg.parent_msg_id
        box = self._waiting.get((channel, parent)) if parent is not None else None
        if box is None:
            self.dropped += 1
            return None
        box.append(msg)
        return msg

    def messages(self, channel: Channel, msg_id: str) -> list[Message]:
        """What has arrived so far on ``channel`` for request ``msg_id``."""
        return self._waiting.get((channel, msg_id), [])

    def reply(self, channel: Channel, msg_id: str) -> Message | None:
        """The reply to ``msg_id`` on ``channel``, once it has arrived."""
        for m in self._waiting.get((channel, msg_id), ()):
            if m.msg_type.endswith("_reply"):
                return m
        return None

    def idle(self, msg_id: str) -> bool:
        """Whether iopub has said ``idle`` for request ``msg_id``."""
        return any(
            m.msg_type == "status" and m.content.get("execution_state") == "idle"
            for m in self._waiting.get((Channel.IOPUB, msg_id), ())
        )

    def timeout_detail(self) -> str:
        """A hint for a timeout message: the last message dropped as unreadable."""
        if self.last_wire_error is None:
            return ""
        return f"a message was refused ({self.last_wire_error}); is the key right?"

    # -- results ------------------------------------------------------------------------

    def execute_result(self, msg_id: str) -> ExecuteResult:
        """Fold the reply and the iopub output of execute request ``msg_id``."""
        from ._results import ExecuteResult

        reply = self.reply(Channel.SHELL, msg_id)
        assert reply is not None
        outputs = tuple(self._waiting.get((Channel.IOPUB, msg_id), ()))
        out: list[str] = []
        err: list[str] = []
        result: Mapping[str, Any] | None = None
        displays: list[Mapping[str, Any]] = []
        error: ErrorInfo | None = None
        for m in outputs:
            c = m.content
            if m.msg_type == "stream":
                (err if c.get("name") == "stderr" else out).append(str(c.get("text", "")))
            elif m.msg_type == "execute_result":
                result = c.get("data", {})
            elif m.msg_type == "display_data":
                displays.append(c.get("data", {}))
            elif m.msg_type == "error":
                error = _error_info(c)
        rc = reply.content
        if error is None and rc.get("status") == "error":
            error = _error_info(rc)
        count = rc.get("execution_count")
        self.forget(msg_id)
        return ExecuteResult(
            status=str(rc.get("status", "error")),
            execution_count=count if isinstance(count, int) else None,
            stdout="".join(out),
            stderr="".join(err),
            result=result,
            displays=tuple(displays),
            error=error,
            reply=reply,
            outputs=outputs,
            kernel=self.name,
        )

    def died(self, channel: Channel | None, request: str, why: str) -> KernelDied:
        """The error for a kernel found dead while waiting."""
        return KernelDied(kernel=self.name, channel=channel, request=request, why=why)


def _error_info(c: Mapping[str, Any]) -> ErrorInfo:
    from ._results import ErrorInfo

    tb = c.get("traceback") or ()
    return ErrorInfo(str(c.get("ename", "")), str(c.get("evalue", "")), tuple(str(t) for t in tb))


def execute_content(
    code: str,
    *,
    silent: bool,
    store_history: bool,
    user_expressions: Mapping[str, str] | None,
    allow_stdin: bool,
    stop_on_error: bool,
) -> dict[str, Any]:
    """The content of an ``execute_request``."""
    return {
        "code": code,
        "silent": silent,
        "store_history": store_history,
        "user_expressions": dict(user_expressions or {}),
        "allow_stdin": allow_stdin,
        "stop_on_error": stop_on_error,
    }


def probe_ports_closed(info: ConnectionInfo) -> bool:
    """``True`` when every port of ``info`` provably refuses connections on this machine."""
    from ._listing import _ports_closed

    closed, _ = _ports_closed(info)
    return closed is True


class Waiting:
    """One wait for the kernel: what must happen, where, by when, and its liveness checks.

    A layer receives on :attr:`channels` until :attr:`done` returns ``True``. Between
    receives it asks :meth:`due_in` how long it may sleep (which raises
    :class:`KernelTimeout` once the deadline has passed); after a quiet sleep,
    :meth:`quiet` resends what is due and says whether the kernel must be checked, and
    :meth:`checked` takes the answer (raising :class:`KernelDied`). No I/O here.
    """

    __slots__ = (
        "_check_alive",
        "_core",
        "_interval",
        "_misses",
        "_next_check",
        "_next_send",
        "_resend",
        "_resend_every",
        "channels",
        "deadline",
        "done",
        "ping_timeout",
        "reported_timeout",
        "request",
        "timeout",
    )

    def __init__(
        self,
        core: Core,
        done: Callable[[], bool],
        channels: tuple[Channel, ...],
        timeout: float | None,
        request: str,
        *,
        interval: float,
        check_alive: bool = True,
        resend: Callable[[], None] | None = None,
        resend_every: float = 1.0,
        reported_timeout: float | None = None,
    ) -> None:
        now = time.monotonic()
        self._core = core
        # What a timeout error names: the caller's whole budget when this wait is one
        # part of a longer request (``timeout`` is then only what was left of it).
        self.reported_timeout = timeout if reported_timeout is None else reported_timeout
        self.done = done
        self.channels = channels
        self.timeout = timeout
        self.request = request
        self.deadline = None if timeout is None else now + timeout
        self.ping_timeout = min(1.0, interval)
        self._interval = interval
        self._check_alive = check_alive
        self._resend = resend
        self._resend_every = resend_every
        self._next_check = now + interval
        self._next_send = now + resend_every
        self._misses = 0

    def due_in(self) -> float:
        """Seconds until the next deadline, check or resend; raise once timed out."""
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline:
            assert self.reported_timeout is not None
            raise KernelTimeout(
                kernel=self._core.name,
                channel=self.channels[0],
                timeout=self.reported_timeout,
                request=self.request,
                detail=self._core.timeout_detail(),
            )
        due = (self.deadline, self._next_check, self._next_send if self._resend else None)
        return max(0.0, min(x for x in due if x is not None) - now)

    def arrived(self) -> None:
        """Something was received: the kernel is talking."""
        self._misses = 0

    def quiet(self) -> bool:
        """After a sleep with nothing received: resend if due; whether to check liveness."""
        now = time.monotonic()
        if self._resend is not None and now >= self._next_send:
            self._resend()
            self._next_send = now + self._resend_every
        return self._check_alive and now >= self._next_check

    def checked(self, alive: bool) -> None:
        """Take a heartbeat's answer; raise :class:`KernelDied` when the kernel is gone."""
        why = None if alive else self._why_dead()
        self._misses += 1
        if why is not None:
            raise self._core.died(self.channels[0], self.request, why)
        self._next_check = time.monotonic() + self._interval

    def _why_dead(self) -> str | None:
        if probe_ports_closed(self._core.info):
            return "its heartbeat is silent and every port refuses connections"
        if self._misses >= 1:
            return "its heartbeat stopped answering"
        return None


class ConnectionBase(Generic[_S]):
    """What the blocking and the asyncio ``KernelConnection`` share: all that does not wait.

    A layer passes its context and adds how to wait (a ``_wait(Waiting)`` and a driver
    for :data:`Steps`), the heartbeat ping, and its public methods with their docstrings.
    """

    liveness_interval: float = 2.0
    _send_flags: int = 0
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
        try:
            for ch in DATA_CHANNELS:
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

    def _open(self, channel: Channel) -> _S:
        import zmq

        endpoint = self._core.endpoint(channel)
        try:
            sock: _S = self._ctx.socket(socket_type(channel))
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

    def _heartbeat(self) -> _S:
        self._check_open()
        if self._hb is None:
            self._hb = self._open(Channel.HB)
        return self._hb

    def _drop_heartbeat(self) -> None:
        if self._hb is not None:
            self._hb.close(0)
            self._hb = None

    def _ping_failed(self, exc: zmq.ZMQError) -> ClientError:
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
        import zmq

        self._check_open()
        msg, frames = self._core.request(
            channel, msg_type, content, metadata=metadata, collect_iopub=collect_iopub
        )
        try:
            self._socks[channel].send_multipart(frames, self._send_flags)
        except zmq.ZMQError as exc:
            self._core.forget(msg.msg_id)
            raise map_zmq_error(
                exc, kernel=self.name, channel=channel, doing=f"send {msg_type}"
            ) from exc
        return msg

    # -- requests, written once as steps ------------------------------------------------

    def _until(
        self,
        done: Callable[[], bool],
        channels: tuple[Channel, ...],
        timeout: float | None,
        request: str,
        *,
        check_alive: bool = True,
        resend: Callable[[], None] | None = None,
        resend_every: float = 1.0,
        reported_timeout: float | None = None,
    ) -> Waiting:
        return Waiting(
            self._core,
            done,
            channels,
            timeout,
            request,
            interval=self.liveness_interval,
            check_alive=check_alive,
            resend=resend,
            resend_every=resend_every,
            reported_timeout=reported_timeout,
        )

    def _get_reply(
        self, request: Message, channel: Channel, timeout: float | None
    ) -> Steps[Message]:
        mid = request.msg_id
        try:
            yield self._until(
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

    def _request(
        self,
        channel: Channel,
        msg_type: str,
        content: Mapping[str, Any] | None,
        timeout: float | None,
    ) -> Steps[Message]:
        return (yield from self._get_reply(self.send(channel, msg_type, content), channel, timeout))

    def _kernel_info_poker(self, sent: list[str]) -> Callable[[], None]:
        def poke() -> None:
            sent.append(self.send(Channel.SHELL, "kernel_info_request", {}).msg_id)

        return poke

    def _wait_until_ready(self, timeout: float) -> Steps[Mapping[str, Any]]:
        sent: list[str] = []
        poke = self._kernel_info_poker(sent)
        poke()

        def answered() -> bool:
            return any(self._core.reply(Channel.SHELL, m) is not None for m in sent)

        try:
            yield self._until(
                answered,
                (Channel.SHELL,),
                timeout,
                "kernel_info_request",
                check_alive=False,
                resend=poke,
            )
            reply = next(r for m in sent if (r := self._core.reply(Channel.SHELL, m)))
            return reply.content
        finally:
            for m in sent:
                self._core.forget(m)

    def _ensure_iopub(
        self, deadline: float | None, request: str, budget: float | None
    ) -> Steps[None]:
        """Make sure the iopub subscription is live, so no output of ours is missed."""
        if self._core.iopub_live:
            return
        sent: list[str] = []
        poke = self._kernel_info_poker(sent)
        # No poke up front: iopub output queued from earlier requests (or ipykernel's
        # iopub_welcome) usually proves the subscription at once, and a kernel_info_request
        # sent right before the execute_request is what ipykernel 7 sometimes loses the
        # execute_request after. Poke only after a quiet ``resend_every``.
        try:
            yield self._until(
                lambda: self._core.iopub_live,
                (Channel.IOPUB, Channel.SHELL),
                _left(deadline),
                f"{request} (waiting for the iopub subscription)",
                resend=poke,
                resend_every=0.25,
                reported_timeout=budget,
            )
        finally:
            for m in sent:
                self._core.forget(m)

    def _execute(self, timeout: float | None, content: Mapping[str, Any]) -> Steps[ExecuteResult]:
        deadline = None if timeout is None else time.monotonic() + timeout
        yield from self._ensure_iopub(deadline, "execute_request", timeout)
        mid = self.send(Channel.SHELL, "execute_request", content, collect_iopub=True).msg_id
        try:
            yield self._until(
                lambda: self._core.reply(Channel.SHELL, mid) is not None and self._core.idle(mid),
                (Channel.SHELL, Channel.IOPUB),
                _left(deadline),
                "execute_request",
                reported_timeout=timeout,
            )
            return self._core.execute_result(mid)
        finally:
            self._core.forget(mid)


def poll_ms(timeout: float) -> int:
    """Milliseconds for a ZeroMQ ``poll`` (never negative: ``-1`` would wait forever)."""
    return max(0, int(timeout * 1000))


def _left(deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (``None``: no limit)."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())
