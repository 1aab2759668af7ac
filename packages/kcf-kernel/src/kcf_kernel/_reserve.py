"""Strategy 3, pre-allocation: ports reserved across processes until the kernel has bound them.

For a launcher whose kernels can neither bind first (they need ports in the file) nor do the
handshake. A reservation is one lock file per port in ``<runtime dir>/kcf-ports/``, held with
an exclusive ``flock`` by the launcher process:

* a candidate comes from outside the system's ephemeral range (:mod:`._candidates`), so no
  ``bind(0)`` and no outgoing connection anywhere on the machine can be given it; it is kept
  only if a probe socket can bind that exact port on the kernel's address (nobody holds it)
  and its lock file can be locked, so two kcf launchers in different processes never hand
  out the same port;
* the lock lives exactly as long as the reservation: released by :meth:`PortReservation.release`
  (once the kernel has bound, see :meth:`PortReservation.release_when_bound`) or by the
  operating system when the launcher dies. No stale reservation can outlive its owner, so
  there is no expiry to guess and no pid to check.
* the lock file is removed by its holder while still locked; a taker checks that the file it
  locked is still the one at that path (same inode), which closes the classic unlink race.
  A launcher killed with SIGKILL cannot remove its files: the next reservation removes every
  lock file nobody holds (it can lock it), and the last release removes the empty directory.

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

from ._candidates import candidate_ports
from ._errors import PortAllocationError
from ._listen import address_family, port_is_listening, wait_until_bound
from ._paths import ensure_private_dir
from ._paths import runtime_dir as _runtime_dir

__all__ = ["PortReservation", "reserve_ports", "port_is_listening", "RESERVATION_DIR"]

#: The name of the reservation directory inside the runtime dir.
RESERVATION_DIR = "kcf-ports"


def _probe_ip(ip: str) -> str:
    return "0.0.0.0" if ip in ("", "*") else ip  # noqa: S104 - probing the address the kernel binds


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

    def _remove_abandoned(directory: Path) -> None:
        """Nothing to do: :func:`_try_lock` reclaims a dead owner's file when it meets it."""

else:
    import fcntl

    def _lock_fd(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True

    def _still_there(fd: int, path: Path) -> bool:
        try:
            return os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            return False

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
            locked = _lock_fd(fd)
        except OSError:
            os.close(fd)
            raise
        if not locked or not _still_there(fd, path):
            # held by another launcher, or removed by its holder between our open and lock
            os.close(fd)
            return None
        os.ftruncate(fd, 0)
        os.write(fd, _payload(port))
        return _Lock(port, path, fd)

    def _remove_abandoned(directory: Path) -> None:
        """Remove the lock files nobody holds (their launcher died without releasing)."""
        try:
            names = os.listdir(directory)
        except OSError:
            return
        for name in names:
            if not name.endswith(".lock"):
                continue
            path = directory / name
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue
            try:
                if _lock_fd(fd) and _still_there(fd, path):
                    os.unlink(path)  # while locked: a taker checks the inode
            except OSError:
                pass
            finally:
                os.close(fd)


def _remove_if_empty(directory: Path) -> None:
    """Remove the reservation directory once it is empty (no other launcher uses it).

    A launcher that has just created it and is about to create its lock file re-creates it
    (:func:`reserve_ports` retries), so removing it here never breaks another reservation.
    """
    with contextlib.suppress(OSError):  # not empty, or already gone
        os.rmdir(directory)


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
            held = any(lock.fd >= 0 for lock in self._locks)
            for lock in self._locks:
                lock.release()
            if held:
                _remove_if_empty(self.directory)

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
            wait_until_bound(
                probe_ip,
                self.ports,
                timeout=timeout,
                alive=alive,
                stop=self._stop,
                interval=interval,
            )
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
    port_range: tuple[int, int] | None = None,
) -> PortReservation:
    """Choose ``n`` free tcp ports on ``ip`` and reserve them across processes.

    Use it when the kernel must be told its ports (it cannot bind port 0 itself and cannot
    do the JEP 66 handshake). Candidates lie outside the system's ephemeral range (see
    :func:`ephemeral_port_range`), so no other program is given one by the system; one that
    binds that exact number on purpose still can. Every kcf launcher sharing the runtime dir
    respects the reservation.

    Args:
        n: how many ports.
        ip: the address the kernel will bind (``0.0.0.0``/``*``/``::`` probe all interfaces).
        runtime_dir: where the reservation directory lives (default: :func:`runtime_dir`).
        attempts: candidate ports to try before giving up.
        port_range: ``(low, high)`` to choose from (default ``$KCF_PORT_RANGE``, else
            :data:`DEFAULT_PORT_RANGE`); the ephemeral range and reserved ports are left out.

    Raises:
        PortAllocationError: not enough ports could be reserved (names the address), or the
            range has no port outside the ephemeral range.
        RuntimeDirError: the reservation directory cannot be created.
        ValueError: a malformed ``port_range`` or ``KCF_PORT_RANGE``.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Candidates come from outside the ephemeral range; ``port_range``.
    """
    candidates = candidate_ports(port_range)
    base = Path(runtime_dir) if runtime_dir is not None else _runtime_dir()
    ensure_private_dir(base)
    directory = base / RESERVATION_DIR
    ensure_private_dir(directory)
    _remove_abandoned(directory)
    family = address_family(_probe_ip(ip))
    locks: list[_Lock] = []
    probes: list[socket.socket] = []
    try:
        tries = 0
        while len(locks) < n:
            tries += 1
            port = next(candidates, None)
            if tries > attempts or port is None:
                raise PortAllocationError(
                    f"could not reserve {n} ports on {ip} after {tries - 1} attempts", ip=ip
                )
            probe = socket.socket(family, socket.SOCK_STREAM)
            probes.append(probe)  # kept bound until all are chosen: nobody takes it meanwhile
            try:
                probe.bind((_probe_ip(ip), port))
            except OSError as exc:
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    continue  # held by someone (or privileged here): the next candidate
                raise PortAllocationError(
                    f"cannot bind a probe socket on {ip}: {exc.strerror}", ip=ip, port=port
                ) from exc
            lock = _try_lock_in(directory, port)
            if lock is not None:
                locks.append(lock)
    except BaseException:
        for lock in locks:
            lock.release()
        _remove_if_empty(directory)
        raise
    finally:
        for probe in probes:
            probe.close()
    return PortReservation(ip, locks, directory)


def _try_lock_in(directory: Path, port: int) -> _Lock | None:
    """:func:`_try_lock`, re-creating the directory if a releasing launcher just removed it."""
    for _ in range(3):
        try:
            return _try_lock(directory, port)
        except PortAllocationError as exc:
            if not isinstance(exc.__cause__, FileNotFoundError):
                raise
            ensure_private_dir(directory)
    return _try_lock(directory, port)
