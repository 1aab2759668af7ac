"""``kcf_client.compat.tunnel_to_kernel`` through the private sshd, as seed code calls it."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from kcf_client import compat

pytestmark = [pytest.mark.ssh, pytest.mark.interop, pytest.mark.timeout(120)]


def _seed_tunnel_program(connect: Any, connection_file: str, server: str) -> str:
    """Client code written for ``jupyter_client.connect``: tunnel, then talk on the ports."""
    from jupyter_client import BlockingKernelClient

    shell, iopub, stdin, hb = connect.tunnel_to_kernel(connection_file, server)
    client = BlockingKernelClient()
    client.load_connection_file(connection_file)
    client.ip = "127.0.0.1"
    client.shell_port, client.iopub_port, client.stdin_port, client.hb_port = (
        shell,
        iopub,
        stdin,
        hb,
    )
    client.start_channels()
    try:
        reply = client.kernel_info(reply=True, timeout=60)
        return str(reply["msg_type"])
    finally:
        client.stop_channels()


def test_compat_tunnel_seed_code_unchanged(
    sshd: Any, kernel: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seed code runs unchanged: the alias comes from ``~/.ssh/config`` (paramiko reads
    ``$HOME``; OpenSSH reads the passwd home, which a test must not touch, so ``ssh`` is kept
    off ``PATH`` and ``auto`` picks paramiko)."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    shutil.copy(sshd.ssh_config, home / ".ssh" / "config")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))
    assert _seed_tunnel_program(compat, kernel.connection_file, "kcf-plain") == "kernel_info_reply"
    compat._close_all()


def test_compat_tunnel_ports_hold_tunnel_until_closed(sshd: Any, kernel: Any) -> None:
    """The 4-tuple keeps the tunnel open (control too) until ``close()``; options reach
    ``open_tunnel`` (here the OpenSSH backend with the test's config)."""
    ports = compat.tunnel_to_kernel(
        kernel.connection_file, "kcf-plain", backend="openssh", ssh_config=sshd.ssh_config
    )
    try:
        assert isinstance(ports, tuple)
        assert len(ports) == 4
        assert ports == (
            ports.tunnel.local.shell_port,
            ports.tunnel.local.iopub_port,
            ports.tunnel.local.stdin_port,
            ports.tunnel.local.hb_port,
        )
        assert ports.control == ports.tunnel.local.control_port
        assert ports.tunnel.is_alive()
    finally:
        ports.close()
    assert ports.tunnel.closed
    assert ports.tunnel not in compat._open_tunnels
