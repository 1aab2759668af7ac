"""Listing connection files with their kernels' liveness, and pruning the dead ones.

Liveness is checked for all files at once: one REQ socket per heartbeat, all polled by
one poller, so a hundred files take about as long as one timeout. A kernel is *dead* only
when that is provable: its heartbeat did not answer and every one of its five ports
refuses a connection on this machine (tcp), or has no listening socket file (ipc). A
remote address, or a port something still listens on, leaves the verdict ``unknown``.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import os
import socket
import stat
import time
from collections.abc import Sequence
from pathlib import Path

from kcf_spec import Channel, ConnectionInfo, KcfError

from ._find import _dirs

__all__ = [
    "KernelState",
    "KernelEntry",
    "PruneResult",
    "list_kernels",
    "prune",
    "DEFAULT_PATTERN",
    "DEFAULT_GRACE",
]

#: The files :func:`list_kernels` and :func:`prune` look at in each directory.
DEFAULT_PATTERN = "kernel-*.json"
#: Seconds during which a file whose ports are all closed may belong to a kernel that is
#: still starting (its writer writes the file, then the kernel binds): never called dead.
DEFAULT_GRACE = 10.0


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

    .. versionadded:: 0.1.0
    """

    removed: tuple[KernelEntry, ...]
    removed_sockets: tuple[Path, ...]
    kept: tuple[KernelEntry, ...]
    dry_run: bool


# -- reading ------------------------------------------------------------------------------


def _read(path: Path, now: float) -> KernelEntry:
    try:
        st = os.stat(path)
    except OSError as exc:
        return KernelEntry(
            path, None, KernelState.INVALID, f"cannot stat: {exc.strerror}", None, None
        )
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


def _scan(dirs: Sequence[Path], pattern: str) -> list[Path]:
    import fnmatch

    out: list[Path] = []
    for d in dirs:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        out.extend(d / n for n in sorted(fnmatch.filter(names, pattern)))
    return out


# -- liveness -----------------------------------------------------------------------------

# Bind-all addresses, mapped to where a local probe connects.
_LOOPBACK_FOR = {
    "0.0.0.0": "127.0.0.1",  # noqa: S104 - a key to translate, not a bind
    "*": "127.0.0.1",
    "": "127.0.0.1",
    "::": "::1",
    "localhost": "127.0.0.1",
}


def _local_address(ip: str) -> str | None:
    """The address to probe ``ip`` at when it is on this machine, else ``None``.

    Never resolves a host name (no DNS wait): only literals and ``localhost`` count.
    """
    if ip in _LOOPBACK_FOR:
        return _LOOPBACK_FOR[ip]
    try:
        addr = ipaddress.ip_address(ip.strip("[]"))
    except ValueError:
        return None
    if addr.is_loopback:
        return str(addr)
    family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.bind((str(addr), 0))  # succeeds only for an address this machine owns
    except OSError:
        return None
    finally:
        probe.close()
    return str(addr)


def _tcp_refused(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect((host, port))
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        s.close()
    return False


def _ipc_closed(path: str) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if not stat.S_ISSOCK(st.st_mode):
        return False
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        return True
    except OSError:
        return False
    finally:
        s.close()
    return False


def _ports_closed(info: ConnectionInfo) -> tuple[bool | None, str]:
    """``(True, why)`` when every port provably refuses; ``(False, why)`` when one is
    open; ``(None, why)`` when it cannot be known from here."""
    if info.transport == "ipc":
        if not os.path.isabs(info.ip):
            return None, f"ipc path {info.ip!r} is relative to the kernel's directory"
        for c in Channel:
            path = f"{info.ip}-{info.port(c)}"
            if not _ipc_closed(path):
                return False, f"{c.value} socket {path} is still open"
        return True, "no ipc socket is listening"
    host = _local_address(info.ip)
    if host is None:
        return None, f"address {info.ip} is not on this machine"
    for c in Channel:
        if not _tcp_refused(host, info.port(c)):
            return False, f"{c.value} port {info.port(c)} accepts connections"
    return True, "every port refuses connections"


def ping_heartbeats(infos: Sequence[ConnectionInfo], timeout: float) -> list[bool]:
    """Ping every heartbeat at once; ``True`` where an answer came within ``timeout``."""
    import zmq

    answered = [False] * len(infos)
    if not infos:
        return answered
    ctx = zmq.Context()
    poller = zmq.Poller()
    socks: dict[zmq.Socket[bytes], int] = {}
    try:
        for i, info in enumerate(infos):
            s: zmq.Socket[bytes] = ctx.socket(zmq.REQ)
            s.linger = 0
            if info.transport == "tcp" and ":" in info.ip:
                s.ipv6 = True
            if info.curve_publickey is not None:
                pub, sec = zmq.curve_keypair()
                s.curve_serverkey = info.curve_publickey.encode("ascii")
                s.curve_publickey = pub
                s.curve_secretkey = sec
            try:
                s.connect(info.connect_url(Channel.HB))
                s.send(b"ping", zmq.NOBLOCK)
            except zmq.ZMQError:
                s.close(0)
                continue
            socks[s] = i
            poller.register(s, zmq.POLLIN)
        deadline = time.monotonic() + timeout
        while socks:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for s, _ in poller.poll(int(left * 1000) + 1):
                i = socks.pop(s)
                s.recv()
                answered[i] = True
                poller.unregister(s)
                s.close(0)
    finally:
        for s in socks:
            s.close(0)
        ctx.term()
    return answered


def _judge(entries: list[KernelEntry], timeout: float, grace: float) -> list[KernelEntry]:
    valid = [i for i, e in enumerate(entries) if e.info is not None]
    infos = [entries[i].info for i in valid]
    answers = ping_heartbeats([x for x in infos if x is not None], timeout)
    out = list(entries)
    for i, ok in zip(valid, answers, strict=True):
        e = entries[i]
        assert e.info is not None
        if ok:
            out[i] = dataclasses.replace(e, state=KernelState.ALIVE, reason="heartbeat answered")
            continue
        closed, why = _ports_closed(e.info)
        no_hb = f"no heartbeat within {timeout:g} s"
        if closed and e.age is not None and e.age < grace:
            out[i] = dataclasses.replace(
                e,
                state=KernelState.UNKNOWN,
                reason=f"{no_hb}; {why}, but the file is {e.age:.0f} s old: starting or dead",
            )
        elif closed:
            out[i] = dataclasses.replace(e, state=KernelState.DEAD, reason=f"{no_hb}; {why}")
        else:
            out[i] = dataclasses.replace(e, state=KernelState.UNKNOWN, reason=f"{no_hb}; {why}")
    return out


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
    reason; nothing here raises for a bad file.

    Args:
        dirs: the directories to look in; default the runtime directory.
        pattern: the file names to consider (a glob).
        check: ping the heartbeats (all at once) and probe the ports of silent kernels.
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
    entries = [_read(p, now) for p in _scan(_dirs(dirs), pattern)]
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


def prune(
    dirs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    *,
    dry_run: bool = False,
    pattern: str = DEFAULT_PATTERN,
    timeout: float = 1.0,
    grace: float = DEFAULT_GRACE,
) -> PruneResult:
    """Remove the connection files (and ipc socket files) of provably dead kernels.

    A file is removed only when :func:`list_kernels` calls its kernel
    :attr:`KernelState.DEAD` and the file has not changed since it was checked. A file
    whose kernel answers, whose death cannot be proven, or that is not a valid
    connection file is never removed.

    Args:
        dirs: the directories to prune; default the runtime directory.
        dry_run: report what would be removed, remove nothing.
        pattern: the file names to consider (a glob).
        timeout: seconds to wait for the heartbeats.
        grace: files younger than this are never removed (see :func:`list_kernels`).

    .. versionadded:: 0.1.0
    """
    entries = list_kernels(dirs, pattern=pattern, check=True, timeout=timeout, grace=grace)
    removed: list[KernelEntry] = []
    sockets: list[Path] = []
    kept: list[KernelEntry] = []
    for e in entries:
        if e.state is not KernelState.DEAD or e.info is None:
            kept.append(e)
            continue
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
                try:
                    os.unlink(f)
                except OSError:
                    continue
        removed.append(e)
        sockets.extend(files)
    return PruneResult(tuple(removed), tuple(sockets), tuple(kept), dry_run)
