"""Listing connection files with their kernels' liveness, and pruning the dead ones.

Liveness is checked for all files at once: one REQ socket per heartbeat, all polled by
one poller, so a hundred files take about as long as one timeout. A kernel is *dead* only
when that is provable: its heartbeat did not answer and every one of its five ports
refuses a connection on this machine (tcp), or has no listening socket file (ipc). A
remote address, or a port something still listens on, leaves the verdict ``unknown``.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import dataclasses
import enum
import os
import stat
import time
from collections.abc import Sequence
from pathlib import Path

from kcf_spec import Channel, ConnectionInfo, KcfError

from ._scan import scan_dir, search_dirs
from ._sockets import configure_client_socket, ipc_refused, local_address, socket_type, tcp_refused

__all__ = [
    "KernelState",
    "KernelEntry",
    "PruneResult",
    "list_kernels",
    "prune",
    "DEFAULT_PATTERN",
    "DEFAULT_GRACE",
    "DEFAULT_CONFIRM",
]

#: The files :func:`list_kernels` and :func:`prune` look at in each directory.
DEFAULT_PATTERN = "kernel-*.json"
#: Seconds during which a file whose ports are all closed may belong to a kernel that is
#: still starting (its writer writes the file, then the kernel binds): never called dead.
DEFAULT_GRACE = 10.0
#: Seconds for which :func:`prune` watches a dead kernel before removing its file: longer
#: than a kernel restart keeps its ports closed (one to two seconds, more under load).
DEFAULT_CONFIRM = 3.0


class KernelState(str, enum.Enum):
    """What is known about the kernel behind a connection file.

    .. versionadded:: 0.1.0
    """

    ALIVE = "alive"  #: the heartbeat answered
    DEAD = "dead"  #: provably gone: no heartbeat and every port closed on this machine
    UNKNOWN = "unknown"  #: no answer, but death cannot be proven (remote, port taken...)
    INVALID = "invalid"  #: not a valid connection file (see ``reason``)
    UNCHECKED = "unchecked"  #: liveness was not asked for

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True, slots=True)
class KernelEntry:
    """One connection file found by :func:`list_kernels`.

    Attributes:
        path: the file.
        info: its parsed contents, or ``None`` when it is not a valid connection file.
        state: what is known about its kernel.
        reason: why that state, in words (the validation error for invalid files).
        mtime: the file's modification time (seconds since the epoch), or ``None``.
        age: seconds since ``mtime`` when listed, or ``None``.

    .. versionadded:: 0.1.0
    """

    path: Path
    info: ConnectionInfo | None
    state: KernelState
    reason: str
    mtime: float | None
    age: float | None

    @property
    def kernel_name(self) -> str | None:
        """The kernelspec name the file records, if any."""
        return self.info.kernel_name if self.info is not None else None

    @property
    def transport(self) -> str | None:
        """``"tcp"`` or ``"ipc"``, or ``None`` for an invalid file."""
        return self.info.transport if self.info is not None else None

    @property
    def address(self) -> str | None:
        """The address (tcp) or socket path prefix (ipc), or ``None`` for an invalid file."""
        return self.info.ip if self.info is not None else None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary (no key)."""
        return {
            "path": str(self.path),
            "state": self.state.value,
            "reason": self.reason,
            "kernel_name": self.kernel_name,
            "transport": self.transport,
            "address": self.address,
            "ports": (
                {c.value: p for c, p in self.info.ports.items()} if self.info is not None else None
            ),
            "mtime": self.mtime,
            "age": self.age,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class PruneResult:
    """What :func:`prune` did.

    Attributes:
        removed: connection files removed (or that would be, with ``dry_run``).
        removed_sockets: ipc socket files removed alongside them.
        kept: every other entry, with its state and reason.
        dry_run: ``True`` when nothing was actually removed.
        removed_temp_files: temporary files of killed writers removed.
        removed_port_locks: free port lock files removed.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``removed_temp_files`` and ``removed_port_locks``.
    """

    removed: tuple[KernelEntry, ...]
    removed_sockets: tuple[Path, ...]
    kept: tuple[KernelEntry, ...]
    dry_run: bool
    removed_temp_files: tuple[Path, ...] = ()
    removed_port_locks: tuple[Path, ...] = ()


# -- reading ------------------------------------------------------------------------------


def _read(path: Path, st: os.stat_result, now: float) -> KernelEntry:
    """The entry for ``path``, whose ``stat`` (symlinks followed) the scan gave.

    The type check here only words the common cases; the file itself is read through
    :meth:`ConnectionInfo.load`, the one reader that opens without blocking and refuses
    what it opened when it is not a regular file of sane size (a file swapped for a FIFO
    after the scan must not stall a listing).
    """
    mtime = st.st_mtime
    age = max(0.0, now - mtime)
    if stat.S_ISDIR(st.st_mode):
        return KernelEntry(path, None, KernelState.INVALID, "is a directory", mtime, age)
    if not stat.S_ISREG(st.st_mode):
        return KernelEntry(path, None, KernelState.INVALID, "is not a regular file", mtime, age)
    try:
        info = ConnectionInfo.load(path)
    except KcfError as exc:
        reason = str(exc).removeprefix(f"{path}: ")  # the entry names its path already
        return KernelEntry(path, None, KernelState.INVALID, reason, mtime, age)
    return KernelEntry(path, info, KernelState.UNCHECKED, "", mtime, age)


def _entries(dirs: list[str], pattern: str, now: float) -> list[KernelEntry]:
    out: list[KernelEntry] = []
    for d in dirs:
        scan = scan_dir(d, pattern)
        base = Path(d)
        out.extend(_read(base / n, st, now) for n, st in zip(scan.names, scan.stats, strict=True))
        out.extend(
            KernelEntry(
                base / n, None, KernelState.INVALID, f"cannot stat: {exc.strerror}", None, None
            )
            for n, exc in scan.failed
        )
    return out


# -- liveness -----------------------------------------------------------------------------


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


def _judge(entries: list[KernelEntry], timeout: float, grace: float) -> list[KernelEntry]:
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


def list_kernels(
    dirs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    *,
    pattern: str = DEFAULT_PATTERN,
    check: bool = True,
    timeout: float = 1.0,
    grace: float = DEFAULT_GRACE,
) -> list[KernelEntry]:
    """Every connection file in ``dirs`` with what is known about its kernel.

    Files that are not valid connection files (garbage, unreadable, half-written, a
    directory with a matching name) are listed as :attr:`KernelState.INVALID` with the
    reason; nothing here raises for a bad file. Names match ``pattern`` as with ``glob``:
    hidden files (``.*``) only when the pattern starts with ``.``.

    A kernel is :attr:`~KernelState.ALIVE` when its heartbeat answers; :attr:`~KernelState.DEAD`
    when every one of its ports refuses a connection on this machine (tcp) or has no
    listening socket (ipc), the file is older than ``grace``, and (on Linux) no process
    has the file's name in its command line (a kernel starting or restarting); else
    :attr:`~KernelState.UNKNOWN`, with the reason. Ports are probed while the heartbeat
    pings are in flight, and at most a few hundred sockets are open at once, so any
    number of files can be checked.

    Args:
        dirs: the directories to look in; default the runtime directory.
        pattern: the file names to consider (a glob).
        check: ping the heartbeats and probe the ports.
        timeout: seconds to wait for the heartbeats, in total.
        grace: a file younger than this whose ports are all closed is ``unknown`` (its
            kernel may be starting), not ``dead``.

    Returns:
        The entries, newest file first (ties by path).

    .. versionadded:: 0.1.0
    """
    if dirs is None:
        from ._find import default_runtime_dir

        dirs = [default_runtime_dir()]
    now = time.time()
    entries = _entries(search_dirs(dirs, list), pattern, now)
    if check:
        entries = _judge(entries, timeout, grace)
    entries.sort(key=lambda e: (-(e.mtime or 0.0), str(e.path)))
    return entries


def _ipc_socket_files(info: ConnectionInfo) -> list[Path]:
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


def _confirm_dead(
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


def _temp_writer_pid(name: str) -> int | None:
    """The writer's pid encoded in a temporary file's name, if any.

    kcf_kernel writes ``.<target>.<pid>.<token>.tmp`` (older versions:
    ``.<target>.<token>.tmp``, no pid): the pid is the all-digit field before the last.
    """
    fields = name[1:].removesuffix(".tmp").split(".")
    if len(fields) >= 3 and fields[-2].isdigit() and len(fields[-2]) <= 10:
        return int(fields[-2])
    return None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: another user's process
        return True
    return True


def _abandoned_temp_files(d: str, pattern: str, grace: float, now: float) -> list[Path]:
    """Temporary files a connection-file writer left behind (killed mid-write): ours,
    regular, older than ``grace``, and their writer (when the name records it) gone."""
    scan = scan_dir(d, f".{pattern}.*.tmp")
    me = os.geteuid() if hasattr(os, "geteuid") else None
    out = []
    for n, st in zip(scan.names, scan.stats, strict=True):
        if not stat.S_ISREG(st.st_mode) or (me is not None and st.st_uid != me):
            continue
        if now - st.st_mtime < grace:
            continue
        pid = _temp_writer_pid(n)
        if pid is not None and _pid_alive(pid):
            continue
        out.append(Path(d, n))
    return out


#: Where kcf_kernel keeps its port lock files, under each runtime directory.
_PORT_LOCKS = "kcf-ports"


def _free_port_locks(d: str, *, remove: bool) -> list[Path]:
    """Port lock files in ``<d>/kcf-ports/`` that no process holds, removed when ``remove``.

    kcf_kernel's protocol: a reservation is an exclusive ``flock`` on the file, and the file
    is removed only by whoever holds that lock, which checks that the path still names the
    file it locked. So a lock we can take is free, and removing it while we hold it is what
    its own holder would do.
    """
    try:
        import fcntl
    except ImportError:  # Windows: the lock protocol there is exclusive creation; left alone
        return []
    locks = os.path.join(d, _PORT_LOCKS)
    try:
        st = os.lstat(locks)
    except OSError:
        return []
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        return []
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    out = []
    for n in scan_dir(locks, "*.lock").names:
        path = os.path.join(locks, n)
        try:
            fd = os.open(path, flags)
        except OSError:
            continue
        try:
            fst = os.fstat(fd)
            if not stat.S_ISREG(fst.st_mode) or fst.st_uid != os.geteuid():
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # held: a live reservation
                continue
            try:
                if os.lstat(path).st_ino != fst.st_ino:
                    continue  # replaced meanwhile: not the file we locked
                if remove:
                    os.unlink(path)
            except OSError:
                continue
            out.append(Path(path))
        finally:
            os.close(fd)  # releases the lock
    return out


def prune(
    dirs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    *,
    dry_run: bool = False,
    pattern: str = DEFAULT_PATTERN,
    timeout: float = 1.0,
    grace: float = DEFAULT_GRACE,
    confirm: float = DEFAULT_CONFIRM,
) -> PruneResult:
    """Remove the files of provably dead kernels, and the litter of killed writers.

    The rule for a connection file: it is removed only when all of these hold.

    1. :func:`list_kernels` calls its kernel :attr:`KernelState.DEAD`: no heartbeat, every
       port refuses on this machine (or no ipc socket listens), the file is older than
       ``grace``, and (on Linux) no process has the file's name in its command line.
    2. Death persists for ``confirm`` seconds: the heartbeat port and the processes are
       checked every quarter second, and every port once more at the end. A kernel that
       jupyter_client restarts keeps its file (same mtime, whatever its age) while its
       ports are closed for a second or two; its new process names the file from the
       start, and the ports reopen, so any sign of life within the window keeps the file.
    3. The file has not changed since it was checked.

    A file whose kernel answers, whose death cannot be proven (a remote address, a port
    something else listens on), or that is not a valid connection file is never removed.
    ipc socket files of a removed kernel go with it.

    Litter is removed too: temporary files ``.<pattern>.*.tmp`` (a writer killed
    mid-write leaves one, holding the key) older than ``grace`` whose writer, when the
    name records its pid, is gone; and port lock files in ``<dir>/kcf-ports/`` that no
    process holds (kcf_kernel's lock protocol: a lock file nobody holds is free).

    Args:
        dirs: the directories to prune; default the runtime directory.
        dry_run: report what would be removed, remove nothing.
        pattern: the file names to consider (a glob).
        timeout: seconds to wait for the heartbeats.
        grace: files younger than this are never removed (see :func:`list_kernels`).
        confirm: seconds for which death must persist (``0``: no second look; only for
            directories where no kernel can be restarting).

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Death must persist for ``confirm`` seconds and no process may name the file (a
       restarting kernel's file is kept); abandoned temporary files and free port lock
       files are removed.
    """
    if dirs is None:
        from ._find import default_runtime_dir

        dirs = [default_runtime_dir()]
    dir_strs = search_dirs(dirs, list)
    entries = list_kernels(dir_strs, pattern=pattern, check=True, timeout=timeout, grace=grace)
    kept = [e for e in entries if e.state is not KernelState.DEAD or e.info is None]
    dead = [e for e in entries if e.state is KernelState.DEAD and e.info is not None]
    if dead:
        dead, revived = _confirm_dead(dead, confirm)
        kept.extend(revived)
    removed: list[KernelEntry] = []
    sockets: list[Path] = []
    for e in dead:
        assert e.info is not None
        try:
            unchanged = os.stat(e.path).st_mtime == e.mtime
        except OSError:
            unchanged = False
        if not unchanged:
            kept.append(
                dataclasses.replace(
                    e, state=KernelState.UNKNOWN, reason="the file changed while it was checked"
                )
            )
            continue
        files = _ipc_socket_files(e.info)
        if not dry_run:
            try:
                os.unlink(e.path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                kept.append(dataclasses.replace(e, reason=f"cannot remove: {exc.strerror}"))
                continue
            for f in files:
                with contextlib.suppress(OSError):
                    os.unlink(f)
        removed.append(e)
        sockets.extend(files)
    now = time.time()
    temps: list[Path] = []
    locks: list[Path] = []
    for d in dir_strs:
        for t in _abandoned_temp_files(d, pattern, grace, now):
            if not dry_run:
                try:
                    os.unlink(t)
                except FileNotFoundError:
                    continue
                except OSError:
                    continue
            temps.append(t)
        locks.extend(_free_port_locks(d, remove=not dry_run))
    kept.sort(key=lambda e: (-(e.mtime or 0.0), str(e.path)))
    return PruneResult(
        tuple(removed), tuple(sockets), tuple(kept), dry_run, tuple(temps), tuple(locks)
    )
