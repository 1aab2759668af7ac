"""``kcf start``: start a kernel and keep it running until a stop signal."""

from __future__ import annotations

import argparse
import sys

from ._args import Parser, add_kernel_options
from ._lifecycle import RunningKernel, Stopped, StopSignals
from ._output import FAILED, OK, USAGE, CliError, Out, exit_status_text

__all__ = ["add_arguments", "run"]


def add_arguments(p: Parser) -> None:
    p.usage = "kcf start [--ssh [USER@]HOST[:PORT]] [options] [KERNELSPEC | -- ARGV...]"
    p.add_argument(
        "kernelspec",
        nargs="?",
        metavar="KERNELSPEC",
        default=None,
        help="the kernelspec to start (see 'kcf kernelspec list'); same as --kernel",
    )
    add_kernel_options(p)
    p.add_argument(
        "--outlive",
        action="store_true",
        help="start the kernel, print its file and leave it running: it outlives kcf "
        "(also if kcf is killed); end it with 'kcf stop FILE'",
    )
    p.add_argument(
        "--slurm", action="store_true", help="start the kernel in a Slurm job (see --slurm-arg)"
    )
    from kcf_client.slurm._cli import add_options as add_slurm_options

    add_slurm_options(p)
    p.add_argument(
        "--ssh",
        metavar="[USER@]HOST[:PORT]",
        default=None,
        help="start the kernel on HOST over SSH; the local connection file reaches it "
        "through forwards (see --remote-python)",
    )
    from kcf_client.remote._cli import add_options

    add_options(p)
    # ARGV: everything after '--', the kernel's command ({connection_file} is replaced).
    p.set_defaults(argv=[])


def _target(args: argparse.Namespace) -> None:
    """Fold the KERNELSPEC word into ``--kernel``.

    Raises:
        CliError: (usage) it clashes with ``--kernel``, or a kernel is named and ``-- ARGV``
            given too.
    """
    if args.kernelspec is not None:
        if args.kernel is not None and args.kernel != args.kernelspec:
            raise CliError(
                f"start: two kernels named: {args.kernelspec!r} and --kernel {args.kernel!r}",
                USAGE,
            )
        args.kernel = args.kernelspec
    if args.argv and args.kernel is not None:
        raise CliError("start: give a kernelspec (or --kernel) or '-- ARGV', not both", USAGE)


def run(args: argparse.Namespace, out: Out, signals: StopSignals) -> int:
    if args.slurm and args.ssh is not None:
        raise CliError("start: --slurm or --ssh, not both", USAGE)
    if args.slurm:  # the kernel runs in a job; kcf_client.slurm does start, wait and stop
        from kcf_client.slurm._cli import run as run_slurm

        if args.outlive:
            raise CliError("start: --outlive is not for --slurm (the job has a time limit)", USAGE)
        return run_slurm(args, interruptible=signals.interruptible, emit=out.emit)
    if args.ssh is not None:  # the kernel runs on HOST; kcf_client.remote starts and stops it
        return _run_remote(args, out, signals)
    _target(args)
    started = False
    try:
        with RunningKernel(args, signals) as running:
            kernel = running.kernel
            running.wait_until_ready(args.timeout)
            started = True
            path = kernel.connection_file
            doc = {"path": str(path), "pid": kernel.pid, "ports": kernel.strategy}
            if args.outlive:
                running.detach()
                out.emit(
                    {**doc, "outlives": True},
                    f"{path}\nkernel running (pid {kernel.pid}), left running: "
                    f"'kcf stop {path}' ends it",
                )
                return OK
            out.emit(doc, f"{path}\nkernel running (pid {kernel.pid}); Ctrl-C to stop it")
            sys.stdout.flush()
            with signals.interruptible():
                code = kernel.popen.wait()
    except Stopped as stop:
        # Stopping a running kernel is how `kcf start` ends; during start-up it is not.
        return OK if started else 128 + stop.signum
    print(f"kcf: kernel {exit_status_text(code)}", file=sys.stderr)
    return FAILED


def _run_remote(args: argparse.Namespace, out: Out, signals: StopSignals) -> int:
    from kcf_client.remote._cli import kernel_choice
    from kcf_client.remote._cli import run as run_remote

    local = [
        o
        for o, on in (
            ("--outlive", args.outlive),
            ("--port-range", args.port_range),
            ("--kernel-output", args.kernel_output),
        )
        if on
    ]
    if local:
        raise CliError(f"start: {', '.join(local)} not with --ssh (a local kernel's)", USAGE)
    try:
        kernel_choice(args)
    except ValueError as exc:
        raise CliError(f"start: {exc}", USAGE) from None
    return run_remote(args, interruptible=signals.interruptible, emit=out.emit)
