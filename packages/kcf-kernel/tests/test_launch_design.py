"""The launch design: default strategy, kernelspecs, kernels dying with their launcher, the
zmq error seam, and the fixes of issue 9 (linger, reaping, the example kernel's last value)."""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kcf_kernel
import kcf_spec
import pytest
import realparts
import zmq
from kcf_spec import Channel, ConnectionInfo, KcfError, RegistrationInfo
from processes import pid_alive

Req = Callable[..., Any]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


def _wait(predicate: Callable[[], bool], deadline: float) -> bool:
    """Poll ``predicate`` until it holds or ``deadline`` seconds pass."""
    end = time.monotonic() + deadline
    while not predicate():
        if time.monotonic() >= end:
            return False
        threading.Event().wait(0.02)
    return True


def _spec(tmp: Path, name: str, doc: object) -> Path:
    d = tmp / "kernels" / name
    d.mkdir(parents=True)
    (d / "kernel.json").write_text(json.dumps(doc))
    return d


@pytest.fixture
def jupyter_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty JUPYTER_PATH entry (highest priority) and an empty user data dir."""
    path = tmp_path / "jp"
    path.mkdir()
    monkeypatch.setenv("JUPYTER_PATH", str(path))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    return path


class TestDefaultStrategy:
    def test_choosing_kernels_choose(self) -> None:
        """ipykernel and kcf's example kernel bind port 0 themselves: "kernel"."""
        assert kcf_kernel.default_port_strategy(kcf_kernel.ipykernel_argv()) == "kernel"
        assert kcf_kernel.default_port_strategy(kcf_kernel.example_kernel_argv()) == "kernel"

    def test_handshake_kernels_handshake(self) -> None:
        """A {registration_file} placeholder means the handshake."""
        argv = kcf_kernel.example_kernel_argv(handshake=True)
        assert kcf_kernel.default_port_strategy(argv) == "handshake"

    def test_others_reserve(self) -> None:
        """An unknown kernel is told its ports: "reserve"."""
        assert kcf_kernel.default_port_strategy(["evcxr", "{connection_file}"]) == "reserve"

    def test_kernelspec_protocol_5_6_means_handshake_5_5_does_not(self, jupyter_path: Path) -> None:
        """The handshake follows the dialect rule: a kernelspec declaring 5.6 gets it (in
        the documented dialect), 5.5 does not (the one kernel declaring 5.5 in the wild,
        ipykernel, has no handshake), and ipykernel never does."""
        for name, version in (("new", "5.6"), ("five", "5.5"), ("old", "5.3")):
            _spec(
                jupyter_path,
                name,
                {
                    "argv": ["xk", "-f", "{connection_file}"],
                    "display_name": "x",
                    "language": "x",
                    "kernel_protocol_version": version,
                },
            )
        choose = kcf_kernel.choose_port_strategy
        new, five = kcf_kernel.get_kernel_spec("new"), kcf_kernel.get_kernel_spec("five")
        assert choose(new)[:2] == ("handshake", "jupyter")
        assert choose(five)[:2] == ("reserve", None)
        assert kcf_kernel.default_port_strategy(five.argv, five) == "reserve"
        assert kcf_kernel.default_port_strategy(kcf_kernel.get_kernel_spec("old")) == "reserve"
        ipk = kcf_kernel.get_kernel_spec("python3")
        assert ipk.kernel_protocol_version == "5.5"
        assert choose(ipk)[:2] == ("kernel", None)

    def test_xeus_python_kernelspec_handshakes_in_xeus(self, jupyter_path: Path) -> None:
        """xeus-python's kernelspec (no protocol version, {connection_file}) gets the
        handshake in the xeus dialect, and is interrupted by message."""
        _spec(
            jupyter_path,
            "xpy",
            {
                "argv": ["python3.11", "-m", "xpython_launcher", "-f", "{connection_file}"],
                "display_name": "xpy",
                "language": "python",
                "metadata": {"debugger": True},
            },
        )
        spec = kcf_kernel.get_kernel_spec("xpy")
        choice = kcf_kernel.choose_port_strategy(spec)
        assert choice.strategy == "handshake"
        assert choice.handshake_dialect == "xeus"
        assert "xeus" in choice.reason
        assert kcf_kernel.choose_port_strategy(list(spec.argv)) == choice  # argv alone too
        assert kcf_kernel.interrupt_mode_for(spec) == "message"
        assert spec.interrupt_mode is None

    def test_metadata_dialect_wins_and_reasons_are_given(self, jupyter_path: Path) -> None:
        """metadata.kcf.handshake_dialect turns the handshake on or off; every choice says
        why."""
        _spec(
            jupyter_path,
            "meta",
            {
                "argv": ["xk", "-f", "{connection_file}"],
                "display_name": "x",
                "language": "x",
                "metadata": {"kcf": {"handshake_dialect": "kallichore"}},
            },
        )
        choice = kcf_kernel.choose_port_strategy(kcf_kernel.get_kernel_spec("meta"))
        assert choice == (
            "handshake",
            "kallichore",
            "JEP 66 handshake: the kernelspec's metadata names it",
        )
        ipk = kcf_kernel.choose_port_strategy(kcf_kernel.ipykernel_argv())
        assert ipk.reason == "ipykernel_launcher binds port 0 and writes its ports back"
        other = kcf_kernel.choose_port_strategy(["evcxr", "{connection_file}"])
        assert other.reason == "kcf chooses its ports and reserves them: no handshake declared"

    @pytest.mark.parametrize("version", ["5.5", "5.6"])
    def test_ipykernel_kernelspec_declaring_handshake_never_gets_registration_file(
        self,
        version: str,
        jupyter_path: Path,
        runtime: Path,
        kernels: list[kcf_kernel.KernelProcess],
        request_kernel: Req,
    ) -> None:
        """A real ipykernel kernelspec dir declaring 5.5 (as ipykernel 7.4's does) or even
        5.6 and asking for the handshake in its metadata: launched by name, real ipykernel
        gets a connection file (it chooses its ports), never a registration file."""
        _spec(
            jupyter_path,
            "ipk",
            {
                "argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "ipykernel",
                "language": "python",
                "metadata": {"kcf": {"handshake_dialect": "jupyter"}},
                "kernel_protocol_version": version,
            },
        )
        kp = kcf_kernel.launch_kernel("ipk", timeout=60)
        kernels.append(kp)
        assert (kp.strategy, kp.handshake_dialect) == ("kernel", None)
        assert kp.argv[-1] == str(kp.connection_file)
        assert not any("registration" in a for a in kp.argv)
        assert [p.name for p in runtime.iterdir()] == [kp.connection_file.name]
        reply = request_kernel(kp.info, "kernel_info_request", {}, timeout=60)
        assert reply.content["implementation"] == "ipython"


class TestInterruptMode:
    def test_declared_mode_wins(self, jupyter_path: Path) -> None:
        """A kernelspec's interrupt_mode is used as declared, xeus-python's included."""
        for name, mode in (("sig", "signal"), ("msg", "message")):
            _spec(
                jupyter_path,
                name,
                {
                    "argv": ["xpython", "-f", "{connection_file}"],
                    "display_name": name,
                    "language": "python",
                    "interrupt_mode": mode,
                },
            )
            assert kcf_kernel.interrupt_mode_for(kcf_kernel.get_kernel_spec(name)) == mode

    def test_undeclared_mode_signals_except_xeus(self) -> None:
        """Without a declared mode: SIGINT (as jupyter_client), but xeus kernels, which die
        on SIGINT, get interrupt_request."""
        assert kcf_kernel.interrupt_mode_for(kcf_kernel.ipykernel_argv()) == "signal"
        assert kcf_kernel.interrupt_mode_for(["evcxr", "{connection_file}"]) == "signal"
        assert kcf_kernel.interrupt_mode_for(["xpython", "-f", "{connection_file}"]) == "message"

    def test_ipykernel_message_mode_interrupts_by_interrupt_request(
        self,
        jupyter_path: Path,
        runtime: Path,
        kernels: list[kcf_kernel.KernelProcess],
        request_kernel: Req,
    ) -> None:
        """A real ipykernel whose kernelspec says interrupt_mode "message": interrupt()
        sends interrupt_request on control (seen on iopub as its parent), the running
        ``time.sleep(60)`` ends in KeyboardInterrupt, and the kernel lives on."""
        _spec(
            jupyter_path,
            "ipymsg",
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "ipykernel by message",
                "language": "python",
                "interrupt_mode": "message",
            },
        )
        kp = kcf_kernel.launch_kernel("ipymsg", timeout=60)
        kernels.append(kp)
        assert kp.interrupt_mode == "message"
        assert kp.strategy == "kernel"
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.linger = 0
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        codec = kcf_spec.Codec.from_connection(kp.info, check_replay=False)
        seen: list[kcf_spec.Message] = []

        def until(pred: Callable[[kcf_spec.Message], bool], deadline: float = 60) -> bool:
            end = time.monotonic() + deadline
            while time.monotonic() < end:
                if sub.poll(100):
                    msg = codec.parse(sub.recv_multipart())
                    seen.append(msg)
                    if pred(msg):
                        return True
            return False

        try:
            sub.connect(kp.info.connect_url(Channel.IOPUB))
            assert until(lambda m: m.msg_type == "iopub_welcome"), "no iopub subscription"
            started = runtime / "started"
            code = f"import pathlib, time; pathlib.Path({str(started)!r}).touch(); time.sleep(60)"
            replies: list[Any] = []
            runner = threading.Thread(
                target=lambda: replies.append(
                    request_kernel(kp.info, "execute_request", {"code": code}, timeout=120)
                )
            )
            runner.start()
            try:
                assert until(lambda m: m.msg_type == "execute_input")
                assert _wait(started.exists, 60), "the cell never started"
                kp.interrupt(timeout=30)
                assert until(lambda m: m.parent_header.get("msg_type") == "interrupt_request"), (
                    "no interrupt_request reached the kernel"
                )
            finally:
                runner.join(120)
            assert replies
            assert replies[0].content["status"] == "error"
            assert replies[0].content["ename"] == "KeyboardInterrupt"
            assert kp.is_alive()
            again = request_kernel(kp.info, "execute_request", {"code": "1 + 1"}, timeout=60)
            assert again.content["status"] == "ok"
        finally:
            ctx.destroy(linger=0)


class TestKernelSpecs:
    def test_kernelspec_found_and_read(self, jupyter_path: Path) -> None:
        """kernel.json fields are read; names are case-insensitive."""
        d = _spec(
            jupyter_path,
            "MyK",
            {
                "argv": ["k", "{connection_file}", "{resource_dir}"],
                "display_name": "My K",
                "language": "mk",
                "env": {"A": "1"},
                "metadata": {"debugger": True},
                "interrupt_mode": "message",
                "kernel_protocol_version": "5.3",
            },
        )
        spec = kcf_kernel.get_kernel_spec("myk")
        assert (spec.name, spec.display_name, spec.language) == ("myk", "My K", "mk")
        assert spec.env == {"A": "1"}
        assert spec.metadata == {"debugger": True}
        assert spec.interrupt_mode == "message"
        assert spec.resource_dir == d
        assert kcf_kernel.find_kernel_specs()["myk"] == d

    def test_first_directory_wins(self, jupyter_path: Path, tmp_path: Path) -> None:
        """JUPYTER_PATH comes before the user data dir, as in jupyter_core."""
        _spec(jupyter_path, "dup", {"argv": ["first"], "display_name": "a", "language": "a"})
        _spec(tmp_path / "data", "dup", {"argv": ["second"], "display_name": "b", "language": "b"})
        assert kcf_kernel.get_kernel_spec("dup").argv == ("first",)
        dirs = kcf_kernel.kernel_spec_dirs()
        assert dirs[0] == jupyter_path / "kernels"
        assert (
            dirs.index(tmp_path / "data" / "kernels")
            < dirs.index(Path(sys.prefix, "share", "jupyter", "kernels"))
            or sys.prefix != sys.base_prefix
        )

    def test_bad_kernelspec_names_file_and_field(self, jupyter_path: Path) -> None:
        """A kernel.json with a bad field is a KernelSpecError naming the file and pointer."""
        d = _spec(jupyter_path, "bad", {"argv": "not a list", "display_name": "b", "language": "b"})
        with pytest.raises(kcf_kernel.KernelSpecError) as err:
            kcf_kernel.get_kernel_spec("bad")
        assert err.value.pointer == "/argv"
        assert str(d / "kernel.json") in str(err.value)

    def test_unknown_name_says_where_it_looked(self, jupyter_path: Path) -> None:
        """An unknown name is NoSuchKernelSpec (a LookupError) naming the directories."""
        with pytest.raises(kcf_kernel.NoSuchKernelSpec, match=str(jupyter_path)):
            kcf_kernel.get_kernel_spec("nope-not-here")

    def test_launch_by_kernelspec_name(
        self, jupyter_path: Path, runtime: Path, request_kernel: Req
    ) -> None:
        """launch_kernel("name") runs that kernelspec with its env and name, default strategy."""
        argv = [*kcf_kernel.example_kernel_argv()]
        _spec(
            jupyter_path,
            "kcf-ex",
            {
                "argv": argv,
                "display_name": "ex",
                "language": "python",
                "env": {"KCF_SPEC_ENV": "yes"},
            },
        )
        with kcf_kernel.launch_kernel("kcf-ex") as kp:
            assert kp.strategy == "kernel"
            assert kp.info.kernel_name == "kcf-ex"
            code = "__import__('os').environ['KCF_SPEC_ENV']"
            reply = request_kernel(kp.info, "execute_request", {"code": code})
            assert reply.content["status"] == "ok"


def _dies(pid: int, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    return False


_LAUNCHER = textwrap.dedent(
    """
    import json, subprocess, sys, kcf_kernel
    kind, ports, transport, outlive = sys.argv[1:5]
    argv = (kcf_kernel.ipykernel_argv() if kind == "ipykernel"
            else kcf_kernel.example_kernel_argv(handshake=ports == "handshake"))
    kp = kcf_kernel.launch_kernel(argv, ports=ports, transport=transport,
                                  die_with_launcher=outlive != "outlive",
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert kp.wait_bound(120)
    print(json.dumps({"pid": kp.pid, "file": str(kp.connection_file)}), flush=True)
    sys.stdin.read()
    """
)

_SETUPS = [
    (kind, ports, transport)
    for kind in ("example", "ipykernel")
    for ports in ("reserve", "kernel", "handshake")
    for transport in ("tcp", "ipc")
    if not (kind == "ipykernel" and ports == "handshake")
]


def _launcher(runtime: Path, *args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, f"the launcher died: {proc.wait(60)}"
    return proc, json.loads(line)


@linux_only
@pytest.mark.parametrize(("kind", "ports", "transport"), _SETUPS)
def test_sigkill_launcher_leaves_no_orphan(
    short_runtime: Path, kind: str, ports: str, transport: str
) -> None:
    """SIGKILL of the launcher ends its kernel; the file left behind is provably dead
    (kcf prune removes it) and no lock file stays under kcf-ports/."""
    if kind == "ipykernel" and importlib.util.find_spec("ipykernel") is None:
        realparts.missing_real_part("ipykernel is not installed")  # fails in CI
    launcher, started = _launcher(short_runtime, kind, ports, transport, "die")
    try:
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(60)
        assert _dies(started["pid"]), f"{kind} kernel outlived its launcher"
        from kcf_client import prune

        result = prune(short_runtime, grace=0)
        assert not Path(started["file"]).exists(), [(e.state, e.reason) for e in result.kept]
        left = [p.name for p in short_runtime.iterdir() if p.name != "kcf-ports"]
        assert [n for n in left if n.startswith("kernel-")] == []
        ports_dir = short_runtime / "kcf-ports"
        if ports_dir.exists():  # the next reservation removes abandoned locks
            kcf_kernel.reserve_ports(1, runtime_dir=short_runtime).release()
            assert not ports_dir.exists()
    finally:
        launcher.kill()
        launcher.wait()
        if pid_alive(started["pid"]):
            os.kill(started["pid"], signal.SIGKILL)


@linux_only
def test_opt_out_kernel_outlives_launcher(short_runtime: Path, request_kernel: Req) -> None:
    """die_with_launcher=False: the kernel survives its launcher's SIGKILL and still answers."""
    launcher, started = _launcher(short_runtime, "example", "kernel", "tcp", "outlive")
    try:
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(60)
        info = ConnectionInfo.load(started["file"])
        assert request_kernel(info, "kernel_info_request", {}).content["status"] == "ok"
        assert pid_alive(started["pid"])
    finally:
        launcher.kill()
        launcher.wait()
        os.kill(started["pid"], signal.SIGKILL)


@linux_only
def test_launch_from_a_finished_thread_keeps_the_kernel(runtime: Path, request_kernel: Req) -> None:
    """The parent-death signal fires when the forking thread exits: a kernel launched from a
    worker thread that has ended still runs and answers."""
    box: list[kcf_kernel.KernelProcess] = []
    worker = threading.Thread(
        target=lambda: box.append(kcf_kernel.launch_kernel(kcf_kernel.example_kernel_argv()))
    )
    worker.start()
    worker.join(120)
    assert box, "the launch in the worker failed"
    with box[0] as kp:
        assert request_kernel(kp.info, "kernel_info_request", {}).content["status"] == "ok"
        assert kp.is_alive()


_ORPHANING = (
    "import subprocess, sys\n"
    "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
    "print(c.pid, flush=True)\n"
)


@pytest.mark.parametrize("call", ["kill", "signal_group"])
def test_kill_and_signal_group_do_not_reap(runtime: Path, call: str) -> None:
    """kill()/signal_group() on an exited kernel do not reap it, so close() still ends the
    child it left in its group."""
    kp = kcf_kernel.launch_kernel(
        [sys.executable, "-c", _ORPHANING, "{connection_file}"], stdout=subprocess.PIPE
    )
    assert kp.popen.stdout is not None
    child = int(kp.popen.stdout.readline())
    try:
        deadline = time.monotonic() + 60
        while kp.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if call == "kill":
            kp.kill()
        else:
            kp.signal_group(signal.SIGCONT)
        kp.close()
        assert _dies(child), "close() left the kernel's child running"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def test_close_sends_queued_replies(runtime: Path) -> None:
    """KernelSockets.close() sends what is still queued (a last shutdown_reply) instead of
    dropping it."""
    ks = kcf_kernel.bind_kernel(ConnectionInfo(0, 0, 0, 0, 0, key=b"k"))
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    client = ctx.socket(zmq.DEALER)
    client.linger = 0
    client.rcvhwm = 1  # the client reads slowly: replies wait in the kernel's queue
    client.connect(ks.info.connect_url(Channel.SHELL))
    try:
        client.send(b"hello")
        assert ks.shell.poll(30_000)
        ident, _ = ks.shell.recv_multipart()
        n, size = 20, 1 << 18
        for _ in range(n):
            ks.shell.send_multipart([ident, b"x" * size])
        closer = threading.Thread(target=ks.close)  # closes while the client reads
        closer.start()
        got = 0
        while got < n and client.poll(30_000):
            client.recv()
            got += 1
        closer.join(60)
        assert got == n
    finally:
        client.close()
        ctx.term()
        ks.close()


def test_example_kernel_returns_the_last_expression(runtime: Path) -> None:
    """print('hello'); 6*7 shows hello on stdout and 42 as the execute_result."""
    from kcf_kernel.examples.pykernel import run_cell

    ns: dict[str, Any] = {}
    assert run_cell("print('hello'); 6*7", ns) == 42
    assert run_cell("x = 1", ns) is None
    assert run_cell("x += 1\nx * 10", ns) == 20
    assert run_cell("", ns) is None


# -- the zmq error seam ------------------------------------------------------------------


@pytest.fixture
def broken_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every new ZeroMQ socket in this process fails as with too many open files."""

    def broken(self: object, *args: object, **kwargs: object) -> None:
        raise zmq.ZMQError(errno.EMFILE)

    monkeypatch.setattr(zmq.Context, "socket", broken)


def _entry_points(tmp: Path) -> dict[str, Callable[[], object]]:
    reg = RegistrationInfo("kid", 1, "127.0.0.1", "tcp", b"k", "hmac-sha256")
    reg_file = tmp / "registration.json"
    kcf_kernel.write_registration_file(reg, reg_file)
    example = kcf_kernel.example_kernel_argv
    return {
        "bind_kernel": lambda: kcf_kernel.bind_kernel(tmp / "kernel-b.json"),
        "handshake_kernel": lambda: kcf_kernel.handshake_kernel(reg_file, timeout=1),
        "launch_handshake": lambda: kcf_kernel.launch_handshake(example(True), timeout=5),
        "launch_kernel_handshake": lambda: kcf_kernel.launch_kernel(
            example(True), ports="handshake", timeout=5
        ),
    }


@pytest.mark.parametrize(
    "name", ["bind_kernel", "handshake_kernel", "launch_handshake", "launch_kernel_handshake"]
)
def test_broken_zmq_gives_only_kcf_errors(
    name: str, tmp_path: Path, runtime: Path, broken_sockets: None
) -> None:
    """With every ZeroMQ socket failing, each public entry point that makes sockets raises a
    KcfError (the seam maps zmq.ZMQError), never a raw ZMQError."""
    with pytest.raises(KcfError) as err:
        _entry_points(tmp_path)[name]()
    assert not isinstance(err.value, zmq.ZMQError)


def test_terminated_context_gives_kcf_errors() -> None:
    """A terminated context given to bind_kernel, or under a Heartbeat, is a
    KernelSocketError."""
    dead: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    dead.term()
    with pytest.raises(kcf_kernel.KernelSocketError):
        kcf_kernel.bind_kernel(ConnectionInfo(0, 0, 0, 0, 0, key=b"k"), dead)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(zmq.REP)
    hb = kcf_kernel.Heartbeat(sock)
    sock.close()
    ctx.term()
    with pytest.raises(kcf_kernel.KernelSocketError):
        hb.start()


def test_report_ports_on_a_broken_context_gives_a_kcf_error() -> None:
    """report_ports with a terminated context raises a KcfError."""
    ks = kcf_kernel.bind_kernel(ConnectionInfo(0, 0, 0, 0, 0, key=b"k"))
    reg = RegistrationInfo("kid", 1, "127.0.0.1", "tcp", b"k", "hmac-sha256")
    for channel in Channel:
        ks.socket(channel).close(linger=0)
    ks.context.term()
    with pytest.raises(KcfError) as err:
        kcf_kernel.report_ports(reg, ks, timeout=1)
    assert not isinstance(err.value, zmq.ZMQError)
