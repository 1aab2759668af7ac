"""What both backends share: options, the ``Tunnel`` surface, the forward probe."""

from __future__ import annotations

import abc
import dataclasses
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

from kcf_spec import Channel, ConnectionInfo

from ._errors import ForwardRefused, TunnelDied
from ._spec import ServerSpec, forward_host

__all__ = ["Tunnel", "TunnelOptions", "Callback", "local_info", "probe_forwards"]

#: A callback asked for a secret: gets the prompt, returns the answer or ``None`` to decline.
Callback = Callable[[str], "str | None"]

StrPath = str | os.PathLike[str]


@dataclasses.dataclass(frozen=True, slots=True)
class TunnelOptions:
    """Everything ``open_tunnel`` passes to a backend (internal)."""

    server: str
    spec: ServerSpec
    accept_new: bool = False
    ssh_config: Path | None = None
    known_hosts: Path | None = None
    identity_file: Path | None = None
    password_callback: Callback | None = None
    passphrase_callback: Callback | None = None
    timeout: float = 15.0
    keepalive: int = 15


def local_info(remote: ConnectionInfo, ports: Mapping[Channel, int]) -> ConnectionInfo:
    """The connection info a local frontend uses: 127.0.0.1, ``ports``, everything else kept."""
    return remote.replace(ip="127.0.0.1", transport="tcp", ports=dict(ports))


def targets(remote: ConnectionInfo) -> dict[Channel, tuple[str, int]]:
    """``{channel: (host, port)}`` the server connects to for each channel."""
    host = forward_host(remote.ip)
    return {c: (host, p) for c, p in remote.ports.items()}


class Tunnel(abc.ABC):
    """An open SSH tunnel carrying a kernel's five channels over one SSH connection.

    Use it as a context manager, or call :meth:`close` (idempotent). :attr:`local` is the
    connection info a frontend on this machine connects with; :meth:`write_connection_file`
    writes it for other programs (``jupyter console --existing FILE``).

    Attributes:
        remote: the kernel's connection info, as given.
        local: the same kernel seen through the tunnel: ``127.0.0.1``, five local ports,
            the same key, scheme and kernel name.
        server: the server spec or alias, as given.
        backend: ``"paramiko"`` or ``"openssh"``.

    .. versionadded:: 0.1.0
    """

    backend: str = ""

    def __init__(
        self,
        remote: ConnectionInfo,
        ports: Mapping[Channel, int],
        options: TunnelOptions,
        connection_file: StrPath | None = None,
    ) -> None:
        self.remote = remote
        self.local = local_info(remote, ports)
        self.server = options.server
        self._options = options
        self._connection_file = Path(connection_file) if connection_file is not None else None
        self._close_lock = threading.Lock()
        self._closed = False
        self._written: list[Path] = []

    # -- the backend's part -----------------------------------------------------------------

    @abc.abstractmethod
    def _shutdown(self) -> None:
        """Stop everything the backend started (called once, by :meth:`close`)."""

    @abc.abstractmethod
    def _ended(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` for the SSH connection to end; return whether it has."""

    @abc.abstractmethod
    def _death(self) -> TunnelDied:
        """The error describing how the connection ended."""

    def _refusal(self, channel: Channel) -> str:
        """Why the server refused to forward ``channel`` (backend-specific detail)."""
        return ""

    # -- public surface ---------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """``True`` once :meth:`close` was called.

        .. versionadded:: 0.1.0
        """
        return self._closed

    def is_alive(self) -> bool:
        """``True`` while the SSH connection is up and :meth:`close` was not called.

        .. versionadded:: 0.1.0
        """
        return not self._closed and not self._ended(0)

    def check(self) -> None:
        """Raise :class:`TunnelDied` if the connection ended without :meth:`close`.

        .. versionadded:: 0.1.0
        """
        if not self._closed and self._ended(0):
            raise self._death()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the tunnel ends (closed, or died) or ``timeout`` passes.

        Returns:
            ``True`` if it has ended; then :meth:`check` tells whether it died.

        .. versionadded:: 0.1.0
        """
        if self._closed:
            return True
        return self._ended(timeout)

    def close(self) -> None:
        """Close the tunnel: listeners, channels, the SSH connection, every thread and
        process it started, and the connection files it wrote. Safe to call twice.

        .. versionadded:: 0.1.0
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._shutdown()
        finally:
            from kcf_kernel import remove_connection_file

            for path in self._written:  # only while it still holds our key
                remove_connection_file(path, self.local)

    def write_connection_file(self, path: StrPath | None = None) -> Path:
        """Write :attr:`local` as a connection file (0600, atomic) and return its path.

        The file is removed again by :meth:`close`.

        Args:
            path: where; by default ``<name>-ssh.json`` beside the connection file the
                tunnel was opened from, else ``kernel-<random>-ssh.json`` in the Jupyter
                runtime directory.

        .. versionadded:: 0.1.0
        """
        from kcf_kernel import new_kernel_id, runtime_dir, write_connection_file

        if path is not None:
            target = Path(path)
        elif self._connection_file is not None:
            src = self._connection_file
            target = src.with_name(f"{src.stem}-ssh.json")
        else:
            target = runtime_dir() / f"kernel-{new_kernel_id()}-ssh.json"
        written = write_connection_file(self.local, target)
        self._written.append(written)
        return written

    def __enter__(self) -> Tunnel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("alive" if self.is_alive() else "dead")
        ports = ",".join(str(p) for p in self.local.ports.values())
        return f"<{type(self).__name__} {self.server} 127.0.0.1:{ports} {state}>"


def probe_forwards(tunnel: Tunnel, timeout: float) -> None:
    """Check that the server forwards every channel: connect to each local port and wait
    for the kernel's first bytes (a ZeroMQ peer sends its greeting at once) or end of file.

    End of file means the server could not connect (refused, or forwarding prohibited).
    Silence until ``timeout`` counts as forwarded (the channel is open end to end).

    Raises:
        ForwardRefused: naming the channel, the target and the server's reason.
        TunnelDied: the connection ended while probing.
    """
    sel = selectors.DefaultSelector()
    socks: dict[socket.socket, Channel] = {}
    try:
        for channel, port in tunnel.local.ports.items():
            s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            s.setblocking(False)
            socks[s] = channel
            sel.register(s, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        pending = set(socks)
        socks_by_fd = {s.fileno(): s for s in socks}
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            for key, _ in sel.select(min(left, 0.05)):
                s = socks_by_fd[key.fd]
                try:
                    data = s.recv(64)
                except OSError:
                    data = b""
                if data:
                    pending.discard(s)
                    sel.unregister(s)
                    continue
                tunnel.check()
                channel = socks[s]
                host, port = targets(tunnel.remote)[channel]
                reason = _wait_reason(tunnel, channel)
                raise ForwardRefused(
                    f"the server did not forward the {channel.value} channel to "
                    f"{host}:{port}"
                    + (f": {reason}" if reason else "")
                    + " (is the kernel running there, and is TCP forwarding allowed?)",
                    server=tunnel.server,
                    backend=tunnel.backend,
                    target=(host, port),
                )
            tunnel.check()
    finally:
        sel.close()
        for s in socks:
            s.close()


def _wait_reason(tunnel: Tunnel, channel: Channel, patience: float = 0.5) -> str:
    deadline = time.monotonic() + patience
    while True:
        reason = tunnel._refusal(channel)
        if reason or time.monotonic() >= deadline:
            return reason
        time.sleep(0.01)
