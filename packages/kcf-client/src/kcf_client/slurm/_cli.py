"""The command line of Slurm kernels: what ``kcf start --slurm`` runs.

``python -m kcf_client.slurm [--slurm-arg=ARG ...] [KERNELSPEC] [-- ARGV]`` starts a kernel in
a Slurm job, prints its connection file (and job id), shows the job's state and pending
reason on stderr as they change, and keeps the kernel until Ctrl-C / SIGTERM / SIGHUP, then
shuts it down and cancels the job. :func:`add_options` and :func:`run` are the seam for the
``kcf`` command (``kcf start --slurm``): ``run`` reads ``timeout`` and, when present,
``kernelspec``, ``argv``, ``connection_file`` and ``json`` from the parsed arguments.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from kcf_spec import KcfError

from ._commands import JobStatus
from ._kernel import start_slurm_kernel
from ._options import SlurmOptions

__all__ = ["add_options", "run", "main"]


def add_options(p: argparse.ArgumentParser) -> None:
    """The Slurm options of ``kcf start --slurm`` (besides ``--slurm`` itself and the
    command's own ``--timeout``, ``--json``, ``KERNELSPEC`` and ``-- ARGV``)."""
    p.add_argument(
        "--slurm-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="an sbatch/srun argument, one per option, written with '=' "
        "(--slurm-arg=--partition=gpu --slurm-arg=--time=1:00:00)",
    )
    p.add_argument(
        "--slurm-srun", action="store_true", help="run the kernel as an srun step, not sbatch"
    )
    p.add_argument(
        "--slurm-python", default=sys.executable, metavar="PATH", help="the Python on the nodes"
    )
    p.add_argument(
        "--slurm-registration-ip",
        default=None,
        metavar="ADDR",
        help="the address the node calls back (default: the one routing to the controller)",
    )
    p.add_argument(
        "--slurm-grace",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="seconds the kernel outlives a lost launcher (default 60)",
    )


def run(args: argparse.Namespace) -> int:
    """Start the kernel, report it, wait for a stop signal, shut it down. Exit status."""
    stop = threading.Event()

    def progress(status: JobStatus) -> None:
        print(f"kcf: {status}", file=sys.stderr, flush=True)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            return
        stop.set()
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        kernel = start_slurm_kernel(
            options=SlurmOptions(extra_args=tuple(args.slurm_arg)),
            kernelspec=getattr(args, "kernelspec", None),
            argv=getattr(args, "argv", None) or None,
            python=args.slurm_python,
            use_srun=args.slurm_srun,
            registration_ip=args.slurm_registration_ip,
            timeout=args.timeout,
            grace=args.slurm_grace,
            on_status=progress,
            connection_file=getattr(args, "connection_file", None),
        )
    except KcfError as exc:
        print(f"kcf: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("kcf: stopped while starting; the job was cancelled", file=sys.stderr)
        return 130
    with kernel:
        path = str(kernel.connection_file)
        if getattr(args, "json", False):
            print(json.dumps({"path": path, "slurm_job_id": kernel.job_id, "node": kernel.node}))
        else:
            print(path)
            print(
                f"kernel running in Slurm job {kernel.job_id} on {kernel.node}; Ctrl-C to stop it",
                file=sys.stderr,
            )
        sys.stdout.flush()
        try:
            while not kernel.wait(1.0):  # short waits: signal handlers run in between
                pass
        except KeyboardInterrupt:
            return 0
    print(
        f"kcf: the kernel in Slurm job {kernel.job_id} ended (status {kernel.exit_status})",
        file=sys.stderr,
    )
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kcf_client.slurm``."""
    p = argparse.ArgumentParser(
        prog="python -m kcf_client.slurm", description="Start a kernel in a Slurm job."
    )
    add_options(p)
    p.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="seconds from submission to a ready kernel (default 300); then scancel",
    )
    p.add_argument("--connection-file", default=None, metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("kernelspec", nargs="?", default=None, help="a kernelspec on the nodes")
    p.add_argument("argv", nargs="*", metavar="-- ARGV", help="the kernel's command instead")
    return run(p.parse_args(argv))
