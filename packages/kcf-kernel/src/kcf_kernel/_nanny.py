"""The remote nanny: starts one kernel for a launcher that is elsewhere, and outlives short
losses of that launcher, never long ones.

Run as ``python -m kcf_kernel.nanny`` on the kernel's host (over SSH, by ``sbatch``...). It
talks to its launcher over a :mod:`link <kcf_kernel._nanny_link>` (stdin/stdout by default):

1. hello: the launcher's session key (never on the command line);
2. ``nanny_launch_request`` ``{argv | kernelspec, strategy, env, cwd, grace, timeout, ip}``;
   the nanny starts the kernel with :func:`kcf_kernel.launch_kernel` (race-free:
   ``"kernel"`` for ipykernel, ``"handshake"`` for JEP 66 kernels, ``"reserve"`` otherwise;
   ``"auto"`` picks ``"kernel"`` when the argv names ipykernel, else ``"reserve"``) on
   ``ip`` (default ``127.0.0.1``: over SSH the forwards reach the loopback; a Slurm job asks
   for the node's address that routes back to its launcher) and answers
   ``nanny_launch_reply`` ``{status: ok, nanny_id, pid, connection}`` (the kernel's
   connection with real ports and its key) or ``{status: error, error, message, exit_status,
   stderr_tail}`` (``error: bad_address`` when ``ip`` cannot be bound on this host);
3. then ``nanny_signal_request {signal: interrupt|terminate|kill}`` (to the kernel's process
   group), ``nanny_status_request``, ``nanny_shutdown_request``; the nanny sends
   ``nanny_kernel_exited {exit_status, stderr_tail}`` when the kernel ends by itself, cleans
   up and exits.

Losing the launcher: end of the link starts the grace period (``grace`` seconds, default
60). Meanwhile ``python -m kcf_kernel.nanny --attach ID`` (a new SSH session) relays its
stdin/stdout to the nanny's Unix socket ``<runtime dir>/kcf-nanny-ID/sock`` (directory 0700,
socket 0600). The nanny sends ``nanny_attach_challenge {nonce}``; the launcher proves it holds
the session key by answering a signed ``nanny_attach_request {nonce}``; the nanny replies
``nanny_attach_reply`` as ``nanny_launch_reply`` and the session goes on. When the grace runs
out, the nanny kills the kernel's process group, removes its files and exits.

The kernel's stdout and stderr go to a file in the nanny's private directory (its last lines
explain a failed start); the nanny's own stdout is the link and carries nothing else.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hmac
import ipaddress
import os
import queue
import secrets
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from kcf_spec import Codec, KcfError, Message, RemoteProtocolError, SignatureError

from ._errors import KernelSpecError, NoSuchKernelSpec
from ._kernelspec import KernelSpec, find_kernel_specs, get_kernel_spec
from ._launch import ipykernel_argv, launch_kernel
from ._listen import address_family
from ._nanny_link import (
    Link,
    LinkClosed,
    SocketLink,
    read_hello,
    recv_message,
    send_message,
    stdio_link,
)
from ._paths import ensure_private_dir
from ._paths import runtime_dir as _runtime_dir
from ._plan import PortStrategy, default_port_strategy
from ._process import KernelProcess

__all__ = ["NannyRequest", "run_nanny", "relay_attach", "main", "nanny_dir", "DEFAULT_GRACE"]

#: Seconds a kernel outlives its lost launcher, by default.
DEFAULT_GRACE = 60.0
_TAIL_LINES = 20
_SIGNALS = {"interrupt": signal.SIGINT, "terminate": signal.SIGTERM, "kill": signal.SIGKILL}
Strategy = Literal["auto", "kernel", "handshake", "reserve"]


@dataclasses.dataclass(frozen=True, slots=True)
class NannyRequest:
    """What the launcher asks the nanny to start (``nanny_launch_request`` content).

    Attributes:
        argv: the kernel's argv template (``{connection_file}`` placeholders), or ``None``.
        kernelspec: a kernelspec name on the nanny's host, or ``None`` (neither: ipykernel
            with the nanny's Python).
        strategy: how the kernel gets its ports (see the module docstring).
        env: variables added to the kernel's environment.
        cwd: the kernel's working directory (``None``: the nanny's).
        grace: seconds the kernel outlives a lost launcher.
        timeout: seconds to wait for the kernel's ports.
        ip: the address the kernel binds (tcp), an IP literal owned by the nanny's host.

    .. versionadded:: 0.2.0
    """

    argv: tuple[str, ...] | None = None
    kernelspec: str | None = None
    strategy: Strategy = "auto"
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    cwd: str | None = None
    grace: float = DEFAULT_GRACE
    timeout: float = 60.0
    ip: str = "127.0.0.1"

    def to_content(self) -> dict[str, Any]:
        """The message content (JSON types)."""
        return {
            "argv": list(self.argv) if self.argv is not None else None,
            "kernelspec": self.kernelspec,
            "strategy": self.strategy,
            "env": dict(self.env),
            "cwd": self.cwd,
            "grace": self.grace,
            "timeout": self.timeout,
            "ip": self.ip,
        }

    @classmethod
    def from_content(cls, content: Mapping[str, Any]) -> NannyRequest:
        """Check and read a request's content.

        Raises:
            RemoteProtocolError: a field has the wrong type, naming it as a JSON pointer.
        """

        def bad(field: str, expected: str) -> RemoteProtocolError:
            value = content.get(field)
            return RemoteProtocolError(
                f"nanny_launch_request /content/{field}: expected {expected}, "
                f"got {type(value).__name__}"
            )

        argv = content.get("argv")
        if argv is not None and (
            not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv)
        ):
            raise bad("argv", "a non-empty list of strings or null")
        spec = content.get("kernelspec")
        if spec is not None and (not isinstance(spec, str) or not spec):
            raise bad("kernelspec", "a kernelspec name or null")
        strategy = content.get("strategy", "auto")
        if strategy not in ("auto", "kernel", "handshake", "reserve"):
            raise bad("strategy", "one of auto, kernel, handshake, reserve")
        env = content.get("env", {})
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            raise bad("env", "an object of strings")
        cwd = content.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise bad("cwd", "a path or null")
        numbers = {}
        for name, default in (("grace", DEFAULT_GRACE), ("timeout", 60.0)):
            value = content.get(name, default)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise bad(name, "a number of seconds >= 0")
            numbers[name] = float(value)
        ip = content.get("ip", "127.0.0.1")
        if not isinstance(ip, str) or not _is_ip_literal(ip):
            got = repr(ip) if isinstance(ip, str) else type(ip).__name__
            raise RemoteProtocolError(
                "nanny_launch_request /content/ip: expected an IP address "
                f"(no host name, no brackets), got {got}"
            )
        return cls(
            argv=tuple(argv) if argv is not None else None,
            kernelspec=spec,
            strategy=strategy,
            env=env,
            cwd=cwd,
            grace=numbers["grace"],
            timeout=numbers["timeout"],
            ip=ip,
        )


def _is_ip_literal(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def nanny_dir(nanny_id: str, runtime_dir: Path | None = None) -> Path:
    """The private directory of nanny ``nanny_id`` (its socket and the kernel's log)."""
    if not nanny_id.isalnum():
        raise ValueError(f"nanny id {nanny_id!r} is not alphanumeric")
    base = runtime_dir if runtime_dir is not None else _runtime_dir()
    return base / f"kcf-nanny-{nanny_id}"


@contextlib.contextmanager
def _inside(directory: Path) -> Iterator[None]:
    """Run the block with ``directory`` as the working directory (for short socket names)."""
    here = os.open(".", os.O_RDONLY)
    try:
        os.chdir(directory)
        yield
    finally:
        os.fchdir(here)
        os.close(here)


class _Failure(Exception):
    """The kernel could not be started (becomes a ``status: error`` reply)."""

    def __init__(self, kind: str, message: str, exit_status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.exit_status = exit_status


def _resolve(request: NannyRequest) -> tuple[list[str], dict[str, str], PortStrategy]:
    """The argv, env and port strategy to launch with (``"auto"``: kcf's default for it)."""
    env = dict(request.env)
    spec: KernelSpec | None = None
    if request.argv is not None:
        argv = list(request.argv)
    elif request.kernelspec is not None:
        try:
            spec = get_kernel_spec(request.kernelspec)
        except (NoSuchKernelSpec, KernelSpecError) as exc:
            known = ", ".join(sorted(find_kernel_specs())) or "none"
            raise _Failure("no_kernelspec", f"{exc} (on {socket.gethostname()}: {known})") from None
        argv = list(spec.argv)
        env = {**spec.env, **env}
    else:
        argv = ipykernel_argv()
    if request.strategy != "auto":
        return argv, env, request.strategy
    return argv, env, default_port_strategy(argv, spec)


def _tail(path: Path, lines: int = _TAIL_LINES) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


class _Nanny:
    """The nanny's state machine; events arrive on one queue from small threads."""

    def __init__(self, link: Link, codec: Codec, base: Path) -> None:
        self.codec = codec
        self.id = secrets.token_hex(8)
        self.dir = nanny_dir(self.id, base)
        self.events: queue.Queue[tuple[str, Any, Any]] = queue.Queue()
        self.link: Link | None = None
        self.kernel: KernelProcess | None = None
        self.log = self.dir / "kernel.log"
        self.listener: socket.socket | None = None
        self._attach(link)

    # -- threads posting events ---------------------------------------------------------------

    def _attach(self, link: Link) -> None:
        old, self.link = self.link, link
        if old is not None:
            old.close()
        threading.Thread(target=self._read, args=(link,), daemon=True, name="nanny-read").start()

    def _read(self, link: Link) -> None:
        try:
            while True:
                self.events.put(("msg", link, recv_message(link, self.codec)))
        except (LinkClosed, RemoteProtocolError, SignatureError) as exc:
            self.events.put(("eof", link, exc))

    def _watch_kernel(self, kernel: KernelProcess) -> None:
        with contextlib.suppress(
            ChildProcessError
        ):  # wait without reaping (close() kills the group)
            os.waitid(os.P_PID, kernel.pid, os.WEXITED | os.WNOWAIT)
        self.events.put(("exited", None, None))

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(
                target=self._challenge, args=(conn,), daemon=True, name="nanny-attach"
            ).start()

    def _challenge(self, conn: socket.socket) -> None:
        link = SocketLink(conn)
        conn.settimeout(30)
        nonce = secrets.token_hex(16)
        try:
            send_message(link, self.codec, "nanny_attach_challenge", {"nonce": nonce})
            msg = recv_message(link, self.codec)
        except (LinkClosed, RemoteProtocolError, SignatureError):
            link.close()
            return
        got = msg.content.get("nonce")
        if msg.header.msg_type != "nanny_attach_request" or not isinstance(got, str):
            link.close()
            return
        if not hmac.compare_digest(got.encode(), nonce.encode()):
            link.close()
            return
        conn.settimeout(None)
        self.events.put(("attach", link, None))

    # -- replies --------------------------------------------------------------------------------

    def send(self, msg_type: str, content: dict[str, Any]) -> None:
        if self.link is None:
            return
        with contextlib.suppress(LinkClosed):  # the reader thread reports the end
            send_message(self.link, self.codec, msg_type, content)

    def ready(self) -> dict[str, Any]:
        assert self.kernel is not None
        return {
            "status": "ok",
            "nanny_id": self.id,
            "pid": self.kernel.pid,
            "connection": self.kernel.info.to_dict(),
            "hostname": socket.gethostname(),
        }

    # -- the life -------------------------------------------------------------------------------

    def start(self, request: NannyRequest) -> None:
        ensure_private_dir(self.dir)
        argv, env, strategy = _resolve(request)
        with socket.socket(address_family(request.ip), socket.SOCK_STREAM) as probe:
            try:
                probe.bind((request.ip, 0))  # the kernel could not bind it either
            except OSError as exc:
                raise _Failure(
                    "bad_address",
                    f"cannot bind {request.ip} on {socket.gethostname()}: {exc.strerror or exc}",
                ) from exc
        with open(self.log, "ab") as log:
            os.chmod(self.log, 0o600)
            try:
                self.kernel = launch_kernel(
                    argv,
                    ports=strategy,
                    env=env,
                    cwd=request.cwd,
                    ip=request.ip,
                    timeout=request.timeout,
                    stdout=log,
                    stderr=log,
                )
            except KcfError as exc:
                code = getattr(exc, "returncode", None)
                raise _Failure("launch_failed", str(exc), code) from exc
        threading.Thread(
            target=self._watch_kernel, args=(self.kernel,), daemon=True, name="nanny-wait"
        ).start()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with _inside(self.dir):  # a relative name: runtime dirs can exceed AF_UNIX's ~104
                old = os.umask(0o177)
                try:
                    self.listener.bind("sock")
                finally:
                    os.umask(old)
            self.listener.listen(4)
        except OSError as exc:
            raise _Failure("nanny_failed", f"cannot listen on {self.dir / 'sock'}: {exc}") from exc
        threading.Thread(
            target=self._accept, args=(self.listener,), daemon=True, name="nanny-accept"
        ).start()

    def serve(self, grace: float) -> int:
        """Handle events until the kernel is gone; return the nanny's exit status."""
        lost_at: float | None = None
        while True:
            timeout = None if lost_at is None else max(0.0, lost_at + grace - time.monotonic())
            try:
                kind, link, payload = self.events.get(timeout=timeout)
            except queue.Empty:
                return 3  # the launcher did not come back: the finally of run_nanny cleans up
            if kind == "exited":
                assert self.kernel is not None
                code = self.kernel.popen.poll()
                self.send(
                    "nanny_kernel_exited",
                    {"exit_status": code, "stderr_tail": _tail(self.log)},
                )
                return 0
            if kind == "attach":
                self._attach(link)
                lost_at = None
                self.send("nanny_attach_reply", self.ready())
                continue
            if link is not self.link:
                continue  # an old link's last words
            if kind == "eof":
                lost_at = time.monotonic()
                self.link = None
                if link is not None:
                    link.close()
                continue
            msg: Message = payload
            mtype = msg.header.msg_type
            if mtype == "nanny_signal_request":
                name = msg.content.get("signal")
                assert self.kernel is not None
                if name in _SIGNALS:
                    self.kernel.signal_group(_SIGNALS[name])
                    self.send("nanny_signal_reply", {"status": "ok", "signal": name})
                else:
                    self.send(
                        "nanny_signal_reply",
                        {"status": "error", "message": f"unknown signal {name!r}"},
                    )
            elif mtype == "nanny_status_request":
                assert self.kernel is not None
                self.send("nanny_status_reply", {"alive": self.kernel.is_alive()})
            elif mtype == "nanny_shutdown_request":
                self.close()
                self.send("nanny_shutdown_reply", {"status": "ok"})
                return 0

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        if self.kernel is not None:
            self.kernel.close(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)


def run_nanny(link: Link, *, runtime_dir: Path | None = None) -> int:
    """Serve one launcher over ``link``: read the hello and the launch request, start the
    kernel, then serve until it ends (see the module docstring).

    Returns:
        0 when the kernel ended or was shut down, 2 when it could not start or the
        launcher spoke another protocol, 3 when the launcher was lost past the grace.

    .. versionadded:: 0.2.0
    """
    base = runtime_dir if runtime_dir is not None else _runtime_dir()
    try:
        codec = Codec(read_hello(link))
        msg = recv_message(link, codec)
    except (LinkClosed, RemoteProtocolError, SignatureError) as exc:
        sys.stderr.write(f"kcf nanny: {exc}" + "\n")
        link.close()
        return 2
    nanny = _Nanny(link, codec, base)
    try:
        try:
            if msg.header.msg_type != "nanny_launch_request":
                raise _Failure(
                    "bad_request", f"expected nanny_launch_request, got {msg.header.msg_type}"
                )
            try:
                request = NannyRequest.from_content(msg.content)
            except RemoteProtocolError as exc:
                raise _Failure("bad_request", str(exc)) from exc
            nanny.start(request)
        except _Failure as exc:
            nanny.send(
                "nanny_launch_reply",
                {
                    "status": "error",
                    "error": exc.kind,
                    "message": str(exc),
                    "exit_status": exc.exit_status,
                    "stderr_tail": _tail(nanny.log),
                },
            )
            return 2
        nanny.send("nanny_launch_reply", nanny.ready())
        return nanny.serve(request.grace)
    finally:
        nanny.close()
        if nanny.link is not None:
            nanny.link.close()


def relay_attach(nanny_id: str, *, runtime_dir: Path | None = None) -> int:
    """Relay this process's stdin/stdout to nanny ``nanny_id``'s socket (for a re-attach).

    Returns:
        0 when either side ended the stream; 4 when there is no such nanny (gone).

    .. versionadded:: 0.2.0
    """
    path = nanny_dir(nanny_id, runtime_dir) / "sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with _inside(path.parent):
            sock.connect("sock")
    except OSError as exc:
        sock.close()
        sys.stderr.write(f"kcf nanny: no nanny {nanny_id} here ({exc.strerror or exc})" + "\n")
        return 4

    def up() -> None:
        while True:
            try:
                data = os.read(0, 65536)
            except OSError:
                data = b""
            if not data:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
                return
            try:
                sock.sendall(data)
            except OSError:
                return

    threading.Thread(target=up, daemon=True, name="nanny-relay-up").start()
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return 0
            view = memoryview(data)
            while view:
                view = view[os.write(1, view) :]
    except OSError:
        return 0
    finally:
        sock.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kcf_kernel.nanny [--attach ID]``.

    .. versionadded:: 0.2.0
    """
    parser = argparse.ArgumentParser(prog="python -m kcf_kernel.nanny", description=__doc__)
    parser.add_argument("--attach", metavar="ID", help="relay to a running nanny")
    args = parser.parse_args(argv)
    if args.attach is not None:
        return relay_attach(args.attach)
    # The link is stdin/stdout: nothing else may write to fd 1.
    link = stdio_link()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    os.close(devnull)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a ^C meant for the kernel is never ours
    for sig in (signal.SIGTERM, signal.SIGHUP):  # stopped: end the kernel, remove its files
        signal.signal(sig, _exit_on_signal)
    return run_nanny(link)


def _exit_on_signal(signum: int, frame: object) -> None:
    """Unwind (``run_nanny``'s ``finally`` closes the kernel and removes the files)."""
    raise SystemExit(128 + signum)
