"""The connection core, sans I/O: requests and waits are pure steps.

:class:`Core` signs requests with :class:`kcf_spec.Codec` into an *outbox* of frames,
takes received frames through :meth:`Core.feed`, keeps the messages that answer a request
still waited for (keyed by channel and parent ``msg_id``) and drops the rest. Every
request is written once as *steps*: a generator that queues what to send and yields a
:class:`Waiting` each time it must wait for the kernel. :class:`Waiting` says what must
happen, by when, and when the kernel's liveness is due for a check; it takes the answers
of the checks (heartbeat, port probe) but makes none.

The I/O is in the layers: ``_link_sync``/``_link_async`` hold the sockets and
``asyncio.py`` (from which ``_blocking.py`` is generated) drives the steps. Tests drive
the same steps against an in-memory kernel, without sockets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kcf_spec import Channel, Codec, ConnectionInfo, WireError

from ._errors import KernelDied, KernelTimeout

if TYPE_CHECKING:
    from collections.abc import Generator
    from pathlib import Path
    from typing import TypeAlias, TypeVar

    from kcf_spec import Message

    from ._results import ExecuteResult

    _T = TypeVar("_T")
    #: A request written once: it yields each wait, and returns the request's result.
    Steps: TypeAlias = Generator["Waiting", None, _T]

__all__ = ["DATA_CHANNELS", "Core", "Waiting", "execute_content", "poll_ms"]

#: The channels a connection opens at once (the heartbeat socket is opened on first ping).
DATA_CHANNELS = (Channel.SHELL, Channel.IOPUB, Channel.STDIN, Channel.CONTROL)

#: How soon a wait first checks the kernel's liveness (then every ``liveness_interval``).
FIRST_CHECK = 0.25

#: A kernel is taken for dead by ``wait_until_ready`` once its ports have refused for this
#: long by our own probes (a restart closes them for a second or two)...
CLOSED_STREAK = 2.5
#: ...and for this long since its connection file was written (a kernel still starting).
STARTUP_GRACE = 15.0

_WRONG_KEY = (
    "the kernel answers its heartbeat but ignores our messages: unless it is busy, the key "
    "or the signature scheme of the connection file is the likely cause"
)


class Core:
    """Codec, waiting requests and outbox of one connection; no I/O.

    Attributes:
        outbox: ``(channel, msg_id, msg_type, frames)`` queued to be sent, in order.
        heard: how many correctly signed messages arrived (any channel, ours or not).
        iopub_live: whether anything arrived on iopub since its connection was last
            (re)made (the subscription is live).
        iopub_drops: how many times the iopub connection dropped (ZeroMQ reconnects it).
        other_busy: whether the last status on iopub, for a request not ours, was busy.
        clock: the monotonic clock waits use (tests may replace it).
    """

    __slots__ = (
        "_boxes",
        "_sent",
        "clock",
        "codec",
        "heard",
        "info",
        "iopub_drops",
        "iopub_live",
        "last_wire_error",
        "liveness_interval",
        "name",
        "other_busy",
        "outbox",
        "path",
    )

    def __init__(
        self,
        info: ConnectionInfo,
        path: Path | None = None,
        codec: Codec | None = None,
        *,
        liveness_interval: float = 2.0,
    ) -> None:
        self.info = info
        self.path = path
        self.name = str(path) if path is not None else info.connect_url(Channel.SHELL)
        self.codec = codec if codec is not None else Codec.from_connection(info)
        self._boxes: dict[tuple[Channel, str], list[Message]] = {}
        self._sent: dict[str, Channel] = {}
        self.outbox: list[tuple[Channel, str, str, list[bytes]]] = []
        self.last_wire_error: str | None = None
        self.iopub_live = False
        self.iopub_drops = 0
        self.other_busy = False
        self.heard = 0
        self.liveness_interval = liveness_interval
        self.clock: Callable[[], float] = time.monotonic

    # -- sending and receiving ----------------------------------------------------------

    def send(
        self,
        channel: Channel,
        msg_type: str,
        content: Mapping[str, Any] | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        collect_iopub: bool = False,
    ) -> Message:
        """Build and sign a request, queue its frames, and start waiting for its reply."""
        msg = self.codec.message(msg_type, content, metadata=metadata)
        mid = msg.msg_id
        self._sent[mid] = channel
        self._boxes[(channel, mid)] = []
        if collect_iopub:
            self._boxes[(Channel.IOPUB, mid)] = []
        self.outbox.append((channel, mid, msg_type, self.codec.serialize(msg)))
        return msg

    def forget(self, msg_id: str) -> None:
        """Stop waiting for anything answering ``msg_id``; unsend it if still queued."""
        channel = self._sent.pop(msg_id, None)
        if channel is None:
            return
        self._boxes.pop((channel, msg_id), None)
        self._boxes.pop((Channel.IOPUB, msg_id), None)
        if self.outbox:
            self.outbox = [o for o in self.outbox if o[1] != msg_id]

    def feed(self, channel: Channel, frames: Sequence[Any]) -> Message | None:
        """Take the frames of one received message; keep it when it answers a request
        still waited for. Returns the message, or ``None`` when it was dropped."""
        try:
            msg = self.codec.parse(frames)
        except WireError as exc:
            self.last_wire_error = f"{type(exc).__name__}: {exc}"
            return None
        self.heard += 1
        parent = msg.parent_msg_id
        box = self._boxes.get((channel, parent)) if parent is not None else None
        if channel is Channel.IOPUB:
            self.iopub_live = True
            if box is None and msg.msg_type == "status":
                self.other_busy = msg.content.get("execution_state") == "busy"
        if box is None:
            return None
        box.append(msg)
        return msg

    def iopub_dropped(self) -> None:
        """The iopub connection dropped (a restarted kernel, a healed SSH forward...).

        ZeroMQ reconnects it and subscribes again, but what the kernel publishes before
        the subscription reaches it is lost: the subscription is not known live until
        iopub speaks again, so the next request proves it first (see :meth:`execute`).
        """
        self.iopub_live = False
        self.other_busy = False
        self.iopub_drops += 1

    def messages(self, channel: Channel, msg_id: str) -> list[Message]:
        """What has arrived so far on ``channel`` for request ``msg_id``."""
        return self._boxes.get((channel, msg_id), [])

    def reply(self, channel: Channel, msg_id: str) -> Message | None:
        """The reply to ``msg_id`` on ``channel``, once it has arrived."""
        for m in self._boxes.get((channel, msg_id), ()):
            if m.msg_type.endswith("_reply"):
                return m
        return None

    def status_seen(self, msg_id: str, state: str) -> bool:
        """Whether iopub has given status ``state`` for request ``msg_id``."""
        return any(
            m.msg_type == "status" and m.content.get("execution_state") == state
            for m in self._boxes.get((Channel.IOPUB, msg_id), ())
        )

    def timeout_detail(self, heartbeat_answered: bool) -> str:
        """Why a wait may have timed out, for its error message."""
        if self.last_wire_error is not None:
            return f"a message was refused ({self.last_wire_error}); is the key right?"
        if heartbeat_answered and self.heard == 0:
            return _WRONG_KEY
        return ""

    def died(self, channel: Channel | None, request: str, why: str) -> KernelDied:
        """The error for a kernel found dead while waiting."""
        return KernelDied(kernel=self.name, channel=channel, request=request, why=why)

    # -- requests, written once as steps ------------------------------------------------

    def wait(
        self,
        done: Callable[[], bool],
        channels: tuple[Channel, ...],
        timeout: float | None,
        request: str,
        **kw: Any,
    ) -> Waiting:
        """A :class:`Waiting` on this core (see there for the keywords)."""
        return Waiting(self, done, channels, timeout, request, **kw)

    def get_reply(
        self, request: Message, channel: Channel, timeout: float | None
    ) -> Steps[Message]:
        """Steps: wait for the reply to ``request`` on ``channel``."""
        mid = request.msg_id
        box = self._boxes.get((channel, mid))
        try:
            if box is None or not any(m.msg_type.endswith("_reply") for m in box):
                yield self.wait(
                    lambda: self.reply(channel, mid) is not None,
                    (channel,),
                    timeout,
                    request.msg_type,
                )
            reply = self.reply(channel, mid)
            assert reply is not None
            return reply
        finally:
            self.forget(mid)

    def request(
        self,
        channel: Channel,
        msg_type: str,
        content: Mapping[str, Any] | None,
        timeout: float | None,
    ) -> Steps[Message]:
        """Steps: send a request and wait for its reply."""
        return (yield from self.get_reply(self.send(channel, msg_type, content), channel, timeout))

    def _poker(self, sent: list[str]) -> Callable[[], None]:
        def poke() -> None:
            sent.append(self.send(Channel.SHELL, "kernel_info_request", {}).msg_id)

        return poke

    def _first_reply(self, sent: list[str]) -> Message | None:
        for m in sent:
            r = self.reply(Channel.SHELL, m)
            if r is not None:
                return r
        return None

    def wait_until_ready(self, timeout: float) -> Steps[Mapping[str, Any]]:
        """Steps: send ``kernel_info_request`` until one is answered (a kernel starting)."""
        sent: list[str] = []
        poke = self._poker(sent)
        poke()
        try:
            yield self.wait(
                lambda: self._first_reply(sent) is not None,
                (Channel.SHELL,),
                timeout,
                "kernel_info_request",
                starting=True,
                resend=poke,
            )
            reply = self._first_reply(sent)
            assert reply is not None
            return reply.content
        finally:
            for m in sent:
                self.forget(m)

    def _ensure_iopub(self, deadline: float | None, budget: float | None) -> Steps[None]:
        """Make sure the iopub subscription is live, so no output of ours is missed."""
        if self.iopub_live:
            return
        sent: list[str] = []
        # No poke up front: iopub output queued from earlier requests (or ipykernel's
        # iopub_welcome) usually proves the subscription at once, and a kernel_info_request
        # sent right before the execute_request is what ipykernel 7 sometimes loses the
        # execute_request after. Poke only after a quiet ``resend_every``.
        try:
            yield self.wait(
                lambda: self.iopub_live,
                (Channel.IOPUB, Channel.SHELL),
                _left(deadline, self.clock),
                "execute_request (waiting for the iopub subscription)",
                resend=self._poker(sent),
                resend_every=0.25,
                reported_timeout=budget,
            )
        finally:
            for m in sent:
                self.forget(m)

    def execute(
        self, content: Mapping[str, Any], timeout: float | None, lost_after: float | None
    ) -> Steps[ExecuteResult]:
        """Steps: run code and collect its output until the kernel is idle again."""
        deadline = None if timeout is None else self.clock() + timeout
        yield from self._ensure_iopub(deadline, timeout)
        mid = self.send(Channel.SHELL, "execute_request", content, collect_iopub=True).msg_id
        drops = self.iopub_drops

        def lost() -> bool:
            # Not started (no busy for it) while the kernel is not busy with another request,
            # and iopub stayed connected (else its busy may have been published unheard).
            return (
                self.iopub_drops == drops
                and not self.other_busy
                and not self.status_seen(mid, "busy")
            )

        try:
            yield self.wait(
                lambda: (
                    self.reply(Channel.SHELL, mid) is not None and self.status_seen(mid, "idle")
                ),
                (Channel.SHELL, Channel.IOPUB),
                _left(deadline, self.clock),
                "execute_request",
                reported_timeout=timeout,
                lost=None if lost_after is None else (lost_after, lost),
            )
            from ._results import fold_execute

            reply = self.reply(Channel.SHELL, mid)
            assert reply is not None
            return fold_execute(reply, self.messages(Channel.IOPUB, mid), self.name)
        finally:
            self.forget(mid)


class Waiting:
    """One wait for the kernel: what must happen, where, by when, and its liveness checks.

    A layer flushes :attr:`Core.outbox`, then receives on :attr:`channels` until
    :meth:`done` returns ``True``. Before each receive it asks :meth:`due_in` how long it
    may sleep (which raises :class:`KernelTimeout` once the deadline has passed, or the
    request is found lost); after a quiet sleep, :meth:`quiet` queues what is due again
    and says whether a liveness check is due. The layer then pings the heartbeat (for
    at most :meth:`ping_timeout`), probes the ports when the ping failed, and hands the
    answers to :meth:`checked` (which raises :class:`KernelDied`). No I/O here.
    """

    __slots__ = (
        "_closed_since",
        "_core",
        "_hb_answered",
        "_lost",
        "_misses",
        "_next_check",
        "_next_send",
        "_resend",
        "_resend_every",
        "_start",
        "_starting",
        "channels",
        "deadline",
        "done",
        "reported_timeout",
        "request",
    )

    def __init__(
        self,
        core: Core,
        done: Callable[[], bool],
        channels: tuple[Channel, ...],
        timeout: float | None,
        request: str,
        *,
        starting: bool = False,
        resend: Callable[[], None] | None = None,
        resend_every: float = 1.0,
        reported_timeout: float | None = None,
        lost: tuple[float, Callable[[], bool]] | None = None,
    ) -> None:
        now = core.clock()
        self._core = core
        self.done = done
        self.channels = channels
        self.request = request
        self.deadline = None if timeout is None else now + timeout
        # What a timeout error names: the caller's whole budget when this wait is one
        # part of a longer request (``timeout`` is then only what was left of it).
        self.reported_timeout = timeout if reported_timeout is None else reported_timeout
        self._start = now
        self._starting = starting
        self._resend = resend
        self._resend_every = resend_every
        self._lost = lost
        self._next_check = now + min(FIRST_CHECK, core.liveness_interval)
        self._next_send = now + resend_every
        self._misses = 0
        self._hb_answered = False
        self._closed_since: float | None = None

    def timed_out(self, detail: str = "") -> KernelTimeout:
        """The error for this wait running out of time."""
        return KernelTimeout(
            kernel=self._core.name,
            channel=self.channels[0],
            timeout=0.0 if self.reported_timeout is None else self.reported_timeout,
            request=self.request,
            detail=detail or self._core.timeout_detail(self._hb_answered),
        )

    def left(self) -> float | None:
        """Seconds left until the deadline (``None``: no limit)."""
        return _left(self.deadline, self._core.clock)

    def postpone(self) -> None:
        """Skip a liveness check that is due (too little time is left for a ping)."""
        self._next_check = self._core.clock() + self._core.liveness_interval

    def due_in(self) -> float:
        """Seconds until the next deadline, check or resend; raise once timed out."""
        now = self._core.clock()
        due = self._next_check
        if self.deadline is not None:
            if now >= self.deadline:
                raise self.timed_out()
            due = min(due, self.deadline)
        if self._resend is not None:
            due = min(due, self._next_send)
        if self._lost is not None:
            after, lost = self._lost
            if now - self._start >= after and lost():
                raise self.timed_out(
                    f"the kernel never started it (no busy status within {after:g} s while "
                    "it was not busy with another request): the request was probably lost"
                )
            due = min(due, self._start + after) if now - self._start < after else due
        return max(0.0, due - now)

    def arrived(self) -> None:
        """Something was received: the kernel is talking."""
        self._misses = 0

    def quiet(self) -> bool:
        """After a sleep with nothing received: queue a resend if due; whether a liveness
        check is due."""
        now = self._core.clock()
        if self._resend is not None and now >= self._next_send:
            self._resend()
            self._next_send = now + self._resend_every
        return now >= self._next_check

    def ping_timeout(self) -> float:
        """How long the layer may wait for the heartbeat's echo (within the deadline)."""
        limit = min(1.0, self._core.liveness_interval)
        if self.deadline is not None:
            limit = min(limit, self.deadline - self._core.clock())
        return max(0.0, limit)

    def checked(
        self, alive: bool, ports_closed: bool | None = None, file_age: float | None = None
    ) -> None:
        """Take a check's answers; raise :class:`KernelDied` when the kernel is gone.

        Args:
            alive: the heartbeat answered.
            ports_closed: (when not alive) every port refused connections on this machine.
            file_age: seconds since the connection file was written, when there is one.
        """
        now = self._core.clock()
        self._next_check = now + self._core.liveness_interval
        if alive:
            self._misses = 0
            self._hb_answered = True
            self._closed_since = None
            return
        self._misses += 1
        why = None
        if ports_closed:
            if self._closed_since is None:
                self._closed_since = now
            if not self._starting:
                why = "its heartbeat is silent and every port refuses connections"
            else:
                # A kernel still starting has no ports yet: dead only once they have
                # refused for a while by our probes and since its file was written.
                streak = now - self._closed_since
                since_start = max(streak, file_age if file_age is not None else streak)
                if streak >= CLOSED_STREAK and since_start >= STARTUP_GRACE:
                    why = (
                        f"every port has refused connections for {streak:.0f} s and its "
                        f"connection file is {since_start:.0f} s old: it is not running"
                    )
                self._next_check = now + min(0.5, self._core.liveness_interval)
        else:
            self._closed_since = None
            if self._misses >= 2 and not self._starting:
                why = "its heartbeat stopped answering"
        if why is not None:
            raise self._core.died(self.channels[0], self.request, why)


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


def poll_ms(timeout: float) -> int:
    """Milliseconds for a ZeroMQ ``poll`` (never negative: ``-1`` would wait forever)."""
    return max(0, int(timeout * 1000))


def _left(deadline: float | None, clock: Callable[[], float]) -> float | None:
    """Seconds left until ``deadline`` (``None``: no limit)."""
    return None if deadline is None else max(0.0, deadline - clock())
