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
    def test_kcf_start_slurm_execute_interrupt_list_stop(
        self, slurm: slurm_cluster.SlurmCluster, runtime: Path, tmp_path: Path
    ) -> None:
        """kcf start --slurm prints the file; the kernel executes and is interrupted; kcf list
        shows its job id; Ctrl-C shuts it down, and the queue and runtime dir are empty."""
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kcf_client",
                "start",
                "--slurm",
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
            started = {"path": line.strip()}
            job = json.loads(Path(started["path"]).read_text())["slurm_job_id"]
            assert f"kernel running in Slurm job {job}" in proc.stdout.readline()
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
            listed = subprocess.run(
                [sys.executable, "-m", "kcf_client", "--json", "list", "--no-check"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            entries = json.loads(listed.stdout)
            # (the nanny's own file for the kernel is there too: one host, one runtime dir)
            ours = [e for e in entries if e["path"] == started["path"]]
            assert [e.get("slurm_job_id") for e in ours] == [job]
            table = subprocess.run(
                [sys.executable, "-m", "kcf_client", "list", "--no-check"],
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout
            assert "SLURM JOB" in table.splitlines()[0]
            assert any(
                f" {job} " in row for row in table.splitlines()[1:] if started["path"] in row
            )
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
            [sys.executable, "-m", "kcf_client.slurm", "--slurm-arg=--hold", "--slurm-timeout=3"],
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
