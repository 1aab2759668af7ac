"""The sans-I/O connection core, driven against an in-memory kernel built on Codec.

No sockets, no threads, no real time: a driver hands the core's outbox to the kernel,
feeds the kernel's answers back to the core, and advances a fake clock when a wait would
sleep, the way h11 is tested through a fake link.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Generator, Mapping
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kcf_client import KernelDied, KernelTimeout
from kcf_client._core import CLOSED_STREAK, STARTUP_GRACE, Core, Waiting
from kcf_client._errors import MalformedReply
from kcf_spec import Channel, Codec, ConnectionInfo, Message, RemoteProtocolError

_T = TypeVar("_T")

#: What the kernel answers to a request: (channel, msg_type, content) triples, parent set.
Script = Callable[[Message], list[tuple[Channel, str, dict[str, Any]]]]


def info(key: bytes | None = None) -> ConnectionInfo:
    ports = {c: 50000 + i for i, c in enumerate(Channel)}
    return ConnectionInfo.from_ports(
        ports, key=secrets.token_hex(16).encode() if key is None else key
    )


def ipykernel_like(msg: Message) -> list[tuple[Channel, str, dict[str, Any]]]:
    """A well-behaved kernel: busy, the reply (and for execute a result), idle."""
    rtype = msg.msg_type.replace("_request", "_reply")
    out: list[tuple[Channel, str, dict[str, Any]]] = [
        (Channel.IOPUB, "status", {"execution_state": "busy"})
    ]
    if msg.msg_type == "execute_request":
        out.append((Channel.IOPUB, "stream", {"name": "stdout", "text": "hi\n"}))
        out.append(
            (Channel.IOPUB, "execute_result", {"data": {"text/plain": "2"}, "execution_count": 1})
        )
        out.append((Channel.SHELL, rtype, {"status": "ok", "execution_count": 1}))
    else:
        out.append((Channel.SHELL, rtype, {"status": "ok", "implementation": "mem"}))
    out.append((Channel.IOPUB, "status", {"execution_state": "idle"}))
    return out


class MemoryKernel:
    """Parses requests with its own codec and answers them as ``script`` says."""

    def __init__(self, info: ConnectionInfo, script: Script = ipykernel_like) -> None:
        self.codec = Codec.from_connection(info)
        self.script = script
        self.alive = True
        self.received: list[Message] = []

    def handle(self, channel: Channel, frames: list[bytes]) -> list[tuple[Channel, list[bytes]]]:
        if not self.alive:
            return []
        msg = self.codec.parse(frames)
        self.received.append(msg)
        out = []
        for ch, mtype, content in self.script(msg):
            reply = self.codec.message(mtype, content, parent=msg)
            out.append((ch, self.codec.serialize(reply)))
        return out


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Driver:
    """Runs a core's steps against a :class:`MemoryKernel`, on a fake clock."""

    def __init__(self, core: Core, kernel: MemoryKernel, *, file_age: float | None = None) -> None:
        self.core = core
        self.kernel = kernel
        self.clock = Clock()
        core.clock = self.clock
        self.file_age = file_age
        self.inbox: list[tuple[Channel, list[bytes]]] = []
        self.checks = 0

    def flush(self) -> None:
        while self.core.outbox:
            channel, _mid, _t, frames = self.core.outbox.pop(0)
            self.inbox.extend(self.kernel.handle(channel, frames))

    def wait(self, w: Waiting) -> None:
        self.flush()
        while not w.done():
            sleep = w.due_in()
            mine = [x for x in self.inbox if x[0] in w.channels]
            if mine:
                self.inbox.remove(mine[0])
                self.core.feed(*mine[0])
                w.arrived()
                continue
            self.clock.now += sleep + 1e-6
            if w.quiet():
                self.flush()
                self.checks += 1
                alive = self.kernel.alive
                w.checked(alive, None if alive else True, self.file_age)
            self.flush()

    def run(self, steps: Generator[Waiting, None, _T]) -> _T:
        try:
            w = next(steps)
            while True:
                try:
                    self.wait(w)
                except BaseException as exc:  # noqa: BLE001 - handed to the steps
                    w = steps.throw(exc)
                else:
                    w = next(steps)
        except StopIteration as stop:
            result: _T = stop.value
            return result


def execute_content(code: str = "1+1") -> Mapping[str, Any]:
    return {
        "code": code,
        "silent": False,
        "store_history": True,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": True,
    }


def pair(script: Any = ipykernel_like, **kw: Any) -> tuple[Core, MemoryKernel, Driver]:
    i = info()
    core = Core(i)
    kernel = MemoryKernel(i, script)
    return core, kernel, Driver(core, kernel, **kw)


class TestCoreRequests:
    def test_core_kernel_info_round_trip(self) -> None:
        """A request's frames go through the outbox; its reply comes back through feed."""
        core, kernel, drive = pair()
        reply = drive.run(core.request(Channel.SHELL, "kernel_info_request", {}, 10.0))
        assert reply.content["implementation"] == "mem"
        assert [m.msg_type for m in kernel.received] == ["kernel_info_request"]
        assert core.outbox == []
        assert core._boxes == {}
        assert core._sent == {}

    def test_core_execute_folds_output(self) -> None:
        """execute collects the stream and the result until idle, then forgets the request."""
        core, _, drive = pair()
        core.iopub_live = True
        r = drive.run(core.execute(execute_content(), 10.0, 10.0))
        assert (r.status, r.stdout, r.text, r.execution_count) == ("ok", "hi\n", "2", 1)
        assert core._boxes == {}

    def test_core_execute_proves_iopub_before_sending(self) -> None:
        """Without a live iopub, execute pokes kernel_info until iopub speaks, then runs."""
        core, kernel, drive = pair()
        r = drive.run(core.execute(execute_content(), 10.0, 10.0))
        assert r.ok
        assert [m.msg_type for m in kernel.received] == ["kernel_info_request", "execute_request"]

    def test_core_forget_unsends_queued_frames(self) -> None:
        """A request forgotten before it went out is never sent (no stale execute later)."""
        core = Core(info())
        msg = core.send(Channel.SHELL, "execute_request", execute_content())
        core.forget(msg.msg_id)
        assert core.outbox == []

    def test_core_drops_replies_not_waited_for(self) -> None:
        """A reply whose parent nobody waits for is dropped, but proves the key right."""
        core, kernel, _ = pair()
        stray = kernel.codec.message("kernel_info_reply", {}, parent=kernel.codec.message("x", {}))
        assert core.feed(Channel.SHELL, kernel.codec.serialize(stray)) is None
        assert core.heard == 1


class TestCoreLiveness:
    def test_core_dead_kernel_raises_died_promptly(self) -> None:
        """A kernel already dead is found at the first check (0.25 s), not at the timeout."""
        core, kernel, drive = pair()
        kernel.alive = False
        start = drive.clock.now
        with pytest.raises(KernelDied, match="every port refuses"):
            drive.run(core.request(Channel.SHELL, "kernel_info_request", {}, 30.0))
        assert drive.clock.now - start < 1.0

    def test_core_wait_until_ready_dead_kernel_old_file(self) -> None:
        """wait_until_ready: ports refusing for a while and an old file mean KernelDied."""
        core, kernel, drive = pair(file_age=3600.0)
        kernel.alive = False
        start = drive.clock.now
        with pytest.raises(KernelDied, match="not running"):
            drive.run(core.wait_until_ready(30.0))
        assert CLOSED_STREAK <= drive.clock.now - start < CLOSED_STREAK + 1.5

    def test_core_wait_until_ready_starting_kernel_is_given_time(self) -> None:
        """A fresh file with closed ports is a kernel starting: no KernelDied before the grace."""
        core, kernel, drive = pair(file_age=0.0)
        kernel.alive = False
        with pytest.raises(KernelDied):
            drive.run(core.wait_until_ready(60.0))
        assert drive.clock.now - 1000.0 >= STARTUP_GRACE

    def test_core_wrong_key_timeout_says_key(self) -> None:
        """Heartbeat answers, messages ignored: the timeout names the key as the likely cause."""
        core, _, drive = pair(script=lambda m: [])
        with pytest.raises(KernelTimeout, match="answers its heartbeat but ignores our messages"):
            drive.run(core.request(Channel.SHELL, "kernel_info_request", {}, 1.0))

    def test_core_lost_execute_request_is_reported(self) -> None:
        """An idle kernel that never says busy for our execute: KernelTimeout naming it lost."""

        def loses_execute(m: Message) -> list[tuple[Channel, str, dict[str, Any]]]:
            return [] if m.msg_type == "execute_request" else ipykernel_like(m)

        core, _, drive = pair(script=loses_execute)
        core.iopub_live = True
        with pytest.raises(KernelTimeout, match=r"execute_request.*probably lost") as err:
            drive.run(core.execute(execute_content(), None, 5.0))
        assert err.value.request == "execute_request"
        assert drive.clock.now - 1000.0 < 6.0


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_fields = {
    "stream": ["name", "text"],
    "execute_result": ["data", "execution_count"],
    "display_data": ["data"],
    "error": ["ename", "evalue", "traceback"],
    "execute_reply": ["status", "execution_count", "ename", "evalue", "traceback"],
}


@st.composite
def odd_outputs(draw: st.DrawFn) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for t in draw(st.lists(st.sampled_from(sorted(_fields)), min_size=1, max_size=4)):
        content = {k: draw(_json) for k in draw(st.lists(st.sampled_from(_fields[t]), unique=True))}
        out.append((t, content))
    return out


class TestCoreOddReplies:
    @settings(max_examples=300, deadline=None)
    @given(outputs=odd_outputs())
    def test_core_oddly_shaped_replies_never_crash(
        self, outputs: list[tuple[str, dict[str, Any]]]
    ) -> None:
        """Any JSON in any field of the execute messages: a result, or MalformedReply."""
        reply = next((c for t, c in outputs if t == "execute_reply"), {"status": "ok"})

        def odd(m: Message) -> list[tuple[Channel, str, dict[str, Any]]]:
            if m.msg_type != "execute_request":
                return ipykernel_like(m)
            iopub = [(Channel.IOPUB, t, c) for t, c in outputs if t != "execute_reply"]
            return [
                (Channel.IOPUB, "status", {"execution_state": "busy"}),
                *iopub,
                (Channel.SHELL, "execute_reply", reply),
                (Channel.IOPUB, "status", {"execution_state": "idle"}),
            ]

        core, _, drive = pair(script=odd)
        core.iopub_live = True
        try:
            r = drive.run(core.execute(execute_content(), 10.0, 10.0))
        except MalformedReply as exc:
            bad: MalformedReply | None = exc
        else:
            bad = None
        if bad is not None:
            assert isinstance(bad, RemoteProtocolError)
            assert bad.pointer.startswith("/content/")
            return
        json.dumps(r.to_dict())
        _ = (r.ok, r.text)
        if not r.ok:
            with pytest.raises(Exception, match="execution failed"):
                r.raise_for_error()

    @pytest.mark.parametrize(
        ("msg_type", "content", "pointer"),
        [
            ("error", {"ename": "E", "evalue": "v", "traceback": 5}, "/content/traceback"),
            ("execute_result", {"data": ["text/plain"]}, "/content/data"),
            ("execute_result", {"data": "2"}, "/content/data"),
            ("stream", {"name": "stdout", "text": 3}, "/content/text"),
        ],
    )
    def test_core_malformed_reply_names_field(
        self, msg_type: str, content: dict[str, Any], pointer: str
    ) -> None:
        """The shapes seen crashing 0.1.0 raise MalformedReply naming the field."""

        def odd(m: Message) -> list[tuple[Channel, str, dict[str, Any]]]:
            out = ipykernel_like(m)
            if m.msg_type == "execute_request":
                out.insert(1, (Channel.IOPUB, msg_type, content))
            return out

        core, _, drive = pair(script=odd)
        core.iopub_live = True
        with pytest.raises(MalformedReply) as err:
            drive.run(core.execute(execute_content(), 10.0, 10.0))
        assert err.value.pointer == pointer
        assert msg_type in str(err.value)
