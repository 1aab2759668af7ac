"""Connection files really written by jupyter_client and by a running ipykernel round-trip
through ``kcf_spec.ConnectionInfo`` without loss, and jupyter_client reads what kcf writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import zmq
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.connect import write_connection_file
from jupyter_client.manager import KernelManager
from kcf_spec import Channel, ConnectionInfo

pytestmark = pytest.mark.interop


def _pairs(path: Path) -> list[tuple[str, Any]]:
    """The file's fields in order, as written."""
    return list(json.loads(path.read_text()).items())


def _assert_lossless(path: Path, profile: str = "connect") -> ConnectionInfo:
    info = ConnectionInfo.load(path, profile=profile)  # type: ignore[arg-type]
    assert list(info.to_dict().items()) == _pairs(path)
    assert json.loads(info.dumps()) == json.loads(path.read_text())
    return info


class TestJupyterClientFiles:
    def test_interop_write_connection_file_tcp_round_trips(self, tmp_path: Path) -> None:
        """A default tcp file from write_connection_file loads and writes back identically."""
        fname, cfg = write_connection_file(
            str(tmp_path / "kernel-a.json"), key=b"0f1e2d3c-abcd", kernel_name="python3"
        )
        info = _assert_lossless(Path(fname))
        assert info.key == b"0f1e2d3c-abcd"
        written: dict[str, Any] = dict(cfg)
        assert info.ports == {c: written[c.port_key] for c in Channel}

    def test_interop_write_connection_file_ipc_round_trips(self, tmp_path: Path) -> None:
        """An ipc file (path prefix, small suffixes) round-trips."""
        fname, _ = write_connection_file(
            str(tmp_path / "kernel-b.json"), transport="ipc", ip=str(tmp_path / "k-ipc"), key=b"k"
        )
        info = _assert_lossless(Path(fname))
        assert info.transport == "ipc"
        assert info.url(Channel.SHELL).startswith(f"ipc://{tmp_path}/k-ipc-")

    def test_interop_write_connection_file_curve_and_extras_round_trip(
        self, tmp_path: Path
    ) -> None:
        """CURVE keys (jupyter_client >= 8.9) and extra fields (jupyter_session) survive."""
        pub, sec = zmq.curve_keypair()
        fname, _ = write_connection_file(
            str(tmp_path / "kernel-c.json"),
            key=b"k",
            curve_publickey=pub,
            curve_secretkey=sec,
            jupyter_session=str(tmp_path / "nb.ipynb"),
            signature_scheme="hmac-sha512",
        )
        info = _assert_lossless(Path(fname))
        assert info.curve_publickey == pub.decode()
        assert info.extras["jupyter_session"] == str(tmp_path / "nb.ipynb")

    def test_interop_kernel_manager_file_round_trips(self, tmp_path: Path) -> None:
        """The file a KernelManager writes for its kernel round-trips."""
        km = KernelManager(kernel_name="python3", connection_file=str(tmp_path / "kernel-d.json"))
        km.write_connection_file(jupyter_session="session-1")
        try:
            info = _assert_lossless(Path(km.connection_file))
            assert info.key == km.session.key
            assert info.kernel_name == "python3"
        finally:
            km.cleanup_connection_file()

    def test_interop_jupyter_client_reads_kcf_output(self, tmp_path: Path) -> None:
        """jupyter_client loads a file kcf wrote and gets the same ports, key and scheme."""
        info = ConnectionInfo.from_ports(
            {c: 41000 + i for i, c in enumerate(Channel)},
            key=b"kcf-key",
            signature_scheme="hmac-sha384",
            kernel_name="python3",
        )
        path = tmp_path / "kernel-e.json"
        path.write_text(info.dumps())
        client = BlockingKernelClient()
        client.load_connection_file(str(path))
        got: dict[str, Any] = dict(client.get_connection_info())
        assert {c: got[c.port_key] for c in Channel} == dict(info.ports)
        assert (got["ip"], got["transport"]) == (info.ip, info.transport)
        assert client.session.key == b"kcf-key"
        assert client.session.signature_scheme == "hmac-sha384"


def _wait_for_ports(path: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"ipykernel exited with {proc.returncode}")
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
        if data and all(data.get(c.port_key) for c in Channel):
            return
        time.sleep(0.05)
    raise AssertionError("ipykernel did not write its ports")


def test_interop_ipykernel_rewritten_launch_file_round_trips(tmp_path: Path) -> None:
    """A launch file (ports 0) handed to a real ipykernel comes back with real ports; kcf
    loads it in the connect profile without loss, and a jupyter_client talks to the kernel
    through the file kcf writes."""
    launch = ConnectionInfo.from_ports(
        {c: 0 for c in Channel},
        key=b"launch-key-123",
        kernel_name="python3",
        extras={"jupyter_session": "nb.ipynb", "x_launcher": {"by": "kcf"}},
    )
    path = tmp_path / "kernel-f.json"
    path.write_text(launch.dumps())
    os.chmod(path, 0o600)
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp_path),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            str(path),
            "--HistoryManager.enabled=False",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = BlockingKernelClient()
    try:
        _wait_for_ports(path, proc)
        info = _assert_lossless(path)
        assert all(port > 0 for port in info.ports.values())
        assert info.key == b"launch-key-123"
        assert dict(info.extras) == {"jupyter_session": "nb.ipynb", "x_launcher": {"by": "kcf"}}

        ours = tmp_path / "kcf-written.json"
        ours.write_text(info.dumps())
        client.load_connection_file(str(ours))
        client.start_channels()
        client.wait_for_ready(timeout=60)
        reply = client.kernel_info(reply=True, timeout=30)
        assert reply["content"]["status"] == "ok"
    finally:
        client.stop_channels()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
