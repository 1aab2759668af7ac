"""The JEP 66 handshake between kcf's launcher and kcf's example kernel."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kcf_kernel
import pytest
import zmq
from kcf_spec import ConnectionInfo, RegistrationInfo

Ls = Callable[[Path], list[str]]
Req = Callable[..., Any]


class TestLaunchHandshake:
    @pytest.mark.parametrize("transport", ["tcp", "ipc"])
    def test_handshake_example_kernel(
        self, short_runtime: Path, listing: Ls, request_kernel: Req, transport: str
    ) -> None:
        """The kernel reports its ports; the launcher writes the connection file from them and
        removes the registration file; close() removes everything."""
        argv = kcf_kernel.example_kernel_argv(handshake=True)
        with kcf_kernel.launch_handshake(argv, transport=transport, timeout=60) as kp:  # type: ignore[arg-type]
            assert not any("registration" in p for p in listing(short_runtime))
            assert ConnectionInfo.load(kp.connection_file) == kp.info
            assert kp.info.transport == transport
            reply = request_kernel(kp.info, "kernel_info_request", {})
            assert reply.content["status"] == "ok"
        assert listing(short_runtime) == []

    def test_handshake_bind_all_address_star(self, runtime: Path, request_kernel: Req) -> None:
        """With ip "*" (bind all) the kernel reaches the registration socket over loopback,
        reports, and answers."""
        argv = kcf_kernel.example_kernel_argv(handshake=True)
        with kcf_kernel.launch_handshake(argv, ip="*", timeout=60) as kp:
            assert kp.info.ip == "*"
            assert request_kernel(kp.info, "kernel_info_request", {}).content["status"] == "ok"

    def test_handshake_via_launch_kernel_connection_file_placeholder(
        self, runtime: Path, request_kernel: Req
    ) -> None:
        """launch_kernel(ports='handshake') with a kernelspec-style {connection_file} works."""
        argv = kcf_kernel.example_kernel_argv()  # -f {connection_file}: autodetected
        with kcf_kernel.launch_kernel(argv, ports="handshake", kernel_name="kcf-py") as kp:
            assert kp.info.kernel_name == "kcf-py"
            assert request_kernel(kp.info, "kernel_info_request", {}).content["status"] == "ok"

    def test_handshake_never_reports_times_out(self, runtime: Path, listing: Ls) -> None:
        """A kernel that never reports gives HandshakeTimeout naming the registration file;
        it is killed and nothing is left behind."""
        argv = [sys.executable, "-c", "import time; time.sleep(60)", "{registration_file}"]
        started = time.monotonic()
        with pytest.raises(kcf_kernel.HandshakeTimeout) as err:
            kcf_kernel.launch_handshake(argv, timeout=1.0)
        assert time.monotonic() - started < 30
        reg = err.value.registration_file
        assert reg is not None
        assert Path(reg).name.startswith("registration-")
        assert reg in str(err.value)
        assert isinstance(err.value, TimeoutError)
        assert listing(runtime) == []

    def test_handshake_kernel_dies_raises_handshake_error(self, runtime: Path, listing: Ls) -> None:
        """A kernel that exits before reporting is a HandshakeError naming the dialect, its
        exit status and the last lines of its stderr; nothing is left behind."""
        script = (
            "import sys; sys.stderr.write('line 1\\nbad registration: type must be string\\n'); "
            "sys.exit(7)"
        )
        argv = [sys.executable, "-c", script, "{registration_file}"]
        with pytest.raises(kcf_kernel.HandshakeError) as err:
            kcf_kernel.launch_handshake(argv, timeout=30, handshake_dialect="xeus")
        assert err.value.returncode == 7
        assert err.value.dialect == "xeus"
        assert "bad registration: type must be string" in err.value.stderr_tail
        assert "xeus dialect" in str(err.value)
        assert "status 7" in str(err.value)
        assert "type must be string" in str(err.value)
        assert listing(runtime) == []

    @pytest.mark.parametrize("dialect", ["jupyter", "xeus", "kallichore"])
    def test_handshake_example_kernel_each_dialect(
        self, runtime: Path, listing: Ls, request_kernel: Req, dialect: str
    ) -> None:
        """kcf's kernel half reports in each dialect (from the file the launcher wrote in
        that dialect), kcf's launcher accepts and answers it, and the kernel serves."""
        argv = kcf_kernel.example_kernel_argv(handshake=True)
        with kcf_kernel.launch_handshake(argv, timeout=60, handshake_dialect=dialect) as kp:
            assert request_kernel(kp.info, "kernel_info_request", {}).content["status"] == "ok"
        assert listing(runtime) == []

    def test_handshake_kernel_half_asked_for_kallichore_on_jupyter_file(
        self, runtime: Path, request_kernel: Req
    ) -> None:
        """Asked explicitly, the kernel half reports as ark does (a full handshake_request
        from a REQ) even on a documented file, and the launcher answers that shape."""
        argv = [
            *kcf_kernel.example_kernel_argv(handshake=True),
            "--handshake-dialect",
            "kallichore",
        ]
        with kcf_kernel.launch_handshake(argv, timeout=60) as kp:
            assert request_kernel(kp.info, "kernel_info_request", {}).content["status"] == "ok"

    def test_handshake_unknown_dialect_refused(self, runtime: Path) -> None:
        """An unknown dialect name is refused before anything starts, listing the names."""
        argv = kcf_kernel.example_kernel_argv(handshake=True)
        with pytest.raises(ValueError, match="'jupyter', 'xeus', 'kallichore'"):
            kcf_kernel.launch_handshake(argv, handshake_dialect="ipykernel")

    def test_handshake_wrong_key_refused(self, runtime: Path, listing: Ls) -> None:
        """A report signed with another key is refused; the launcher times out saying so."""
        script = textwrap.dedent(
            """
            import sys, kcf_kernel
            from kcf_spec import RegistrationInfo
            reg = RegistrationInfo.load(sys.argv[1])
            forged = reg.replace(key=b"not-the-key")
            try:
                kcf_kernel.handshake_kernel(forged, timeout=30)
            except kcf_kernel.HandshakeTimeout:
                pass
            """
        )
        argv = [sys.executable, "-c", script, "{registration_file}"]
        with pytest.raises(kcf_kernel.HandshakeTimeout, match="refused a message"):
            kcf_kernel.launch_handshake(argv, timeout=4)
        assert listing(runtime) == []

    def test_handshake_no_placeholder_raises(self, runtime: Path) -> None:
        """An argv with no placeholder for the registration file is refused up front."""
        with pytest.raises(kcf_kernel.LaunchError, match="placeholder"):
            kcf_kernel.launch_handshake([sys.executable, "-c", "pass"])

    def test_handshake_with_curve_connection_refused(self, runtime: Path, listing: Ls) -> None:
        """launch_kernel(ports="handshake") refuses a connection with CURVE keys rather than
        starting a kernel whose file silently has no encryption."""
        public, secret = zmq.curve_keypair()
        conn = ConnectionInfo(
            0,
            0,
            0,
            0,
            0,
            key=kcf_kernel.new_key(),
            curve_publickey=public.decode(),
            curve_secretkey=secret.decode(),
        )
        argv = kcf_kernel.example_kernel_argv(handshake=True)
        with pytest.raises(ValueError, match="CURVE"):
            kcf_kernel.launch_kernel(argv, connection=conn, ports="handshake", timeout=30)
        assert [p for p in listing(runtime) if not p.startswith("kcf-ports")] == []


class TestHandshakeKernel:
    def test_kernel_half_times_out_without_ack(self, tmp_path: Path) -> None:
        """With a registration socket that never answers, the kernel half raises
        HandshakeTimeout naming the file, and closes its sockets."""
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        silent = ctx.socket(zmq.ROUTER)
        silent.linger = 0
        port = silent.bind_to_random_port("tcp://127.0.0.1")
        try:
            reg = RegistrationInfo("k1", port, key=b"key")
            path = kcf_kernel.write_registration_file(reg, tmp_path / "registration-k1.json")
            with pytest.raises(kcf_kernel.HandshakeTimeout) as err:
                kcf_kernel.handshake_kernel(path, timeout=0.5)
            assert err.value.registration_file == str(path)
            assert silent.poll(5000)  # the report did arrive
        finally:
            silent.close()

    def test_kernel_half_refused_raises(self, tmp_path: Path) -> None:
        """A launcher that answers with status error makes the kernel half raise
        HandshakeError with the launcher's reason."""
        import threading

        from kcf_spec import Codec, build_refusal

        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        router = ctx.socket(zmq.ROUTER)
        router.linger = 0
        port = router.bind_to_random_port("tcp://127.0.0.1")
        codec = Codec(b"key")

        def refuse() -> None:
            if router.poll(10000):
                frames = router.recv_multipart()
                reply = build_refusal(frames, "jupyter", codec, "go away")
                assert reply is not None
                router.send_multipart(reply)

        thread = threading.Thread(target=refuse)
        thread.start()
        try:
            reg = RegistrationInfo("k2", port, key=b"key")
            with pytest.raises(kcf_kernel.HandshakeError, match="go away"):
                kcf_kernel.handshake_kernel(reg, timeout=10)
        finally:
            thread.join()
            router.close()


class TestRegistrationFile:
    @pytest.mark.parametrize(
        ("dialect", "port_type", "has_kernel_id"),
        [("jupyter", int, True), ("xeus", str, True), ("kallichore", int, False)],
    )
    def test_write_registration_file_each_dialect(
        self, tmp_path: Path, dialect: str, port_type: type, has_kernel_id: bool
    ) -> None:
        """Each dialect's file has its own port type and kernel_id rule, is 0600, validates
        against the registration schema, and is read back by the kernel half's reader."""
        import json
        import stat

        import kcf_spec

        reg = RegistrationInfo("k9", 45623, key=b"key")
        path = kcf_kernel.write_registration_file(reg, tmp_path / "r.json", dialect)  # type: ignore[arg-type]
        data = json.loads(path.read_text())
        assert type(data["registration_port"]) is port_type
        assert ("kernel_id" in data) is has_kernel_id
        assert data["ip"] == "127.0.0.1"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        kcf_spec.validate(data, "registration")
        assert kcf_spec.registration_dialect(data) == dialect
        back = RegistrationInfo.load(path)
        assert back.registration_port == 45623
        assert back.key == b"key"


def test_example_kernel_shutdown_request_exits_and_cleans(
    tmp_path: Path, request_kernel: Req
) -> None:
    """shutdown_request makes the example kernel reply, exit 0 and remove the file it wrote."""
    path = tmp_path / "kernel-s.json"
    proc = subprocess.Popen([sys.executable, "-m", "kcf_kernel.examples.pykernel", "-f", str(path)])
    try:
        deadline = time.monotonic() + 30
        while not path.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        info = ConnectionInfo.load(path)
        reply = request_kernel(info, "shutdown_request", {"restart": False})
        assert reply.content == {"status": "ok", "restart": False}
        assert proc.wait(30) == 0
        assert not path.exists()
    finally:
        proc.kill()
        proc.wait()
