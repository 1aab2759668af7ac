"""The errors of the Slurm launcher, all under :class:`kcf_spec.KcfError`."""

from __future__ import annotations

from collections.abc import Sequence

from kcf_spec import KcfError

__all__ = [
    "SlurmError",
    "SlurmOptionError",
    "SlurmCommandError",
    "SlurmJobFailed",
    "SlurmStartTimeout",
]


class SlurmError(KcfError):
    """Root of the errors raised while starting or running a kernel through Slurm.

    .. versionadded:: 0.2.0
    """


class SlurmOptionError(SlurmError, ValueError):
    """A Slurm option given to kcf is not usable (names the option and what was expected).

    Attributes:
        field: the option at fault (``"cpus"``, ``"extra_args"``...).
        value: the value given.

    .. versionadded:: 0.2.0
    """

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"Slurm option {field}: expected {expected}, got {value!r}")


class SlurmCommandError(SlurmError):
    """A Slurm command (``sbatch``, ``squeue``...) is missing, failed or did not return.

    Attributes:
        argv: the command line run.
        returncode: its exit status (``None``: it did not start or did not return in time).
        stderr: what it wrote on stderr (stripped).

    .. versionadded:: 0.2.0
    """

    def __init__(self, argv: Sequence[str], returncode: int | None, stderr: str, why: str) -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr = stderr
        tail = f": {stderr}" if stderr else ""
        super().__init__(f"{self.argv[0]} {why}{tail}")


class SlurmJobFailed(SlurmError):
    """The kernel's job ended, or its kernel failed, before the kernel was ready.

    Attributes:
        job_id: the Slurm job id.
        state: Slurm's job state (``FAILED``, ``CANCELLED``...), or ``""`` when unknown.
        reason: Slurm's reason (``NonZeroExitCode``, ``Priority``...), or ``""``.
        exit_code: the job's exit code (``"2:0"``: status, signal), or ``""``.
        stderr_tail: the last lines of the job's (or the kernel's) output.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self,
        message: str,
        *,
        job_id: str,
        state: str = "",
        reason: str = "",
        exit_code: str = "",
        stderr_tail: Sequence[str] = (),
    ) -> None:
        self.job_id = job_id
        self.state = state
        self.reason = reason
        self.exit_code = exit_code
        self.stderr_tail = tuple(stderr_tail)
        facts = [f"state {state}" if state else "", f"reason {reason}" if reason else ""]
        facts.append(f"exit code {exit_code}" if exit_code else "")
        said = ", ".join(f for f in facts if f)
        text = f"Slurm job {job_id}: {message}" + (f" ({said})" if said else "")
        if self.stderr_tail:
            text += "\nlast lines of its output:\n  " + "\n  ".join(self.stderr_tail)
        super().__init__(text)


class SlurmStartTimeout(SlurmJobFailed, TimeoutError):
    """The kernel was not ready within the start timeout; its job was cancelled.

    Attributes:
        timeout: the seconds waited.

    .. versionadded:: 0.2.0
    """

    def __init__(self, *, timeout: float, job_id: str, state: str, reason: str) -> None:
        self.timeout = timeout
        super().__init__(
            f"not started within {timeout:g} s; the job was cancelled",
            job_id=job_id,
            state=state,
            reason=reason,
        )
