"""Where a kernel runs: a process on this machine, in its own process group.

This module is the "where it runs" part of the launch design (see :mod:`._launch`). It knows
how to start a command (:func:`spawn`), signal its process group (:func:`signal_group`), wait
for its exit without reaping it (:func:`exited_unreaped`), and it defines the handle a
launch returns (:class:`KernelProcess`). The port strategies never call ``subprocess``
themselves: a remote place to run (an SSH nanny, a Slurm job) is a new module offering the
same three verbs and a handle with :class:`KernelProcess`'s methods, and every strategy
works there unchanged.

Kernels die with their launcher by default (``die_with_launcher=True``):

* Linux: the child asks for a parent-death signal (``PR_SET_PDEATHSIG``, SIGTERM) before
  ``exec``. The kernel sees SIGTERM when the launcher dies, however it dies (SIGKILL too).
  That signal fires when the *thread* that forked exits, so a launch from any thread but
  the main one is forked by one long-lived daemon thread, which lives as long as the
  process does.
* everywhere, additionally: ``JPY_PARENT_PID`` is set to the launcher's pid; ipykernel
  watches it and exits when its parent changes (this is what covers macOS and Windows for
  ipykernel; other kernels there outlive a killed launcher).
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

from kcf_spec import Channel, ConnectionInfo

from ._errors import InterruptTimeout, KernelWaitTimeout, LaunchError
from ._listen import wait_until_bound
from ._reserve import PortReservation
from ._write import StrPath, remove_connection_file, remove_ipc_sockets

__all__ = [
    "Stream",
    "InterruptMode",
    "KernelProcess",
    "spawn",
    "signal_group",
    "exited_unreaped",
    "PARENT_PID_ENV",
]

#: What a kernel's stdin/stdout/stderr may be: a file descriptor, a file, a
#: ``subprocess`` constant, or ``None`` (stdin: ``/dev/null``; others: inherited).
Stream = int | IO[bytes] | IO[str] | None

#: How a kernel is interrupted: SIGINT to its process group, or ``interrupt_request`` on
#: its control channel (a kernelspec's ``interrupt_mode``).
InterruptMode = Literal["signal", "message"]

#: The variable ipykernel reads to watch its parent (it exits when the parent changes).
PARENT_PID_ENV = "JPY_PARENT_PID"

_PR_SET_PDEATHSIG = 1


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` that asks for SIGTERM when the parent dies (Linux), else ``None``.

    Everything is looked up before ``fork``: the child only makes two system calls.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):  # pragma: no cover - no usable libc
        return None
    parent = os.getpid()
    sigterm = int(signal.SIGTERM)

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, sigterm, 0, 0, 0)
        if os.getppid() != parent:  # the launcher died before the request took effect
            os.kill(os.getpid(), sigterm)

    return preexec


class _Forker:
    """One long-lived daemon thread that forks for launches from short-lived threads.

    ``PR_SET_PDEATHSIG`` fires when the thread that forked the child exits, not the
    process: a kernel forked by a worker thread would die with that worker.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[
            tuple[Callable[[], subprocess.Popen[bytes]], Future[subprocess.Popen[bytes]]]
        ] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, start: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        if threading.current_thread() is threading.main_thread():
            return start()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="kcf-forker", daemon=True)
                self._thread.start()
        done: Future[subprocess.Popen[bytes]] = Future()
        self._jobs.put((start, done))
        return done.result()

    def _loop(self) -> None:
        while True:
            start, done = self._jobs.get()
            try:
                done.set_result(start())
            except BaseException as exc:  # noqa: BLE001 - handed to the launching thread
                done.set_exception(exc)


_FORKER = _Forker()


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: StrPath | None = None,
    stdin: Stream = None,
    stdout: Stream = None,
    stderr: Stream = None,
    die_with_launcher: bool = True,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own process group (its own session on POSIX).

    Args:
        argv: the command, placeholders already filled.
        env: variables added to this process's environment.
        cwd: the working directory.
        stdin: default ``/dev/null``.
        stdout: default inherited.
        stderr: default inherited.
        die_with_launcher: end the kernel when this process dies (see the module docstring);
            ``False`` for a kernel meant to outlive its launcher.

    Raises:
        LaunchError: the program cannot be started.
    """
    full_env = dict(os.environ)
    if env is not None:
        full_env.update(env)
    preexec: Callable[[], None] | None = None
    if die_with_launcher:
        full_env[PARENT_PID_ENV] = str(os.getpid())
        preexec = _pdeathsig_preexec()
    else:
        full_env.pop(PARENT_PID_ENV, None)
    new_group = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            list(argv),
            env=full_env,
            cwd=cwd,
            stdin=subprocess.DEVNULL if stdin is None else stdin,
            stdout=stdout,
            stderr=stderr,
            close_fds=True,
            start_new_session=os.name != "nt",
            creationflags=new_group if os.name == "nt" else 0,
            preexec_fn=preexec,
        )

    try:
        return _FORKER.run(start) if preexec is not None else start()
    except OSError as exc:
        raise LaunchError(argv, f"cannot start: {exc.strerror or exc}") from exc


def exited_unreaped(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` for child ``pid`` to exit, without reaping it (POSIX).

    While it is an unreaped zombie its pid, and so its process group id, cannot be given to
    another process: signalling the group is then safe. ``True`` once it has exited (or was
    reaped elsewhere).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            res = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # already reaped
            return True
        if res is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


def signal_group(popen: subprocess.Popen[bytes], sig: int) -> None:
    """Send ``sig`` to the process group of ``popen`` without reaping it.

    Safe while ``popen`` is not reaped (its pid, the group id, cannot be reused), so it
    reaches what an exited kernel left in its group. Nothing once it has been reaped.
    """
    if popen.returncode is not None:
        return
    if hasattr(os, "killpg"):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, sig)
    else:  # pragma: no cover - Windows
        with contextlib.suppress(OSError):
            popen.send_signal(sig)


def _posix() -> bool:
    return hasattr(os, "waitid") and hasattr(os, "killpg")


def stop_process(popen: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL to the group after ``timeout``; kill what is left of the group;
    reap. The one way a launch stops a kernel (a failed launch passes ``timeout=0``)."""
    if popen.returncode is None:
        if _posix():
            if not exited_unreaped(popen.pid, 0):
                if timeout > 0:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(popen.pid, signal.SIGTERM)
                if not exited_unreaped(popen.pid, timeout):
                    signal_group(popen, signal.SIGKILL)
                    exited_unreaped(popen.pid, 30)
            # The kernel is an unreaped zombie: its group id is still its own.
            signal_group(popen, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            popen.terminate()
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                popen.kill()
    popen.wait()


class KernelProcess:
    """A launched kernel: its process, its connection and the files the launcher wrote.

    The process runs in its own process group (its own session on POSIX), so
    :meth:`signal_group` and :meth:`kill` reach the kernel's children too. Nothing but
    :meth:`wait` and :meth:`close` reaps the process, so they can still end what an exited
    kernel left in its group.

    :meth:`close` (also on leaving a ``with`` block) stops the kernel if it still runs
    (SIGTERM, then SIGKILL after ``timeout``), releases port reservations and removes the
    files this launcher wrote: the connection file if it still holds this kernel's key and
    the ipc socket files under the prefix the launcher chose. :meth:`wait` does the same
    clean-up once the process has exited. A file someone else wrote is never removed.

    Attributes:
        argv: the command line, placeholders filled.
        info: the connection (real ports).
        connection_file: the connection file clients use.
        kernel_id: the id in the file name ``kernel-<id>.json``.
        popen: the :class:`subprocess.Popen`.
        reservation: the port reservation (``ports="reserve"``), or ``None``.
        strategy: the port strategy that was used (``"reserve"``, ``"kernel"``...).
        handshake_dialect: the JEP 66 dialect spoken (``strategy == "handshake"``), else
            ``None``.
        interrupt_mode: how :meth:`interrupt` interrupts: ``"signal"`` or ``"message"``.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``handshake_dialect`` and ``interrupt_mode``.
    """

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        info: ConnectionInfo,
        connection_file: Path,
        *,
        argv: Sequence[str],
        kernel_id: str,
        owns_file: bool = True,
        owns_ipc: bool = False,
        reservation: PortReservation | None = None,
        strategy: str | None = None,
        handshake_dialect: str | None = None,
        interrupt_mode: InterruptMode = "signal",
    ) -> None:
        self.popen = popen
        self.info = info
        self.connection_file = connection_file
        self.argv = list(argv)
        self.kernel_id = kernel_id
        self.reservation = reservation
        self.strategy = strategy
        self.handshake_dialect = handshake_dialect
        self.interrupt_mode: InterruptMode = interrupt_mode
        self._owns_file = owns_file
        self._owns_ipc = owns_ipc
        self._cleaned = False

    @property
    def pid(self) -> int:
        """The kernel's process id."""
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once known (negative: killed by that signal), else ``None``."""
        return self.popen.returncode

    def poll(self) -> int | None:
        """The exit status if the kernel has exited, else ``None`` (reaps an exited kernel:
        prefer :meth:`is_alive` to just ask)."""
        return self.popen.poll()

    def is_alive(self) -> bool:
        """``True`` while the process runs.

        On POSIX it does not reap the exited kernel (unlike :meth:`poll`), so :meth:`close`
        can still kill what the kernel left in its process group; the reservation watcher
        calls it from another thread.
        """
        if self.popen.returncode is not None:
            return False
        if hasattr(os, "waitid"):
            return not exited_unreaped(self.pid, 0)
        return self.popen.poll() is None  # pragma: no cover - Windows

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the kernel to exit, clean up its files, and return its exit status.

        Raises:
            KernelWaitTimeout: it still runs after ``timeout`` seconds (nothing is removed).
        """
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise KernelWaitTimeout(self.pid, timeout) from None
        self.cleanup()
        return code

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the kernel process (nothing if it has exited; never reaps)."""
        if self.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def signal_group(self, sig: int) -> None:
        """Send ``sig`` to the kernel's whole process group (POSIX; else the process).

        Reaches what the kernel left in its group even after the kernel has exited, until
        :meth:`wait` or :meth:`close` reaps it.
        """
        signal_group(self.popen, sig)

    def interrupt(self, timeout: float = 10.0) -> None:
        """Interrupt the running code, as :attr:`interrupt_mode` says.

        * ``"signal"``: SIGINT to the kernel's process group.
        * ``"message"``: ``interrupt_request`` on the control channel, waiting up to
          ``timeout`` for ``interrupt_reply``.

        Nothing when the kernel has exited (or exits while answering).

        Raises:
            InterruptTimeout: (``"message"``) no ``interrupt_reply`` within ``timeout``.
            KernelSocketError: (``"message"``) the control socket could not be used.

        .. versionchanged:: 0.2.0
           ``interrupt_mode: "message"``; ``timeout``.
        """
        if self.interrupt_mode == "signal":
            self.signal_group(signal.SIGINT)
            return
        if not self.is_alive():
            return
        from ._interrupt import send_interrupt_request  # zmq, loaded when first needed

        reply = send_interrupt_request(self.info, timeout, alive=self.is_alive)
        if reply is None and self.is_alive():
            raise InterruptTimeout(self.pid, timeout, self.info.connect_url(Channel.CONTROL))

    def terminate(self) -> None:
        """Ask the kernel to stop (SIGTERM)."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Kill the kernel and its process group (SIGKILL). Does not reap: :meth:`close`
        can still end the rest of the group."""
        self.signal_group(getattr(signal, "SIGKILL", signal.SIGTERM))

    def wait_bound(self, timeout: float = 60.0) -> bool:
        """Wait until every tcp port of the kernel accepts connections (``True``), the kernel
        dies or ``timeout`` passes (``False``). ipc: ``True`` once every socket file exists.
        """
        bound = wait_until_bound(
            self.info.ip,
            self.info.ports.values(),
            transport=self.info.transport,
            timeout=timeout,
            alive=self.is_alive,
        )
        if bound and self.reservation is not None:
            self.reservation.release()
        return bound

    def cleanup(self) -> None:
        """Release reservations and remove the files this launcher wrote (idempotent).

        Call it once the kernel has exited; :meth:`wait` and :meth:`close` do.
        """
        if self._cleaned:
            return
        self._cleaned = True
        if self.reservation is not None:
            self.reservation.release()
        if self._owns_file:
            remove_connection_file(self.connection_file, self.info)
        if self._owns_ipc and self.info.transport == "ipc":
            remove_ipc_sockets(self.info)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the kernel if it runs (SIGTERM, then SIGKILL to its group after ``timeout``),
        kill what is left of its process group, reap it, then :meth:`cleanup`."""
        stop_process(self.popen, timeout)
        for stream in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()
        self.cleanup()

    def __enter__(self) -> KernelProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.popen.returncode is None else f"exited {self.popen.returncode}"
        return f"<KernelProcess pid={self.pid} {state} {self.connection_file}>"
