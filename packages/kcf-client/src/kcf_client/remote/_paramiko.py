"""The paramiko side of a remote kernel: one transport per (re)connect, one set of local
listeners for the kernel's life.

Each (re)connect is one :class:`ParamikoConnection`: the tunnel module's connection code
(``~/.ssh/config``, ProxyJump, strict host keys, authentication, keepalives; its errors)
opens a transport, and ``exec_command`` runs the nanny in a session channel whose
stdin/stdout are the link (stderr is kept for the failure message). The five forwards are a
:class:`SharedForwards`, made once per kernel: the first connection binds the local ports;
a healed connection only swaps the transport under them, so the frontend's sockets never
see a port close (ZeroMQ reconnects by itself).
"""

from __future__ import annotations

import collections
import contextlib
import errno
import shlex
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, cast

import paramiko
from kcf_kernel._nanny_link import LinkClosed, SocketLink
from kcf_spec import Channel

from kcf_client.tunnel._base import TunnelOptions
from kcf_client.tunnel._openssh import PortTaken
from kcf_client.tunnel._paramiko import (
    Forwarder,
    _close_stack,
    _connect,
    _left,
    _mapped,
    bind_listeners,
)

from ._errors import start_failure

__all__ = ["ParamikoConnection", "SharedForwards", "ChannelLink"]

_TAIL = 40


class ChannelLink(SocketLink):
    """A link over a paramiko session channel (it has the socket calls SocketLink uses:
    ``recv``, ``sendall``, ``shutdown``, ``close``); a dead transport's ``EOFError`` or
    ``SSHException`` reads as :class:`LinkClosed`."""

    def __init__(self, chan: paramiko.Channel) -> None:
        super().__init__(cast(socket.socket, chan))
        self._chan = chan

    def write(self, data: bytes) -> None:
        try:
            super().write(data)
        except (EOFError, paramiko.SSHException) as exc:
            raise LinkClosed(str(exc) or type(exc).__name__) from exc

    def close(self) -> None:
        with contextlib.suppress(EOFError, paramiko.SSHException):
            super().close()
        with contextlib.suppress(EOFError, paramiko.SSHException, OSError):
            self._chan.close()  # when shutdown failed, close() above was not reached


class SharedForwards:
    """The kernel's five local forwards, kept across connections (see the module docstring)."""

    def __init__(self, options: TunnelOptions) -> None:
        self._options = options
        self._forwarder: Forwarder | None = None
        self._lock = threading.Lock()

    def attach(
        self,
        transport: Any,
        local: Mapping[Channel, int],
        remote: Mapping[Channel, tuple[str, int]],
    ) -> None:
        """Forward ``local`` ports over ``transport`` (binding them the first time).

        Raises:
            PortTaken: a local port is taken by another program.
        """
        with self._lock:
            fw = self._forwarder
            if fw is not None and fw.ports == dict(local):
                fw.targets = dict(remote)
                fw.transport = transport
                return
            if fw is not None:  # other ports asked for: a fresh start, not a heal
                self._close(fw)
            try:
                listeners = bind_listeners(local)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise PortTaken(str(exc)) from None
                raise
            self._forwarder = Forwarder(
                listeners, remote, transport, self._options.timeout, self._options.server
            )

    @staticmethod
    def _close(fw: Forwarder) -> None:
        fw.stop()
        fw.join()

    def close(self) -> None:
        """Close the listeners and end their connections (idempotent)."""
        with self._lock:
            fw, self._forwarder = self._forwarder, None
        if fw is not None:
            self._close(fw)


class ParamikoConnection:
    """One paramiko transport running ``command`` on the server (see the module docstring)."""

    backend = "paramiko"

    def __init__(
        self, options: TunnelOptions, command: Sequence[str], forwards: SharedForwards
    ) -> None:
        self._options = options
        self._forwards = forwards
        self._stack: list[Any] = []
        deadline = time.monotonic() + options.timeout
        try:
            with _mapped(options, deadline):
                self._transport = _connect(options.spec, options, deadline, self._stack, set())
                chan = self._transport.open_session(timeout=_left(deadline))
                # The server hands the words to the login shell: each is quoted.
                chan.exec_command(shlex.join(command))
        except BaseException:
            _close_stack(self._stack)
            raise
        self._chan = chan
        self.link = ChannelLink(chan)
        self.tail: collections.deque[str] = collections.deque(maxlen=_TAIL)
        self._stderr = threading.Thread(
            target=self._read_stderr, daemon=True, name="kcf-remote-paramiko-stderr"
        )
        self._stderr.start()

    def _read_stderr(self) -> None:
        pending = b""
        with contextlib.suppress(OSError, EOFError):
            while chunk := self._chan.recv_stderr(4096):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                self.tail.extend(x.decode("utf-8", "replace").strip() for x in lines if x.strip())
        if pending.strip():
            self.tail.append(pending.decode("utf-8", "replace").strip())

    def forward(
        self,
        local: Mapping[Channel, int],
        remote: Mapping[Channel, tuple[str, int]],
        timeout: float,
    ) -> None:
        self._forwards.attach(self._transport, local, remote)

    def ended(self, timeout: float | None) -> bool:
        self._chan.status_event.wait(timeout)
        return bool(self._chan.closed or not self._transport.is_active())

    def failure(self, python: str) -> BaseException:
        self._stderr.join(5)
        code = self._chan.recv_exit_status() if self._chan.status_event.wait(5) else None
        return start_failure(self._options.server, python, code, list(self.tail), self.backend)

    def kill(self) -> None:
        """Cut the TCP connection under the transport (a network failure; for tests)."""
        with contextlib.suppress(OSError):
            self._transport.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self._chan.eof_received:  # the command ended: keep its exit status for failure()
            self._chan.status_event.wait(2)
        self.link.close()
        _close_stack(self._stack)
        self._stderr.join(5)
