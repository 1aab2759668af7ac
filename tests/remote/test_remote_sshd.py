"""Remote kernels through the private sshd (the remote host is 127.0.0.1), with a real
ipykernel: start, execute (kcf_client and jupyter_client), interrupt, shut down, leftovers,
healing after a drop, the grace period, a SIGKILLed launcher, host keys, ten at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import kcf_client
import pytest
from kcf_client.remote import (
    ConnectionLost,
    RemoteKernel,
    RemoteLaunchFailed,
    RemoteSetupError,
    start_remote_kernel,
)
from kcf_client.tunnel import HostKeyUnknown
from remote.support import Remote, pids_with, wait_for

pytestmark = [pytest.mark.ssh, pytest.mark.interop]

KERNEL_ARGS = ["--HistoryManager.enabled=False"]


def _argv() -> list[str]:
    return [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", *KERNEL_ARGS]


def _start(remote: Remote, backend: str = "openssh", **kw: object) -> RemoteKernel:
    return start_remote_kernel("kcf-plain", backend=backend, **remote.kwargs(argv=_argv(), **kw))  # type: ignore[arg-type]


def _gone(remote: Remote, kernel: RemoteKernel) -> None:
    """Nothing left on either side: remote kernel, nanny, ssh, files, forwards."""
    wait_for(lambda: not os.path.exists(f"/proc/{kernel.pid}"), 30, "the remote kernel exited")
    wait_for(lambda: not pids_with(f"--attach {kernel.nanny_id}"), 30, "no attach relay")
    wait_for(lambda: remote.leftovers() == [], 30, f"remote files removed: {remote.leftovers()}")
    assert not kernel.connection_file.exists()
    import socket

    for port in kernel.info.ports.values() if kernel.info else ():
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"forward {port} still listening"


class TestRemoteKernel:
    def test_remote_start_execute_interrupt_shutdown(
        self, remote: Remote, tmp_path: Path, backend: str
    ) -> None:
        """Start over ssh, run code through the local file, interrupt a remote sleep, shut
        down: nothing left on either side (each backend)."""
        kernel = _start(remote, backend)
        assert kernel.backend == backend
        try:
            assert kernel.info is not None
            assert kernel.info.ip == "127.0.0.1"
            assert set(kernel.info.ports.values()).isdisjoint(kernel.remote_info.ports.values())  # type: ignore[union-attr]
            marker = tmp_path / "sleeping"
            with kcf_client.connect(kernel.connection_file) as kc:
                assert kc.execute("x = 6 * 7; x", timeout=60).result == {"text/plain": "42"}
                code = f"import time; open({str(marker)!r}, 'w').close(); time.sleep(60)"
                with ThreadPoolExecutor(1) as pool:
                    running = pool.submit(kc.execute, code, timeout=90)
                    wait_for(marker.exists, 60, "the remote code is sleeping")
                    kernel.interrupt()
                    result = running.result(timeout=60)
                assert result.error is not None
                assert result.error.ename == "KeyboardInterrupt"
                assert kc.execute("x", timeout=30).result == {"text/plain": "42"}
        finally:
            kernel.close()
        _gone(remote, kernel)

    def test_remote_with_jupyter_client(self, remote: Remote) -> None:
        """jupyter_client's BlockingKernelClient works through the local connection file."""
        from jupyter_client import BlockingKernelClient

        with _start(remote, "openssh") as kernel:
            kc = BlockingKernelClient(connection_file=str(kernel.connection_file))
            kc.load_connection_file()
            kc.start_channels()
            try:
                kc.wait_for_ready(timeout=60)
                reply = kc.execute_interactive("print(1 + 1)", timeout=60)
                assert reply["content"]["status"] == "ok"
            finally:
                kc.stop_channels()
        _gone(remote, kernel)

    def test_remote_drop_heals_and_keeps_state(self, remote: Remote, backend: str) -> None:
        """Killing the SSH connection under a live kernel: it heals on the same local ports
        and a variable set before the drop is still there (each backend)."""
        with _start(remote, backend, grace=60) as kernel:
            ports = dict(kernel.info.ports)  # type: ignore[union-attr]
            with kcf_client.connect(kernel.connection_file) as kc:
                kc.execute("before = 'kept'", timeout=60)
                kernel.drop_connection()
                wait_for(lambda: kernel.reconnects >= 1, 60, "the connection healed")
                assert kernel.wait_connected(60)
                assert dict(kernel.info.ports) == ports  # type: ignore[union-attr]
                assert kc.execute("before", timeout=60).result == {"text/plain": "'kept'"}
        _gone(remote, kernel)

    def test_remote_down_past_grace_ends_kernel(
        self, doomed_sshd: object, remote_python: Path, tmp_path: Path, backend: str
    ) -> None:
        """The connection down longer than the grace: the nanny ends the kernel, the handle
        says ConnectionLost (each backend)."""
        server = doomed_sshd
        r = Remote(server, remote_python, remote_python.parent / "remote-runtime")  # type: ignore[arg-type]
        kernel = start_remote_kernel(
            "kcf-plain", backend=backend, **r.kwargs(argv=_argv(), grace=2.0, timeout=30.0)
        )  # type: ignore[arg-type]
        try:
            pid = kernel.pid
            server.kill()  # type: ignore[attr-defined]  # the network goes away for good
            assert kernel.wait(60), "the handle noticed the loss"
            assert isinstance(kernel.error, ConnectionLost)
            wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 60, "the remote kernel ended")
            wait_for(lambda: r.leftovers() == [], 30, "remote files removed")
        finally:
            kernel.close(timeout=5)
        assert not kernel.connection_file.exists()

    def test_remote_launcher_sigkilled(self, remote: Remote, tmp_path: Path, backend: str) -> None:
        """SIGKILL the launcher: within grace + a bound, no remote kernel, nanny, or ssh
        (each backend)."""
        script = tmp_path / "launcher.py"
        script.write_text(
            textwrap.dedent(f"""
            import sys, time
            from kcf_client.remote import start_remote_kernel
            k = start_remote_kernel("kcf-plain", backend={backend!r}, grace=2.0,
                remote_python={remote.python!r}, ssh_config={str(remote.server.ssh_config)!r},
                known_hosts={str(remote.server.known_hosts)!r},
                argv={_argv()!r})
            print(k.pid, k.nanny_id, flush=True)
            sys.stdin.read()
        """)
        )
        proc = subprocess.Popen(
            [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout is not None
            pid_text, _nanny_id = proc.stdout.readline().split()
            pid = int(pid_text)
            assert os.path.exists(f"/proc/{pid}")
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 60, "the remote kernel ended")
            wait_for(lambda: not pids_with("kcf_kernel.nanny"), 30, "no nanny left")
            wait_for(lambda: not pids_with(str(remote.server.ssh_config)), 30, "no ssh left")
            wait_for(lambda: remote.leftovers() == [], 30, "remote files removed")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def test_remote_unknown_host_key_refused(
        self, remote: Remote, tmp_path: Path, backend: str
    ) -> None:
        """A host whose key is not in known_hosts is refused, and nothing is started (each
        backend)."""
        empty = tmp_path / "known_hosts"
        empty.write_text("")
        with pytest.raises(HostKeyUnknown):
            _start(remote, backend, known_hosts=empty)
        assert remote.leftovers() == []

    def test_remote_no_kcf_kernel(self, remote: Remote, tmp_path: Path, backend: str) -> None:
        """A Python without kcf-kernel: RemoteSetupError with the install command."""
        bare = tmp_path / "bare"
        bare.write_text(f'#!/bin/sh\nexec {sys.executable} -I -S "$@"\n')
        bare.chmod(0o700)
        with pytest.raises(RemoteSetupError, match="pip install kcf-kernel"):
            start_remote_kernel(
                "kcf-plain",
                backend=backend,
                **remote.kwargs(remote_python=str(bare), argv=_argv()),
            )  # type: ignore[arg-type]

    def test_remote_no_python(self, remote: Remote, tmp_path: Path, backend: str) -> None:
        """No Python at the path: RemoteSetupError naming it."""
        with pytest.raises(RemoteSetupError, match="no Python"):
            start_remote_kernel(
                "kcf-plain",
                backend=backend,
                **remote.kwargs(remote_python=str(tmp_path / "nope"), argv=_argv()),
            )  # type: ignore[arg-type]

    def test_remote_kernel_fails_to_start(self, remote: Remote) -> None:
        """A kernel that dies at once: RemoteLaunchFailed with its status and last output."""
        argv = [
            sys.executable,
            "-c",
            "import sys; print('boom from the kernel', file=sys.stderr); sys.exit(3)",
        ]
        with pytest.raises(RemoteLaunchFailed) as info:
            start_remote_kernel(
                "kcf-plain", backend="openssh", **remote.kwargs(argv=argv, strategy="kernel")
            )  # type: ignore[arg-type]
        assert info.value.exit_status == 3
        assert any("boom from the kernel" in line for line in info.value.stderr_tail)
        wait_for(lambda: remote.leftovers() == [], 30, "remote files removed")

    @pytest.mark.scale
    def test_remote_ten_at_once(self, remote: Remote) -> None:
        """Ten remote kernels started at once on one host: distinct ports, all reachable."""
        with ThreadPoolExecutor(10) as pool:
            futures = [pool.submit(_start, remote, "openssh", timeout=180.0) for _ in range(10)]
            kernels = [f.result() for f in futures]
        try:
            local = [p for k in kernels for p in k.info.ports.values()]  # type: ignore[union-attr]
            remote_ports = [p for k in kernels for p in k.remote_info.ports.values()]  # type: ignore[union-attr]
            assert len(set(local)) == 50
            assert len(set(remote_ports)) == 50
            for k in kernels:
                with kcf_client.connect(k.connection_file) as kc:
                    assert kc.kernel_info(timeout=120)["status"] == "ok"
        finally:
            with ThreadPoolExecutor(10) as pool:
                list(pool.map(lambda k: k.close(), kernels))
        for k in kernels:
            _gone(remote, k)


class TestRemoteKernelspec:
    def test_remote_unknown_kernelspec(self, remote: Remote) -> None:
        """A kernelspec the remote host lacks: RemoteLaunchFailed naming it and what exists."""
        with pytest.raises(RemoteLaunchFailed, match="no-such-kernel-xyz"):
            start_remote_kernel(
                "kcf-plain",
                backend="openssh",
                **remote.kwargs(kernelspec="no-such-kernel-xyz"),  # type: ignore[arg-type]
            )
        wait_for(lambda: remote.leftovers() == [], 30, "remote files removed")
