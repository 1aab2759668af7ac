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
                "--grace=5",
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
