"""Launching kernels: argv templates, port strategies, signals and clean-up."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kcf_kernel
import pytest
from kcf_spec import Channel, ConnectionInfo

Ls = Callable[[Path], list[str]]
Req = Callable[..., Any]


def _leftovers(listing: Ls, runtime: Path) -> list[str]:
    """What a launch left in the runtime dir (an emptied ``kcf-ports/`` is removed too)."""
    return listing(runtime)


class TestArgv:
    def test_format_argv_replaces_placeholders_only(self) -> None:
        """{connection_file} is replaced; other braces are left alone."""
        out = kcf_kernel.format_argv(["k", "-f", "{connection_file}", "{x}"], connection_file="/a")
        assert out == ["k", "-f", "/a", "{x}"]

    def test_ipykernel_argv(self) -> None:
        """ipykernel_argv() is the kernelspec command of ipykernel with this Python."""
        assert kcf_kernel.ipykernel_argv() == [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
        ]

    def test_example_kernel_argv_modes(self) -> None:
        """The example kernel takes -f, or --registration in handshake mode."""
        assert kcf_kernel.example_kernel_argv()[-2:] == ["-f", "{connection_file}"]
        assert kcf_kernel.example_kernel_argv(True)[-2:] == [
            "--registration",
            "{registration_file}",
        ]


class TestLaunchKernel:
    @pytest.mark.parametrize("ports", ["reserve", "kernel"])
    def test_launch_example_kernel_answers(
        self, runtime: Path, listing: Ls, request_kernel: Req, ports: str
    ) -> None:
        """The example kernel launched with each strategy answers kernel_info; close() leaves
        nothing behind."""
        with kcf_kernel.launch_kernel(kcf_kernel.example_kernel_argv(), ports=ports) as kp:  # type: ignore[arg-type]
            assert kp.connection_file.parent == runtime
            assert ConnectionInfo.load(kp.connection_file) == kp.info
            reply = request_kernel(kp.info, "kernel_info_request", {})
            assert reply.content["implementation"] == "kcf-pykernel"
        assert _leftovers(listing, runtime) == []

    def test_launch_execute_env_and_cwd(
        self, runtime: Path, tmp_path: Path, request_kernel: Req
    ) -> None:
        """env is added to the kernel's environment and cwd is its working directory."""
        argv = kcf_kernel.example_kernel_argv()
        with kcf_kernel.launch_kernel(argv, env={"KCF_TEST_X": "42"}, cwd=tmp_path) as kp:
            code = "(__import__('os').environ['KCF_TEST_X'], __import__('os').getcwd())"
            reply = request_kernel(kp.info, "execute_request", {"code": code})
            assert reply.content["status"] == "ok"
        assert kp.returncode is not None

    def test_launch_ipc(self, short_runtime: Path, listing: Ls, request_kernel: Req) -> None:
        """ipc: absolute socket paths beside the connection file, all removed afterwards."""
        argv = kcf_kernel.example_kernel_argv()
        with kcf_kernel.launch_kernel(argv, transport="ipc") as kp:
            assert kp.info.ip == str(short_runtime / f"kernel-{kp.kernel_id}-ipc")
            assert kp.wait_bound(30)
            assert request_kernel(kp.info, "kernel_info_request", {}).content["status"] == "ok"
        assert _leftovers(listing, short_runtime) == []

    def test_launch_ipc_path_too_long_raises(self, tmp_path: Path, listing: Ls) -> None:
        """An ipc path beyond sun_path is a SocketPathTooLong before anything starts."""
        deep = tmp_path / ("d" * 80)
        deep.mkdir()
        with pytest.raises(kcf_kernel.SocketPathTooLong):
            kcf_kernel.launch_kernel(
                kcf_kernel.example_kernel_argv(), transport="ipc", runtime_dir=deep
            )
        assert listing(deep) == []

    def test_launch_given_needs_every_port(self, runtime: Path) -> None:
        """ports='given' with a port 0 is refused before anything starts."""
        with pytest.raises(ValueError, match="shell_port"):
            kcf_kernel.launch_kernel(["true", "{connection_file}"], ports="given")

    def test_launch_missing_program_raises(self, runtime: Path, listing: Ls) -> None:
        """A program that does not exist is a LaunchError; no file or reservation is left."""
        with pytest.raises(kcf_kernel.LaunchError, match="cannot start"):
            kcf_kernel.launch_kernel(["/nonexistent/kernel", "{connection_file}"])
        assert _leftovers(listing, runtime) == []

    def test_launch_kernel_mode_early_exit_raises(self, runtime: Path, listing: Ls) -> None:
        """A kernel that exits before writing its ports is a LaunchError with its status."""
        argv = [sys.executable, "-c", "import sys; sys.exit(5)", "{connection_file}"]
        with pytest.raises(kcf_kernel.LaunchError) as err:
            kcf_kernel.launch_kernel(argv, ports="kernel")
        assert err.value.returncode == 5
        assert _leftovers(listing, runtime) == []

    def test_launch_kernel_mode_timeout_raises(self, runtime: Path, listing: Ls) -> None:
        """A kernel that never writes its ports is a LaunchTimeout (a TimeoutError), and is
        killed."""
        argv = [sys.executable, "-c", "import time; time.sleep(60)", "{connection_file}"]
        with pytest.raises(TimeoutError) as err:
            kcf_kernel.launch_kernel(argv, ports="kernel", timeout=1.0)
        assert isinstance(err.value, kcf_kernel.LaunchTimeout)
        assert _leftovers(listing, runtime) == []


class TestSignals:
    def test_sigkill_launcher_removes_files(self, runtime: Path, listing: Ls) -> None:
        """A kernel killed with SIGKILL leaves its file; the launcher's wait() removes it."""
        kp = kcf_kernel.launch_kernel(kcf_kernel.example_kernel_argv())
        try:
            assert kp.wait_bound(30)
            kp.send_signal(signal.SIGKILL)
            assert kp.wait(30) == -signal.SIGKILL
            assert _leftovers(listing, runtime) == []
        finally:
            kp.close()

    def test_sigterm_kernel_removes_its_own_file(self, tmp_path: Path) -> None:
        """A kernel using cleanup_on_signals removes the file it wrote on SIGTERM, and dies of
        SIGTERM (the conventional status)."""
        path = tmp_path / "kernel-own.json"
        proc = subprocess.Popen(
            [sys.executable, "-m", "kcf_kernel.examples.pykernel", "-f", str(path)]
        )
        try:
            for _ in range(3000):
                if path.exists() or proc.poll() is not None:
                    break
                time.sleep(0.01)
            assert path.exists()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == -signal.SIGTERM
            assert not path.exists()
        finally:
            proc.kill()
            proc.wait()

    def test_cleanup_on_signals_keeps_an_ignored_signal_ignored(self) -> None:
        """A signal ignored when cleanup_on_signals is called (SIGHUP under nohup) stays
        ignored: it neither runs the clean-up nor ends the process."""
        script = (
            "import os, signal, kcf_kernel\n"
            "signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
            "kcf_kernel.cleanup_on_signals(lambda: print('cleaned', flush=True))\n"
            "os.kill(os.getpid(), signal.SIGHUP)\n"
            "print('alive', flush=True)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )
        assert (done.returncode, done.stdout) == (0, "alive\n")

    def test_close_never_removes_someone_elses_file(self, runtime: Path) -> None:
        """If another writer replaced the connection file, close() leaves it in place."""
        kp = kcf_kernel.launch_kernel(kcf_kernel.example_kernel_argv())
        other = kp.info.replace(key=b"another-writer")
        kcf_kernel.write_connection_file(other, kp.connection_file)
        kp.close()
        assert ConnectionInfo.load(kp.connection_file).key == b"another-writer"

    def test_kill_reaches_process_group(self, runtime: Path) -> None:
        """kill() ends the kernel's children too (its own process group)."""
        import os

        script = (
            "import subprocess, sys, time\n"
            "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            "print(c.pid, flush=True)\n"
            "time.sleep(60)\n"
        )
        kp = kcf_kernel.launch_kernel(
            [sys.executable, "-c", script, "{connection_file}"], stdout=subprocess.PIPE
        )
        assert kp.popen.stdout is not None
        child = int(kp.popen.stdout.readline())
        kp.kill()
        kp.wait(30)
        for _ in range(500):
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            time.sleep(0.01)
        with pytest.raises(ProcessLookupError):
            os.kill(child, 0)
        kp.close()


_ORPHANING_KERNEL = (
    "import subprocess, sys\n"
    "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print(c.pid, flush=True)\n"
)


def _launch_orphaning_kernel() -> tuple[kcf_kernel.KernelProcess, int]:
    """A "kernel" that starts a long-lived child in its group, prints its pid and exits."""
    kp = kcf_kernel.launch_kernel(
        [sys.executable, "-c", _ORPHANING_KERNEL, "{connection_file}"], stdout=subprocess.PIPE
    )
    assert kp.popen.stdout is not None
    return kp, int(kp.popen.stdout.readline())


def _survives(pid: int, timeout: float = 30) -> bool:
    """Whether ``pid`` is still alive after ``timeout`` seconds (killed here if it is)."""
    import os

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    return True


def test_close_kills_orphans_left_in_the_group(runtime: Path) -> None:
    """A kernel that exits leaving a child behind: close() kills that child too."""
    kp, child = _launch_orphaning_kernel()
    kp.close()
    assert not _survives(child), "close() left the kernel's child running"


def test_launch_wait_bound_releases_reservation(runtime: Path) -> None:
    """Once the kernel listens on every port, the reservation is released."""
    with kcf_kernel.launch_kernel(kcf_kernel.example_kernel_argv(), ports="reserve") as kp:
        assert kp.reservation is not None
        assert kp.wait_bound(30)
        assert kp.reservation.wait_released(30)
        assert {kp.info.port(c) for c in Channel} == set(kp.reservation.ports)


def test_close_kills_orphans_after_the_reservation_watcher_saw_the_exit(runtime: Path) -> None:
    """The reservation watcher notices the kernel's exit without reaping it, so close() still
    kills the child the kernel left in its group."""
    kp, child = _launch_orphaning_kernel()
    assert kp.reservation is not None
    assert kp.reservation.wait_released(30)  # the watcher saw the kernel die
    assert not kp.is_alive()
    kp.close()
    assert not _survives(child), "close() left the kernel's child running"


def test_close_kills_orphans_after_wait_bound_saw_the_exit(runtime: Path) -> None:
    """wait_bound() returns False for a kernel that died without reaping it, so close() still
    kills the child the kernel left in its group."""
    kp, child = _launch_orphaning_kernel()
    assert not kp.wait_bound(30)
    kp.close()
    assert not _survives(child), "close() left the kernel's child running"
