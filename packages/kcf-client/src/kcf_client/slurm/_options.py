"""What the user asks of Slurm for a kernel's job, as an ``sbatch`` / ``srun`` argv."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ._errors import SlurmOptionError

__all__ = ["SlurmOptions"]


@dataclasses.dataclass(frozen=True, slots=True)
class SlurmOptions:
    """The Slurm options of a kernel's job. ``None`` leaves a choice to the cluster.

    Each value is passed as one ``--name=value`` argument (never through a shell), so a
    value cannot become another option.

    Attributes:
        partition: ``--partition``.
        time: ``--time`` (``"1:00:00"``, ``"30"``...).
        account: ``--account``.
        gres: ``--gres`` (``"gpu:1"``).
        cpus: ``--cpus-per-task``.
        memory: ``--mem`` (``"4G"``).
        constraint: ``--constraint``.
        job_name: ``--job-name`` (default ``kcf-kernel``).
        extra_args: more arguments, each one argv item (``("--qos=debug", "--hold")``).

    .. versionadded:: 0.2.0
    """

    partition: str | None = None
    time: str | None = None
    account: str | None = None
    gres: str | None = None
    cpus: int | None = None
    memory: str | None = None
    constraint: str | None = None
    job_name: str = "kcf-kernel"
    extra_args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for field in ("partition", "time", "account", "gres", "memory", "constraint", "job_name"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, str) or not value or "\n" in value):
                raise SlurmOptionError(field, value, "a non-empty one-line string")
        cpus: object = self.cpus  # checked at run time: callers may not be typed
        if cpus is not None and (isinstance(cpus, bool) or not isinstance(cpus, int) or cpus < 1):
            raise SlurmOptionError("cpus", cpus, "a whole number >= 1")
        extra: object = self.extra_args
        if not isinstance(extra, (tuple, list)) or not all(isinstance(a, str) for a in extra):
            raise SlurmOptionError("extra_args", extra, "a sequence of argv items (strings)")
        object.__setattr__(self, "extra_args", tuple(extra))

    def argv(self) -> list[str]:
        """The options as argv items, in a fixed order; :attr:`extra_args` last."""
        pairs: Sequence[tuple[str, object]] = (
            ("--job-name", self.job_name),
            ("--partition", self.partition),
            ("--time", self.time),
            ("--account", self.account),
            ("--gres", self.gres),
            ("--cpus-per-task", self.cpus),
            ("--mem", self.memory),
            ("--constraint", self.constraint),
        )
        return [f"{flag}={value}" for flag, value in pairs if value is not None] + list(
            self.extra_args
        )
