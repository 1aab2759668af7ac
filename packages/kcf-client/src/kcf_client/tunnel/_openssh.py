"""The OpenSSH backend: one ``ssh -N`` process with five ``-L`` forwards.

The system ``ssh`` honours everything in the user's configuration (``Include``, ``Match``,
certificates, FIDO keys, GSSAPI...). It is started from an argv list (never a shell
string), never with ``-f``, with ``ExitOnForwardFailure=yes``, keepalives, its own
connection (``ControlMaster=no``), and ``BatchMode=yes`` unless a password or passphrase
callback is given; then ``SSH_ASKPASS`` (forced) runs a small helper that asks this process
over a Unix socket in a private directory.

Local ports: ssh must bind them itself, and ``-L`` has no "port 0". We pick five free
ports, let ssh bind them, and if one was taken meanwhile (ssh exits: "Address already in
use") start again with fresh ports. Readiness: on Linux, the five ports are listening
sockets *held by this ssh process* (``/proc``), so a stranger on a port is never mistaken
for the tunnel; elsewhere, the ports accept connections while ssh is alive.

No orphans: on Linux ssh gets ``PR_SET_PDEATHSIG=SIGKILL``. That signal follows the
*thread* that forked, so ssh is started by a keeper thread that lives exactly as long as
ssh (it drains stderr and reaps the process).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kcf_spec import Channel, ConnectionInfo, format_host

from ._base import StrPath, Tunnel, TunnelOptions, probe_forwards, targets
from ._errors import (
    AuthenticationFailed,
    BackendUnavailable,
    ConnectTimeout,
    HostKeyMismatch,
    HostKeyUnknown,
    HostUnreachable,
    SSHConfigError,
    TunnelDied,
    TunnelError,
)

__all__ = [
    "OpenSSHTunnel",
    "open_openssh",
    "find_ssh",
    "ssh_options",
    "command_argv",
    "forward_args",
    "classify_exit",
    "free_ports",
    "pdeathsig",
    "PortTaken",
]

_PORT_TRIES = 4
_LISTENING = re.compile(r"debug1: Local forwarding listening on 127\.0\.0\.1 port (\d+)\.")
_TAIL = 20


class PortTaken(Exception):
    """ssh could not bind a local port we picked (someone took it): try fresh ports."""


def find_ssh() -> str | None:
    """The ``ssh`` executable on ``PATH``, or ``None``."""
    return shutil.which("ssh")


@functools.lru_cache(maxsize=4)
def _ssh_version(ssh: str) -> tuple[int, int]:
    try:
        out = subprocess.run(
            [ssh, "-V"], capture_output=True, text=True, timeout=5, check=False
        ).stderr
    except (OSError, subprocess.SubprocessError):
        return (0, 0)
    m = re.search(r"OpenSSH_(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def open_openssh(
    info: ConnectionInfo,
    options: TunnelOptions,
    connection_file: StrPath | None = None,
    *,
    check: bool = True,
) -> OpenSSHTunnel:
    """Open a tunnel with the system ssh (see :func:`kcf_client.tunnel.open_tunnel`)."""
    ssh = find_ssh()
    if ssh is None:
        raise BackendUnavailable(
            "the openssh backend needs the ssh command on PATH (install openssh-client), "
            "or use backend='paramiko'",
            server=options.server,
            backend="openssh",
        )
    if options.accept_new and options.known_hosts is not None:
        # ssh would connect but fail to record the key into a missing directory.
        options.known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    deadline = time.monotonic() + options.timeout
    for attempt in range(_PORT_TRIES):
        tunnel = OpenSSHTunnel(info, free_ports(), options, connection_file, ssh)
        try:
            tunnel._wait_ready(deadline)
        except PortTaken:
            tunnel.close()
            if attempt + 1 == _PORT_TRIES:
                raise TunnelError(
                    "could not bind local ports (taken by others each time)",
                    server=options.server,
                    backend="openssh",
                ) from None
            continue
        except BaseException:
            tunnel.close()
            raise
        break
    try:
        if check:
            probe_forwards(tunnel, max(0.5, deadline - time.monotonic()))
    except BaseException:
        tunnel.close()
        raise
    return tunnel


def free_ports() -> dict[Channel, int]:
    """Five distinct ports free right now (all bound at once, then released)."""
    socks = []
    try:
        for _ in Channel:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("127.0.0.1", 0))
        return {c: s.getsockname()[1] for c, s in zip(Channel, socks, strict=True)}
    finally:
        for s in socks:
            s.close()


def _path_arg(path: str) -> str:
    """A file path for ssh: ``%`` escaped (ssh expands ``%`` tokens in file options).

    Raises:
        SSHConfigError: the path holds ``${``, which ssh expands as an environment
            variable with no way to escape it.
    """
    if "${" in path:
        raise SSHConfigError(
            f"the path {path!r} contains '${{', which ssh would expand as an environment "
            "variable; use another path or the paramiko backend",
            backend="openssh",
        )
    return path.replace("%", "%%")


def _quote(value: str) -> str:
    """A path for ``-o Key=VALUE``: escaped as :func:`_path_arg`, quoted when it has
    blanks, quotes or backslashes (ssh splits ``-o`` values like config lines)."""
    value = _path_arg(value)
    if any(ch in value for ch in " \t\"\\'"):
        value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def ssh_options(ssh: str, options: TunnelOptions) -> dict[str, str]:
    """The ``-o`` options every kcf ssh command uses: strict host keys, keepalives, batch
    mode unless a callback answers prompts, the connection timeout, no local commands."""
    interactive = options.password_callback is not None or options.passphrase_callback is not None
    opts = {
        "ExitOnForwardFailure": "yes",
        "ServerAliveInterval": str(options.keepalive),
        "ServerAliveCountMax": "3",
        "BatchMode": "no" if interactive else "yes",
        "StrictHostKeyChecking": "accept-new" if options.accept_new else "yes",
        "ConnectTimeout": str(max(1, int(options.timeout + 0.999))),
        "ControlMaster": "no",
        "ControlPath": "none",
        "PermitLocalCommand": "no",
        "RequestTTY": "no",
        # stderr is ours (never shown raw): DEBUG1 says when each forward listens, and keeps
        # the lines errors quote. Debug lines are read for that, not kept.
        "LogLevel": "DEBUG1",
    }
    if _ssh_version(ssh) >= (8, 7):
        opts["ForkAfterAuthentication"] = "no"
        opts["SessionType"] = "none"
    if options.known_hosts is not None:
        opts["UserKnownHostsFile"] = _quote(os.fspath(options.known_hosts))
    return opts


def command_argv(
    ssh: str,
    options: TunnelOptions,
    opts: dict[str, str],
    extra: list[str],
    leading: tuple[str, ...] = (),
) -> list[str]:
    """``ssh LEADING... [-F CFG] -o K=V... [-i KEY] EXTRA... [-l USER] [-p PORT] -- HOST``
    (an argv list, never a shell string)."""
    argv = [ssh, *leading]
    if options.ssh_config is not None:
        argv += ["-F", os.fspath(options.ssh_config)]
    for key, value in opts.items():
        argv += ["-o", f"{key}={value}"]
    if options.identity_file is not None:
        argv += ["-i", _path_arg(os.fspath(options.identity_file))]
    argv += extra
    spec = options.spec
    if spec.user is not None:
        argv += ["-l", spec.user]
    if spec.port is not None:
        argv += ["-p", str(spec.port)]
    return [*argv, "--", spec.host]


def forward_args(ports: dict[Channel, int], remote: dict[Channel, tuple[str, int]]) -> list[str]:
    """``-L 127.0.0.1:LOCAL:HOST:PORT`` for each channel."""
    argv = []
    for channel, (host, port) in remote.items():
        argv += ["-L", f"127.0.0.1:{ports[channel]}:{format_host(host)}:{port}"]
    return argv


def build_argv(
    ssh: str, remote: ConnectionInfo, ports: dict[Channel, int], options: TunnelOptions
) -> list[str]:
    """The ssh command line (an argv list; never passed through a shell)."""
    extra = forward_args(ports, targets(remote))
    return command_argv(ssh, options, ssh_options(ssh, options), extra, ("-N", "-T", "-n"))


def pdeathsig() -> Callable[[], None] | None:
    """A ``preexec_fn`` making the child die with its parent (Linux), else ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_setpdeathsig = 1

    def preexec() -> None:
        prctl(pr_setpdeathsig, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: die now
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


class OpenSSHTunnel(Tunnel):
    """A tunnel carried by one ``ssh -N -L ... -L ...`` process.

    .. versionadded:: 0.1.0
    """

    backend = "openssh"

    def __init__(
        self,
        remote: ConnectionInfo,
        ports: dict[Channel, int],
        options: TunnelOptions,
        connection_file: StrPath | None,
        ssh: str,
    ) -> None:
        super().__init__(remote, ports, options, connection_file)
        self.argv = build_argv(ssh, remote, ports, options)
        self._tail: collections.deque[str] = collections.deque(maxlen=_TAIL)
        self._listening: set[int] = set()
        self._ready = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._spawn_errors: list[OSError] = []
        self._started = threading.Event()
        self._exited = threading.Event()
        self._askpass: _AskpassServer | None = None
        env = dict(os.environ)
        if options.password_callback is not None or options.passphrase_callback is not None:
            self._askpass = _AskpassServer(options)
            env.update(self._askpass.env())
            if _ssh_version(ssh) < (8, 4) and "DISPLAY" not in env:
                env["DISPLAY"] = ":0"  # before SSH_ASKPASS_REQUIRE, askpass needed a DISPLAY
        self._keeper = threading.Thread(
            target=self._keep, args=(env,), name=f"kcf-tunnel-ssh-{self.server}", daemon=True
        )
        self._keeper.start()
        self._started.wait()
        if self._spawn_errors:
            self._exited.set()
            raise BackendUnavailable(
                f"cannot run {self.argv[0]}: {self._spawn_errors[0]}",
                server=self.server,
                backend="openssh",
            ) from self._spawn_errors[0]

    @property
    def pid(self) -> int | None:
        """The ssh process id (``None`` if it could not start).

        .. versionadded:: 0.1.0
        """
        return self._proc.pid if self._proc is not None else None

    def _keep(self, env: dict[str, str]) -> None:
        """Start ssh (so its death signal follows this thread), drain stderr, reap it."""
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,  # no controlling tty: ssh never prompts there
                preexec_fn=pdeathsig(),
            )
        except OSError as exc:
            self._spawn_errors.append(exc)
            self._started.set()
            return
        self._started.set()
        proc = self._proc
        assert proc.stderr is not None
        try:
            for raw in proc.stderr:
                line = raw.decode("utf-8", "replace").strip()
                if line.startswith("debug"):
                    self._note_debug(line)
                elif line:
                    self._tail.append(line)
        finally:
            proc.stderr.close()
            proc.wait()
            self._exited.set()

    def _note_debug(self, line: str) -> None:
        m = _LISTENING.match(line)
        if m is not None:
            self._listening.add(int(m.group(1)))
            if self._listening >= set(self.local.ports.values()):
                self._ready.set()

    # -- startup ----------------------------------------------------------------------------

    def _wait_ready(self, deadline: float) -> None:
        proc = self._proc
        assert proc is not None
        ports = set(self.local.ports.values())
        started = time.monotonic()
        try:
            while True:
                # ssh says when each forward listens; a check of /proc (Linux) or the ports
                # confirms they are ssh's own sockets before we say the tunnel is up.
                ready = self._ready.wait(0.02)
                if self._exited.is_set():
                    self._keeper.join(5)
                    raise self._classify()
                if self._askpass is not None and self._askpass.error is not None:
                    raise self._askpass.error
                slow = time.monotonic() - started > 0.5  # an ssh that words it differently
                if (ready or slow) and _listening(proc.pid, ports):
                    return
                if time.monotonic() >= deadline:
                    raise ConnectTimeout(
                        f"the tunnel was not up within {self._options.timeout:g} s" + self._said(),
                        server=self.server,
                        backend=self.backend,
                    )
        finally:
            if self._askpass is not None:
                self._askpass.close()

    def _said(self, n: int = 5) -> str:
        tail = list(self._tail)[-n:]
        return ("; ssh said: " + " | ".join(tail)) if tail else ""

    def _classify(self) -> BaseException:
        """Map ssh's exit (status and stderr) to our error (the one place for OpenSSH)."""
        if self._askpass is not None and self._askpass.error is not None:
            return self._askpass.error
        return classify_exit(list(self._tail), self.server, self.backend) or self._death()

    # -- Tunnel -----------------------------------------------------------------------------

    def _ended(self, timeout: float | None) -> bool:
        if timeout == 0:
            return self._exited.is_set()
        return self._exited.wait(timeout)

    def _death(self) -> TunnelDied:
        rc = self._proc.returncode if self._proc is not None else None
        return TunnelDied(
            f"ssh exited (status {rc})",
            server=self.server,
            backend=self.backend,
            stderr_tail=tuple(list(self._tail)[-5:]),
            returncode=rc,
        )

    def _refusal(self, channel: Channel) -> str:
        for line in reversed(self._tail):
            if "open failed" in line:
                return line
        return ""

    def _shutdown(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            if not self._exited.wait(3):
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        self._keeper.join(5)
        if self._askpass is not None:
            self._askpass.close()


def classify_exit(tail: list[str], server: str, backend: str = "openssh") -> BaseException | None:
    """Our error for an ssh that exited having written ``tail`` to stderr, or ``None`` when
    the lines say nothing we recognise (the one place ssh's words are read)."""
    text = "\n".join(tail)
    low = text.lower()
    kw = {"server": server, "backend": backend}
    said = ("; ssh said: " + " | ".join(tail[-5:])) if tail else ""
    if (
        "address already in use" in low
        or "cannot listen to port" in low
        or ("could not request local forwarding" in low)
        or ("port forwarding failed" in low)
    ):
        return PortTaken()
    if "remote host identification has changed" in low or (
        "host key for" in low and ("has changed" in low)
    ):
        return HostKeyMismatch(
            "HOST KEY MISMATCH: the server's key is not the one recorded" + said, **kw
        )
    if "host key verification failed" in low:
        return HostKeyUnknown(
            "host key is not known; refusing to connect (add it to "
            "known_hosts, or allow trust on first use: accept-new)" + said,
            **kw,
        )
    if "permission denied" in low or "too many authentication failures" in low:
        return AuthenticationFailed("authentication failed" + said, **kw)
    if "could not resolve hostname" in low or "name or service not known" in low:
        return HostUnreachable("cannot resolve the host" + said, **kw)
    if "timed out" in low:
        return ConnectTimeout("connection timed out" + said, **kw)
    if any(
        s in low
        for s in (
            "connection refused",
            "no route to host",
            "unreachable",
            "connection closed by",
            "connection reset",
        )
    ):
        return HostUnreachable("cannot reach the server" + said, **kw)
    if (
        "bad configuration option" in low
        or "bad port" in low
        or ("terminating" in low and "configuration" in low)
    ):
        return SSHConfigError("ssh refused its configuration" + said, **kw)
    return None


def _listening(pid: int, ports: set[int]) -> bool:
    """Whether every port in ``ports`` is a listening socket on 127.0.0.1 held by ``pid``."""
    if not sys.platform.startswith("linux"):
        return _accepting(ports)
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    found = set()
    with contextlib.suppress(OSError), open("/proc/net/tcp", encoding="ascii") as f:
        next(f)
        for line in f:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A" and parts[9] in inodes:
                found.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports <= found


def _accepting(ports: set[int]) -> bool:
    for port in ports:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return False
    return True


class _AskpassServer:
    """Answers ssh's ``SSH_ASKPASS`` helper from the password / passphrase callbacks."""

    def __init__(self, options: TunnelOptions) -> None:
        self._options = options
        self.error: BaseException | None = None
        self.dir = Path(tempfile.mkdtemp(prefix="kcf-askpass-"))
        os.chmod(self.dir, 0o700)
        self.socket_path = self.dir / "s"
        self.script = self.dir / "askpass"
        helper = Path(__file__).with_name("_askpass.py")
        self.script.write_text(
            '#!/bin/sh\nexec "$KCF_ASKPASS_PYTHON" -I "$KCF_ASKPASS_HELPER" "$@"\n',
            encoding="ascii",
        )
        os.chmod(self.script, 0o700)
        self._env = {
            "SSH_ASKPASS": str(self.script),
            "SSH_ASKPASS_REQUIRE": "force",
            "KCF_ASKPASS_SOCKET": str(self.socket_path),
            "KCF_ASKPASS_PYTHON": sys.executable,
            "KCF_ASKPASS_HELPER": str(helper),
        }
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(self.socket_path))
        self._sock.listen(4)
        self._wake_r, self._wake_w = socket.socketpair()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="kcf-tunnel-askpass", daemon=True)
        self._thread.start()

    def env(self) -> dict[str, str]:
        return dict(self._env)

    def _serve(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._sock, selectors.EVENT_READ)
        sel.register(self._wake_r, selectors.EVENT_READ)
        try:
            while True:
                for key, _ in sel.select():
                    if key.fileobj is self._wake_r:
                        return
                    conn, _ = self._sock.accept()
                    with conn:
                        conn.settimeout(10)
                        self._answer(conn)
        finally:
            sel.close()

    def _answer(self, conn: socket.socket) -> None:
        chunks = []
        with contextlib.suppress(OSError):
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                chunks.append(chunk)
        prompt = b"".join(chunks).decode("utf-8", "replace")
        low = prompt.lower()
        cb = None
        if "passphrase" in low:
            cb = self._options.passphrase_callback
        elif "password" in low:
            cb = self._options.password_callback
        answer = None
        if cb is not None:
            try:
                answer = cb(prompt)
            except Exception as exc:  # noqa: BLE001 - handed back to the opener
                self.error = exc
        if answer is not None and ("\n" in answer or "\r" in answer):
            answer = None
        reply = b"-" if answer is None else b"+" + answer.encode("utf-8")
        with contextlib.suppress(OSError):
            conn.sendall(reply)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._thread.join(5)
        for s in (self._sock, self._wake_r, self._wake_w):
            s.close()
        shutil.rmtree(self.dir, ignore_errors=True)
