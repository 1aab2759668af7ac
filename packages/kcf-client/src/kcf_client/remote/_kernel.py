"""``start_remote_kernel`` and the :class:`RemoteKernel` handle: the launcher's half.

Start: one SSH connection runs ``PYTHON -m kcf_kernel.nanny``; the launcher sends the hello
(a :func:`secrets.token_hex` session key) and a signed launch request, reads the signed
reply with the kernel's real ports and key, picks five free local ports and asks the same
connection to forward them; then writes the local connection file (``127.0.0.1``, the local
ports, the kernel's key; atomic, 0600) with :func:`kcf_kernel.write_connection_file`.

Healing: a reader thread follows the link. When the connection ends while the kernel is
wanted, a healer thread reconnects (backing off, until ``grace`` seconds after the drop)
with ``PYTHON -m kcf_kernel.nanny --attach ID``, answers the nanny's challenge with the
session key, and forwards the *same* local ports again, so the frontend's ZeroMQ sockets
(which reconnect by themselves) keep working. Past the grace, the nanny has ended the kernel:
the handle reports :class:`ConnectionLost`.
"""

from __future__ import annotations

import contextlib
import queue
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from kcf_kernel import new_kernel_id, remove_connection_file, runtime_dir, write_connection_file
from kcf_kernel._nanny import DEFAULT_GRACE, NannyRequest
from kcf_kernel._nanny_link import LinkClosed, recv_message, send_hello, send_message
from kcf_spec import (
    Channel,
    Codec,
    ConnectionInfo,
    KcfError,
    Message,
    RemoteProtocolError,
    SignatureError,
)

from kcf_client.tunnel import Backend, TunnelError, choose_backend, parse_server
from kcf_client.tunnel._base import StrPath, TunnelOptions, local_info
from kcf_client.tunnel._openssh import PortTaken, free_ports

from ._connection import Connection
from ._errors import ConnectionLost, RemoteKernelError, RemoteLaunchFailed

__all__ = ["RemoteKernel", "start_remote_kernel"]

Signal = Literal["interrupt", "terminate", "kill"]
_PORT_TRIES = 4


def _connector(
    backend: str, options: TunnelOptions, control_dir: Path
) -> tuple[Callable[[Sequence[str]], Connection], Callable[[], None]]:
    """How to open a connection running a command, and what to release at the end (the
    paramiko backend's local forwards, which outlive each connection)."""
    counter = iter(range(1_000_000))
    if backend == "paramiko":
        from ._paramiko import ParamikoConnection, SharedForwards

        forwards = SharedForwards(options)
        return (lambda command: ParamikoConnection(options, command, forwards)), forwards.close
    from ._openssh import OpenSSHConnection

    return (
        lambda command: OpenSSHConnection(options, command, control_dir / f"c{next(counter)}")
    ), lambda: None


class RemoteKernel:
    """A kernel started on another host, reached through one SSH connection.

    Use it as a context manager or call :meth:`close`. :attr:`info` and
    :attr:`connection_file` are the local view (127.0.0.1, forwarded ports, the kernel's
    key): any frontend can use them, and they stay valid across healed drops.

    Attributes:
        host: the host as given.
        info: the local connection info.
        remote_info: the kernel's connection info on its host.
        connection_file: the local connection file.
        nanny_id: the nanny's id on the remote host.
        pid: the kernel's process id on the remote host.
        backend: ``"openssh"`` or ``"paramiko"``.
        grace: seconds the kernel outlives a dropped connection.
        reconnects: how many times a dropped connection was healed.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self,
        host: str,
        python: str,
        key: bytes,
        connect: Callable[[Sequence[str]], Connection],
        release: Callable[[], None],
        control_dir: Path,
        grace: float,
        timeout: float,
    ) -> None:
        self.host = host
        self.python = python
        self.grace = grace
        self.reconnects = 0
        self._key = key
        self._codec = Codec(key)
        self._connect = connect
        self._release = release
        self._control_dir = control_dir
        self._timeout = timeout
        self._replies: queue.Queue[Message] = queue.Queue()
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._closing = False
        self._error: BaseException | None = None
        self._exit_status: int | None = None
        self._ended = threading.Event()
        self._conn: Connection | None = None
        self._healer: threading.Thread | None = None
        self._file_written = False
        self.backend = ""
        self.nanny_id = ""
        self.pid = 0
        self.remote_info: ConnectionInfo | None = None
        self.info: ConnectionInfo | None = None
        self.connection_file = Path()
        self._ports: dict[Channel, int] = {}

    # -- starting -------------------------------------------------------------------------------

    def _start(self, request: NannyRequest, connection_file: StrPath | None) -> None:
        conn = self._connect([self.python, "-m", "kcf_kernel.nanny"])
        self.backend = conn.backend
        self._conn = conn
        with self._deadline(conn, self._timeout + request.timeout):
            try:
                send_hello(conn.link, self._key)
                send_message(conn.link, self._codec, "nanny_launch_request", request.to_content())
                reply = recv_message(conn.link, self._codec)
            except LinkClosed:
                conn.close()
                raise conn.failure(self.python) from None
        self._accept_reply(reply, "nanny_launch_reply")
        assert self.remote_info is not None
        self._forward(conn, fresh=True)
        self.info = local_info(self.remote_info, self._ports)
        path = (
            Path(connection_file)
            if connection_file is not None
            else runtime_dir() / f"kernel-{new_kernel_id()}-ssh.json"
        )
        self.connection_file = write_connection_file(self.info, path)
        self._file_written = True
        self._connected.set()
        self._follow(conn)

    @contextlib.contextmanager
    def _deadline(self, conn: Connection, seconds: float) -> Any:
        """Close ``conn`` if the block takes longer than ``seconds`` (its reads then end)."""
        timer = threading.Timer(seconds, conn.close)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def _accept_reply(self, reply: Message, expected: str) -> None:
        content = reply.content
        if reply.header.msg_type != expected:
            raise RemoteProtocolError(f"nanny: expected {expected}, got {reply.header.msg_type}")
        if content.get("status") != "ok":
            raise RemoteLaunchFailed(
                str(content.get("message", "the kernel did not start")),
                host=self.host,
                exit_status=content.get("exit_status"),
                stderr_tail=[str(x) for x in content.get("stderr_tail") or []],
            )
        try:
            remote = ConnectionInfo.from_dict(content["connection"], profile="connect")
        except (KeyError, TypeError) as exc:
            raise RemoteProtocolError(f"nanny: {expected} without /content/connection") from exc
        self.remote_info = remote
        self.nanny_id = str(content.get("nanny_id", ""))
        self.pid = int(content.get("pid", 0))

    def _forward(self, conn: Connection, *, fresh: bool) -> None:
        assert self.remote_info is not None
        host = "127.0.0.1"
        remote = {c: (host, p) for c, p in self.remote_info.ports.items()}
        for attempt in range(_PORT_TRIES):
            if fresh:
                self._ports = free_ports()
            try:
                conn.forward(self._ports, remote, self._timeout)
                return
            except PortTaken:
                if not fresh or attempt + 1 == _PORT_TRIES:
                    raise TunnelError(
                        f"a local port of {sorted(self._ports.values())} was taken by another "
                        "program; cannot forward",
                        server=self.host,
                        backend=conn.backend,
                    ) from None

    # -- following the connection --------------------------------------------------------------

    def _follow(self, conn: Connection) -> None:
        threading.Thread(
            target=self._read, args=(conn,), daemon=True, name="kcf-remote-read"
        ).start()

    def _read(self, conn: Connection) -> None:
        try:
            while True:
                msg = recv_message(conn.link, self._codec)
                if msg.header.msg_type == "nanny_kernel_exited":
                    status = msg.content.get("exit_status")
                    self._exit_status = status if isinstance(status, int) else None
                    self._error = ConnectionLost(
                        f"the kernel exited (status {self._exit_status})", host=self.host
                    )
                    self._ended.set()
                else:
                    self._replies.put(msg)
        except (LinkClosed, RemoteProtocolError, SignatureError):
            pass
        with self._lock:
            if conn is not self._conn:
                return
            self._connected.clear()
            conn.close()
            if self._closing or self._ended.is_set():
                return
            self._healer = threading.Thread(
                target=self._heal, args=(time.monotonic(),), daemon=True, name="kcf-remote-heal"
            )
            self._healer.start()

    def _heal(self, dropped_at: float) -> None:
        deadline = dropped_at + self.grace
        delay = 0.1
        last: BaseException | None = None
        while not self._closing and time.monotonic() < deadline:
            try:
                conn = self._connect(
                    [self.python, "-m", "kcf_kernel.nanny", "--attach", self.nanny_id]
                )
            except TunnelError as exc:
                last = exc
            else:
                try:
                    with self._deadline(
                        conn, max(0.5, min(self._timeout, deadline - time.monotonic()))
                    ):
                        challenge = recv_message(conn.link, self._codec)
                        nonce = challenge.content.get("nonce")
                        send_message(
                            conn.link, self._codec, "nanny_attach_request", {"nonce": nonce}
                        )
                        reply = recv_message(conn.link, self._codec)
                    self._accept_reply(reply, "nanny_attach_reply")
                    self._forward(conn, fresh=False)
                except (LinkClosed, RemoteProtocolError, SignatureError, KcfError) as exc:
                    last = exc
                    conn.close()
                else:
                    with self._lock:
                        if self._closing_now():
                            conn.close()
                            return
                        self._conn = conn
                        self.reconnects += 1
                        self._connected.set()
                    self._follow(conn)
                    return
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 2.0)
        why = f" (last attempt: {last})" if last is not None else ""
        self._error = ConnectionLost(
            f"the SSH connection dropped and did not come back within the grace of "
            f"{self.grace:g} s; the nanny has ended the kernel{why}",
            host=self.host,
        )
        self._ended.set()

    def _closing_now(self) -> bool:
        return self._closing  # read again: close() may have run meanwhile

    # -- public surface -------------------------------------------------------------------------

    def is_alive(self) -> bool:
        """``True`` while the kernel runs (also while a dropped connection is healing)."""
        return not self._closing and not self._ended.is_set()

    def is_connected(self) -> bool:
        """``True`` while the SSH connection is up (the forwards work)."""
        return self._connected.is_set() and self.is_alive()

    def wait_connected(self, timeout: float) -> bool:
        """Wait until the connection is up (after a drop: healed); ``False`` after ``timeout``
        or once the kernel is gone."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._connected.wait(min(0.05, max(0.0, deadline - time.monotonic()))):
                return self.is_alive()
            if self._ended.is_set():
                return False
        return self.is_connected()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the kernel is gone (exited, or lost); whether it is, after ``timeout``."""
        return self._ended.wait(timeout)

    @property
    def exit_status(self) -> int | None:
        """The kernel's exit status once it exited (``None`` while it runs, or when it was
        lost with the connection).

        .. versionadded:: 0.2.0
        """
        return self._exit_status

    @property
    def error(self) -> BaseException | None:
        """Why the kernel is gone (:class:`ConnectionLost`), or ``None``."""
        return self._error

    def _request(self, msg_type: str, content: Mapping[str, Any], timeout: float) -> Message:
        if not self.wait_connected(timeout):
            raise self._error or ConnectionLost("not connected", host=self.host)
        conn = self._conn
        assert conn is not None
        while not self._replies.empty():
            self._replies.get_nowait()
        try:
            send_message(conn.link, self._codec, msg_type, dict(content))
            return self._replies.get(timeout=timeout)
        except (LinkClosed, queue.Empty):
            raise ConnectionLost(
                f"no answer to {msg_type} within {timeout:g} s", host=self.host
            ) from None

    def signal(self, name: Signal, timeout: float = 10.0) -> None:
        """Send ``interrupt`` (SIGINT), ``terminate`` (SIGTERM) or ``kill`` (SIGKILL) to the
        kernel's process group on its host.

        Raises:
            ConnectionLost: not connected within ``timeout``, or the kernel is gone.
        """
        reply = self._request("nanny_signal_request", {"signal": name}, timeout)
        if reply.content.get("status") != "ok":
            raise RemoteKernelError(str(reply.content.get("message")), host=self.host)

    def interrupt(self, timeout: float = 10.0) -> None:
        """Interrupt the running code (SIGINT to the remote process group)."""
        self.signal("interrupt", timeout)

    def terminate(self, timeout: float = 10.0) -> None:
        """Ask the kernel to stop (SIGTERM)."""
        self.signal("terminate", timeout)

    def kill(self, timeout: float = 10.0) -> None:
        """Kill the kernel's process group (SIGKILL)."""
        self.signal("kill", timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Shut the kernel down (the nanny stops it and removes its files), end the
        connection and its forwards, remove the local connection file. Idempotent; returns
        within about ``timeout``."""
        if not self._closing:
            with contextlib.suppress(RemoteKernelError):
                if self.is_connected():
                    self._request("nanny_shutdown_request", {}, timeout)
        with self._lock:
            self._closing = True
            conn = self._conn
        if conn is not None:
            conn.close()
        if self._healer is not None:
            self._healer.join(timeout)
        self._release()
        if self._file_written and self.info is not None:
            remove_connection_file(self.connection_file, self.info)
            self._file_written = False
        shutil.rmtree(self._control_dir, ignore_errors=True)
        self._ended.set()

    def drop_connection(self) -> None:
        """Kill the SSH connection as a network failure would (it heals; for tests and demos)."""
        conn = self._conn
        if conn is not None:
            kill = getattr(conn, "kill", conn.close)
            kill()

    def __enter__(self) -> RemoteKernel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "alive" if self.is_alive() else "gone"
        return f"<RemoteKernel {self.host} pid={self.pid} {state} {self.connection_file}>"


def start_remote_kernel(
    host: str,
    *,
    remote_python: str = "python3",
    kernelspec: str | None = None,
    argv: Sequence[str] | None = None,
    strategy: Literal["auto", "kernel", "handshake", "reserve"] = "auto",
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    backend: Backend = "auto",
    grace: float = DEFAULT_GRACE,
    timeout: float = 60.0,
    connection_file: StrPath | None = None,
    accept_new: bool = False,
    ssh_config: StrPath | None = None,
    known_hosts: StrPath | None = None,
    identity_file: StrPath | None = None,
    keepalive: int = 15,
) -> RemoteKernel:
    """Start a kernel on ``host`` over SSH and return its handle.

    Args:
        host: ``[user@]host[:port]`` or a ``~/.ssh/config`` alias (ProxyJump honoured).
        remote_python: the Python on ``host`` that has kcf-kernel (and the kernel).
        kernelspec: a kernelspec name on ``host``.
        argv: the kernel's argv template instead (``{connection_file}`` placeholders).
            Neither: ipykernel with ``remote_python``.
        strategy: how the kernel gets its ports on ``host`` (see :mod:`kcf_kernel.nanny`).
        env: variables added to the kernel's environment.
        cwd: the kernel's working directory on ``host``.
        backend: ``"openssh"`` (the ssh command, one master connection), ``"paramiko"``
            (one transport in this process), or ``"auto"`` (as for tunnels).
        grace: seconds the kernel outlives a dropped connection (and a dead launcher).
        timeout: seconds for connecting and for the kernel's ports each.
        connection_file: where to write the local connection file (default: the runtime
            dir, ``kernel-<id>-ssh.json``).
        accept_new: trust a host key seen for the first time (a changed one never).
        ssh_config: the ssh configuration file.
        known_hosts: a known_hosts file instead of the configured ones.
        identity_file: a private key to try first.
        keepalive: seconds between SSH keepalives.

    Raises:
        HostUnreachable, HostKeyUnknown, HostKeyMismatch, AuthenticationFailed,
        ConnectTimeout, BackendUnavailable, SSHConfigError: (from :mod:`kcf_client.tunnel`)
            the SSH connection failed.
        RemoteSetupError: no Python, or no kcf-kernel, on ``host`` (the error says what
            to install).
        RemoteLaunchFailed: the kernel did not start (its exit status and last output).

    .. versionadded:: 0.2.0
    """
    if argv is not None and kernelspec is not None:
        raise ValueError("give argv or kernelspec, not both")
    options = TunnelOptions(
        server=host,
        spec=parse_server(host),
        accept_new=accept_new,
        ssh_config=Path(ssh_config).expanduser() if ssh_config is not None else None,
        known_hosts=Path(known_hosts).expanduser() if known_hosts is not None else None,
        identity_file=Path(identity_file).expanduser() if identity_file is not None else None,
        timeout=timeout,
        keepalive=keepalive,
    )
    chosen = choose_backend(backend)
    control_dir = Path(tempfile.mkdtemp(prefix="kcf-ssh-"))  # mkdtemp: 0700
    key = secrets.token_hex(32).encode("ascii")
    connect, release = _connector(chosen, options, control_dir)
    kernel = RemoteKernel(
        host,
        remote_python,
        key,
        connect,
        release,
        control_dir,
        grace,
        timeout,
    )
    request = NannyRequest(
        argv=tuple(argv) if argv is not None else None,
        kernelspec=kernelspec,
        strategy=strategy,
        env=dict(env or {}),
        cwd=cwd,
        grace=grace,
        timeout=timeout,
    )
    try:
        kernel._start(request, connection_file)
    except BaseException:
        kernel.close(timeout=5)
        raise
    return kernel
