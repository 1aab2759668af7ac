"""Kernels on a Slurm cluster: submitted as a job, started race-free by the nanny on the
node, with the job's state and pending reason reported while it waits.

:func:`start_slurm_kernel` submits ``python -m kcf_kernel.nanny`` with ``sbatch`` (or runs it
with ``srun`` inside an allocation), waits for the node to call back, and returns a
:class:`SlurmKernel` whose connection file any frontend can use. Slurm's commands are run as
argv lists, never through a shell.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from ._address import controller_address, registration_address
from ._commands import JobStatus, cancel_job, job_status
from ._errors import (
    SlurmCommandError,
    SlurmError,
    SlurmJobFailed,
    SlurmOptionError,
    SlurmStartTimeout,
)
from ._kernel import SlurmKernel, StatusCallback, start_slurm_kernel
from ._kernelspec import install_slurm_kernelspec
from ._options import SlurmOptions

__all__ = [
    "start_slurm_kernel",
    "SlurmKernel",
    "SlurmOptions",
    "JobStatus",
    "StatusCallback",
    "install_slurm_kernelspec",
    "job_status",
    "cancel_job",
    "registration_address",
    "controller_address",
    # errors
    "SlurmError",
    "SlurmOptionError",
    "SlurmCommandError",
    "SlurmJobFailed",
    "SlurmStartTimeout",
]
