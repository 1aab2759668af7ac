"""The command line of Slurm kernels: what ``kcf start --slurm`` runs.

``python -m kcf_client.slurm [--slurm-arg=ARG ...] [KERNELSPEC] [-- ARGV]`` starts a kernel in
a Slurm job, prints its connection file (and job id), shows the job's state and pending
reason on stderr as they change, and keeps the kernel until Ctrl-C / SIGTERM / SIGHUP, then
shuts it down and cancels the job. ``kcf start --slurm`` runs the same through
:func:`add_options` and :func:`run`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from kcf_spec import KcfError

from kcf_client._stop_signals import raise_on_stop_signals

from ._commands import JobStatus
from ._errors import SlurmOptionError
from ._kernel import start_slurm_kernel
from ._options import SlurmOptions

__all__ = ["add_options", "kernel_choice", "run", "main"]


def add_options(p: argparse.ArgumentParser) -> None:
    """The Slurm options of ``kcf start --slurm`` (besides ``--slurm`` itself and the
    command's own ``--json`` and ``KERNELSPEC | -- ARGV``)."""
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
        "--slurm-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="seconds from submission to a ready kernel, queue included (default 300); "
        "then the job is cancelled",
    )
    p.add_argument(
        "--slurm-grace",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="seconds the kernel outlives a lost launcher (default 60)",
    )


def kernel_choice(args: argparse.Namespace) -> tuple[str | None, list[str] | None]:
    """The kernelspec (``KERNELSPEC`` or ``--kernel NAME``) or the argv (after ``--``) to run
    on the node; neither: ipykernel with the nodes' Python.

    Raises:
        SlurmOptionError: both a kernelspec and an argv.
    """
    spec = getattr(args, "kernelspec", None)
    named = getattr(args, "kernel", None)
    if spec is None and named not in (None, "auto", "ipykernel"):
        spec = named
    argv = list(getattr(args, "argv", None) or []) or None
    if spec == "example":  # kcf's example kernel, as kcf start --kernel example
        from kcf_kernel import example_kernel_argv

        spec, argv = None, [args.slurm_python, *example_kernel_argv()[1:]]
    if spec is not None and argv is not None:
        raise SlurmOptionError("argv", argv, "a kernelspec or '-- ARGV', not both")
    return spec, argv


def run(
    args: argparse.Namespace,
    *,
    interruptible: Callable[[], AbstractContextManager[object]] | None = None,
    emit: Callable[[object, str], None] | None = None,
) -> int:
    """Start the kernel, report it, wait for a stop signal, shut it down; the exit status.

    Args:
        args: ``add_options``' options and, when present, ``kernelspec``, ``kernel``,
            ``argv`` (see :func:`kernel_choice`), ``ports``, ``connection_file``, ``json``.
        interruptible: the caller's stop-signal seam (``kcf``: ``StopSignals.interruptible``,
            whose signals raise a ``KeyboardInterrupt`` inside it); ``None``: SIGTERM and
            SIGHUP raise ``KeyboardInterrupt`` here, as SIGINT does.
        emit: prints ``(data, text)`` (``kcf``: ``Out.emit``, JSON or text); ``None``: the
            connection file's path on stdout, or JSON with ``--json``.
    """
    if interruptible is None:
        raise_on_stop_signals()
        interruptible = contextlib.nullcontext

    def progress(status: JobStatus) -> None:
        print(f"kcf: {status}", file=sys.stderr, flush=True)

    try:
        kernelspec, argv = kernel_choice(args)
        with interruptible():
            kernel = start_slurm_kernel(
                options=SlurmOptions(extra_args=tuple(args.slurm_arg)),
                kernelspec=kernelspec,
                argv=argv,
                strategy=getattr(args, "ports", None) or "auto",
                python=args.slurm_python,
                use_srun=args.slurm_srun,
                registration_ip=args.slurm_registration_ip,
                timeout=args.slurm_timeout,
                grace=args.slurm_grace,
                on_status=progress,
                connection_file=getattr(args, "connection_file", None),
            )
    except KcfError as exc:
        print(f"kcf: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print("kcf: stopped while starting; the job was cancelled", file=sys.stderr)
        return 128 + getattr(exc, "signum", signal.SIGINT)
    with kernel:
        path = str(kernel.connection_file)
        data = {"path": path, "slurm_job_id": kernel.job_id, "node": kernel.node}
        running = f"kernel running in Slurm job {kernel.job_id} on {kernel.node}; Ctrl-C to stop it"
        text = f"{path}\n{running}"
        if emit is not None:
            emit(data, text)
        elif getattr(args, "json", False):
            print(json.dumps(data))
        else:
            print(path)
            print(running, file=sys.stderr)
        sys.stdout.flush()
        try:
            with interruptible():
                while not kernel.wait(1.0):  # short waits: signal handlers run in between
                    pass
        except KeyboardInterrupt:
            return 0  # stopping a running kernel is how the command ends
    print(
        f"kcf: the kernel in Slurm job {kernel.job_id} ended (status {kernel.exit_status})",
        file=sys.stderr,
    )
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kcf_client.slurm [options] [KERNELSPEC | -- ARGV...]``."""
    p = argparse.ArgumentParser(
        prog="python -m kcf_client.slurm",
        usage="python -m kcf_client.slurm [options] [KERNELSPEC | -- ARGV...]",
        description="Start a kernel in a Slurm job.",
    )
    add_options(p)
    p.add_argument("--connection-file", default=None, metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument(
        "kernelspec", nargs="?", default=None, help="a kernelspec on the nodes (default: ipykernel)"
    )
    words = list(sys.argv[1:] if argv is None else argv)
    trailing: list[str] = []
    if "--" in words:  # the kernel's command: never read as options
        cut = words.index("--")
        words, trailing = words[:cut], words[cut + 1 :]
    args = p.parse_args(words)
    args.argv = trailing
    return run(args)
