"""``kcf list``: connection files with their kernels' liveness."""

from __future__ import annotations

import argparse

from ._args import Parser, add_dir_options
from ._output import OK, Out, age, table

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds at every start
if TYPE_CHECKING:
    from kcf_client._entry import KernelEntry

__all__ = ["add_arguments", "run", "searched"]


def add_arguments(p: Parser) -> None:
    add_dir_options(p)
    p.add_argument("--no-check", action="store_true", help="do not ping the kernels")


def searched(args: argparse.Namespace) -> str:
    """Where list and prune looked, in words: ``kernel-*.json in /run/user/1000/jupyter``."""
    import os

    from kcf_client._find import default_runtime_dir
    from kcf_client._listing import DEFAULT_PATTERN

    dirs = [os.path.normpath(d) for d in args.dir] if args.dir else [default_runtime_dir()]
    return f"{args.pattern or DEFAULT_PATTERN} in {', '.join(map(str, dirs))}"


def run(args: argparse.Namespace, out: Out) -> int:
    from kcf_client._listing import DEFAULT_PATTERN, list_kernels

    entries = list_kernels(
        args.dir or None,
        pattern=args.pattern or DEFAULT_PATTERN,
        check=not args.no_check,
        timeout=args.timeout,
    )

    jobs = {e.path: _slurm_job(e) for e in entries}
    with_jobs = any(jobs.values())

    def text() -> str:
        if not entries:
            return f"no connection files ({searched(args)})"
        rows = [["STATE", "KERNEL", "TRANSPORT", "ADDRESS", "AGE", "FILE"]]
        if with_jobs:
            rows[0].insert(4, "SLURM JOB")
        notes = []
        for e in entries:
            row = [
                e.state.value,
                e.kernel_name or "-",
                e.transport or "-",
                e.address or "-",
                age(e.age),
                str(e.path),
            ]
            if with_jobs:
                row.insert(4, jobs[e.path] or "-")
            rows.append(row)
            if e.state.value in ("invalid", "unknown", "dead"):
                notes.append(f"{e.path}: {e.reason}")
        return table(rows) + ("\n\n" + "\n".join(notes) if notes else "")

    data = [
        {**e.to_dict(), "slurm_job_id": jobs[e.path]} if jobs[e.path] else e.to_dict()
        for e in entries
    ]
    out.emit(data, text)
    return OK


def _slurm_job(entry: KernelEntry) -> str | None:
    """The Slurm job id a Slurm-launched kernel's file records (``slurm_job_id``), if any."""
    job = entry.info.extras.get("slurm_job_id") if entry.info is not None else None
    return job if isinstance(job, str) and job else None
