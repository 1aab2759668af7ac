"""Kernels started through a real one-node Slurm cluster (the session fixture ``slurm``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import kcf_client
import pytest
from kcf_client.slurm import (
    JobStatus,
    SlurmJobFailed,
    SlurmKernel,
    SlurmOptions,
    SlurmStartTimeout,
    start_slurm_kernel,
)
from kcf_kernel._listen import listening_ports
from slurm import slurm_cluster


def _start(runtime: Path, **kw: object) -> SlurmKernel:
    """A kernel in a job (``runtime``: the test's runtime dir, where its files go)."""
    args: dict[str, object] = {"timeout": 120, "grace": 5, **kw}
    return start_slurm_kernel(**args)  # type: ignore[arg-type]


class TestSlurmKernel:
    def test_slurm_kernel_execute_interrupt_shutdown(
        self, slurm: slurm_cluster.SlurmCluster, runtime: Path, tmp_path: Path
    ) -> None:
        """A kernel in a job runs code, is interrupted through the nanny, and its shutdown
        leaves no job, no connection file and no output file."""
        seen: list[JobStatus] = []
        kernel = _start(runtime, on_status=seen.append)
        try:
            assert kernel.job_id in slurm.job_ids()
            assert seen[-1].state in {"PENDING", "RUNNING"}
            data = json.loads(kernel.connection_file.read_text())
            assert data["slurm_job_id"] == kernel.job_id
            assert data["slurm_node"] == slurm.node
            assert data["ip"] == "127.0.0.1"  # the end of the node's call to 127.0.0.1
            with kcf_client.connect(kernel.connection_file) as conn:
                conn.wait_until_ready(timeout=60)
                assert conn.execute("6 * 7", timeout=60).result == {"text/plain": "42"}
                result = slurm_cluster.interrupted_sleep(conn, kernel.interrupt, tmp_path)
                assert result.error is not None
                assert result.error.ename == "KeyboardInterrupt"
        finally:
            kernel.close()
        assert not kernel.connection_file.exists()
        assert not kernel.log_file.exists()
        slurm_cluster.wait_for(lambda: kernel.job_id not in slurm.job_ids(), 30, "job gone")

    def test_slurm_kernel_held_job_reports_reason_and_timeout_cancels(
        self, slurm: slurm_cluster.SlurmCluster, runtime: Path
    ) -> None:
        """A held job's pending reason is reported; the start timeout cancels the job."""
        seen: list[JobStatus] = []
        with pytest.raises(SlurmStartTimeout) as info:
            start_slurm_kernel(
                options=SlurmOptions(extra_args=("--hold",)),
                timeout=4,
                poll_interval=0.2,
                on_status=seen.append,
            )
        err = info.value
        assert (seen[0].state, seen[0].reason) == ("PENDING", "JobHeldUser")
        assert err.state == "PENDING"
        assert err.reason == "JobHeldUser"
        assert "JobHeldUser" in str(err)
        slurm_cluster.wait_for(lambda: err.job_id not in slurm.job_ids(), 30, "job cancelled")
        assert not list(runtime.glob("kcf-slurm-*.log"))

    def test_slurm_kernel_bad_argv_reports_state_and_output(
        self, slurm: slurm_cluster.SlurmCluster, runtime: Path
    ) -> None:
        """A kernel that fails on the node: the error has Slurm's state and its stderr."""
        code = "import sys; print('kernel cannot start: no GPU', file=sys.stderr); sys.exit(7)"
        with pytest.raises(SlurmJobFailed) as info:
            _start(
                runtime, argv=[sys.executable, "-c", code, "{connection_file}"], strategy="kernel"
            )
        err = info.value
        assert err.state == "FAILED"
        assert err.exit_code.startswith("2:")  # the nanny's status for a kernel that failed
        assert any("no GPU" in line for line in err.stderr_tail)
        assert "no GPU" in str(err)
        slurm_cluster.wait_for(lambda: err.job_id not in slurm.job_ids(), 30, "job gone")

    def test_slurm_kernel_missing_nanny_python_reports_output(
        self, slurm: slurm_cluster.SlurmCluster, runtime: Path, tmp_path: Path
    ) -> None:
        """A job whose Python has no kcf-kernel ends; the error quotes its output."""
        fake = tmp_path / "python"
        fake.write_text("#!/bin/sh\necho 'no kcf here' >&2\nexit 3\n")
        fake.chmod(0o755)
        with pytest.raises(SlurmJobFailed) as info:
            _start(runtime, python=str(fake))
        err = info.value
        assert err.state == "FAILED"
        assert err.exit_code == "3:0"
        assert "no kcf here" in err.stderr_tail

    def test_slurm_kernel_launcher_killed_job_ends_after_grace(
        self, slurm: slurm_cluster.SlurmCluster, runtime: Path, tmp_path: Path
    ) -> None:
        """SIGKILL the launcher: the nanny ends the kernel and the job after its grace."""
        script = textwrap.dedent(
            """
            import sys
            from kcf_client.slurm import start_slurm_kernel
            k = start_slurm_kernel(timeout=120, grace=3)
            print(k.job_id, flush=True)
            sys.stdin.read()
            """
        )
        launcher = subprocess.Popen(
            [sys.executable, "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ},
        )
        try:
            assert launcher.stdout is not None
            job = launcher.stdout.readline().strip()
            assert job in slurm.job_ids()
        finally:
            launcher.send_signal(signal.SIGKILL)
            launcher.wait(30)
        slurm_cluster.wait_for(lambda: job not in slurm.job_ids(), 3 + 60, "the orphan job to end")
        for f in runtime.glob("kernel-*-slurm.json"):
            f.unlink()  # the dead launcher's file (kcf prune's job); the kernel is gone
        for f in runtime.glob("kcf-slurm-*.log"):
            f.unlink()

    @pytest.mark.scale
    def test_slurm_kernel_eight_at_once_no_collision(
        self, slurm: slurm_cluster.SlurmCluster, runtime: Path
    ) -> None:
        """Eight kernels submitted at once all start, each on its own ports, all reachable."""
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(_start, runtime, timeout=300) for _ in range(8)]
            kernels = []
            errors = []
            for f in futures:
                try:
                    kernels.append(f.result())
                except SlurmJobFailed as exc:
                    errors.append(exc)
        try:
            assert not errors
            ports = [p for k in kernels for p in k.info.ports.values()]  # type: ignore[union-attr]
            assert len(set(ports)) == 40
            assert len({k.job_id for k in kernels}) == 8
            for k in kernels:
                with kcf_client.connect(k.connection_file) as conn:
                    conn.wait_until_ready(timeout=120)
        finally:
            for k in kernels:
                k.close()

    def test_slurm_kernel_srun_step(self, slurm: slurm_cluster.SlurmCluster, runtime: Path) -> None:
        """With use_srun the nanny runs as an srun step; the job id is learnt from the node,
        the kernel answers, and close ends srun and the job."""
        kernel = _start(runtime, use_srun=True)
        try:
            job = kernel.job_id.split(".")[0]
            assert job in slurm.job_ids()
            assert json.loads(kernel.connection_file.read_text())["slurm_job_id"] == kernel.job_id
            with kcf_client.connect(kernel.connection_file) as conn:
                assert conn.wait_until_ready(timeout=60)
        finally:
            kernel.close()
        slurm_cluster.wait_for(lambda: job not in slurm.job_ids(), 30, "srun's job gone")

    def test_slurm_kernel_kill_through_nanny_ends_job(
        self, slurm: slurm_cluster.SlurmCluster, runtime: Path
    ) -> None:
        """kill() reaches the kernel on the node: the handle learns it ended, so does the job."""
        kernel = _start(runtime)
        try:
            kernel.kill()
            assert kernel.wait(60)
            assert not kernel.is_alive()
            assert kernel.exit_status == -9
            slurm_cluster.wait_for(lambda: kernel.job_id not in slurm.job_ids(), 60, "job gone")
        finally:
            kernel.close()


def _job_python(tmp_path: Path, *, source: str, old_nanny: bool = False) -> str:
    """A Python for the job whose connections leave from ``source``: what a node does whose
    route to the launcher goes out of the interface with that address (here all of
    127.0.0.0/8 is this machine's loopback). ``old_nanny``: a kcf-kernel on the node that
    predates ``NannyRequest.ip`` (it ignores the field and binds 127.0.0.1)."""
    old = (
        "import kcf_kernel._nanny as n\n"
        "read = n.NannyRequest.from_content\n"
        "n.NannyRequest.from_content = lambda c: read({k: v for k, v in c.items() if k != 'ip'})\n"
    )
    wrapper = tmp_path / "python"
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import functools, runpy, socket, sys\n"
        "socket.create_connection = functools.partial(\n"
        f"    socket.create_connection, source_address=({source!r}, 0)\n"
        ")\n"
        + (old if old_nanny else "")
        + "sys.argv = sys.argv[1:]\n"  # the job script, which #! ran through this file
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    wrapper.chmod(0o755)
    return str(wrapper)


def _assert_served_on(kernel: SlurmKernel, addr: str) -> None:
    """The connection file names ``addr``, the kernel listens there (only), and answers."""
    assert kernel.info is not None
    assert json.loads(kernel.connection_file.read_text())["ip"] == addr
    ports = set(kernel.info.ports.values())
    assert listening_ports(addr, ports) == ports
    assert listening_ports("127.0.0.3", ports) == set()  # bound to no wildcard
    with kcf_client.connect(kernel.connection_file) as conn:
        assert conn.wait_until_ready(timeout=60)
        assert conn.execute("6 * 7", timeout=60).result == {"text/plain": "42"}


class TestSlurmKernelAddress:
    def test_slurm_kernel_listens_where_the_node_reached_the_launcher(
        self, slurm: slurm_cluster.SlurmCluster, runtime: Path, tmp_path: Path
    ) -> None:
        """A node whose call to the launcher leaves from 127.0.0.2 (not the launcher's
        127.0.0.1): the kernel listens on 127.0.0.2 and the connection file says so."""
        kernel = _start(runtime, python=_job_python(tmp_path, source="127.0.0.2"))
        try:
            assert kernel.info is not None
            assert kernel.info.ip == "127.0.0.2"
            assert json.loads(kernel.connection_file.read_text())["slurm_node"] == slurm.node
            _assert_served_on(kernel, "127.0.0.2")
        finally:
            kernel.close()

    def test_slurm_kernel_old_nanny_binding_loopback_refused(
        self, slurm: slurm_cluster.SlurmCluster, runtime: Path, tmp_path: Path
    ) -> None:
        """A nanny that ignores the address (an older kcf-kernel on the node) binds
        127.0.0.1: the start fails naming both addresses, and the job is cancelled."""
        python = _job_python(tmp_path, source="127.0.0.2", old_nanny=True)
        said = r"listens on tcp://127\.0\.0\.1, not on 127\.0\.0\.2"
        with pytest.raises(SlurmJobFailed, match=said):
            _start(runtime, python=python)
        assert not list(runtime.glob("kernel-*-slurm.json"))
