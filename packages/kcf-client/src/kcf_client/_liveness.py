"""Whether the kernels behind listed connection files live: heartbeat pings, port probes and
the other evidence of life, for :func:`~kcf_client.list_kernels` and :func:`~kcf_client.prune`.

Liveness is checked for all files at once: one REQ socket per heartbeat, all polled by
one poller, so a hundred files take about as long as one timeout. A kernel is *dead* only
when that is provable: its heartbeat did not answer and every one of its five ports
refuses a connection on this machine (tcp), or has no listening socket file (ipc). A
remote address, or a port something still listens on, leaves the verdict ``unknown``.
Imported by :mod:`._listing` only once there is a valid file to judge.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import dataclasses
import os
import stat
import time
from collections.abc import Sequence
from pathlib import Path

from kcf_spec import Channel, ConnectionInfo

from ._entry import KernelEntry, KernelState
from ._sockets import configure_client_socket, ipc_refused, local_address, socket_type, tcp_refused

__all__ = ["judge", "confirm_dead", "ipc_socket_files"]


def _window() -> int:
    """How many heartbeat sockets may be open at once: well inside the process's file
    descriptor limit (each zmq socket holds two or three descriptors) and zmq's own socket
    limit (1,023 per context by default)."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # Windows: no rlimit; zmq's limit rules
        return 256
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 16
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:
        in_use = 64
    return max(4, min(512, (soft - in_use - 32) // 3))


class _Pinger:
    """Heartbeat pings in flight, at most ``window`` sockets at once, one poller for all.

    Pings are queued with :meth:`submit` and sent as slots free up; :meth:`poll` collects
    answers. Whatever is still queued or unanswered when the caller stops is unanswered.
    """

    def __init__(self, window: int) -> None:
        import zmq

        self._zmq = zmq
        self.window = window
        self.ctx = zmq.Context()
        self.ctx.setsockopt(zmq.LINGER, 0)
        self.poller = zmq.Poller()
        self.socks: dict[zmq.Socket[bytes], int] = {}
        self.queue: collections.deque[tuple[int, ConnectionInfo]] = collections.deque()
        self.answered: set[int] = set()
        self.failed: dict[int, str] = {}

    def submit(self, i: int, info: ConnectionInfo) -> None:
        self.queue.append((i, info))
        self._fill()

    def _fill(self) -> None:
        zmq = self._zmq
        while self.queue and len(self.socks) < self.window:
            i, info = self.queue[0]
            try:
                s = self.ctx.socket(socket_type(Channel.HB))
            except zmq.ZMQError as exc:  # out of descriptors after all: wait for a slot
                if self.socks:
                    self.window = max(1, len(self.socks))
                    return
                self.queue.popleft()
                self.failed[i] = f"cannot open a socket to ping it: {exc.strerror}"
                continue
            self.queue.popleft()
            try:
                configure_client_socket(s, info, Channel.HB)
                s.connect(info.connect_url(Channel.HB))
                s.send(b"ping", zmq.NOBLOCK)
            except zmq.ZMQError as exc:
                s.close(0)
                self.failed[i] = f"cannot ping it: {exc.strerror}"
                continue
            self.socks[s] = i
            self.poller.register(s, zmq.POLLIN)

    def queue_indices(self) -> list[int]:
        """The files still waiting for a free slot."""
        return [i for i, _ in self.queue]

    @property
    def busy(self) -> bool:
        return bool(self.socks or self.queue)

    def poll(self, seconds: float) -> None:
        """Wait up to ``seconds`` for answers (``0``: only collect those already here)."""
        if not self.socks:
            return
        for s, _ in self.poller.poll(max(0, int(seconds * 1000))):
            i = self.socks.pop(s)
            self.poller.unregister(s)
            with contextlib.suppress(self._zmq.ZMQError):
                s.recv(self._zmq.NOBLOCK)
            s.close(0)
            self.answered.add(i)
        self._fill()

    def close(self) -> None:
        for s in self.socks:
            s.close(0)
        self.socks.clear()
        self.ctx.term()


# -- evidence of life besides the ports ---------------------------------------------------


def _processes_naming(paths: Sequence[Path]) -> dict[Path, int]:
    """``{path: pid}`` for each file some other process names in its command line.

    A kernel being started or restarted (by jupyter_client, kcf, ...) runs as
    ``... -f /path/kernel-<id>.json`` for the second or more before it binds its ports:
    that process proves the file is in use. A process names the file by its absolute
    path, or by its bare name when the process runs in the file's directory. Linux only
    (``/proc``); elsewhere ``{}``. One pass over ``/proc`` per call, whatever the number
    of files.
    """
    if not paths:
        return {}
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return {}
    me = str(os.getpid())
    parts: list[str] = []
    starts: list[int] = []
    owners: list[int] = []
    at = 0
    for pid in pids:
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:  # procfs: never blocks
                raw = f.read(1 << 16)
        except OSError:
            continue
        if not raw:
            continue
        text = raw.decode("utf-8", "surrogateescape").replace("\0", "\n")
        starts.append(at)
        owners.append(int(pid))
        parts.append(text)
        at += len(text) + 1
    everything = "\n".join(parts)
    found: dict[Path, int] = {}
    for path in paths:
        k = everything.find(str(path))
        if k >= 0:
            found[path] = owners[bisect.bisect_right(starts, k) - 1]
            continue
        k = everything.find(path.name)
        while k >= 0:  # a bare name counts only in the file's directory
            owner = owners[bisect.bisect_right(starts, k) - 1]
            try:
                cwd = os.readlink(f"/proc/{owner}/cwd")
            except OSError:
                cwd = None
            if cwd == str(path.parent):
                found[path] = owner
                break
            k = everything.find(path.name, k + 1)
    return found


# -- verdicts -----------------------------------------------------------------------------


def _tcp_listening_ports() -> frozenset[int] | None:
    """Every TCP port some socket listens on in this network namespace (any address), read
    from ``/proc/net/tcp`` and ``tcp6`` at once; ``None`` where that cannot be read.

    A connection to a port nobody listens on is refused, so this answers the same question
    as a connection attempt per port, for all ports in one read. It is conservative: a
    listener on any address counts, whatever address the kernel's file names.
    """
    ports: set[int] = set()
    read_any = False
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name, "rb") as f:  # procfs: never blocks
                data = f.read()
        except FileNotFoundError:  # no IPv6 here, or not Linux
            continue
        except OSError:
            return None
        read_any = True
        for line in data.splitlines()[1:]:
            fields = line.split(None, 4)
            if len(fields) > 3 and fields[3] == b"0A":  # TCP_LISTEN
                with contextlib.suppress(ValueError):
                    ports.add(int(fields[1].rpartition(b":")[2], 16))
    return frozenset(ports) if read_any else None


def _port_open(
    info: ConnectionInfo, c: Channel, host: str | None, listening: frozenset[int] | None
) -> str | None:
    """Why channel ``c`` may be served (its port or socket answers), else ``None``."""
    port = info.port(c)
    if info.transport == "ipc":
        path = f"{info.ip}-{port}"
        return None if ipc_refused(path) else f"{c.value} socket {path} is still open"
    if listening is not None:
        return f"{c.value} port {port} has a listening socket" if port in listening else None
    if host is not None and not tcp_refused(host, port):
        return f"{c.value} port {port} accepts connections"
    return None


def _first_open(
    info: ConnectionInfo, host: str | None, listening: frozenset[int] | None
) -> str | None:
    """Why the kernel is not provably gone (a port or socket answers), else ``None``.

    The heartbeat is looked at first: while it refuses, no heartbeat can answer either.
    """
    for c in (Channel.HB, Channel.SHELL, Channel.IOPUB, Channel.STDIN, Channel.CONTROL):
        why = _port_open(info, c, host, listening)
        if why is not None:
            return why
    return None


def _probe_target(info: ConnectionInfo, hosts: dict[str, str | None]) -> tuple[bool, str | None]:
    """``(probeable, host)``: whether death can be proven from here, and the tcp address."""
    if info.transport == "ipc":
        return os.path.isabs(info.ip), None
    if info.ip not in hosts:
        hosts[info.ip] = local_address(info.ip)
    host = hosts[info.ip]
    return host is not None, host


def judge(entries: list[KernelEntry], timeout: float, grace: float) -> list[KernelEntry]:
    """Each valid entry's verdict: pings and port probes overlap (probe while waiting)."""
    out = list(entries)
    valid = [i for i, e in enumerate(entries) if e.info is not None]
    if not valid:
        return out
    no_hb = f"no heartbeat within {timeout:g} s"
    hosts: dict[str, str | None] = {}
    verdict: dict[int, tuple[KernelState, str]] = {}
    closed: list[int] = []  # every port refuses: dead unless something proves otherwise
    pinger = _Pinger(_window())
    try:
        deadline = time.monotonic() + timeout
        local: list[int] = []
        listening = _tcp_listening_ports()
        for i in valid:  # remote kernels first: their pings are in flight while we probe
            info = entries[i].info
            assert info is not None
            probeable, _ = _probe_target(info, hosts)
            if probeable:
                local.append(i)
            else:
                pinger.submit(i, info)
                if info.transport == "ipc":
                    why = f"ipc path {info.ip!r} is relative to the kernel's directory"
                else:
                    why = f"address {info.ip} is not on this machine"
                verdict[i] = (KernelState.UNKNOWN, f"{no_hb}; {why}")
        for n, i in enumerate(local):
            info = entries[i].info
            assert info is not None
            _, host = _probe_target(info, hosts)
            open_why = _first_open(info, host, listening)
            if open_why is None:
                closed.append(i)
            else:  # something listens: only the heartbeat can say it is this kernel
                pinger.submit(i, info)
                verdict[i] = (KernelState.UNKNOWN, f"{no_hb}; {open_why}")
            if n % 64 == 63:
                pinger.poll(0)  # collect answers, free slots for queued pings
        while pinger.busy and (left := deadline - time.monotonic()) > 0:
            pinger.poll(left)
        for i in pinger.queue_indices():
            state, why = verdict[i]
            verdict[i] = (state, f"not pinged: too many files to ping within {timeout:g} s")
        for i, why in pinger.failed.items():
            verdict[i] = (KernelState.UNKNOWN, why)
        for i in pinger.answered:
            verdict[i] = (KernelState.ALIVE, "heartbeat answered")
    finally:
        pinger.close()
    _judge_closed(entries, closed, grace, verdict)
    for i, (state, why) in verdict.items():
        out[i] = dataclasses.replace(entries[i], state=state, reason=why)
    return out


def _judge_closed(
    entries: list[KernelEntry],
    closed: list[int],
    grace: float,
    verdict: dict[int, tuple[KernelState, str]],
) -> None:
    """Verdicts for the entries whose ports all refuse: dead, unless young or in use."""
    old = []
    for i in closed:
        e = entries[i]
        why = _closed_why(e)
        if e.age is not None and e.age < grace:
            verdict[i] = (
                KernelState.UNKNOWN,
                f"{why}, but the file is {e.age:.0f} s old: starting or dead",
            )
        else:
            old.append(i)
    users = _processes_naming([entries[i].path for i in old])
    for i in old:
        e = entries[i]
        pid = users.get(e.path)
        if pid is not None:
            verdict[i] = (
                KernelState.UNKNOWN,
                f"{_closed_why(e)}, but process {pid} names the file: starting or restarting",
            )
        else:
            verdict[i] = (KernelState.DEAD, _closed_why(e))


def _closed_why(e: KernelEntry) -> str:
    if e.info is not None and e.info.transport == "ipc":
        return "no heartbeat; no ipc socket is listening"
    return "no heartbeat; every port refuses connections (no socket listens on it)"


def ipc_socket_files(info: ConnectionInfo) -> list[Path]:
    if info.transport != "ipc" or not os.path.isabs(info.ip):
        return []
    out = []
    for c in Channel:
        p = Path(f"{info.ip}-{info.port(c)}")
        try:
            if stat.S_ISSOCK(os.lstat(p).st_mode):
                out.append(p)
        except OSError:
            continue
    return out


def confirm_dead(
    entries: list[KernelEntry], confirm: float
) -> tuple[list[KernelEntry], list[KernelEntry]]:
    """``(still dead, came alive)``: the dead entries watched for ``confirm`` seconds.

    Every quarter second the heartbeat port (or socket) is probed and ``/proc`` scanned;
    at the end every port is probed again. Any sign of life keeps the file: a restart
    closes the ports for a second or two and runs a new process with the same file.
    """
    hosts: dict[str, str | None] = {}
    dead = list(entries)
    alive: list[KernelEntry] = []
    deadline = time.monotonic() + confirm
    while dead:
        left = deadline - time.monotonic()
        final = left <= 0
        if not final:
            time.sleep(min(0.25, left))
        still = []
        users = _processes_naming([e.path for e in dead])
        listening = _tcp_listening_ports()
        for e in dead:
            assert e.info is not None
            pid = users.get(e.path)
            why: str | None
            if pid is not None:
                why = f"process {pid} names the file: starting or restarting"
            else:
                _, host = _probe_target(e.info, hosts)
                if final:
                    why = _first_open(e.info, host, listening)
                else:
                    why = _port_open(e.info, Channel.HB, host, listening)
            if why is None:
                still.append(e)
            else:
                alive.append(
                    dataclasses.replace(
                        e,
                        state=KernelState.UNKNOWN,
                        reason=f"came back within {confirm:g} s: {why}",
                    )
                )
        dead = still
        if final:
            break
    return dead, alive
