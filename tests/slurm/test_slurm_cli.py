"""``python -m kcf_client.slurm`` (what ``kcf start --slurm`` runs) on the real cluster."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import kcf_client
from slurm import slurm_cluster


class TestSlurmCli:
    def test_slurm_cli_start_execute_interrupt_stop(
        self, slurm: slurm_cluster.SlurmCluster, runtime: Path, tmp_path: Path
    ) -> None:
        """The command prints the file and job id; the kernel executes and is interrupted;
        Ctrl-C shuts it down, and the queue and runtime dir are empty afterwards."""
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kcf_client.slurm",
                "--json",
                "--slurm-grace=5",
                "--slurm-arg=--job-name=kcf-cli-test",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            assert proc.stderr is not None
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            started = json.loads(line)
            job = started["slurm_job_id"]
            assert job in slurm.job_ids()
            assert slurm.run(["squeue", "-h", "-j", job, "-o", "%j"]).strip() == "kcf-cli-test"
            with kcf_client.connect(started["path"]) as conn:
                conn.wait_until_ready(timeout=60)
                assert conn.execute("1 + 1", timeout=60).result == {"text/plain": "2"}
                result = slurm_cluster.interrupted_sleep(
                    conn, lambda: conn.interrupt(timeout=30), tmp_path
                )
                assert result.error is not None
                assert result.error.ename == "KeyboardInterrupt"
            proc.send_signal(signal.SIGINT)
            assert proc.wait(60) == 0
            progress = proc.stderr.read()
            assert f"Slurm job {job}: " in progress
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        slurm_cluster.wait_for(lambda: not slurm.job_ids(), 30, "an empty queue")
        assert not Path(started["path"]).exists()
        assert not list(runtime.glob("kcf-slurm-*"))

    def test_slurm_cli_held_job_reports_reason_and_gives_up(
        self, slurm: slurm_cluster.SlurmCluster, runtime: Path
    ) -> None:
        """A held job: the progress line names the pending reason; at the timeout the
        command fails saying so, and the job is cancelled."""
        done = subprocess.run(
            [sys.executable, "-m", "kcf_client.slurm", "--slurm-arg=--hold", "--timeout=3"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 1
        assert "PENDING (JobHeldUser)" in done.stderr
        assert "not started within 3 s; the job was cancelled" in done.stderr
        slurm_cluster.wait_for(lambda: not slurm.job_ids(), 30, "an empty queue")

    def test_slurm_cli_stopped_while_pending_cancels(
        self, slurm: slurm_cluster.SlurmCluster, runtime: Path
    ) -> None:
        """SIGTERM while the job waits in the queue: exit 130 and no job left."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "kcf_client.slurm", "--slurm-arg=--hold"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stderr is not None
            assert "PENDING" in proc.stderr.readline()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 130
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        slurm_cluster.wait_for(lambda: not slurm.job_ids(), 30, "an empty queue")
        assert not list(runtime.glob("kcf-slurm-*"))
