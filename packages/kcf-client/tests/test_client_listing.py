"""list_kernels and prune: liveness that is proven, bad files reported, live files kept."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from kcf_client import KernelState, list_kernels, prune
from kcf_spec import ConnectionInfo

pytestmark = pytest.mark.interop


def by_name(entries: list[Any]) -> dict[str, Any]:
    return {e.path.name: e for e in entries}


class TestListKernels:
    def test_list_live_ipykernel_is_alive(self, ipykernel_file: Path, tmp_path: Path) -> None:
        """A running ipykernel's file (written by jupyter_client) is listed alive with its data."""
        shutil.copy(ipykernel_file, tmp_path / "kernel-live.json")
        [e] = list_kernels(tmp_path)
        assert e.state is KernelState.ALIVE
        assert e.transport == "tcp"
        assert e.address == "127.0.0.1"
        assert e.age is not None
        assert e.age >= 0

    def test_list_dead_file_is_dead(self, tmp_path: Path, h: Any) -> None:
        """A file whose ports all refuse, older than the grace period, is dead."""
        h.write(tmp_path / "kernel-dead.json", h.dead_info())
        [e] = list_kernels(tmp_path, timeout=0.2, grace=0)
        assert e.state is KernelState.DEAD
        assert "refuse" in e.reason

    def test_list_young_dead_file_is_unknown(self, tmp_path: Path, h: Any) -> None:
        """A fresh file with closed ports may be a kernel still starting: unknown, not dead."""
        h.write(tmp_path / "kernel-young.json", h.dead_info())
        [e] = list_kernels(tmp_path, timeout=0.2, grace=3600)
        assert e.state is KernelState.UNKNOWN
        assert "starting" in e.reason

    def test_list_remote_address_is_unknown(self, tmp_path: Path, h: Any) -> None:
        """A kernel on an address that is not this machine is never called dead."""
        # Not this machine, and no packet leaves it: TCP to a multicast address fails at
        # connect() (test traffic stays on loopback; a TEST-NET address can be on-link).
        info = h.dead_info().replace(ip="224.0.0.1")
        h.write(tmp_path / "kernel-remote.json", info)
        [e] = list_kernels(tmp_path, timeout=0.2, grace=0)
        assert e.state is KernelState.UNKNOWN

    def test_list_bad_files_reported_not_raised(self, tmp_path: Path, h: Any) -> None:
        """Garbage, half-written, unreadable files and directories are invalid with a reason."""
        (tmp_path / "kernel-garbage.json").write_bytes(b"\x00\xffnot json")
        good = h.dead_info().dumps()
        (tmp_path / "kernel-half.json").write_text(good[: len(good) // 2])
        (tmp_path / "kernel-dir.json").mkdir()
        (tmp_path / "kernel-wrong.json").write_text('{"shell_port": "x"}')
        noread = h.write(tmp_path / "kernel-noread.json", h.dead_info())
        noread.chmod(0)
        os.symlink(tmp_path / "missing", tmp_path / "kernel-dangling.json")
        entries = by_name(list_kernels(tmp_path, timeout=0.2, grace=0))
        for name in (
            "kernel-garbage.json",
            "kernel-half.json",
            "kernel-dir.json",
            "kernel-wrong.json",
            "kernel-dangling.json",
        ):
            assert entries[name].state is KernelState.INVALID, name
            assert entries[name].reason, name
        assert "directory" in entries["kernel-dir.json"].reason
        # The reason says what is wrong, not again which file: the entry has the path.
        assert entries["kernel-wrong.json"].reason.startswith("at /")
        assert str(tmp_path) not in entries["kernel-half.json"].reason
        if os.geteuid() != 0:  # root reads a 000 file anyway
            assert entries["kernel-noread.json"].state is KernelState.INVALID

    def test_list_checks_many_files_together(
        self, tmp_path: Path, ipykernel_file: Path, h: Any
    ) -> None:
        """Thirty files, live and dead mixed, each get their own verdict in one call."""
        for i in range(15):
            shutil.copy(ipykernel_file, tmp_path / f"kernel-live{i}.json")
            h.write(tmp_path / f"kernel-dead{i}.json", h.dead_info())
        entries = list_kernels(tmp_path, timeout=1.0, grace=0)
        states = {e.path.name: e.state for e in entries}
        assert all(states[f"kernel-live{i}.json"] is KernelState.ALIVE for i in range(15))
        assert all(states[f"kernel-dead{i}.json"] is KernelState.DEAD for i in range(15))

    def test_list_without_check_is_unchecked(self, tmp_path: Path, h: Any) -> None:
        """check=False reads the files and pings nothing."""
        h.write(tmp_path / "kernel-x.json", h.dead_info())
        [e] = list_kernels(tmp_path, check=False)
        assert e.state is KernelState.UNCHECKED

    def test_list_file_written_by_ipykernel(self, tmp_path: Path, h: Any) -> None:
        """A file ipykernel wrote itself (not jupyter_client) is read and found alive."""
        import subprocess
        import time

        cf = tmp_path / "kernel-own.json"
        proc = subprocess.Popen(
            [h.python(), "-m", "ipykernel_launcher", "-f", str(cf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            state = None
            while time.monotonic() < deadline:
                found = list_kernels(tmp_path, timeout=0.5, grace=0)
                state = found[0].state if found else None
                if state is KernelState.ALIVE:
                    break
                time.sleep(0.2)
            assert state is KernelState.ALIVE
        finally:
            proc.kill()
            proc.wait()


class TestPrune:
    def test_prune_removes_dead_keeps_live_and_invalid(self, tmp_path: Path, h: Any) -> None:
        """With live and killed kernels mixed, only the killed kernels' files go."""
        kms = [h.start_ipykernel(tmp_path / f"kernel-k{i}.json") for i in range(3)]
        try:
            for km in kms:
                kc = km.client()
                kc.start_channels()
                kc.wait_for_ready(timeout=60)
                kc.stop_channels()
            import signal

            kms[1].signal_kernel(signal.SIGKILL)
            kms[1].provisioner.process.wait()
            (tmp_path / "kernel-garbage.json").write_text("{")
            res = prune(tmp_path, timeout=1.0, grace=0, confirm=0)
            assert [e.path.name for e in res.removed] == ["kernel-k1.json"]
            assert not (tmp_path / "kernel-k1.json").exists()
            for name in ("kernel-k0.json", "kernel-k2.json", "kernel-garbage.json"):
                assert (tmp_path / name).exists(), name
        finally:
            for km in kms:
                h.stop_ipykernel(km)

    def test_prune_dry_run_removes_nothing(self, tmp_path: Path, h: Any) -> None:
        """dry_run reports the dead file and leaves it in place."""
        f = h.write(tmp_path / "kernel-dead.json", h.dead_info())
        res = prune(tmp_path, dry_run=True, timeout=0.2, grace=0, confirm=0)
        assert [e.path for e in res.removed] == [f]
        assert f.exists()

    def test_prune_respects_grace(self, tmp_path: Path, h: Any) -> None:
        """A young file is never removed, even with closed ports."""
        f = h.write(tmp_path / "kernel-new.json", h.dead_info())
        assert prune(tmp_path, timeout=0.2).removed == ()
        assert f.exists()

    def test_prune_removes_ipc_socket_files(self, tmp_path: Path, h: Any) -> None:
        """A dead ipc kernel's leftover socket files are removed with its file."""
        import socket

        from kcf_spec import Channel

        prefix = tmp_path / "kernel-ipc"
        info = ConnectionInfo.from_ports(
            {c: c.ipc_index for c in Channel}, ip=str(prefix), transport="ipc", key=b"k"
        )
        socks = []
        for c in Channel:  # leftover sockets: bound once, nobody listening any more
            s = socket.socket(socket.AF_UNIX)
            s.bind(f"{prefix}-{c.ipc_index}")
            socks.append(s)
        for s in socks:
            s.close()
        h.write(tmp_path / "kernel-ipc.json", info)
        res = prune(tmp_path, timeout=0.2, grace=0, confirm=0)
        assert len(res.removed) == 1
        assert len(res.removed_sockets) == 5
        assert not any(Path(f"{prefix}-{c.ipc_index}").exists() for c in Channel)


class TestManyFiles:
    def test_list_more_files_than_zmq_sockets(self, ipykernel_file: Path, tmp_path: Path) -> None:
        """1,100 files of a live kernel (more than zmq's 1,023 sockets a context) are all alive."""
        data = ipykernel_file.read_bytes()
        for i in range(1100):
            f = tmp_path / f"kernel-{i:04d}.json"
            f.write_bytes(data)
            f.chmod(0o600)
        entries = list_kernels(tmp_path, timeout=60, grace=0)
        assert len(entries) == 1100
        assert {e.state for e in entries} == {KernelState.ALIVE}


class TestEvidenceOfLife:
    def test_list_file_named_by_a_process_is_not_dead(self, tmp_path: Path, h: Any) -> None:
        """Closed ports, old file, but a process runs with the file in its argv: unknown."""
        import subprocess
        import sys

        if not sys.platform.startswith("linux"):
            pytest.skip("process evidence is read from /proc (Linux)")
        f = h.write(tmp_path / "kernel-starting.json", h.dead_info())
        proc = subprocess.Popen(
            [h.python(), "-c", "import sys; sys.stdin.read()", "-f", str(f)],
            stdin=subprocess.PIPE,
        )
        try:
            [e] = list_kernels(tmp_path, timeout=0.2, grace=0)
            assert e.state is KernelState.UNKNOWN
            assert str(proc.pid) in e.reason
            assert prune(tmp_path, timeout=0.2, grace=0, confirm=0).removed == ()
            assert f.exists()
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait()
        [e] = list_kernels(tmp_path, timeout=0.2, grace=0)
        assert e.state is KernelState.DEAD

    def test_list_same_name_elsewhere_is_no_evidence(self, tmp_path: Path, h: Any) -> None:
        """A process naming a file of the same name in another directory proves nothing."""
        import subprocess
        import sys

        f = h.write(tmp_path / "kernel-twin.json", h.dead_info())
        other = tmp_path / "elsewhere"
        other.mkdir()
        proc = subprocess.Popen(
            [h.python(), "-c", "import sys; sys.stdin.read()", "-f", str(other / f.name)],
            stdin=subprocess.PIPE,
        )
        try:
            [e] = list_kernels(tmp_path, timeout=0.2, grace=0)
            assert e.state is KernelState.DEAD, (sys.platform, e.reason)
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait()

    def test_prune_keeps_file_that_comes_back_within_confirm(
        self, tmp_path: Path, h: Any, tiny_kernel: Any
    ) -> None:
        """A kernel whose ports reopen during the confirmation window keeps its file."""
        import threading

        info = h.dead_info()
        f = h.write(tmp_path / "kernel-back.json", info)
        os.utime(f, (1000, 1000))
        started = threading.Timer(0.5, lambda: tiny_kernel(info))
        started.start()
        try:
            res = prune(tmp_path, timeout=0.2, grace=0, confirm=30)
        finally:
            started.join()
        assert res.removed == ()
        assert f.exists()
        [kept] = res.kept
        assert kept.state is KernelState.UNKNOWN
        assert "came back" in kept.reason

    def test_prune_never_breaks_a_jupyter_client_restart(self, tmp_path: Path, h: Any) -> None:
        """prune run over and over while jupyter_client restarts ipykernel removes nothing."""
        import threading

        cf = tmp_path / "kernel-restart.json"
        km = h.start_ipykernel(cf)
        try:
            kc = km.client()
            kc.start_channels()
            kc.wait_for_ready(timeout=60)
            kc.stop_channels()
            os.utime(cf, (1000, 1000))  # old: the grace period does not protect it
            for _ in range(3):
                done = threading.Event()
                errors: list[BaseException] = []
                t = threading.Thread(target=_restart, args=(km, done, errors))
                t.start()
                removed = []
                while not done.is_set():
                    removed += prune(tmp_path, timeout=0.2, grace=0).removed
                t.join()
                assert not errors
                assert removed == []
                assert cf.exists()
                kc = km.client()
                kc.start_channels()
                try:
                    kc.wait_for_ready(timeout=60)
                finally:
                    kc.stop_channels()
        finally:
            h.stop_ipykernel(km)


def _restart(km: Any, done: Any, errors: list[BaseException]) -> None:
    try:
        km.restart_kernel(now=False)
    except BaseException as exc:  # noqa: BLE001 - the test reports it
        errors.append(exc)
    finally:
        done.set()


class TestUnboundedReads:
    def test_list_file_swapped_for_fifo_does_not_hang(self, tmp_path: Path, h: Any) -> None:
        """A file replaced by a FIFO between the scan and the read is invalid, not a hang.

        Relies on ConnectionInfo.load opening without blocking and refusing non-regular
        files (kcf_spec); this test passes once that reader is in.
        """
        import threading
        import time

        from kcf_client._entry import read_entry

        f = h.write(tmp_path / "kernel-swap.json", h.dead_info())
        st = os.stat(f)  # what the scan saw: a regular file
        f.unlink()
        os.mkfifo(f)
        result: list[Any] = []
        reader = threading.Thread(target=lambda: result.append(read_entry(f, st, time.time())))
        reader.start()
        reader.join(30)
        if reader.is_alive():  # unblock the reader so the test ends, then fail
            fd = os.open(f, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
            reader.join(30)
            pytest.fail("reading a FIFO swapped in for the connection file blocked")
        [e] = result
        assert e.state is KernelState.INVALID


class TestLitter:
    def test_prune_removes_abandoned_temp_files(self, tmp_path: Path) -> None:
        """Old temp files of dead (or unrecorded) writers go; live writers' and young ones stay."""
        import subprocess
        import sys

        gone = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        dead_pid = int(gone.stdout)
        names = {
            "dead": f".kernel-a.json.{dead_pid}.0a1b2c3d4e5f.tmp",
            "nopid": ".kernel-b.json.0a1b2c3d4e5f.tmp",
            "live": f".kernel-c.json.{os.getpid()}.0a1b2c3d4e5f.tmp",
            "young": f".kernel-d.json.{dead_pid}.0a1b2c3d4e5f.tmp",
            "other": f".notes.txt.{dead_pid}.0a1b2c3d4e5f.tmp",
        }
        for key, n in names.items():
            p = tmp_path / n
            p.write_text('{"key": "secret"}')
            if key != "young":
                os.utime(p, (1000, 1000))
        res = prune(tmp_path, timeout=0.2, grace=60, confirm=0, dry_run=True)
        assert sorted(p.name for p in res.removed_temp_files) == sorted(
            [names["dead"], names["nopid"]]
        )
        assert all((tmp_path / n).exists() for n in names.values())
        res = prune(tmp_path, timeout=0.2, grace=60, confirm=0)
        left = {p.name for p in tmp_path.iterdir()}
        assert left == {names["live"], names["young"], names["other"]}

    def test_prune_removes_free_port_locks_keeps_held(self, tmp_path: Path) -> None:
        """Port lock files nobody holds go; those of a live reservation stay."""
        from kcf_kernel import reserve_ports

        with reserve_ports(2, runtime_dir=tmp_path) as held:
            locks = tmp_path / "kcf-ports"
            stale = locks / "1.lock"
            stale.write_text('{"pid": 1, "port": 1}')
            res = prune(tmp_path, timeout=0.2, grace=0, confirm=0)
            assert [p.name for p in res.removed_port_locks] == ["1.lock"]
            assert not stale.exists()
            assert sorted(p.name for p in locks.iterdir()) == sorted(
                f"{port}.lock" for port in held.ports
            )
