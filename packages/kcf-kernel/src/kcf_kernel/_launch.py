"""Starting a kernel process from an argv template, and the handle to manage it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

from kcf_spec import Channel, ConnectionInfo, KcfError

from ._bind import _NOT_A_PATH
from ._errors import KernelWaitTimeout, LaunchError, LaunchTimeout
from ._ipc import check_ipc_paths, default_ipc_prefix
from ._paths import ensure_private_dir
from ._paths import runtime_dir as _runtime_dir
from ._reserve import PortReservation, port_is_listening, reserve_ports
from ._write import (
    StrPath,
    new_kernel_id,
    new_key,
    remove_connection_file,
    remove_ipc_sockets,
    write_connection_file,
)

__all__ = [
    "KernelProcess",
    "launch_kernel",
    "ipykernel_argv",
    "example_kernel_argv",
    "format_argv",
    "PortStrategy",
]

#: How :func:`launch_kernel` gets the kernel its ports.
PortStrategy = Literal["reserve", "kernel", "handshake", "given"]

_Stream = int | IO[Any] | None


def ipykernel_argv() -> list[str]:
    """``[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]``.

    .. versionadded:: 0.1.0
    """
    return [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


def example_kernel_argv(handshake: bool = False) -> list[str]:
    """The argv of kcf's example kernel (``kcf_kernel.examples.pykernel``).

    Args:
        handshake: take a registration file (``--registration {registration_file}``) and
            report the ports (JEP 66) instead of reading a connection file.

    .. versionadded:: 0.1.0
    """
    base = [sys.executable, "-m", "kcf_kernel.examples.pykernel"]
    if handshake:
        return [*base, "--registration", "{registration_file}"]
    return [*base, "-f", "{connection_file}"]


def format_argv(argv: Sequence[str], **values: str | os.PathLike[str]) -> list[str]:
    """Replace ``{name}`` in each argument by ``values[name]`` (plain replacement, so other
    braces in the arguments are left alone).

    .. versionadded:: 0.1.0
    """
    out = []
    for arg in argv:
        for name, value in values.items():
            arg = arg.replace("{" + name + "}", os.fspath(value))
        out.append(arg)
    return out


class KernelProcess:
    """A launched kernel: its process, its connection and the files the launcher wrote.

    The process runs in its own process group (its own session on POSIX), so
    :meth:`signal_group` and :meth:`kill` reach the kernel's children too.

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

    .. versionadded:: 0.1.0
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
    ) -> None:
        self.popen = popen
        self.info = info
        self.connection_file = connection_file
        self.argv = list(argv)
        self.kernel_id = kernel_id
        self.reservation = reservation
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
        """The exit status if the kernel has exited, else ``None``."""
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
            try:
                res = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:  # reaped elsewhere
                return False
            return res is None
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
        """Send ``sig`` to the kernel process (nothing if it has exited)."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def signal_group(self, sig: int) -> None:
        """Send ``sig`` to the kernel's whole process group (POSIX; else the process)."""
        if self.popen.poll() is not None:
            return
        if hasattr(os, "killpg"):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
        else:  # pragma: no cover - Windows
            self.popen.send_signal(sig)

    def interrupt(self) -> None:
        """Interrupt the running code (SIGINT to the process group)."""
        self.signal_group(signal.SIGINT)

    def terminate(self) -> None:
        """Ask the kernel to stop (SIGTERM)."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Kill the kernel and its process group (SIGKILL)."""
        self.signal_group(getattr(signal, "SIGKILL", signal.SIGTERM))
        if self.popen.poll() is None:
            self.popen.kill()

    def wait_bound(self, timeout: float = 60.0) -> bool:
        """Wait until every tcp port of the kernel accepts connections (``True``), the kernel
        dies or ``timeout`` passes (``False``). ipc: ``True`` once every socket file exists.
        """
        deadline = time.monotonic() + timeout
        pending = list(Channel)
        while time.monotonic() < deadline:
            if self.info.transport == "ipc":
                pending = [c for c in pending if not os.path.exists(self._ipc_path(c))]
            else:
                pending = [
                    c for c in pending if not port_is_listening(self.info.ip, self.info.port(c))
                ]
            if not pending:
                if self.reservation is not None:
                    self.reservation.release()
                return True
            if not self.is_alive():  # not reaped: close() can still kill its group
                return False
            time.sleep(0.01)
        return False

    def _ipc_path(self, channel: Channel) -> str:
        return f"{self.info.ip}-{self.info.port(channel)}"

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

    def _exited_unreaped(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for the process to exit, without reaping it (POSIX).

        While it is an unreaped zombie its pid, and so its process group id, cannot be given
        to another process: signalling the group is then safe.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                res = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:  # already reaped
                return True
            if res is not None:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the kernel if it runs (SIGTERM, then SIGKILL to its group after ``timeout``),
        kill what is left of its process group, reap it, then :meth:`cleanup`."""
        if self.popen.returncode is None:
            if hasattr(os, "waitid") and hasattr(os, "killpg"):
                if not self._exited_unreaped(0):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.pid, signal.SIGTERM)
                    if not self._exited_unreaped(timeout):
                        with contextlib.suppress(ProcessLookupError):
                            os.killpg(self.pid, signal.SIGKILL)
                        self._exited_unreaped(30)
                # The kernel is an unreaped zombie: its group id is still its own.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pid, signal.SIGKILL)
            else:  # pragma: no cover - Windows
                self.terminate()
                try:
                    self.popen.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.kill()
        self.popen.wait()
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


def _spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None,
    cwd: StrPath | None,
    stdin: _Stream,
    stdout: _Stream,
    stderr: _Stream,
) -> subprocess.Popen[bytes]:
    full_env = dict(os.environ)
    if env is not None:
        full_env.update(env)
    kwargs: dict[str, Any] = {}
    if os.name == "nt":  # pragma: no cover - Windows
        kwargs["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
    else:
        kwargs["start_new_session"] = True
    try:
        return subprocess.Popen(
            list(argv),
            env=full_env,
            cwd=cwd,
            stdin=subprocess.DEVNULL if stdin is None else stdin,
            stdout=stdout,
            stderr=stderr,
            close_fds=True,
            **kwargs,
        )
    except OSError as exc:
        raise LaunchError(argv, f"cannot start: {exc.strerror or exc}") from exc


def _kill_quietly(popen: subprocess.Popen[bytes]) -> None:
    if popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL) if hasattr(os, "killpg") else popen.kill()
    popen.wait()


def launch_kernel(
    argv: Sequence[str],
    *,
    connection: ConnectionInfo | None = None,
    connection_file: StrPath | None = None,
    env: Mapping[str, str] | None = None,
    cwd: StrPath | None = None,
    ports: PortStrategy = "reserve",
    kernel_name: str | None = None,
    ip: str = "127.0.0.1",
    transport: Literal["tcp", "ipc"] = "tcp",
    runtime_dir: StrPath | None = None,
    timeout: float = 60.0,
    stdin: _Stream = None,
    stdout: _Stream = None,
    stderr: _Stream = None,
) -> KernelProcess:
    """Start a kernel from an argv template and return its :class:`KernelProcess`.

    ``{connection_file}`` in ``argv`` (as in a kernelspec) is replaced by the path of the
    connection file. How the kernel gets its ports (``ports``):

    * ``"reserve"`` (strategy 3, any kernel): ports are chosen and reserved across processes
      (:func:`reserve_ports`), written to the file, and released in the background once the
      kernel listens on them. Concurrent kcf launchers never hand out the same port.
    * ``"kernel"`` (strategy 1 done by the kernel): the file is written with ports ``0``
      ("choose"); the kernel binds port 0 and rewrites the file with its real ports (ipykernel
      and kcf's example kernel do); this call waits for that (``timeout``). No race at all.
    * ``"handshake"`` (strategy 2, JEP 66): see :func:`launch_handshake`; ``argv`` takes
      ``{registration_file}`` (or ``{connection_file}``, which then names the registration
      file).
    * ``"given"``: ``connection`` has every port; nothing is chosen.

    Ports already set in ``connection`` are kept, and so are its key, scheme and extra
    fields; with ``"handshake"`` only its key, scheme, transport and (tcp) ip are used (the
    kernel chooses every port). With ``transport="ipc"`` the socket paths are absolute, beside the
    connection file (``<dir>/kernel-<id>-ipc-<n>``) and checked against the platform limit.

    Args:
        argv: the command template.
        connection: a starting connection (default: a new key, ``ip``, ``transport``).
        connection_file: where to write (default ``<runtime dir>/kernel-<id>.json``).
        env: variables added to this process's environment for the kernel.
        cwd: the kernel's working directory.
        ports: the port strategy (above).
        kernel_name: recorded as ``kernel_name`` in the file.
        ip: the address (tcp) when ``connection`` is not given.
        transport: ``"tcp"`` or ``"ipc"`` when ``connection`` is not given.
        runtime_dir: the directory of the default file and of reservations.
        timeout: seconds to wait for ``"kernel"`` and ``"handshake"`` reports.
        stdin: the kernel's stdin (default: ``/dev/null``).
        stdout: the kernel's stdout (default: inherited).
        stderr: the kernel's stderr (default: inherited).

    Raises:
        LaunchError: the program cannot be started, or died before it was ready.
        LaunchTimeout: (``"kernel"``) the kernel did not write its ports in time.
        HandshakeTimeout: (``"handshake"``) no port report in time.
        PortAllocationError: ports cannot be reserved.
        ValueError: an unknown ``ports``; ``"given"`` with a port 0; ``"handshake"`` with
            CURVE keys (the handshake cannot pass them to the kernel).
        SocketPathTooLong: an ipc path is too long.
        WriteError: the connection file cannot be written.

    .. versionadded:: 0.1.0
    """
    if ports == "handshake":
        from ._handshake import launch_handshake

        conn = connection
        if conn is not None and conn.curve_secretkey is not None:
            # The kernel half binds from the registration file, which carries no CURVE keys:
            # going on would give a kernel without the encryption the caller asked for.
            raise ValueError("ports='handshake' cannot carry CURVE keys; use 'reserve' or 'kernel'")
        return launch_handshake(
            argv,
            ip=conn.ip if conn is not None and conn.transport == "tcp" else ip,
            transport=conn.transport if conn is not None else transport,
            key=conn.key if conn is not None else None,
            signature_scheme=conn.signature_scheme if conn is not None else None,
            connection_file=connection_file,
            env=env,
            cwd=cwd,
            kernel_name=kernel_name,
            runtime_dir=runtime_dir,
            timeout=timeout,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
        )
    if ports not in ("reserve", "kernel", "given"):
        raise ValueError(f"unknown port strategy {ports!r}")
    kernel_id = new_kernel_id()
    if connection_file is None:
        base = Path(runtime_dir) if runtime_dir is not None else _runtime_dir(create=False)
        ensure_private_dir(base)
        path = base / f"kernel-{kernel_id}.json"
    else:
        path = Path(connection_file).absolute()
        stem = path.stem
        kernel_id = stem[len("kernel-") :] if stem.startswith("kernel-") else stem
    info = connection or ConnectionInfo(0, 0, 0, 0, 0, ip=ip, transport=transport, key=new_key())
    if not info.key and connection is None:
        info = info.replace(key=new_key())
    if kernel_name is not None:
        info = info.replace(kernel_name=kernel_name)
    zeros = [c for c in Channel if info.port(c) == 0]
    if ports == "given" and zeros:
        raise ValueError(f"ports='given' needs every port; {zeros[0].port_key} is 0")

    owns_ipc = False
    reservation: PortReservation | None = None
    if info.transport == "ipc":
        if connection is None or info.ip in _NOT_A_PATH:
            info = info.replace(ip=default_ipc_prefix(path))
            owns_ipc = True
        info = info.replace(ip=os.path.abspath(info.ip))
        if zeros and ports == "reserve":  # the prefix is ours alone: the small numbers do
            info = info.replace(ports={c: c.ipc_index for c in zeros})
        check_ipc_paths(info, largest_suffix=99)
    elif zeros and ports == "reserve":
        reservation = reserve_ports(len(zeros), ip=info.ip, runtime_dir=runtime_dir)
        info = info.replace(ports=dict(zip(zeros, reservation.ports, strict=True)))

    final = format_argv(argv, connection_file=path)
    try:
        write_connection_file(info, path, profile="launch" if ports == "kernel" else "connect")
        popen = _spawn(final, env=env, cwd=cwd, stdin=stdin, stdout=stdout, stderr=stderr)
    except BaseException:
        if reservation is not None:
            reservation.release()
        remove_connection_file(path, info)
        raise
    proc = KernelProcess(
        popen,
        info,
        path,
        argv=final,
        kernel_id=kernel_id,
        owns_ipc=owns_ipc,
        reservation=reservation,
    )
    if reservation is not None:
        reservation.release_when_bound(alive=proc.is_alive, timeout=max(timeout, 1.0))
    if ports == "kernel" and zeros:
        try:
            proc.info = _wait_for_ports(proc, info, timeout)
        except BaseException:
            _kill_quietly(popen)
            proc.cleanup()
            raise
    return proc


def _rewritten(path: Path, sent: ConnectionInfo) -> ConnectionInfo | None:
    """The file's connection once the kernel has written real ports with our key, else None.

    Cheap on purpose (polled): a document still holding port 0 is recognised without asking
    the schema to explain why it is not a connect document.
    """
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except (OSError, ValueError):  # not there, or caught mid-rewrite by a non-atomic writer
        return None
    if not isinstance(data, dict) or data.get("key") != sent.key.decode("utf-8"):
        return None
    for channel in Channel:
        port = data.get(channel.port_key)
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            return None
    try:
        return ConnectionInfo.from_dict(data, profile="connect", path=path)
    except KcfError:
        return None


def _wait_for_ports(proc: KernelProcess, sent: ConnectionInfo, timeout: float) -> ConnectionInfo:
    """Poll the connection file until the kernel has rewritten it with real ports."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        code = proc.popen.poll()  # before reading: a kernel that wrote, then exited, counts
        info = _rewritten(proc.connection_file, sent)
        if info is not None:
            return info
        if code is not None:
            raise LaunchError(
                proc.argv,
                f"exited with status {code} before writing its ports to {proc.connection_file}",
                returncode=code,
            )
        if time.monotonic() >= deadline:
            raise LaunchTimeout(
                proc.argv,
                f"did not write its ports to {proc.connection_file} within {timeout} s",
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
