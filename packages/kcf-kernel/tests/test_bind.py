"""Bind-first: five sockets bound, real ports read back, then the file written."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import kcf_kernel
import pytest
import zmq
from kcf_kernel import BindError, SocketPathTooLong
from kcf_spec import Channel, Codec, ConnectionInfo


def _ping(info: ConnectionInfo, timeout_ms: int = 5000) -> bytes:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    req = ctx.socket(zmq.REQ)
    req.linger = 0
    if info.is_ipv6:
        req.ipv6 = True
    try:
        req.connect(info.connect_url(Channel.HB))
        req.send(b"ping")
        assert req.poll(timeout_ms), "no heartbeat echo"
        data: bytes = req.recv()
        return data
    finally:
        req.close()


class TestBindKernel:
    def test_bind_missing_file_writes_real_ports(
        self, tmp_path: Path, listing: Callable[[Path], list[str]]
    ) -> None:
        """A path that does not exist gets a new connection, bound then written 0600."""
        path = tmp_path / "kernel-a.json"
        with kcf_kernel.bind_kernel(path) as ks:
            on_disk = ConnectionInfo.load(path, profile="connect")
            assert on_disk == ks.info
            assert len(set(ks.info.ports.values())) == 5
            assert ks.owns_file
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert listing(tmp_path) == []  # ours: removed on close

    def test_bind_socket_types(self, tmp_path: Path) -> None:
        """shell/control/stdin are ROUTER, iopub PUB, hb REP."""
        with kcf_kernel.bind_kernel(tmp_path / "k.json") as ks:
            types = {c: ks.socket(c).type for c in Channel}
        assert types == {
            Channel.SHELL: zmq.ROUTER,
            Channel.IOPUB: zmq.PUB,
            Channel.STDIN: zmq.ROUTER,
            Channel.CONTROL: zmq.ROUTER,
            Channel.HB: zmq.REP,
        }

    def test_bind_launch_file_merges_key_scheme_extras(self, tmp_path: Path) -> None:
        """A launch file with ports 0 is rewritten with real ports, keeping everything else."""
        path = tmp_path / "kernel-b.json"
        doc = ConnectionInfo(0, 0, 0, 0, 0, key=b"secret", signature_scheme="hmac-sha512")
        doc = doc.replace(kernel_name="py", extras={"jupyter_session": "x", "pid": 7})
        kcf_kernel.write_connection_file(doc, path, profile="launch")
        with kcf_kernel.bind_kernel(path) as ks:
            on_disk = json.loads(path.read_text())
            assert all(on_disk[c.port_key] == ks.info.port(c) != 0 for c in Channel)
            assert on_disk["key"] == "secret"
            assert on_disk["signature_scheme"] == "hmac-sha512"
            assert on_disk["kernel_name"] == "py"
            assert on_disk["jupyter_session"] == "x"
            assert on_disk["pid"] == 7

    def test_bind_partial_ports_keeps_given_ones(self, tmp_path: Path) -> None:
        """Given ports are bound as given; only the zeros are chosen."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            free = s.getsockname()[1]
        info = ConnectionInfo(free, 0, 0, 0, 0, key=b"k")
        with kcf_kernel.bind_kernel(info) as ks:
            assert ks.info.shell_port == free
            assert 0 not in ks.info.ports.values()

    def test_bind_complete_file_untouched_and_kept(self, tmp_path: Path) -> None:
        """A file that already has every port is not rewritten, and not removed on close."""
        probe = kcf_kernel.bind_kernel(tmp_path / "probe.json")
        ports = probe.info.ports
        probe.close()
        path = tmp_path / "given.json"
        kcf_kernel.write_connection_file(ConnectionInfo.from_ports(ports, key=b"k"), path)
        before = path.stat().st_ino
        with kcf_kernel.bind_kernel(path) as ks:
            assert not ks.owns_file
            assert ks.info.ports == ports
        assert path.exists()
        assert path.stat().st_ino == before

    def test_bind_port_in_use_raises(self, tmp_path: Path) -> None:
        """A given port already in use is a BindError naming channel and endpoint; no file."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            busy = s.getsockname()[1]
            info = ConnectionInfo(0, 0, 0, 0, busy, key=b"k")
            with pytest.raises(BindError) as err:
                kcf_kernel.bind_kernel(info, connection_file=tmp_path / "k.json")
        assert err.value.channel == "hb"
        assert f":{busy}" in err.value.endpoint
        assert isinstance(err.value, OSError)
        assert not (tmp_path / "k.json").exists()

    @pytest.mark.parametrize("ip", ["::1", "::"])
    def test_bind_ipv6(self, tmp_path: Path, ip: str) -> None:
        """IPv6 addresses bind (IPV6 option, bracketed endpoints) and answer heartbeats."""
        info = ConnectionInfo(0, 0, 0, 0, 0, ip=ip, key=b"k")
        with kcf_kernel.bind_kernel(info, connection_file=tmp_path / "k.json") as ks:
            assert ks.hb.ipv6
            ks.start_heartbeat()
            assert _ping(ks.info) == b"ping"
            assert ConnectionInfo.load(tmp_path / "k.json").ip == ip

    def test_bind_ipc_absolute_paths_and_cleanup(
        self, tmp_path: Path, listing: Callable[[Path], list[str]]
    ) -> None:
        """ipc sockets live beside the file with an absolute prefix and are removed on close."""
        path = tmp_path / "kernel-c.json"
        info = ConnectionInfo(0, 0, 0, 0, 0, transport="ipc", key=b"k")
        with kcf_kernel.bind_kernel(info, connection_file=path) as ks:
            assert ks.info.ip == str(tmp_path / "kernel-c-ipc")
            assert sorted(ks.info.ports.values()) == [1, 2, 3, 4, 5]
            ks.start_heartbeat()
            assert _ping(ks.info) == b"ping"
            assert len(listing(tmp_path)) == 6
        assert listing(tmp_path) == []

    def test_bind_ipc_path_too_long_raises(self, tmp_path: Path) -> None:
        """An ipc prefix beyond the platform's sun_path limit is a clear error, before binding."""
        prefix = str(tmp_path / ("x" * kcf_kernel.max_ipc_path_length()))
        info = ConnectionInfo(0, 0, 0, 0, 0, ip=prefix, transport="ipc", key=b"k")
        with pytest.raises(SocketPathTooLong) as err:
            kcf_kernel.bind_kernel(info)
        assert err.value.limit == kcf_kernel.max_ipc_path_length()
        assert prefix in err.value.path

    def test_bind_sockets_speak_the_protocol(self, tmp_path: Path) -> None:
        """A DEALER client reaches the bound shell socket with a signed message."""
        with kcf_kernel.bind_kernel(tmp_path / "k.json") as ks:
            codec = Codec.from_connection(ks.info)
            dealer = ks.context.socket(zmq.DEALER)
            dealer.linger = 0
            dealer.connect(ks.info.connect_url(Channel.SHELL))
            dealer.send_multipart(codec.serialize(codec.message("kernel_info_request")))
            assert ks.shell.poll(5000)
            msg = codec.parse(ks.shell.recv_multipart())
            dealer.close()
        assert msg.header.msg_type == "kernel_info_request"


class TestHeartbeat:
    def test_heartbeat_echoes_and_stops(self, tmp_path: Path) -> None:
        """The heartbeat echoes each ping; after stop() the socket is free for its owner."""
        with kcf_kernel.bind_kernel(tmp_path / "k.json") as ks:
            hb = kcf_kernel.Heartbeat(ks.hb)
            with hb:
                assert hb.running
                assert [_ping(ks.info) for _ in range(3)] == [b"ping"] * 3
            assert not hb.running

    def test_heartbeat_answers_while_gil_is_held(self, tmp_path: Path) -> None:
        """A kernel busy in pure Python (switch interval 100 s) still answers heartbeats."""
        path = tmp_path / "k.json"
        ready = tmp_path / "ready"
        script = textwrap.dedent(
            f"""
            import sys, os, time, kcf_kernel
            ks = kcf_kernel.bind_kernel({str(path)!r})
            ks.start_heartbeat()
            sys.setswitchinterval(100)
            open({str(ready)!r}, "w").close()
            end = time.monotonic() + 20
            while time.monotonic() < end:  # holds the GIL: no other Python thread runs
                pass
            """
        )
        proc = subprocess.Popen([sys.executable, "-c", script])
        try:
            deadline = time.monotonic() + 30
            while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            assert ready.exists(), "kernel did not start"
            info = ConnectionInfo.load(path)
            assert [_ping(info, 10000) for _ in range(3)] == [b"ping"] * 3
        finally:
            proc.kill()
            proc.wait()
