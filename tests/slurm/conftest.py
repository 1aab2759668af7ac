"""Fixtures of the Slurm tests: a real one-node cluster, started once for the session.

The cluster (``slurm_cluster.py`` beside this file) runs this host as controller and only
node, from a private ``slurm.conf``, munge key and state dir. ``slurm`` yields it with
``SLURM_CONF`` set for the whole session, so library calls and ``kcf`` subprocesses reach it;
every test ends with an empty queue (``slurm_clean``). A missing Slurm or munge fails under
``KCF_REQUIRE_REAL_PARTS=1`` and skips elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import realparts
from slurm import slurm_cluster  # tests/slurm/slurm_cluster.py: no pytest needed


@pytest.fixture(scope="session")
def slurm_session() -> Iterator[slurm_cluster.SlurmCluster]:
    """The private cluster (session-scoped), with ``SLURM_CONF`` exported while it runs."""
    try:
        cluster = slurm_cluster.start_cluster()
    except slurm_cluster.SlurmUnavailable as exc:
        realparts.missing_real_part(f"Slurm one-node cluster: {exc}")
    try:
        with slurm_cluster.exported(cluster):
            yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def slurm(slurm_session: slurm_cluster.SlurmCluster) -> Iterator[slurm_cluster.SlurmCluster]:
    """The cluster for one test; after the test, no job of it may be left in the queue."""
    yield slurm_session
    # A finished job lingers a moment as COMPLETING; a job the test left running does not
    # leave by itself within the deadline.
    try:
        slurm_cluster.wait_for(lambda: not slurm_session.job_ids(), 30, "an empty queue")
    except TimeoutError:
        left = slurm_session.run(["squeue", "-h", "-o", "%i %T %R"])
        slurm_session.cancel_all()
        pytest.fail(f"jobs left in the queue after the test:\n{left}")
