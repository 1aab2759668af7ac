"""A dropped iopub connection (a healed SSH forward, a network blip): ZeroMQ reconnects
it, and the next request must not run before the subscription is live again, else its
busy/idle status is published unheard (the request looked "lost" and never ended)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from kcf_client import connect
from kcf_spec import Channel, ConnectionInfo

pytestmark = pytest.mark.interop


class Relay:
    """A TCP relay from a local port to a kernel port that a test can cut.

    :meth:`cut` closes every relayed connection; with ``refuse=True`` new connections are
    then accepted and closed at once (each counted in :attr:`refused`) until :meth:`heal`.
    """

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.refusing = False
        self.refused = threading.Semaphore(0)
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if self.refusing:
                conn.close()
                self.refused.release()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target), timeout=10)
            upstream.settimeout(None)
            with self._lock:
                self._conns += [conn, upstream]
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self, *, refuse: bool) -> None:
        self.refusing = refuse
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def heal(self) -> None:
        self.refusing = False

    def close(self) -> None:
        self.cut(refuse=True)
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        self.listener.close()
        self._thread.join(10)


@pytest.fixture
def relays(ipykernel_file: Path) -> Iterator[tuple[ConnectionInfo, dict[Channel, Relay]]]:
    """The module's ipykernel with shell and iopub through relays (the rest direct)."""
    info = ConnectionInfo.load(ipykernel_file)
    made = {ch: Relay(info.ports[ch]) for ch in (Channel.SHELL, Channel.IOPUB)}
    local = info.replace(ports={**info.ports, **{ch: r.port for ch, r in made.items()}})
    try:
        yield local, made
    finally:
        for r in made.values():
            r.close()


def _watch_idle(info: ConnectionInfo, session: str, ready: threading.Event) -> threading.Event:
    """Set the returned event when the kernel (seen directly) goes idle for ``session``."""
    seen = threading.Event()
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.linger = 0
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(info.connect_url(Channel.IOPUB))

    def run() -> None:
        try:
            ready.set()
            while not seen.is_set():
                if not sub.poll(60_000):
                    return
                frames = sub.recv_multipart()
                i = frames.index(b"<IDS|MSG>")
                content, parent = json.loads(frames[i + 5]), json.loads(frames[i + 3])
                if parent.get("session") == session and content.get("execution_state") == "idle":
                    seen.set()
        finally:
            sub.close(0)
            ctx.term()

    threading.Thread(target=run, daemon=True).start()
    return seen


def test_execute_after_iopub_reconnect_waits_for_the_subscription(
    ipykernel_file: Path, relays: tuple[ConnectionInfo, dict[Channel, Relay]]
) -> None:
    """Shell comes back before iopub: the execute must still get its output and end."""
    local, relay = relays
    direct = ConnectionInfo.load(ipykernel_file)
    with connect(local) as kc:
        assert kc.execute("reconnected = 'yes'", timeout=60).error is None
        kc.lost_request_after = 3.0
        # iopub refuses reconnects; shell reconnects at once.
        relay[Channel.IOPUB].cut(refuse=True)
        relay[Channel.SHELL].cut(refuse=False)
        # The client's iopub socket has seen the drop once it tries to reconnect.
        assert relay[Channel.IOPUB].refused.acquire(timeout=60)
        listening = threading.Event()
        idle = _watch_idle(direct, kc.codec.session, listening)
        assert listening.wait(60)

        def heal_when_idle() -> None:
            # The kernel has answered something of ours while iopub was away: only now
            # may iopub come back (before the fix, that something was the execute).
            if idle.wait(60):
                relay[Channel.IOPUB].heal()

        healer = threading.Thread(target=heal_when_idle, daemon=True)
        healer.start()
        result = kc.execute("reconnected", timeout=60)
        healer.join(60)
        assert result.result == {"text/plain": "'yes'"}
