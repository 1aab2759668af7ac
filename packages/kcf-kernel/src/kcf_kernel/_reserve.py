"""Strategy 3, pre-allocation: ports reserved across processes until the kernel has bound them.

For a launcher whose kernels can neither bind first (they need ports in the file) nor do the
handshake. A reservation is one lock file per port in ``<runtime dir>/kcf-ports/``, held with
an exclusive ``flock`` by the launcher process:

* a port is chosen by the operating system (a probe socket bound to port 0, so no listening
  socket has it) and kept only if its lock file can be locked, so two kcf launchers in
  different processes never hand out the same port;
* the lock lives exactly as long as the reservation: released by :meth:`PortReservation.release`
  (once the kernel has bound, see :meth:`PortReservation.release_when_bound`) or by the
  operating system when the launcher dies. No stale reservation can outlive its owner, so
  there is no expiry to guess and no pid to check.
* the lock file is removed by its holder while still locked; a taker checks that the file it
  locked is still the one at that path (same inode), which closes the classic unlink race.

Where ``fcntl`` is missing (Windows), the lock is the exclusive creation of the file, holding
the owner's pid; a file whose pid is dead is reclaimed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

from ._errors import PortAllocationError
from ._paths import ensure_private_dir
from ._paths import runtime_dir as _runtime_dir

__all__ = ["PortReservation", "reserve_ports", "port_is_listening", "RESERVATION_DIR"]

#: The name of the reservation directory inside the runtime dir.
RESERVATION_DIR = "kcf-ports"
_WILDCARD = {"": "127.0.0.1", "*": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104


def _family(ip: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def _probe_ip(ip: str) -> str:
    return "0.0.0.0" if ip in ("", "*") else ip  # noqa: S104 - probing the address the kernel binds


def port_is_listening(ip: str, port: int, timeout: float = 0.2) -> bool:
    """``True`` when something accepts tcp connections on ``ip:port``.

    A connect probe, never a bind: a probe that binds would itself take the port from the
    kernel for an instant.

    .. versionadded:: 0.1.0
    """
    host = _WILDCARD.get(ip, ip)
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect((host, port))
        except OSError:
            return False
        return True


class _Lock:
    """One held port lock."""

    __slots__ = ("fd", "path", "port")

    def __init__(self, port: int, path: Path, fd: int) -> None:
        self.port, self.path, self.fd = port, path, fd

    def release(self) -> None:
        if self.fd < 0:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # while still locked: see the module docstring
        os.close(self.fd)
        self.fd = -1


def _payload(port: int) -> bytes:
    return json.dumps({"pid": os.getpid(), "port": port, "time": time.time()}).encode()


if sys.platform == "win32":  # pragma: no cover - no flock: exclusive creation and a pid

    def _pid_alive(pid: int) -> bool:
        # Not os.kill(pid, 0): on Windows signal 0 is CTRL_C_EVENT, sent to the group ``pid``.
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return bool(ctypes.GetLastError() == 5)  # ERROR_ACCESS_DENIED: it exists
        try:
            code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)

    def _try_lock(directory: Path, port: int) -> _Lock | None:
        path = directory / f"{port}.lock"
        for _ in range(2):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                try:
                    pid = int(json.loads(path.read_bytes())["pid"])
                except (OSError, ValueError, KeyError, TypeError):
                    return None
                if _pid_alive(pid):
                    return None
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            os.write(fd, _payload(port))
            return _Lock(port, path, fd)
        return None

else:
    import fcntl

    def _try_lock(directory: Path, port: int) -> _Lock | None:
        path = directory / f"{port}.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a symlink planted there: never follow it
                return None
            raise PortAllocationError(
                f"cannot open the port lock file {path}: {exc.strerror}", port=port
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return None
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the holder removed it between our open and our lock: not ours
            os.close(fd)
            return None
        os.ftruncate(fd, 0)
        os.write(fd, _payload(port))
        return _Lock(port, path, fd)


class PortReservation:
    """Ports held for a kernel that has not bound them yet.

    Made by :func:`reserve_ports`. Release it once the kernel listens on its ports
    (:meth:`release_when_bound` does that in the background) or when the launch is given up;
    it is also a context manager. Releasing twice is harmless.

    Attributes:
        ip: the address the ports were chosen on.
        ports: the reserved ports, in the order they were chosen.
        directory: the reservation directory (``<runtime dir>/kcf-ports``).

    .. versionadded:: 0.1.0
    """

    def __init__(self, ip: str, locks: list[_Lock], directory: Path) -> None:
        self.ip = ip
        self.directory = directory
        self._locks = locks
        self.ports: tuple[int, ...] = tuple(lock.port for lock in locks)
        self._guard = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def released(self) -> bool:
        """``True`` once every port has been released."""
        return all(lock.fd < 0 for lock in self._locks)

    def release(self) -> None:
        """Give the ports up (the lock files are removed)."""
        self._stop.set()
        with self._guard:
            for lock in self._locks:
                lock.release()

    def release_when_bound(
        self,
        *,
        alive: Callable[[], bool] | None = None,
        timeout: float = 120.0,
        interval: float = 0.02,
        ip: str | None = None,
    ) -> threading.Thread:
        """Release the reservation in a daemon thread once every port accepts connections.

        The thread also releases when ``alive()`` turns false (the kernel died), at the
        ``timeout``, or when :meth:`release` is called.

        Args:
            alive: tells whether the kernel process still runs.
            timeout: seconds after which the ports are released in any case.
            interval: seconds between probes.
            ip: the address to probe (default: :attr:`ip`).

        Returns:
            The watcher thread.
        """
        if self._watcher is not None:
            return self._watcher
        probe_ip = ip or self.ip

        def watch() -> None:
            deadline = time.monotonic() + timeout
            pending = list(self.ports)
            while pending and not self._stop.is_set() and time.monotonic() < deadline:
                pending = [p for p in pending if not port_is_listening(probe_ip, p)]
                if not pending or (alive is not None and not alive()):
                    break
                self._stop.wait(interval)
            self.release()

        self._watcher = threading.Thread(target=watch, name="kcf-port-watch", daemon=True)
        self._watcher.start()
        return self._watcher

    def wait_released(self, timeout: float | None = None) -> bool:
        """Wait for the watcher of :meth:`release_when_bound`; return :attr:`released`."""
        if self._watcher is not None:
            self._watcher.join(timeout)
        return self.released

    def __iter__(self) -> Iterator[int]:
        return iter(self.ports)

    def __len__(self) -> int:
        return len(self.ports)

    def __enter__(self) -> PortReservation:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "released" if self.released else "held"
        return f"<PortReservation {state} {self.ip} {list(self.ports)}>"


def reserve_ports(
    n: int = 5,
    *,
    ip: str = "127.0.0.1",
    runtime_dir: str | os.PathLike[str] | None = None,
    attempts: int = 200,
) -> PortReservation:
    """Choose ``n`` free tcp ports on ``ip`` and reserve them across processes.

    Use it when the kernel must be told its ports (it cannot bind port 0 itself and cannot
    do the JEP 66 handshake). Every kcf launcher sharing the runtime dir respects the
    reservation; a process outside kcf can still take a port, as with any pre-allocation.

    Args:
        n: how many ports.
        ip: the address the kernel will bind (``0.0.0.0``/``*``/``::`` probe all interfaces).
        runtime_dir: where the reservation directory lives (default: :func:`runtime_dir`).
        attempts: candidate ports to try before giving up.

    Raises:
        PortAllocationError: not enough ports could be reserved (names the address).
        RuntimeDirError: the reservation directory cannot be created.

    .. versionadded:: 0.1.0
    """
    base = Path(runtime_dir) if runtime_dir is not None else _runtime_dir()
    ensure_private_dir(base)
    directory = base / RESERVATION_DIR
    ensure_private_dir(directory)
    family = _family(_probe_ip(ip))
    locks: list[_Lock] = []
    probes: list[socket.socket] = []
    try:
        tries = 0
        while len(locks) < n:
            tries += 1
            if tries > attempts:
                raise PortAllocationError(
                    f"could not reserve {n} ports on {ip} after {attempts} attempts", ip=ip
                )
            probe = socket.socket(family, socket.SOCK_STREAM)
            probes.append(probe)  # kept bound until all are chosen: no duplicate candidates
            try:
                probe.bind((_probe_ip(ip), 0))
            except OSError as exc:
                raise PortAllocationError(
                    f"cannot bind a probe socket on {ip}: {exc.strerror}", ip=ip
                ) from exc
            port = probe.getsockname()[1]
            lock = _try_lock(directory, port)
            if lock is not None:
                locks.append(lock)
    except BaseException:
        for lock in locks:
            lock.release()
        raise
    finally:
        for probe in probes:
            probe.close()
    return PortReservation(ip, locks, directory)
