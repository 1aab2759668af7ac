"""Strategy 1, bind-first: bind the five kernel sockets, read the real ports back, then write.

The operating system hands out a free port at ``bind`` time, atomically, so nothing can take
it between the choice and the use: there is no race to lose.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import TracebackType

import zmq
from kcf_spec import Channel, ConnectionInfo, format_host

from ._errors import BindError, map_zmq_error
from ._heartbeat import Heartbeat
from ._ipc import check_ipc_paths, default_ipc_prefix
from ._write import (
    StrPath,
    new_key,
    remove_connection_file,
    remove_ipc_sockets,
    write_connection_file,
)

__all__ = [
    "KernelSockets",
    "bind_kernel",
    "SOCKET_TYPES",
    "NOT_A_PATH",
    "bound_port",
    "configure_kernel_socket",
]

#: tcp addresses that, in an ipc connection, mean "no prefix given".
NOT_A_PATH = frozenset({"127.0.0.1", "localhost", "*", "0.0.0.0", ""})  # noqa: S104 - names, not binds

#: The socket type of each channel on the kernel side.
SOCKET_TYPES: dict[Channel, int] = {
    Channel.SHELL: zmq.ROUTER,
    Channel.IOPUB: zmq.PUB,
    Channel.STDIN: zmq.ROUTER,
    Channel.CONTROL: zmq.ROUTER,
    Channel.HB: zmq.REP,
}


class KernelSockets:
    """The five bound sockets of a kernel and the :class:`~kcf_spec.ConnectionInfo` with the
    ports they really got.

    Made by :func:`bind_kernel`. :meth:`close` closes the sockets, stops the heartbeat,
    removes the ipc socket files and removes the connection file if this object wrote it
    (never a file someone else wrote). It is also a context manager.

    Attributes:
        info: the connection, with real ports (and an absolute ipc prefix).
        connection_file: the file written after binding, or ``None``.
        owns_file: ``True`` when this object wrote ``connection_file`` and will remove it.
        context: the ZeroMQ context of the sockets.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        sockets: dict[Channel, zmq.Socket[bytes]],
        info: ConnectionInfo,
        *,
        connection_file: Path | None = None,
        owns_file: bool = False,
        owns_context: bool = False,
    ) -> None:
        self.context = context
        self.info = info
        self.connection_file = connection_file
        self.owns_file = owns_file
        self._sockets = sockets
        self._owns_context = owns_context
        self._heartbeat: Heartbeat | None = None
        self._closed = False

    def socket(self, channel: Channel | str) -> zmq.Socket[bytes]:
        """The socket of ``channel``."""
        return self._sockets[Channel(channel)]

    @property
    def shell(self) -> zmq.Socket[bytes]:
        """The shell ``ROUTER`` socket."""
        return self._sockets[Channel.SHELL]

    @property
    def iopub(self) -> zmq.Socket[bytes]:
        """The iopub ``PUB`` socket."""
        return self._sockets[Channel.IOPUB]

    @property
    def stdin(self) -> zmq.Socket[bytes]:
        """The stdin ``ROUTER`` socket."""
        return self._sockets[Channel.STDIN]

    @property
    def control(self) -> zmq.Socket[bytes]:
        """The control ``ROUTER`` socket."""
        return self._sockets[Channel.CONTROL]

    @property
    def hb(self) -> zmq.Socket[bytes]:
        """The heartbeat ``REP`` socket."""
        return self._sockets[Channel.HB]

    def start_heartbeat(self) -> Heartbeat:
        """Start the echo :class:`Heartbeat` on the hb socket (stopped by :meth:`close`)."""
        if self._heartbeat is None:
            self._heartbeat = Heartbeat(self.hb).start()
        return self._heartbeat

    def write_connection_file(self, path: StrPath | None = None) -> Path:
        """Write :attr:`info` (atomic, 0600) to ``path`` (default: :attr:`connection_file`
        or a new ``kernel-<id>.json`` in the runtime dir); this object then owns the file."""
        target = write_connection_file(
            self.info, path if path is not None else self.connection_file
        )
        self.connection_file, self.owns_file = target, True
        return target

    @property
    def closed(self) -> bool:
        """``True`` once :meth:`close` has run."""
        return self._closed

    def remove_files(self) -> None:
        """Remove the connection file (if this object wrote it) and the ipc socket files.

        Safe in a signal handler (no socket is touched); see :func:`cleanup_on_signals`.
        """
        if self.owns_file and self.connection_file is not None:
            remove_connection_file(self.connection_file, self.info)
        elif self.info.transport == "ipc":
            remove_ipc_sockets(self.info)

    def close(self, *, remove_files: bool = True, linger: float = 1.0) -> None:
        """Stop the heartbeat, close the sockets and remove what this object created.

        Messages still queued (a kernel's last ``shutdown_reply``) are sent for up to
        ``linger`` seconds; then they are dropped, so a vanished client cannot hold the
        kernel's exit.

        Args:
            remove_files: also call :meth:`remove_files`.
            linger: seconds to keep sending queued messages.

        .. versionchanged:: 0.2.0
           Queued messages are sent (``linger``) instead of dropped.
        """
        if self._closed:
            return
        self._closed = True
        if self._heartbeat is not None:
            self._heartbeat.stop()
        for sock in self._sockets.values():
            sock.close(linger=max(0, int(linger * 1000)))
        if remove_files:
            self.remove_files()
        if self._owns_context:
            self.context.term()

    def __enter__(self) -> KernelSockets:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<KernelSockets {state} {self.info!r} file={self.connection_file}>"


def configure_kernel_socket(
    sock: zmq.Socket[bytes], info: ConnectionInfo, *, curve: bool = True
) -> None:
    """Set the options of a new kernel-side (binding) socket for ``info``, before it binds.

    One second of linger, ZeroMQ's ``IPV6`` option for an IPv6 address
    (:attr:`~kcf_spec.ConnectionInfo.is_ipv6`) and, when ``curve`` and ``info`` has a CURVE
    secret key, the CURVE server role. The handshake's registration socket passes
    ``curve=False`` (its messages are signed, never encrypted).

    Raises:
        zmq.ZMQError: an option was refused (the caller maps it at its seam).
    """
    sock.linger = 1000
    if info.is_ipv6:
        sock.ipv6 = True
    if curve and info.curve_secretkey is not None:
        sock.curve_secretkey = info.curve_secretkey.encode("ascii")
        if info.curve_publickey is not None:
            sock.curve_publickey = info.curve_publickey.encode("ascii")
        sock.curve_server = True


def bound_port(sock: zmq.Socket[bytes]) -> int:
    """The tcp port ``sock`` is bound to (read back after binding port ``*``).

    Raises:
        zmq.ZMQError: the endpoint could not be read (the caller maps it at its seam).
    """
    last = sock.getsockopt(zmq.LAST_ENDPOINT)
    assert isinstance(last, bytes)
    return int(last.decode().rsplit(":", 1)[1])


def _bind_one(sock: zmq.Socket[bytes], channel: Channel, info: ConnectionInfo, port: int) -> int:
    if info.transport == "tcp":
        endpoint = f"tcp://{format_host(info.ip)}:{port if port else '*'}"
    else:
        if not port:
            port = channel.ipc_index
            while os.path.lexists(f"{info.ip}-{port}"):
                port += 5  # stay clear of the other channels' default suffixes
        endpoint = f"ipc://{info.ip}-{port}"
    try:
        sock.bind(endpoint)
    except zmq.ZMQError as exc:
        raise BindError(channel.value, endpoint, exc.strerror, port=port or None) from exc
    if info.transport == "ipc":
        return port
    try:
        return bound_port(sock)
    except zmq.ZMQError as exc:
        raise map_zmq_error(exc, f"read the {channel.value} socket's endpoint") from exc


def bind_kernel(
    source: ConnectionInfo | StrPath | None = None,
    context: zmq.Context[zmq.Socket[bytes]] | None = None,
    *,
    connection_file: StrPath | None = None,
    write: bool = True,
) -> KernelSockets:
    """Bind the five kernel sockets, then (and only then) write the connection file.

    ``source`` says what to bind:

    * a path to an existing file (the kernel's ``-f`` argument): read with the *launch*
      profile, so ports ``0`` mean "choose". Given ports are bound as they are (a port in
      use is a :class:`BindError`, never a silent substitute). If any port was chosen, the
      file is rewritten atomically with the real ports, keeping its key, scheme and extra
      fields; a file that already had every port is left untouched and is not ours.
    * a path that does not exist: a new connection (tcp, 127.0.0.1, a new key) is bound and
      written there; this object owns the file and removes it on :meth:`KernelSockets.close`.
    * a :class:`~kcf_spec.ConnectionInfo` (ports 0 = choose), written to ``connection_file``
      when one is given.
    * ``None``: like a new connection, written to ``connection_file`` when given.

    Socket types: ROUTER for shell, control and stdin, PUB for iopub, REP for the heartbeat.
    IPv6 addresses (``::1``, ``::``) set ZeroMQ's ``IPV6`` option. An ipc prefix is made
    absolute; an ipc connection with no usable prefix gets one beside the connection file.

    Args:
        source: what to bind (see above).
        context: the ZeroMQ context (default: a new one, terminated by ``close``).
        connection_file: where to write, for a ``ConnectionInfo`` or ``None`` source.
        write: write the file at all (``False`` for the handshake, which reports instead).

    Raises:
        kcf_spec.ConnectionFileError: the file is not a valid launch document.
        BindError: a socket could not be bound (names the channel and endpoint).
        SocketPathTooLong: an ipc socket path is too long for this platform.
        WriteError: the file could not be written.

    .. versionadded:: 0.1.0
    """
    path: Path | None = None
    existing = False
    if isinstance(source, ConnectionInfo):
        info = source
        path = Path(connection_file) if connection_file is not None else None
    elif source is None:
        info = ConnectionInfo(0, 0, 0, 0, 0, key=new_key())
        path = Path(connection_file) if connection_file is not None else None
    else:
        path = Path(source)
        if path.exists():
            existing = True
            info = ConnectionInfo.load(path, profile="launch")
        else:
            info = ConnectionInfo(0, 0, 0, 0, 0, key=new_key())
    if info.transport == "ipc":
        prefix = info.ip
        if path is not None and prefix in NOT_A_PATH:
            prefix = default_ipc_prefix(path)
        info = info.replace(ip=os.path.abspath(prefix))
        check_ipc_paths(info, largest_suffix=max(99, *info.ports.values()))

    own_context = context is None
    try:
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context() if context is None else context
    except zmq.ZMQError as exc:
        raise map_zmq_error(exc, "create a ZeroMQ context") from exc
    sockets: dict[Channel, zmq.Socket[bytes]] = {}
    ports: dict[Channel, int] = {}
    try:
        for channel in Channel:
            try:
                sock: zmq.Socket[bytes] = ctx.socket(SOCKET_TYPES[channel])
                sockets[channel] = sock
                configure_kernel_socket(sock, info)
            except zmq.ZMQError as exc:
                raise map_zmq_error(exc, f"set up the {channel.value} socket") from exc
            ports[channel] = _bind_one(sock, channel, info, info.port(channel))
    except BaseException:
        for sock in sockets.values():
            sock.close(linger=0)
        for port in ports.values() if info.transport == "ipc" else ():
            sock_path = f"{info.ip}-{port}"
            if os.path.exists(sock_path) and stat.S_ISSOCK(os.lstat(sock_path).st_mode):
                os.unlink(sock_path)
        if own_context:
            ctx.term()
        raise
    bound = info.replace(ports=ports)
    result = KernelSockets(ctx, sockets, bound, connection_file=path, owns_context=own_context)
    if write and path is not None and (not existing or bound != info):
        try:
            result.write_connection_file(path)
        except BaseException:
            result.close()
            raise
    return result
