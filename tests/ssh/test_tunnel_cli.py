"""The ``kcf`` command's tunnel parts against the private sshd: ``kcf tunnel`` and ``--ssh``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from kcf_spec import ConnectionInfo

pytestmark = [pytest.mark.ssh, pytest.mark.timeout(90)]


def _kcf(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kcf_client", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        **kw,
    )


def _remote_file(kernel: Any, tmp_path: Path) -> Path:
    path = tmp_path / "kernel-remote.json"
    path.write_text(ConnectionInfo.load(kernel.connection_file).dumps())
    path.chmod(0o600)
    return path


class TestKcfTunnelCommand:
    def test_kcf_tunnel_writes_file_until_interrupted(
        self, sshd: Any, kernel: Any, backend: str, tmp_path: Path
    ) -> None:
        """``kcf tunnel FILE SERVER`` writes ``<name>-ssh.json`` that a client can use, and
        removes it (leaving no ssh behind) when interrupted."""
        from kcf_client import connect

        remote = _remote_file(kernel, tmp_path)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kcf_client",
                "tunnel",
                str(remote),
                "kcf-plain",
                "--ssh-backend",
                backend,
                "--ssh-config",
                str(sshd.ssh_config),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline().strip()
            local = tmp_path / "kernel-remote-ssh.json"
            assert first == str(local), proc.stderr.read() if proc.stderr else ""
            info = ConnectionInfo.load(local)
            assert info.key == ConnectionInfo.load(remote).key
            with connect(local) as kc:
                assert kc.kernel_info(timeout=20)["status"] == "ok"
            children = _children(proc.pid)
        finally:
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert not local.exists()
        _wait_gone(children)

    def test_kcf_tunnel_unknown_host_fails_clearly(
        self, sshd: Any, kernel: Any, backend: str, tmp_path: Path
    ) -> None:
        """An unknown host key ends ``kcf tunnel`` with an error naming it, no traceback."""
        remote = _remote_file(kernel, tmp_path)
        cfg = tmp_path / "ssh_config"
        empty = tmp_path / "known_hosts"
        empty.write_text("")
        cfg.write_text(sshd.ssh_config.read_text().replace(str(sshd.known_hosts), str(empty)))
        result = _kcf(
            "tunnel", str(remote), "kcf-plain", "--ssh-backend", backend, "--ssh-config", str(cfg)
        )
        assert result.returncode != 0
        assert "host key" in result.stderr.lower()
        assert "Traceback" not in result.stderr


class TestKcfSshOption:
    def test_kcf_exec_and_ping_over_ssh(
        self, sshd: Any, kernel: Any, backend: str, tmp_path: Path
    ) -> None:
        """``kcf exec/ping FILE --ssh SERVER`` tunnel for the duration of the command."""
        remote = _remote_file(kernel, tmp_path)
        common = [
            "--ssh",
            "kcf-plain",
            "--ssh-backend",
            backend,
            "--ssh-config",
            str(sshd.ssh_config),
        ]
        result = _kcf("exec", str(remote), "print(sum(range(10)))", *common)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "45\n"
        result = _kcf("ping", str(remote), "--json", "--timeout", "10", *common)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["alive"] is True
        assert not list(tmp_path.glob("*-ssh.json"))


class TestKcfConsoleOverSsh:
    @pytest.mark.timeout(400)  # a console start-up under load; the waits inside are deadlines
    def test_kcf_console_ssh_evaluates_in_pty(
        self, sshd: Any, kernel: Any, backend: str, tmp_path: Path
    ) -> None:
        """``kcf console FILE --ssh SERVER`` runs jupyter-console through the tunnel."""
        import pty

        from consolepty import evaluate, read_until

        remote = _remote_file(kernel, tmp_path)
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kcf_client",
                "console",
                str(remote),
                "--ssh",
                "kcf-plain",
                "--ssh-backend",
                backend,
                "--ssh-config",
                str(sshd.ssh_config),
                "--",  # the rest goes to jupyter-console
                "--simple-prompt",
            ],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            env=dict(os.environ, TERM="dumb", JUPYTER_RUNTIME_DIR=str(tmp_path / "rt")),
        )
        os.close(slave)

        try:
            read_until(master, b"In [", 180)  # ssh and jupyter-console start-up, under load
            assert b"42" in evaluate(master, b"6*7", 120)
            os.write(master, b"exit(keep_kernel=True)\r")  # plain exit shuts it down
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out |= {int(p) for p in (task / "children").read_text().split()}
        except OSError:
            continue
    return out


def _wait_gone(pids: set[int], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if os.path.exists(f"/proc/{p}")}
        time.sleep(0.05)
    assert not alive
