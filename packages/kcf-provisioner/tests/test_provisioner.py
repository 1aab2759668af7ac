"""kcf-provisioner driven by a real jupyter_client KernelManager and real kernels."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import realparts
from kcf_kernel import example_kernel_argv
from kcf_provisioner import KcfProvisioner, choose_strategy
from kcf_spec import Channel, ConnectionInfo
from processes import pid_alive

EXAMPLE_ARGV = example_kernel_argv()

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]


def _ports(km: Any) -> list[int]:
    return [getattr(km, c.port_key) for c in Channel]


def _run(km: Any, code: str, timeout: float = 60) -> dict[str, Any]:
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=timeout)
        reply: dict[str, Any] = kc.execute_interactive(code, timeout=timeout)
        return reply
    finally:
        kc.stop_channels()


def _wait_for(pred: Callable[[], bool], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _reservations(runtime: Path) -> list[Path]:
    d = runtime / "kcf-ports"
    return list(d.iterdir()) if d.is_dir() else []


class TestEntryPoint:
    def test_entry_point_loads_kcf_provisioner(self) -> None:
        """jupyter_client's factory finds ``kcf-provisioner`` and loads our class."""
        from jupyter_client.provisioning.factory import KernelProvisionerFactory

        entries = KernelProvisionerFactory.instance().get_provisioner_entries()
        assert "kcf-provisioner" in entries
        assert KernelProvisionerFactory.instance().provisioners["kcf-provisioner"].load() is (
            KcfProvisioner
        )


class TestStrategy:
    def test_strategy_ipykernel_binds_itself(self) -> None:
        """kcf_kernel's rule: ipykernel ``kernel``, JEP 66 argv ``handshake``, an unknown
        kernel ``reserve``; config forces one."""
        ipk = ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        assert choose_strategy(ipk) == "kernel"
        assert choose_strategy(["k", "--reg", "{registration_file}"]) == "handshake"
        assert choose_strategy(["mykernel", "-f", "{connection_file}"]) == "reserve"
        assert choose_strategy(ipk, "reserve") == "reserve"

    def test_strategy_unknown_refused(self) -> None:
        """An unknown forced strategy is a ValueError naming it."""
        with pytest.raises(ValueError, match="bogus"):
            choose_strategy([], "bogus")


class TestLifecycle:
    def test_lifecycle_start_execute_shutdown(self, make_km: Any, runtime: Path) -> None:
        """Start, run code, shut down: real ports in a 0600 file, nothing left after."""
        km = make_km()
        km.start_kernel()
        assert isinstance(km.provisioner, KcfProvisioner)
        assert km.provisioner.strategy == "kernel"
        cf = Path(km.connection_file)
        assert stat.S_IMODE(cf.stat().st_mode) == 0o600
        on_disk = ConnectionInfo.load(cf)
        assert [on_disk.port(c) for c in Channel] == _ports(km)
        assert all(p > 0 for p in _ports(km))
        assert _run(km, "x = 6 * 7")["content"]["status"] == "ok"
        km.shutdown_kernel()
        assert not cf.exists()
        assert _reservations(runtime) == []
        assert not km.has_kernel

    def test_lifecycle_reserve_strategy_example_kernel(self, make_km: Any, runtime: Path) -> None:
        """A kernel that cannot choose its ports gets reserved ones; released and removed."""
        km = make_km("kcf-example", EXAMPLE_ARGV, config={"port_strategy": "reserve"})
        km.start_kernel()
        assert km.provisioner.strategy == "reserve"
        assert _run(km, "1 + 1")["content"]["status"] == "ok"
        cf = Path(km.connection_file)
        km.shutdown_kernel()
        assert not cf.exists()
        assert _reservations(runtime) == []

    def test_lifecycle_forced_strategy(self, make_km: Any) -> None:
        """``port_strategy`` in the kernelspec's provisioner config wins."""
        km = make_km(config={"port_strategy": "reserve"})
        km.start_kernel()
        assert km.provisioner.strategy == "reserve"
        assert _run(km, "1")["content"]["status"] == "ok"
        km.shutdown_kernel(now=True)

    def test_lifecycle_interrupt_sleep(self, make_km: Any) -> None:
        """An interrupt (SIGINT to the process group) stops ``time.sleep(60)``."""
        km = make_km()
        km.start_kernel()
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
            msg_id = kc.execute("import time; print('sleeping', flush=True); time.sleep(60)")
            running = False
            while not running:  # the cell's own output: it is in the sleep, SIGINT is live
                msg = kc.get_iopub_msg(timeout=30)
                running = (
                    msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream"
                )
            km.interrupt_kernel()
            reply = kc.get_shell_msg(timeout=30)
            while reply["parent_header"].get("msg_id") != msg_id:  # wait_for_ready's leftovers
                reply = kc.get_shell_msg(timeout=30)
            assert reply["content"]["status"] == "error"
            assert reply["content"]["ename"] == "KeyboardInterrupt"
        finally:
            kc.stop_channels()
        km.shutdown_kernel(now=True)

    def test_lifecycle_restart_fresh_ports(self, make_km: Any, runtime: Path) -> None:
        """A restart gets fresh ports (reported by the new kernel) and works."""
        km = make_km()
        km.start_kernel()
        first_pid = km.provisioner.process.proc.pid
        km.restart_kernel(now=True)
        assert km.provisioner.process.proc.pid != first_pid
        assert ConnectionInfo.load(km.connection_file).port(Channel.SHELL) == km.shell_port
        assert _run(km, "1")["content"]["status"] == "ok"
        cf = Path(km.connection_file)
        km.shutdown_kernel()
        assert not cf.exists()
        assert _reservations(runtime) == []

    def test_lifecycle_given_ports_kept_on_restart(self, make_km: Any) -> None:
        """Ports the user configured are kept across restarts; the others are fresh."""
        from kcf_kernel import reserve_ports

        with reserve_ports(1) as r:
            fixed = r.ports[0]
        km = make_km(config={"port_strategy": "reserve"})
        km.hb_port = fixed
        km.start_kernel()
        km.restart_kernel(now=True)
        assert km.hb_port == fixed
        assert _run(km, "1")["content"]["status"] == "ok"
        km.shutdown_kernel(now=True)

    def test_lifecycle_crash_cleaned_up(self, make_km: Any, runtime: Path) -> None:
        """A kernel killed from outside: seen dead; cleanup removes its file."""
        km = make_km("kcf-example", EXAMPLE_ARGV)
        km.start_kernel()
        cf = Path(km.connection_file)
        os.killpg(km.provisioner.process.proc.pid, signal.SIGKILL)
        assert _wait_for(lambda: not km.is_alive())
        km.shutdown_kernel(now=True)
        assert not cf.exists()
        assert _reservations(runtime) == []

    def test_lifecycle_crash_then_restart(self, make_km: Any) -> None:
        """After a crash, a restart (as the restarter does) brings up a working kernel."""
        km = make_km()
        km.start_kernel()
        os.killpg(km.provisioner.process.proc.pid, signal.SIGKILL)
        assert _wait_for(lambda: not km.is_alive())
        km.restart_kernel(now=True)
        assert _run(km, "1")["content"]["status"] == "ok"
        km.shutdown_kernel(now=True)

    def test_lifecycle_curve_required(self, make_km: Any) -> None:
        """``transport_encryption='required'``: the file has CURVE keys; clients get through."""
        import zmq

        if not zmq.has("curve"):
            realparts.missing_real_part("libzmq without CURVE")  # fails in CI
        km = make_km(transport_encryption="required")
        km.start_kernel()
        info = ConnectionInfo.load(km.connection_file)
        assert info.curve_publickey is not None
        assert info.curve_publickey == km.curve_publickey.decode()
        assert _run(km, "1")["content"]["status"] == "ok"
        km.restart_kernel(now=True)
        assert ConnectionInfo.load(km.connection_file).curve_publickey == info.curve_publickey
        assert _run(km, "2")["content"]["status"] == "ok"
        km.shutdown_kernel(now=True)


class TestPersistence:
    def test_provisioner_info_reattach(self, make_km: Any) -> None:
        """A second provisioner loaded from the first's info manages the same kernel."""
        km = make_km("kcf-example", EXAMPLE_ARGV)
        km.start_kernel()
        cf = Path(km.connection_file)
        saved = asyncio.run(km.provisioner.get_provisioner_info())
        json.dumps(saved)  # persistable as JSON
        other = KcfProvisioner(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec)
        asyncio.run(other.load_provisioner_info(saved))
        assert other.has_process
        assert asyncio.run(other.poll()) is None
        assert other.connection_info["shell_port"] == km.shell_port
        asyncio.run(other.kill())
        assert _wait_for(lambda: asyncio.run(other.poll()) is not None)
        asyncio.run(other.wait())
        asyncio.run(other.cleanup())
        assert not cf.exists()
        km.shutdown_kernel(now=True)

    def test_provisioner_info_pid_reuse_not_mistaken(self, make_km: Any) -> None:
        """A recorded start time that does not match the pid's: not our kernel, not alive."""
        km = make_km("kcf-example", EXAMPLE_ARGV)
        km.start_kernel()
        saved = asyncio.run(km.provisioner.get_provisioner_info())
        if saved.get("start_ticks") is None:
            pytest.skip("no /proc start time here")
        saved["start_ticks"] += 1
        other = KcfProvisioner(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec)
        asyncio.run(other.load_provisioner_info(saved))
        assert asyncio.run(other.poll()) is not None
        asyncio.run(other.kill())  # must not touch the real kernel
        assert km.is_alive()
        km.shutdown_kernel(now=True)


_ORPHAN_SCRIPT = """
import json, sys
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
ksm = KernelSpecManager(kernel_dirs=[sys.argv[1]])
km = KernelManager(kernel_name=sys.argv[2], kernel_spec_manager=ksm)
km.start_kernel()
print(json.dumps({"pid": km.provisioner.process.proc.pid, "file": km.connection_file}), flush=True)
sys.stdin.read()
"""


class TestLauncherDeath:
    def test_killed_manager_kernel_dies_file_prunable(
        self, make_km: Any, kernel_dir: Path, runtime: Path
    ) -> None:
        """A KernelManager process SIGKILLed: its kernel dies with it; ``prune`` removes the
        file it could not."""
        import subprocess
        import sys

        from kcf_client import prune

        make_km()  # writes the kcf-py kernelspec into kernel_dir
        proc = subprocess.Popen(
            [sys.executable, "-c", _ORPHAN_SCRIPT, str(kernel_dir), "kcf-py"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)},
        )
        try:
            assert proc.stdout is not None
            started = json.loads(proc.stdout.readline())
        finally:
            proc.kill()
            proc.wait()
        kernel_pid, cf = started["pid"], Path(started["file"])

        assert _wait_for(lambda: not pid_alive(kernel_pid)), "the kernel outlived its manager"
        assert cf.exists()
        result = prune(runtime, grace=0)
        assert cf in [e.path for e in result.removed]
        assert not cf.exists()
