"""Running Slurm's commands: argv lists, a timeout on each, their failures mapped to ours."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
from collections.abc import Mapping, Sequence

from ._errors import SlurmCommandError

__all__ = ["JobStatus", "run_command", "submit_batch", "job_status", "cancel_job", "TERMINAL"]

log = logging.getLogger("kcf_client.slurm")

#: Job states after which the job never runs again.
TERMINAL = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "REVOKED",
        "SPECIAL_EXIT",
        "TIMEOUT",
    }
)


@dataclasses.dataclass(frozen=True, slots=True)
class JobStatus:
    """One look at a job, from ``scontrol show job``.

    Attributes:
        job_id: the job id.
        state: ``PENDING``, ``RUNNING``, ``FAILED``... (``"GONE"``: the controller forgot it;
            ``"STARTING"``: under ``srun``, which says no more until the node calls back).
        reason: Slurm's reason (``Priority``, ``JobHeldUser``, ``NonZeroExitCode``...;
            ``""`` for ``None``).
        exit_code: ``"status:signal"`` (``""`` while it runs).
        node: the node list (``""`` while pending).

    .. versionadded:: 0.2.0
    """

    job_id: str
    state: str
    reason: str = ""
    exit_code: str = ""
    node: str = ""

    def __str__(self) -> str:
        """``Slurm job 42: PENDING (Priority)``: the progress line."""
        why = f" ({self.reason})" if self.reason else ""
        return f"Slurm job {self.job_id}: {self.state}{why}"

    @property
    def finished(self) -> bool:
        """Whether the job will never run again."""
        return self.state in TERMINAL or self.state == "GONE"


def run_command(
    argv: Sequence[str],
    *,
    timeout: float = 30.0,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run one Slurm command; return its stdout.

    Raises:
        SlurmCommandError: the command is missing, exits non-zero or outlives ``timeout``.
    """
    try:
        done = subprocess.run(
            list(argv),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=None if env is None else dict(env),
        )
    except FileNotFoundError:
        raise SlurmCommandError(
            argv, None, "", "is not installed here (or not on PATH): is this a Slurm login node?"
        ) from None
    except subprocess.TimeoutExpired:
        raise SlurmCommandError(argv, None, "", f"did not return within {timeout:g} s") from None
    if done.returncode != 0:
        raise SlurmCommandError(
            argv, done.returncode, done.stderr.strip(), f"failed (exit status {done.returncode})"
        )
    return done.stdout


def submit_batch(options: Sequence[str], script: str, *, timeout: float = 30.0) -> str:
    """``sbatch --parsable OPTIONS`` with ``script`` on stdin; return the job id."""
    out = run_command(["sbatch", "--parsable", *options], stdin=script, timeout=timeout)
    job_id = out.strip().split(";", 1)[0]  # "id" or "id;cluster"
    if not job_id.isdigit():
        raise SlurmCommandError(["sbatch"], 0, out.strip(), "printed no job id")
    return job_id


def _fields(line: str) -> dict[str, str]:
    """``Key=Value Key2=Value2`` (one ``scontrol -o`` line) as a dict (values without spaces)."""
    fields: dict[str, str] = {}
    for item in line.split():
        key, sep, value = item.partition("=")
        if sep and key not in fields:
            fields[key] = value
    return fields


def job_status(job_id: str, *, timeout: float = 30.0) -> JobStatus:
    """The job's state, reason, exit code and node, from ``scontrol show job``.

    Returns:
        The status; state ``GONE`` once the controller has forgotten the job.

    Raises:
        SlurmCommandError: ``scontrol`` failed or did not return within ``timeout``.

    .. versionadded:: 0.2.0
    """
    try:
        out = run_command(["scontrol", "show", "job", "-o", job_id], timeout=timeout)
    except SlurmCommandError as exc:
        if "Invalid job id" in exc.stderr:
            return JobStatus(job_id, "GONE")
        raise
    fields = _fields(out)
    reason = fields.get("Reason", "")
    node = fields.get("NodeList", "")
    return JobStatus(
        job_id=job_id,
        state=fields.get("JobState", "UNKNOWN"),
        reason="" if reason == "None" else reason,
        exit_code=fields.get("ExitCode", ""),
        node="" if node == "(null)" else node,
    )


def cancel_job(job_id: str, *, timeout: float = 30.0) -> None:
    """``scancel JOB`` (a job already gone is not an error); failures are logged, not raised.

    Called on every failure path and at shutdown, where raising would hide the first error.

    .. versionadded:: 0.2.0
    """
    try:
        run_command(["scancel", job_id], timeout=timeout)
    except SlurmCommandError as exc:
        if "Invalid job id" not in exc.stderr and "already completing" not in exc.stderr:
            log.warning("Slurm job %s: scancel failed: %s", job_id, exc)
    else:
        log.info("Slurm job %s: cancelled", job_id)
