"""``kcf run``: start a kernel, find it, run code, print the result, shut it down."""

from __future__ import annotations

import argparse
import sys

from ._args import Parser, add_kernel_options
from ._lifecycle import RunningKernel, StopSignals
from ._output import Out
from .execute import print_result, read_code

__all__ = ["add_arguments", "run"]


def add_arguments(p: Parser) -> None:
    p.add_argument("code", metavar="CODE", help="the code; '-' reads it from stdin")
    add_kernel_options(p)
    p.set_defaults(argv=None)


def run(args: argparse.Namespace, out: Out, signals: StopSignals) -> int:
    from kcf_spec import ConnectionInfo

    from kcf_client._blocking import KernelConnection

    from ._reach import find

    code = read_code(args.code)
    with RunningKernel(args, signals) as running:
        running.wait_until_ready(args.timeout)
        # Find it as any other client would: by the name of the file it wrote.
        path = find(running.kernel.connection_file.name, out)
        with (
            KernelConnection(ConnectionInfo.load(path), path=path) as kc,
            running.end_on_stop(),
        ):
            result = kc.execute(code, timeout=args.timeout)
        signals.act()  # stopped while the code ran: no result to print
    sys.stdout.flush()
    return print_result(result, out)
