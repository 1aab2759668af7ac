"""KernelConnection (blocking) against real kernels: talk, time out, die, loop."""

from __future__ import annotations

import os
import secrets
import signal
import threading
from pathlib import Path
from typing import Any

import kcf_client
import pytest
import zmq
from kcf_client import KernelConnection, KernelDied, KernelTimeout, connect
from kcf_spec import Channel

pytestmark = pytest.mark.interop


class TestTalking:
    def test_kernel_info_from_ipykernel(self, ipykernel_file: Path) -> None:
        """kernel_info returns ipykernel's reply content."""
        with connect(ipykernel_file) as kc:
            info = kc.kernel_info()
        assert info["implementation"] == "ipython"
        assert info["status"] == "ok"

    def test_execute_collects_stdout_stderr_result(self, ipykernel_file: Path) -> None:
        """execute gathers the streams and the result of the code until idle."""
        with connect(ipykernel_file) as kc:
            r = kc.execute("import sys; print('out'); print('err', file=sys.stderr); 6*7")
        assert r.ok
        assert r.stdout == "out\n"
        assert r.stderr == "err\n"
        assert r.text == "42"
        assert isinstance(r.execution_count, int)

    def test_execute_reports_error(self, ipykernel_file: Path) -> None:
        """A raised exception comes back as status error with its name and value."""
        with connect(ipykernel_file) as kc:
            r = kc.execute("raise ValueError('boom')")
        assert r.status == "error"
        assert r.error is not None
        assert r.error.ename == "ValueError"
        assert r.error.evalue == "boom"
        with pytest.raises(kcf_client.ExecutionError, match="ValueError: boom"):
            r.raise_for_error()

    def test_execute_displays(self, ipykernel_file: Path) -> None:
        """display_data bundles are collected in order."""
        with connect(ipykernel_file) as kc:
            r = kc.execute("from IPython.display import display; display('a'); display('b')")
        assert [d["text/plain"] for d in r.displays] == ["'a'", "'b'"]

    def test_ping_returns_round_trip(self, ipykernel_file: Path) -> None:
        """ping on a live kernel returns a positive round trip in seconds."""
        with connect(ipykernel_file) as kc:
            assert kc.ping(2.0) > 0
            assert kc.is_alive()

    def test_wait_until_ready_returns_reply(self, ipykernel_file: Path) -> None:
        """wait_until_ready returns the first kernel_info reply."""
        with connect(ipykernel_file) as kc:
            assert kc.wait_until_ready(30)["implementation"] == "ipython"

    def test_connect_by_name_finds_file(
        self, ipykernel_file: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """connect accepts a name searched like find_connection_file."""
        monkeypatch.chdir(ipykernel_file.parent)
        with connect("ipk") as kc:
            assert kc.path == ipykernel_file
            assert kc.kernel_info()["status"] == "ok"

    def test_replies_not_ours_are_dropped(self, ipykernel_file: Path) -> None:
        """A reply to a request we stopped waiting for does not answer the next one."""
        with connect(ipykernel_file) as kc:
            stale = kc.send(Channel.SHELL, "comm_info_request", {})
            kc._core.forget(stale.msg_id)
            reply = kc.request(Channel.SHELL, "kernel_info_request", {})
            assert reply.msg_type == "kernel_info_reply"

    def test_connect_close_loop_never_raises(self, ipykernel_file: Path) -> None:
        """200 connect/ping/close cycles against a live kernel raise nothing."""
        for _ in range(200):
            with connect(ipykernel_file) as kc:
                kc.is_alive(0.5)
        for _ in range(200):
            connect(ipykernel_file).close()

    def test_closed_connection_refuses(self, ipykernel_file: Path) -> None:
        """Using a closed connection raises ConnectionClosed; close is idempotent."""
        kc = connect(ipykernel_file)
        kc.close()
        kc.close()
        with pytest.raises(kcf_client.ConnectionClosed):
            kc.kernel_info()


class TestFailures:
    def test_timeout_names_kernel_and_channel(self, tmp_path: Path, h: Any) -> None:
        """No kernel behind the file: KernelTimeout (a TimeoutError) names file and channel."""
        f = h.write(tmp_path / "kernel-none.json", h.dead_info())
        with connect(f) as kc, pytest.raises(TimeoutError) as info:
            kc.wait_until_ready(0.3)
        err = info.value
        assert isinstance(err, KernelTimeout)
        assert err.channel is Channel.SHELL
        assert err.kernel == str(f)
        assert str(f) in str(err)
        assert "shell" in str(err)

    def test_execute_timeout_names_the_whole_budget(self, ipykernel_file: Path) -> None:
        """An execute that overruns reports the timeout it was given, not what was left of it."""
        with connect(ipykernel_file) as kc:
            kc.wait_until_ready(30)
            with pytest.raises(KernelTimeout) as err:
                kc.execute("import time; time.sleep(1)", timeout=0.3)
            kc.execute("pass", timeout=30)  # the kernel is free again for the next test
        assert err.value.timeout == 0.3
        assert "execute_request" in str(err.value)
        assert "within 0.3 s" in str(err.value)

    @pytest.mark.timeout(20)
    def test_ping_negative_timeout_does_not_wait_forever(self, h: Any) -> None:
        """ping with a negative timeout to a silent kernel raises at once instead of hanging."""
        with KernelConnection(h.dead_info()) as kc, pytest.raises(KernelTimeout) as err:
            kc.ping(-1.0)
        assert err.value.channel is Channel.HB

    def test_ping_timeout_then_recovers(self, tmp_path: Path, h: Any) -> None:
        """A ping timeout replaces the heartbeat socket: later pings work once a kernel binds."""
        info = h.dead_info()
        with KernelConnection(info) as kc:
            with pytest.raises(KernelTimeout) as err:
                kc.ping(0.2)
            assert err.value.channel is Channel.HB
            server = h.TinyKernel(info)
            try:
                assert kc.ping(5.0) > 0
            finally:
                server.close()

    def test_kernel_killed_mid_request_raises_died(self, tmp_path: Path, h: Any) -> None:
        """A kernel killed while running code raises KernelDied naming the channel."""
        km = h.start_ipykernel(tmp_path / "kernel-doomed.json")
        try:
            with connect(km.connection_file) as kc:
                kc.wait_until_ready(60)
                kc.liveness_interval = 0.3
                timer = threading.Timer(0.5, km.signal_kernel, (signal.SIGKILL,))
                timer.start()
                with pytest.raises(KernelDied) as err:
                    kc.execute("import time; time.sleep(60)", timeout=30)
                timer.join()
            assert err.value.channel is Channel.SHELL
            assert "kernel-doomed.json" in str(err.value)
        finally:
            h.stop_ipykernel(km)

    def test_bad_signature_timeout_says_why(self, h: Any) -> None:
        """Replies that fail the signature check are refused, and the timeout says so."""
        info = h.dead_info().replace(key=b"")
        server = h.TinyKernel(info)  # unsigned: accepts our request, replies unsigned
        try:
            with (
                KernelConnection(info.replace(key=b"ours")) as kc,
                pytest.raises(KernelTimeout, match=r"SignatureError.*key"),
            ):
                kc.kernel_info(timeout=1.0)
        finally:
            server.close()


class TestTransports:
    def test_ipc_transport_ipykernel(self, tmp_path: Path, h: Any) -> None:
        """An ipykernel on the ipc transport is listed alive and answers execute."""
        km = h.start_ipykernel(
            tmp_path / "kernel-ipc.json", transport="ipc", ip=str(tmp_path / "ipcsock")
        )
        try:
            with connect(km.connection_file) as kc:
                kc.wait_until_ready(60)
                assert kc.info.transport == "ipc"
                assert kc.execute("1+1").text == "2"
            [e] = kcf_client.list_kernels(tmp_path)
            assert e.state is kcf_client.KernelState.ALIVE
        finally:
            h.stop_ipykernel(km)

    def test_ipv6_loopback(self, h: Any) -> None:
        """A kernel bound on [::1] is reached: sockets get IPv6 and bracketed endpoints."""
        info = h.dead_info(ip="::1")
        server = h.TinyKernel(info)
        try:
            with KernelConnection(info) as kc:
                assert kc.wait_until_ready(10)["implementation"] == "tiny"
                assert kc.ping(5.0) > 0
        finally:
            server.close()

    def test_curve_encrypted_kernel(self, h: Any) -> None:
        """With curve keys in the file, the client talks CURVE with its own keypair."""
        pub, sec = zmq.curve_keypair()
        info = h.dead_info().replace(curve_publickey=pub.decode(), curve_secretkey=sec.decode())
        server = h.TinyKernel(info)
        try:
            with KernelConnection(info) as kc:
                assert kc.wait_until_ready(10)["implementation"] == "tiny"
                assert kc.shutdown()["status"] == "ok"
            # Without the keys the encrypted server does not answer.
            plain = info.replace(curve_publickey=None, curve_secretkey=None)
            with KernelConnection(plain) as kc, pytest.raises(KernelTimeout):
                kc.kernel_info(timeout=0.5)
        finally:
            server.close()

    def test_unsigned_kernel(self, h: Any) -> None:
        """An empty key means unsigned messages, and they work."""
        info = h.dead_info().replace(key=b"")
        server = h.TinyKernel(info)
        try:
            with KernelConnection(info) as kc:
                assert kc.kernel_info()["status"] == "ok"
        finally:
            server.close()


class TestShutdown:
    def test_shutdown_stops_ipykernel(self, tmp_path: Path, h: Any) -> None:
        """shutdown over control ends the kernel process, no interrupt needed."""
        km = h.start_ipykernel(tmp_path / "kernel-bye.json")
        try:
            with connect(km.connection_file) as kc:
                kc.wait_until_ready(60)
                assert kc.shutdown()["status"] == "ok"
            assert km.provisioner.process.wait(timeout=30) is not None
        finally:
            h.stop_ipykernel(km)


def test_key_is_random_in_helpers(h: Any) -> None:
    """Helper sanity: two dead infos never share a key (they model distinct kernels)."""
    assert h.dead_info().key != h.dead_info().key
    assert len(secrets.token_hex(1)) == 2


class TestPrompt:
    def test_plain_client_to_curve_kernel_returns_by_timeout(self, h: Any) -> None:
        """A send the kernel never accepts (CURVE mismatch) ends at the caller's timeout."""
        pub, sec = zmq.curve_keypair()
        info = h.dead_info().replace(curve_publickey=pub.decode(), curve_secretkey=sec.decode())
        server = h.TinyKernel(info)
        try:
            plain = info.replace(curve_publickey=None, curve_secretkey=None)
            with KernelConnection(plain) as kc:
                for _ in range(3):  # the first send may still be queued; later ones block
                    with pytest.raises(KernelTimeout) as err:
                        kc.kernel_info(timeout=0.5)
                    assert err.value.timeout == 0.5
        finally:
            server.close()

    @pytest.mark.timeout(30)
    def test_dead_kernel_raises_died_not_timeout(self, tmp_path: Path, h: Any) -> None:
        """kernel_info, execute and wait_until_ready on a dead kernel raise KernelDied."""
        f = h.write(tmp_path / "kernel-dead.json", h.dead_info())
        old = 1_600_000_000
        os.utime(f, (old, old))  # written long ago: not a kernel still starting
        with connect(f) as kc:
            with pytest.raises(KernelDied, match="refuses connections"):
                kc.kernel_info(timeout=20)
            with pytest.raises(KernelDied, match="refuses connections"):
                kc.execute("1", timeout=20)
            with pytest.raises(KernelDied, match="not running"):
                kc.wait_until_ready(20)

    def test_wrong_key_timeout_blames_the_key(self, h: Any) -> None:
        """A kernel whose heartbeat answers but which drops our messages: the key is named."""
        info = h.dead_info()
        server = h.TinyKernel(info)
        try:
            with (
                KernelConnection(info.replace(key=b"not-the-key")) as kc,
                pytest.raises(KernelTimeout, match=r"ignores our messages.*key"),
            ):
                kc.kernel_info(timeout=2.0)
        finally:
            server.close()
