"""``kcf start``: start a kernel and keep it running until a stop signal."""

from __future__ import annotations

import argparse
import sys

from ._args import Parser, add_kernel_options
from ._lifecycle import RunningKernel, Stopped, StopSignals
from ._output import FAILED, OK, Out, exit_status_text

__all__ = ["add_arguments", "run"]


def add_arguments(p: Parser) -> None:
    add_kernel_options(p)
    p.add_argument(
        "argv",
        nargs="*",
        metavar="-- ARGV",
        help="the kernel's command ({connection_file} is replaced)",
    )


def run(args: argparse.Namespace, out: Out, signals: StopSignals) -> int:
    started = False
    try:
        with RunningKernel(args, signals) as running:
            kernel = running.kernel
            running.wait_until_ready(args.timeout)
            started = True
            path = kernel.connection_file
            out.emit(
                {"path": str(path), "pid": kernel.pid},
                f"{path}\nkernel running (pid {kernel.pid}); Ctrl-C to stop it",
            )
            sys.stdout.flush()
            with signals.interruptible():
                code = kernel.popen.wait()
    except Stopped as stop:
        # Stopping a running kernel is how `kcf start` ends; during start-up it is not.
        return OK if started else 128 + stop.signum
    print(f"kcf: kernel {exit_status_text(code)}", file=sys.stderr)
    return FAILED
