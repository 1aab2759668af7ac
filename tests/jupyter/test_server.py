"""A real Jupyter Server with kcf-provisioner as the default: REST API and kernel websocket."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from realparts import missing_real_part

pytestmark = [pytest.mark.interop, pytest.mark.timeout(300)]


@dataclass
class Server:
    url: str
    token: str
    runtime: Path
    proc: subprocess.Popen[bytes]

    def request(self, method: str, path: str, body: object = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - 127.0.0.1 only
            text = resp.read()
        return json.loads(text) if text else None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``jupyter server`` on 127.0.0.1 with a token; kcf-provisioner is the default."""
    try:
        import jupyter_server  # noqa: F401
        import websocket  # noqa: F401
    except ImportError:
        missing_real_part("jupyter_server / websocket-client are not installed")
    from kcf_kernel import reserve_ports

    base = tmp_path_factory.mktemp("server")
    token = secrets.token_hex(16)
    env = dict(os.environ)
    env.update(
        JUPYTER_DEFAULT_PROVISIONER_NAME="kcf-provisioner",
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTER_CONFIG_DIR=str(base / "config"),
    )
    reservation = reserve_ports(1, runtime_dir=base / "ports")
    port = reservation.ports[0]
    log = open(base / "server.log", "wb")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={base}",
            "--ServerApp.open_browser=False",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    srv = Server(f"http://127.0.0.1:{port}", token, base / "runtime", proc)
    try:
        deadline = time.monotonic() + 90
        reservation.release_when_bound(alive=lambda: proc.poll() is None)
        while True:
            try:
                srv.request("GET", "/api/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"jupyter server did not start: {(base / 'server.log').read_text()}"
                    )
                time.sleep(0.1)
        yield srv
    finally:
        reservation.release()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _msg(msg_type: str, content: dict[str, Any], session: str) -> dict[str, Any]:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "session": session,
            "username": "test",
            "version": "5.3",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "channel": "shell",
        "buffers": [],
    }


class Channels:
    """The kernel's websocket channel (JSON messages, the default protocol)."""

    def __init__(self, srv: Server, kernel_id: str) -> None:
        import websocket

        self.session = uuid.uuid4().hex
        url = srv.url.replace("http", "ws", 1)
        self.ws = websocket.create_connection(
            f"{url}/api/kernels/{kernel_id}/channels?session_id={self.session}",
            header=[f"Authorization: token {srv.token}"],
            timeout=60,
        )

    def send(self, msg_type: str, content: dict[str, Any]) -> str:
        msg = _msg(msg_type, content, self.session)
        self.ws.send(json.dumps(msg))
        return str(msg["header"]["msg_id"])

    def until(self, msg_id: str, msg_type: str, timeout: float = 60) -> list[dict[str, Any]]:
        """Every message answering ``msg_id`` up to the first of type ``msg_type``."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            got.append(msg)
            if msg["msg_type"] == msg_type:
                return got
        raise AssertionError(f"no {msg_type} for {msg_id} within {timeout} s: {got}")

    def execute(self, code: str) -> tuple[dict[str, Any], str]:
        """The reply and the stdout of ``code``: waits for the reply (shell) and for idle
        (iopub), since the two channels are not ordered with each other."""
        msg_id = self.send("execute_request", {"code": code, "silent": False})
        msgs: list[dict[str, Any]] = []
        reply: dict[str, Any] | None = None
        idle = False
        deadline = time.monotonic() + 60
        while (reply is None or not idle) and time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            msgs.append(msg)
            if msg["msg_type"] == "execute_reply":
                reply = msg["content"]
            idle = idle or (
                msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
            )
        assert reply is not None, f"no execute_reply for {msg_id}: {msgs}"
        assert idle, f"no idle status for {msg_id}: {msgs}"
        out = "".join(m["content"].get("text", "") for m in msgs if m["msg_type"] == "stream")
        return reply, out

    def ready(self, timeout: float = 60) -> None:
        """Wait until the kernel answers kernel_info on this channel."""
        msg_id = self.send("kernel_info_request", {})
        self.until(msg_id, "kernel_info_reply", timeout)

    def close(self) -> None:
        self.ws.close()


def _leftovers(runtime: Path) -> list[str]:
    files = [p.name for p in runtime.glob("kernel-*")] if runtime.is_dir() else []
    ports = runtime / "kcf-ports"
    return files + ([p.name for p in ports.iterdir()] if ports.is_dir() else [])


def test_server_kernel_lifecycle_over_rest_and_websocket(server: Server) -> None:
    """Create, execute, interrupt ``time.sleep(60)``, restart, shut down: no file left."""
    kernel = server.request("POST", "/api/kernels", {"name": "python3"})
    kid = kernel["id"]
    cf = server.runtime / f"kernel-{kid}.json"
    ch = Channels(server, kid)
    try:
        ch.ready()
        assert cf.is_file()
        reply, out = ch.execute("import os; print('pid', os.getpid()); 6 * 7")
        assert reply["status"] == "ok"
        first_pid = int(out.split()[1])

        code = "import time; print('sleeping', flush=True); time.sleep(60)"
        msg_id = ch.send("execute_request", {"code": code})
        # The cell's own output, not the busy status: ipykernel takes SIGINT as
        # KeyboardInterrupt only once the cell's code runs.
        ch.until(msg_id, "stream")
        server.request("POST", f"/api/kernels/{kid}/interrupt")
        reply = ch.until(msg_id, "execute_reply")[-1]["content"]
        assert reply["status"] == "error"
        assert reply["ename"] == "KeyboardInterrupt"

        before = json.loads(cf.read_text())
        server.request("POST", f"/api/kernels/{kid}/restart")
        ch.close()
        ch = Channels(server, kid)
        ch.ready()
        reply, out = ch.execute("import os; print('pid', os.getpid())")
        assert reply["status"] == "ok"
        assert int(out.split()[1]) != first_pid
        after = json.loads(cf.read_text())
        assert after["key"] == before["key"]
    finally:
        ch.close()
    server.request("DELETE", f"/api/kernels/{kid}")
    assert server.request("GET", "/api/kernels") == []
    assert _leftovers(server.runtime) == []
