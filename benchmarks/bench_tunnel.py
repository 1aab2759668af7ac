"""SSH tunnels: throughput, round-trip latency and setup time, side by side.

Paths compared (all through a private sshd on 127.0.0.1 started here, as in the tests):

- direct: no tunnel (the ceiling);
- kcf paramiko / kcf openssh: :func:`kcf_client.tunnel.open_tunnel`;
- bare ``ssh -N -L``: the system ssh by hand (what the OpenSSH backend should match);
- jupyter_client paramiko: ``jupyter_client.ssh.tunnel.paramiko_tunnel`` (one process per
  port, what ``tunnel_to_kernel`` uses on Windows);
- jupyter_client openssh: ``jupyter_client.tunnel_to_kernel`` / ``openssh_tunnel``
  (one ``ssh -f ... sleep`` per port).

jupyter_client has no ``-F`` option; its ``sshkey``/``keyfile`` string is pasted into its
command line, so ``"KEY -F CONFIG"`` points its ssh at the private server's config.

Targets: kcf paramiko >= 5x jupyter_client's paramiko throughput; kcf openssh within 10%
of bare ``ssh -N -L``; setup under 0.3 s for both backends.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import QUICK, Case, Figure, main
from kcf_spec import Channel, ConnectionInfo

ROOT = Path(__file__).resolve().parent.parent
MiB = 1 << 20
BULK = 16 * MiB if QUICK else 128 * MiB
BULK_SLOW = (
    8 * MiB if QUICK else 48 * MiB
)  # jupyter_client's paramiko path is ~10x slower; keep the run bounded


# -- servers --------------------------------------------------------------------------------


def _load_fixture() -> Any:
    """The tests' private-sshd helper (``tests/ssh/sshd_server.py``: no pytest needed)."""
    spec = importlib.util.spec_from_file_location(
        "kcf_sshd_server", ROOT / "tests/ssh/sshd_server.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


# The far end (the "kernel"): a counting sink and an echo server, in their own process so
# that they do not share a GIL with the tunnel under test (a remote kernel would not).
_FAR_END = r"""
import socket, sys, threading

def count(conn):
    head = b""
    while len(head) < 8:
        head += conn.recv(8 - len(head))
    total = int.from_bytes(head, "big")
    n = 0
    buf = bytearray(1 << 18)
    while n < total and (k := conn.recv_into(buf)):
        n += k
    conn.sendall(str(n).encode())

def echo(conn):
    while data := conn.recv(65536):
        conn.sendall(data)

def serve(sock, handler):
    while True:
        conn, _ = sock.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=run, args=(conn, handler), daemon=True).start()

def run(conn, handler):
    with conn:
        try:
            handler(conn)
        except OSError:
            pass

ports = []
for handler in (count, echo):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    ports.append(s.getsockname()[1])
    threading.Thread(target=serve, args=(s, handler), daemon=True).start()
print(*ports, flush=True)
sys.stdin.read()  # until the benchmark closes our stdin (or dies)
"""


# The near end (the "frontend"): sends and pings from its own process, so that the tunnel
# under test does not share a GIL with the measuring client (a real frontend's ZeroMQ I/O
# runs in C threads). Commands on stdin, one result per line on stdout.
_NEAR_END = r"""
import socket, sys, time

BLOCK = b"Z" * (256 * 1024)

def send(port, total):
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        t0 = time.perf_counter()
        s.sendall(total.to_bytes(8, "big"))
        sent = 0
        while sent < total:
            s.sendall(BLOCK)
            sent += len(BLOCK)
        reply = s.recv(64)
        elapsed = time.perf_counter() - t0
    assert int(reply) == sent, (reply, sent)
    return sent / (1 << 20) / elapsed

def ping(port, n):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        msg = b"p" * 64
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(n):
                s.sendall(msg)
                got = 0
                while got < 64:
                    got += len(s.recv(64 - got))
            times.append((time.perf_counter() - t0) / n)
    return sorted(times)[2]  # the median batch

for line in sys.stdin:
    cmd, port, arg = line.split()
    fn = send if cmd == "send" else ping
    print(fn(int(port), int(arg)), flush=True)
"""


class _NearEnd:
    """The measuring client in its own process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _NEAR_END],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, cmd: str, port: int, arg: int) -> float:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(f"{cmd} {port} {arg}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"near end failed on {cmd} {port}")
        return float(line)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(5)


class _FarEnd:
    """The sink (``count``: 8-byte length, then data, reply the count; no half-close, as
    jupyter_client's paramiko forwarder closes both ways on the first EOF) and the echo."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _FAR_END],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.sink_port, self.echo_port = map(int, self.proc.stdout.readline().split())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(5)


_keep: dict[str, Any] = {}
#: How many jupyter_client openssh forwards had to be opened again (see _JcOpenSSH).
JC_RETRIES = [0]


@contextlib.contextmanager
def _world() -> Iterator[dict[str, Any]]:
    """Start (once) the sshd, a counting sink and an echo server."""
    if "sshd" not in _keep:
        os.environ.pop("SSH_AUTH_SOCK", None)
        fixture = _load_fixture()
        base = Path(tempfile.mkdtemp(prefix="kcf-bench-sshd-"))
        _keep["base"] = base
        _keep["sshd"] = fixture.start_sshd(base, password=None)
        far = _FarEnd()
        _keep["far"] = far
        _keep["near"] = _NearEnd()
        _keep["sink"] = argparse.Namespace(port=far.sink_port)
        _keep["echo"] = argparse.Namespace(port=far.echo_port)
        atexit.register(_shutdown_world)
    yield _keep


def _shutdown_world() -> None:
    if JC_RETRIES[0]:
        print(
            f"    (jupyter_client openssh: {JC_RETRIES[0]} forward(s) died at start and "
            "were opened again)"
        )
        JC_RETRIES[0] = 0
    if "sshd" in _keep:
        _keep["sshd"].stop()
        _keep["far"].close()
        _keep["near"].close()
        shutil.rmtree(_keep["base"], ignore_errors=True)
        _keep.clear()


# -- measurements -------------------------------------------------------------------------------


def _wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _throughput(port: int, total: int) -> float:
    """MiB/s sending ``total`` bytes to the counting sink through 127.0.0.1:port."""
    return float(_keep["near"].ask("send", port, total))


def _echo_once(port: int) -> None:
    """One round trip, retrying the connection while a tunnel comes up."""
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"x" * 64)
                got = b""
                while len(got) < 64:
                    chunk = s.recv(64)
                    if not chunk:
                        raise ConnectionError("closed")
                    got += chunk
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


# -- the paths -------------------------------------------------------------------------------


def _info(port: int) -> ConnectionInfo:
    return ConnectionInfo.from_ports({c: port for c in Channel})


def _kcf(backend: str, port: int) -> Any:
    from kcf_client.tunnel import open_tunnel

    w = _keep
    return open_tunnel(
        _info(port),
        "kcf-plain",
        backend=backend,  # type: ignore[arg-type]
        ssh_config=w["sshd"].ssh_config,
        check=False,
    )


class _Bare:
    """``ssh -N -L lport:127.0.0.1:port kcf-plain`` by hand."""

    def __init__(self, port: int) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.lport = int(s.getsockname()[1])
        self.proc = subprocess.Popen(
            [
                "ssh",
                "-F",
                str(_keep["sshd"].ssh_config),
                "-N",
                "-o",
                "ExitOnForwardFailure=yes",
                "-L",
                f"127.0.0.1:{self.lport}:127.0.0.1:{port}",
                "kcf-plain",
            ],
            stdin=subprocess.DEVNULL,
        )
        _wait_port(self.lport)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def _jc_keyfile() -> str:
    s = _keep["sshd"]
    return f"{s.client_key} -F {s.ssh_config}"


class _JcParamiko:
    """jupyter_client's paramiko path for one or five ports (a process per port)."""

    def __init__(self, rport: int, n: int = 1) -> None:
        from jupyter_client.ssh import tunnel

        s = _keep["sshd"]
        user = os.environ.get("USER") or __import__("getpass").getuser()
        self.lports = tunnel.select_random_ports(n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.procs = [
                tunnel.paramiko_tunnel(
                    lp, rport, f"{user}@127.0.0.1:{s.port}", keyfile=str(s.client_key)
                )
                for lp in self.lports
            ]
        for lp in self.lports:  # the tunnel processes connect in the background
            _wait_port(lp)

    def close(self) -> None:
        for p in self.procs:
            p.terminate()
            p.join(5)


class _JcOpenSSH:
    """jupyter_client's openssh path (``ssh -f ... sleep``), one or five ports.

    Its ``ssh -f`` runs under a pexpect pty; the forked child is often killed by the
    pty's hangup before it detaches (the port then never listens, and no error is
    raised: a jupyter_client bug). A dead forward is opened again with the very command
    ``openssh_tunnel`` runs, minus the pty; :data:`JC_RETRIES` counts those. The
    one-port cases use that command directly (same data path: one ``ssh -L``).
    """

    def __init__(self, rport: int, n: int = 1) -> None:
        from jupyter_client import tunnel_to_kernel
        from jupyter_client.ssh import tunnel

        self.lports: list[int] = []
        if n == 5:
            info = _info(rport).to_dict() | {"key": ""}
            lports = tunnel_to_kernel(info, "kcf-plain", _jc_keyfile())  # type: ignore[arg-type]
            self.lports = list(lports)
        else:
            self.lports = tunnel.select_random_ports(1)
            self._open(self.lports[0], rport)
        for i, lp in enumerate(self.lports):
            for _ in range(10):
                try:
                    _wait_port(lp, timeout=1)
                    break
                except OSError:
                    JC_RETRIES[0] += 1
                    self.lports[i] = lp = tunnel.select_random_ports(1)[0]
                    self._open(lp, rport)

    @staticmethod
    def _open(lport: int, rport: int) -> None:
        """The command ``openssh_tunnel`` runs, without its pexpect pty (see the class)."""
        s = _keep["sshd"]
        subprocess.run(
            [
                "ssh",
                "-i",
                str(s.client_key),
                "-F",
                str(s.ssh_config),
                "-f",
                "-S",
                "none",
                "-L",
                f"127.0.0.1:{lport}:127.0.0.1:{rport}",
                "kcf-plain",
                "sleep",
                "30",
            ],
            stdin=subprocess.DEVNULL,
            check=True,
            timeout=30,
        )

    def close(self) -> None:
        """Stop the daemonised ``ssh -f`` processes (found by their exact ``-L`` argument)."""
        needles = {f"127.0.0.1:{lp}:".encode() for lp in self.lports}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if (
                argv
                and argv[0].endswith(b"ssh")
                and any(a.startswith(n) for a in argv for n in needles)
            ):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(entry.name), signal.SIGTERM)


# -- cases -----------------------------------------------------------------------------------


_Path = tuple[Callable[[int], Any], Callable[[Any], int], int]  # make, local port, bytes


def _bulk_pair(
    ours: _Path, theirs: _Path, rounds: int = 2 if QUICK else 5
) -> tuple[list[float], list[float]]:
    """MiB/s of each path over ``rounds`` alternating runs (noise hits both alike)."""
    with _world() as w:
        a = ours[0](w["sink"].port)
        b = theirs[0](w["sink"].port)
        try:
            got_a: list[float] = []
            got_b: list[float] = []
            for _ in range(rounds):
                got_a.append(_throughput(ours[1](a), ours[2]))
                got_b.append(_throughput(theirs[1](b), theirs[2]))
            return got_a, got_b
        finally:
            a.close()
            b.close()


def _kcf_port(t: Any) -> int:
    return int(t.local.port(Channel.SHELL))


def _throughput_case(name: str, ours: _Path, theirs: _Path, target: str) -> Case:
    def figure() -> Figure:
        a, b = _bulk_pair(ours, theirs)
        return Figure(a, b, "MiB/s", True)

    return Case(name=name, figure=figure, target=target)


def _latency_case(
    name: str,
    ours: Callable[[int], tuple[Any, int]],
    theirs: Callable[[int], tuple[Any, int]],
    target: str = "",
) -> Case:
    """Microseconds per 64-byte echo round trip (per sample: the median of 5 x 200, measured
    by the near end), both paths open at once and measured alternately."""

    def figure() -> Figure:
        with _world() as w:
            a, pa = ours(w["echo"].port)
            b, pb = theirs(w["echo"].port)
            try:
                _echo_once(pa)
                _echo_once(pb)
                got_a: list[float] = []
                got_b: list[float] = []
                for _ in range(2 if QUICK else 4):
                    got_a.append(w["near"].ask("ping", pa, 200) * 1e6)
                    got_b.append(w["near"].ask("ping", pb, 200) * 1e6)
                return Figure(got_a, got_b, "us")
            finally:
                a.close()
                b.close()

    return Case(name=name, figure=figure, target=target)


def _setup_case(
    name: str, ours: Callable[[int], Any], theirs: Callable[[int], Any], target: str, tries: int = 3
) -> Case:
    """Seconds from nothing to a first round trip through the shell port, ``tries`` times."""

    def once(make: Callable[[int], Any], port_of: Callable[[Any], int]) -> float:
        with _world() as w:
            t0 = time.perf_counter()
            t = make(w["echo"].port)
            try:
                _echo_once(port_of(t))
                return time.perf_counter() - t0
            finally:
                t.close()

    def figure() -> Figure:
        a: list[float] = []
        b: list[float] = []
        for _ in range(tries):  # interleaved
            a.append(once(ours, _kcf_port))
            b.append(once(theirs, lambda t: t.lports[0]))
        return Figure(a, b, "s")

    return Case(name=name, figure=figure, target=target)


def _close_all() -> None:
    _shutdown_world()


def cases() -> list[Case]:
    out = [
        _throughput_case(
            "throughput: kcf paramiko vs jupyter_client paramiko_tunnel",
            (lambda p: _kcf("paramiko", p), _kcf_port, BULK),
            (_JcParamiko, lambda t: t.lports[0], BULK_SLOW),
            ">= 5x",
        ),
        _throughput_case(
            "throughput: kcf openssh vs jupyter_client openssh_tunnel",
            (lambda p: _kcf("openssh", p), _kcf_port, BULK),
            (_JcOpenSSH, lambda t: t.lports[0], BULK),
            "about 1x (both are the system ssh)",
        ),
        _throughput_case(
            "throughput: kcf openssh vs bare `ssh -N -L` (as 'jupyter_client')",
            (lambda p: _kcf("openssh", p), _kcf_port, BULK),
            (_Bare, lambda t: t.lport, BULK),
            "within 10% (ratio >= 0.9x)",
        ),
        _throughput_case(
            "throughput: kcf paramiko vs direct, no tunnel (as 'jupyter_client')",
            (lambda p: _kcf("paramiko", p), _kcf_port, BULK),
            (_Direct, lambda t: t.port, 4 * BULK),
            "the ceiling",
        ),
        _latency_case(
            "round trip 64 B: kcf paramiko vs jupyter_client paramiko_tunnel",
            lambda p: ((t := _kcf("paramiko", p)), _kcf_port(t)),
            lambda p: ((t := _JcParamiko(p)), t.lports[0]),
        ),
        _latency_case(
            "round trip 64 B: kcf openssh vs jupyter_client openssh_tunnel",
            lambda p: ((t := _kcf("openssh", p)), _kcf_port(t)),
            lambda p: ((t := _JcOpenSSH(p)), t.lports[0]),
        ),
        _latency_case(
            "round trip 64 B: kcf paramiko vs direct, no tunnel (as 'jupyter_client')",
            lambda p: ((t := _kcf("paramiko", p)), _kcf_port(t)),
            lambda p: (_Direct(p), p),
        ),
        _setup_case(
            "setup, 5 channels to first round trip: kcf paramiko vs jupyter_client paramiko x5",
            lambda p: _kcf("paramiko", p),
            lambda p: _JcParamiko(p, 5),
            "< 0.3 s",
        ),
        _setup_case(
            "setup, 5 channels to first round trip: kcf openssh vs tunnel_to_kernel",
            lambda p: _kcf("openssh", p),
            lambda p: _JcOpenSSH(p, 5),
            "< 0.3 s",
        ),
    ]
    out[-1].teardown = _close_all
    return out


class _Direct:
    def __init__(self, port: int) -> None:
        self.port = port

    def close(self) -> None:
        pass


CASES = cases


if __name__ == "__main__":
    raise SystemExit(main(CASES))
