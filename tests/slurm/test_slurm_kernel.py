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
