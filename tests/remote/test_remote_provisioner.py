"""``kcf-ssh-provisioner`` through jupyter_client's KernelManager against the private sshd,
with a real ipykernel: start, execute, interrupt, restart, shut down, nothing left; and
``kcf kernelspec install --ssh`` writing the kernelspec it uses."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from remote.support import Remote, pids_with, wait_for

pytestmark = [pytest.mark.ssh, pytest.mark.interop]

KERNEL_ARGV = [
    sys.executable,
    "-m",
    "ipykernel_launcher",
    "-f",
    "{connection_file}",
    "--HistoryManager.enabled=False",
]


def _install(remote: Remote, kernel_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``kcf kernelspec install --ssh kcf-plain remote-py`` for the private sshd."""
    argv = [
        *("kernelspec", "install", "--ssh", "kcf-plain", "remote-py"),
        *("--kernels-dir", str(kernel_dir), "--remote-python", remote.python),
        *("--ssh-config", str(remote.server.ssh_config)),
        *("--known-hosts", str(remote.server.known_hosts), "--grace", "5"),
        *extra,
        *("--", *KERNEL_ARGV),
    ]
    return subprocess.run(
        [sys.executable, "-m", "kcf_client", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def manager(remote: Remote, tmp_path: Path, runtime: Path) -> Iterator[Any]:
    """A KernelManager for the kernelspec ``kcf kernelspec install --ssh`` wrote."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager
    except ImportError:
        from realparts import missing_real_part

        missing_real_part("jupyter_client is not installed")
    kernel_dir = tmp_path / "kernels"
    done = _install(remote, kernel_dir)
    assert done.returncode == 0, done.stderr
    ksm = KernelSpecManager(kernel_dirs=[str(kernel_dir)])
    km = KernelManager(kernel_name="remote-py", kernel_spec_manager=ksm)
    try:
        yield km
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)


def _execute(km: Any, code: str) -> dict[str, Any]:
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive(code, timeout=60, store_history=False)
        return dict(reply["content"])
    finally:
        kc.stop_channels()


def _interrupt_sleep(km: Any) -> dict[str, Any]:
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        msg_id = kc.execute("import time; print('sleeping', flush=True); time.sleep(60)")
        running = False
        while not running:  # the cell's own output: it is in the sleep, SIGINT is live
            msg = kc.get_iopub_msg(timeout=60)
            running = msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream"
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=60)
        return dict(reply["content"])
    finally:
        kc.stop_channels()


class TestSSHProvisioner:
    def test_ssh_provisioner_entry_point(self) -> None:
        """jupyter_client finds kcf-ssh-provisioner by its entry point."""
        from importlib.metadata import entry_points

        from kcf_provisioner import SSHProvisioner

        found = entry_points(group="jupyter_client.kernel_provisioners")
        loaded = [e.load() for e in found if e.name == "kcf-ssh-provisioner"]
        assert loaded == [SSHProvisioner]

    def test_ssh_provisioner_lifecycle(self, manager: Any, remote: Remote, runtime: Path) -> None:
        """Start, execute, interrupt, restart (a fresh kernel, fresh forwards), shut down:
        nothing left on either side."""
        km = manager
        km.start_kernel()
        first = km.provisioner.kernel
        info = json.loads(Path(km.connection_file).read_text())
        assert info["ip"] == "127.0.0.1"
        assert km.get_connection_info()["shell_port"] == info["shell_port"]
        assert _execute(km, "x = 6 * 7")["status"] == "ok"
        interrupted = _interrupt_sleep(km)
        assert interrupted["ename"] == "KeyboardInterrupt"
        km.restart_kernel()
        second = km.provisioner.kernel
        assert second is not first
        assert second.pid != first.pid
        wait_for(lambda: not Path(f"/proc/{first.pid}").exists(), 60, "the first kernel ended")
        reply = _execute(km, "x")
        assert reply["status"] == "error"
        assert reply["ename"] == "NameError"  # a fresh kernel
        km.shutdown_kernel()
        assert not km.has_kernel
        wait_for(lambda: not Path(f"/proc/{second.pid}").exists(), 60, "the kernel ended")
        wait_for(lambda: not pids_with("kcf_kernel.nanny"), 30, "no nanny left")
        wait_for(lambda: not pids_with(str(remote.server.ssh_config)), 30, "no ssh left")
        wait_for(lambda: remote.leftovers() == [], 30, f"remote files: {remote.leftovers()}")
        assert not Path(km.connection_file).exists()

    def test_ssh_provisioner_unknown_host_key(
        self, remote: Remote, tmp_path: Path, runtime: Path
    ) -> None:
        """accept_new defaults to False: a host key not in known_hosts fails the start."""
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager
        from kcf_client.tunnel import HostKeyUnknown
        from kcf_provisioner import install_ssh_kernelspec

        empty = tmp_path / "known_hosts"
        empty.write_text("")
        install_ssh_kernelspec(
            "remote-py",
            "kcf-plain",
            remote_python=remote.python,
            argv=KERNEL_ARGV,
            config={"ssh_config": str(remote.server.ssh_config), "known_hosts": str(empty)},
            kernels_dir=tmp_path / "kernels",
        )
        km = KernelManager(
            kernel_name="remote-py",
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")]),
        )
        with pytest.raises(HostKeyUnknown):
            km.start_kernel()
        assert remote.leftovers() == []


class TestKernelspecInstallSsh:
    def test_install_writes_provisioner_config(self, remote: Remote, tmp_path: Path) -> None:
        """The kernelspec names kcf-ssh-provisioner with the host, the remote Python, the
        SSH options (absolute paths), accept_new False; ARGV after '--' is its argv; a second
        install without --replace is refused."""
        kernel_dir = tmp_path / "kernels"
        done = _install(remote, kernel_dir)
        assert done.returncode == 0, done.stderr
        doc = json.loads((kernel_dir / "remote-py" / "kernel.json").read_text())
        prov = doc["metadata"]["kernel_provisioner"]
        assert prov["provisioner_name"] == "kcf-ssh-provisioner"
        assert prov["config"]["host"] == "kcf-plain"
        assert prov["config"]["remote_python"] == remote.python
        assert prov["config"]["known_hosts"] == str(remote.server.known_hosts)
        assert prov["config"]["accept_new"] is False
        assert prov["config"]["grace"] == 5
        assert doc["argv"] == KERNEL_ARGV
        again = _install(remote, kernel_dir)
        assert again.returncode == 2
        assert "--replace" in again.stderr
        assert _install(remote, kernel_dir, "--replace").returncode == 0

    def test_install_bad_name(self, remote: Remote, tmp_path: Path) -> None:
        """A kernelspec name jupyter_client would not accept is refused, naming it."""
        from kcf_provisioner import KernelSpecFileError, install_ssh_kernelspec

        with pytest.raises(KernelSpecFileError, match="a/b"):
            install_ssh_kernelspec("a/b", "kcf-plain", kernels_dir=tmp_path)
