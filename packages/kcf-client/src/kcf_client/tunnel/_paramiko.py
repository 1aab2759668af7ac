"""The paramiko backend: one transport, a ``direct-tcpip`` channel per local connection.

Per channel a listening socket on ``127.0.0.1`` port 0, opened before anything else and
kept open for the life of the tunnel (no port race). A :class:`Forwarder` serves them: one
accept thread for the five listeners; each accepted connection gets a pump thread moving
64 KiB reads with ``sendall`` both ways, half-close aware (remote kernels reuse it, with a
transport swapped on reconnect). ``ProxyJump`` hops are nested ``direct-tcpip``
channels handed to the next transport as its socket. All threads are daemons and are
joined by :meth:`ParamikoTunnel.close`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from kcf_spec import Channel, ConnectionInfo

from ._base import StrPath, Tunnel, TunnelOptions, probe_forwards, targets
from ._errors import (
    AuthenticationFailed,
    BackendUnavailable,
    ConnectTimeout,
    HostUnreachable,
    TunnelDied,
    TunnelError,
)
from ._hostkeys import KnownHosts
from ._spec import ServerSpec, parse_server
from ._sshconfig import HostConfig, resolve

try:
    import paramiko
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise BackendUnavailable(
        "the paramiko backend needs paramiko: pip install 'kcf-client[ssh]' "
        "(or use backend='openssh' with the system ssh)",
        backend="paramiko",
    ) from exc

__all__ = ["ParamikoTunnel", "open_paramiko", "Forwarder", "bind_listeners"]

# paramiko logs refused channels and failed handshakes at ERROR; with no logging set up,
# Python's last-resort handler would print them on stderr. We report them as exceptions,
# so keep them off the terminal unless the application configures logging (then they
# still propagate to its handlers).
logging.getLogger("paramiko").addHandler(logging.NullHandler())

_CHUNK = 64 * 1024
_WINDOW = 8 * 1024 * 1024
_PACKET = 32 * 1024
_TRIES = 3
_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")


def open_paramiko(
    info: ConnectionInfo,
    options: TunnelOptions,
    connection_file: StrPath | None = None,
    *,
    check: bool = True,
) -> ParamikoTunnel:
    """Open a tunnel with paramiko (see :func:`kcf_client.tunnel.open_tunnel`)."""
    deadline = time.monotonic() + options.timeout
    stack: list[Any] = []  # transports and proxy sockets, innermost last
    try:
        with _mapped(options, deadline):
            transport = _connect(options.spec, options, deadline, stack, set())
        tunnel = ParamikoTunnel(info, transport, stack, options, connection_file)
    except BaseException:
        _close_stack(stack)
        raise
    try:
        if check:
            probe_forwards(tunnel, max(0.5, deadline - time.monotonic()))
    except BaseException:
        tunnel.close()
        raise
    return tunnel


# -- connecting ------------------------------------------------------------------------------


def _connect(
    spec: ServerSpec,
    options: TunnelOptions,
    deadline: float,
    stack: list[Any],
    seen: set[str],
) -> Any:
    """Connect (through jumps or a proxy command), verify, authenticate; return the transport."""
    if spec.host in seen:
        raise TunnelError(f"ProxyJump loop through {spec.host!r}", server=options.server)
    cfg = resolve(
        spec,
        config_path=options.ssh_config,
        known_hosts=options.known_hosts,
        identity_file=options.identity_file if not seen else None,
    )
    sock: Any
    if cfg.proxy_jump:
        hops = [parse_server(h.strip()) for h in cfg.proxy_jump.split(",") if h.strip()]
        prev = _connect(hops[0], options, deadline, stack, seen | {spec.host})
        for hop in hops[1:]:
            hop_cfg = resolve(hop, config_path=options.ssh_config, known_hosts=options.known_hosts)
            chan = _direct(prev, hop_cfg.hostname, hop_cfg.port, deadline)
            prev = _handshake(chan, hop_cfg, options, deadline, stack)
        sock = _direct(prev, cfg.hostname, cfg.port, deadline)
    elif cfg.proxy_command:
        sock = _ProxyCommand(cfg.proxy_command)
        stack.append(sock)
    else:
        try:
            sock = socket.create_connection((cfg.hostname, cfg.port), timeout=_left(deadline))
        except socket.gaierror as exc:
            raise HostUnreachable(
                f"cannot resolve host {cfg.hostname!r}: {exc.strerror}",
                server=options.server,
                backend="paramiko",
            ) from exc
        _tune(sock)
    return _handshake(sock, cfg, options, deadline, stack)


def _tune(sock: socket.socket) -> None:
    """No Nagle delay; TCP keepalive so a vanished server is noticed (where supported)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, name):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


def _direct(transport: Any, host: str, port: int, deadline: float) -> Any:
    return transport.open_channel(
        "direct-tcpip", (host, port), ("127.0.0.1", 0), timeout=_left(deadline)
    )


def _handshake(
    sock: Any, cfg: HostConfig, options: TunnelOptions, deadline: float, stack: list[Any]
) -> Any:
    t = paramiko.Transport(sock, default_window_size=_WINDOW, default_max_packet_size=_PACKET)
    stack.append(t)
    t.banner_timeout = t.handshake_timeout = t.auth_timeout = _left(deadline)
    known = KnownHosts(cfg.known_hosts, cfg.global_known_hosts)
    opts = t.get_security_options()
    # AES-GCM first: authenticated encryption in one pass, no separate HMAC-SHA2 over every
    # packet (the bulk of paramiko's CPU time where the CPU lacks SHA extensions).
    opts.ciphers = tuple(c for c in _CIPHERS if c in opts.ciphers) + tuple(
        c for c in opts.ciphers if c not in _CIPHERS
    )
    preferred = known.known_types(cfg.known_name)
    if preferred:
        offered = list(opts.key_types)
        opts.key_types = tuple(
            [k for k in offered if k in preferred] + [k for k in offered if k not in preferred]
        )
    t.start_client(timeout=_left(deadline))
    known.check(
        cfg.known_name,
        t.get_remote_server_key(),
        accept_new=options.accept_new,
        server=options.server,
    )
    _authenticate(t, cfg, options)
    t.set_keepalive(options.keepalive)
    return t


def _authenticate(t: Any, cfg: HostConfig, options: TunnelOptions) -> None:
    """Agent, then key files, then password (and keyboard-interactive) via the callback."""
    tried: list[str] = []
    try:
        t.auth_none(cfg.user)
        return
    except paramiko.BadAuthenticationType as exc:
        allowed = list(exc.allowed_types)
    except paramiko.AuthenticationException:
        allowed = ["publickey", "password", "keyboard-interactive"]
    if "publickey" in allowed and cfg.pubkey_authentication:
        for label, key in _keys(cfg, options, tried):
            with contextlib.suppress(paramiko.AuthenticationException):
                t.auth_publickey(cfg.user, key)
            if t.is_authenticated():
                return
            tried.append(label)
    prompt = f"{cfg.user}@{cfg.hostname}'s password: "
    cb = options.password_callback
    if cb is not None and cfg.password_authentication and "password" in allowed:
        for _ in range(_TRIES):
            password = cb(prompt)
            if password is None:
                break
            with contextlib.suppress(paramiko.AuthenticationException):
                t.auth_password(cfg.user, password, fallback=False)
            if t.is_authenticated():
                return
            tried.append("password")
    elif cb is not None and "keyboard-interactive" in allowed:
        answered = [0]

        def handler(title: str, instructions: str, prompts: list[tuple[str, bool]]) -> list[str]:
            answers = []
            for text, _echo in prompts:
                answer = cb(text or prompt)
                if answer is None:
                    raise paramiko.AuthenticationException("declined")
                answered[0] += 1
                answers.append(answer)
            return answers

        for _ in range(_TRIES):
            with contextlib.suppress(paramiko.AuthenticationException):
                t.auth_interactive(cfg.user, handler)
            if t.is_authenticated():
                return
            tried.append("keyboard-interactive")
    raise AuthenticationFailed(
        f"authentication as {cfg.user!r} failed; server allows {', '.join(allowed) or 'nothing'}; "
        f"tried {', '.join(tried) or 'nothing'}"
        + ("" if cb is not None else " (no password callback given)"),
        server=options.server,
        backend="paramiko",
    )


def _keys(cfg: HostConfig, options: TunnelOptions, tried: list[str]) -> Iterator[tuple[str, Any]]:
    if not cfg.identities_only and os.environ.get("SSH_AUTH_SOCK"):
        agent = paramiko.Agent()
        try:
            for i, key in enumerate(agent.get_keys()):
                yield f"agent key {i + 1}", key
        finally:
            agent.close()
    for path in cfg.identity_files:
        if not path.is_file():
            continue
        key = _load_key(path, options.passphrase_callback)
        if key is None:
            tried.append(f"{path} (not loaded)")
            continue
        yield str(path), key


def _load_key(path: Path, callback: Callable[[str], str | None] | None) -> Any:
    """Load a private key, asking ``callback`` for its passphrase (up to 3 tries)."""
    try:
        return paramiko.PKey.from_path(path)
    except paramiko.PasswordRequiredException:
        pass
    except TypeError as exc:  # cryptography: "Key is password-protected, but ..."
        if "password" not in str(exc).lower():
            return None
    except (paramiko.SSHException, ValueError, OSError):
        return None
    if callback is None:
        return None
    for _ in range(_TRIES):
        passphrase = callback(f"Enter passphrase for key '{path}': ")
        if passphrase is None:
            return None
        try:
            # paramiko 5 hands the password to cryptography, which wants bytes
            return paramiko.PKey.from_path(path, passphrase.encode("utf-8"))  # type: ignore[arg-type]
        except (paramiko.SSHException, ValueError, TypeError):
            continue
    return None


@contextlib.contextmanager
def _mapped(options: TunnelOptions, deadline: float | None = None) -> Iterator[None]:
    """The one place paramiko's and the socket layer's errors become ours."""
    try:
        yield
    except TunnelError:
        raise
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise _translate(exc, options, deadline) from exc


def _translate(exc: BaseException, options: TunnelOptions, deadline: float | None) -> TunnelError:
    """Our error for a paramiko / socket failure while opening.

    A failure once ``deadline`` has passed is a timeout, whatever paramiko calls it (a
    silent server shows up as "Error reading SSH protocol banner" or "No existing session").
    """
    kw = {"server": options.server, "backend": "paramiko"}
    text = str(exc) or type(exc).__name__
    late = deadline is not None and time.monotonic() >= deadline - 0.05
    if isinstance(exc, paramiko.AuthenticationException) and not late:
        return AuthenticationFailed(f"authentication failed: {text}", **kw)
    if isinstance(exc, paramiko.ChannelException) and not late:
        return HostUnreachable(
            f"a jump host could not connect onwards: {exc.text} (code {exc.code})", **kw
        )
    if late or isinstance(exc, TimeoutError) or "timed out" in text or "timeout" in text:
        return ConnectTimeout(f"no SSH connection within {options.timeout:g} s ({text})", **kw)
    if isinstance(exc, ConnectionRefusedError):
        return HostUnreachable(f"connection refused: {text}", **kw)
    return HostUnreachable(f"SSH connection failed: {text}", **kw)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


def _close_stack(stack: list[Any]) -> None:
    """Close transports (innermost first) and proxies; join the transports' threads."""
    for item in reversed(stack):
        with contextlib.suppress(Exception):
            item.close()
        if isinstance(item, paramiko.Transport):
            with contextlib.suppress(Exception):
                item.sock.close()  # close() skips it when the transport had already died
            if item.is_alive() and item is not threading.current_thread():
                item.join(5)


class _ProxyCommand:
    """A ``ProxyCommand`` run as OpenSSH runs it (``sh -c 'exec CMD'``), as a socket."""

    def __init__(self, command: str) -> None:
        shell = os.environ.get("SHELL") or "/bin/sh"
        self.process = subprocess.Popen(
            [shell, "-c", f"exec {command}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
            start_new_session=True,
        )
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self._in = self.process.stdin
        self._out = self.process.stdout
        self._timeout: float | None = None
        self.closed = False

    def send(self, data: bytes) -> int:
        return self._in.write(data) or 0

    def recv(self, size: int) -> bytes:
        fd = self._out.fileno()
        if self._timeout is not None:
            import select

            ready, _, _ = select.select([fd], [], [], self._timeout)
            if not ready:
                raise TimeoutError()
        return os.read(fd, size)

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout

    @property
    def _closed(self) -> bool:  # read by paramiko.Transport.stop_thread, like socket's
        return self.closed

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for stream in (self._in, self._out):
            with contextlib.suppress(OSError):
                stream.close()
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- the tunnel ------------------------------------------------------------------------------


def bind_listeners(ports: Mapping[Channel, int] | None = None) -> dict[socket.socket, Channel]:
    """A listening socket on ``127.0.0.1`` per channel, on ``ports`` (default: port 0).

    Raises:
        OSError: a port cannot be bound (none is left open).
    """
    listeners: dict[socket.socket, Channel] = {}
    try:
        for channel in Channel:
            lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listeners[lst] = channel
            lst.bind(("127.0.0.1", ports[channel] if ports is not None else 0))
            lst.listen(16)
    except OSError:
        for lst in listeners:
            lst.close()
        raise
    return listeners


class Forwarder:
    """Local listeners forwarded over a paramiko transport (``direct-tcpip``).

    One accept thread serves the listeners; each accepted connection gets a pump thread
    (64 KiB reads, ``sendall`` both ways, half-close aware). :attr:`transport` may be
    replaced while it runs (a remote kernel's healed connection): the listeners stay, new
    connections use the new transport. :meth:`stop` ends accepting and closes the
    listeners; :meth:`join` waits for the pumps (after the transport is closed).
    """

    def __init__(
        self,
        listeners: dict[socket.socket, Channel],
        targets: Mapping[Channel, tuple[str, int]],
        transport: Any,
        timeout: float,
        name: str,
    ) -> None:
        self.transport = transport
        self.targets = dict(targets)
        self.listeners = listeners
        self.ports = {c: int(lst.getsockname()[1]) for lst, c in listeners.items()}
        #: why a channel's last connection was refused (the server's reason).
        self.refused: dict[Channel, str] = {}
        self._timeout = timeout
        # paramiko keeps one "saved exception" per transport for a refused channel open:
        # concurrent open_channel calls can take each other's, leaving the server's reason
        # ("Connect failed") to the wrong thread and a bare "Unable to open channel." to ours.
        self._open_lock = threading.Lock()
        self._pumps: set[threading.Thread] = set()
        self._pumps_lock = threading.Lock()
        self._stopped = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"kcf-tunnel-accept-{name}", daemon=True
        )
        self._acceptor.start()

    def _accept_loop(self) -> None:
        sel = selectors.DefaultSelector()
        try:
            sel.register(self._wake_r, selectors.EVENT_READ)
            by_fd = {lst.fileno(): lst for lst in self.listeners}
            for lst in self.listeners:
                sel.register(lst, selectors.EVENT_READ)
            while True:
                for key, _ in sel.select():
                    if key.fileobj is self._wake_r:
                        return
                    lst = by_fd[key.fd]
                    try:
                        conn, peer = lst.accept()
                    except OSError:
                        continue
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    pump = threading.Thread(
                        target=self._pump,
                        args=(conn, peer, self.listeners[lst]),
                        name=f"kcf-tunnel-pump-{self.listeners[lst].value}",
                        daemon=True,
                    )
                    with self._pumps_lock:
                        if self._stopped:
                            conn.close()
                            return
                        self._pumps.add(pump)
                    pump.start()
        finally:
            sel.close()

    def _pump(self, conn: socket.socket, peer: tuple[str, int], channel: Channel) -> None:
        chan = None
        sel = selectors.DefaultSelector()
        try:
            host, port = self.targets[channel]
            try:
                with self._open_lock:
                    chan = self.transport.open_channel(
                        "direct-tcpip", (host, port), peer, timeout=self._timeout
                    )
            except paramiko.ChannelException as exc:
                self.refused[channel] = f"{exc.text} (code {exc.code})"
                return
            except (paramiko.SSHException, OSError, EOFError) as exc:
                self.refused[channel] = str(exc) or type(exc).__name__
                return
            self.refused.pop(channel, None)
            sel.register(self._wake_r, selectors.EVENT_READ)
            sel.register(conn, selectors.EVENT_READ)
            sel.register(chan, selectors.EVENT_READ)
            open_ends = 2
            while open_ends:
                for key, _ in sel.select():
                    src = key.fileobj
                    if src is self._wake_r:
                        return
                    if src is conn:
                        data = conn.recv(_CHUNK)
                        if data:
                            chan.sendall(data)
                        else:
                            chan.shutdown_write()
                            sel.unregister(conn)
                            open_ends -= 1
                    else:
                        data = chan.recv(_CHUNK)
                        if data:
                            conn.sendall(data)
                        else:
                            with contextlib.suppress(OSError):
                                conn.shutdown(socket.SHUT_WR)
                            sel.unregister(chan)
                            open_ends -= 1
        except (OSError, EOFError, paramiko.SSHException):
            return  # either end went away: drop this connection, the forwards stay
        finally:
            sel.close()
            if chan is not None:
                with contextlib.suppress(Exception):  # the transport may be gone already
                    chan.close()
            conn.close()
            with self._pumps_lock:
                self._pumps.discard(threading.current_thread())

    def stop(self) -> None:
        """Stop accepting, close the listeners, wake the pumps (idempotent)."""
        with self._pumps_lock:
            if self._stopped:
                return
            self._stopped = True
        self._wake_w.send(b"x")
        self._acceptor.join(5)
        for lst in self.listeners:
            lst.close()

    def join(self) -> None:
        """Wait for the pumps to end (after :meth:`stop`), release the wake-up pair."""
        with self._pumps_lock:
            pumps = list(self._pumps)
        for pump in pumps:
            pump.join(5)
        self._wake_r.close()
        self._wake_w.close()


class ParamikoTunnel(Tunnel):
    """A tunnel carried by one paramiko transport.

    .. versionadded:: 0.1.0
    """

    backend = "paramiko"

    def __init__(
        self,
        remote: ConnectionInfo,
        transport: Any,
        stack: list[Any],
        options: TunnelOptions,
        connection_file: StrPath | None,
    ) -> None:
        self._transport = transport
        self._stack = stack
        listeners = bind_listeners()
        ports = {c: int(lst.getsockname()[1]) for lst, c in listeners.items()}
        super().__init__(remote, ports, options, connection_file)
        self._forwarder = Forwarder(
            listeners, targets(remote), transport, options.timeout, options.server
        )

    # -- Tunnel -----------------------------------------------------------------------------

    def _ended(self, timeout: float | None) -> bool:
        if timeout is None:
            self._transport.join()
        elif timeout > 0:
            self._transport.join(timeout)
        return not self._transport.is_active()

    def _death(self) -> TunnelDied:
        exc = self._transport.get_exception()
        why = f": {exc}" if exc is not None else ""
        return TunnelDied(
            f"the SSH connection ended{why}", server=self.server, backend=self.backend
        )

    def _refusal(self, channel: Channel) -> str:
        return self._forwarder.refused.get(channel, "")

    def _shutdown(self) -> None:
        self._forwarder.stop()
        _close_stack(self._stack)
        self._forwarder.join()
