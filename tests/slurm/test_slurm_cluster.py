"""The one-node cluster fixture itself: the scheduler runs jobs and leaves none behind."""

from __future__ import annotations

import subprocess

from slurm import slurm_cluster


class TestSlurmCluster:
    def test_cluster_node_idle_and_runs_a_step(self, slurm: slurm_cluster.SlurmCluster) -> None:
        """The node is idle in sinfo and srun runs a command on it."""
        assert slurm.node_state() in {"idle", "mixed"}
        assert slurm.run(["srun", "--", "hostname", "-s"]).strip() == slurm.node

    def test_cluster_cancel_all_empties_the_queue(self, slurm: slurm_cluster.SlurmCluster) -> None:
        """A held job is in the queue until cancel_all removes it."""
        job = slurm.run(["sbatch", "--parsable", "--hold", "--wrap", "true"]).strip()
        assert slurm.job_ids() == [job.split(";")[0]]
        slurm.cancel_all()
        assert slurm.job_ids() == []

    def test_cluster_stop_leaves_no_daemon(self) -> None:
        """A second cluster started and stopped leaves no daemon and no directory."""
        try:
            cluster = slurm_cluster.start_cluster()
        except slurm_cluster.SlurmUnavailable as exc:
            import realparts

            realparts.missing_real_part(str(exc))
        procs = list(cluster.procs.values())
        cluster.stop()
        assert all(p.poll() is not None for p in procs)
        assert not cluster.root.exists()
        out = subprocess.run(["pgrep", "-f", str(cluster.conf)], capture_output=True, text=True)
        assert out.stdout.strip() == ""
