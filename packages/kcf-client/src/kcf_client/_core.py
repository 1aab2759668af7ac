"""The core shared by the blocking and the asyncio connection: no I/O of its own.

It knows which socket each channel uses and how to configure it, builds and signs
requests with :class:`kcf_spec.Codec`, parses what arrives, keeps the messages that answer
a request still waited for (keyed by channel and parent ``msg_id``) and drops the rest,
and turns collected messages into results. The two layers only move frames.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kcf_spec import Channel, Codec, ConnectionInfo, WireError

from ._errors import KernelDied

if TYPE_CHECKING:
    import zmq
    from kcf_spec import Message

    from ._results import ErrorInfo, ExecuteResult

__all__ = ["Core", "resolve", "socket_type"]


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
        from ._results import ExecuteResult

        """Fold the reply and the iopub output of execute request ``msg_id``."""
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
