"""``kcf exec``: run code in a kernel and print its output."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ._args import Parser, add_ssh_options, positive_float
from ._output import FAILED, OK, TIMEOUT, Out, strip_ansi

if TYPE_CHECKING:
    from kcf_client._blocking import KernelConnection
    from kcf_client._results import ExecuteResult

__all__ = ["add_arguments", "run", "print_result", "read_code"]


def add_arguments(p: Parser) -> None:
    p.add_argument("file", metavar="FILE")
    p.add_argument("code", metavar="CODE", help="the code; '-' reads it from stdin")
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=None,
        help="seconds (default: none); code still running then is interrupted",
    )
    add_ssh_options(p)


def read_code(code: str) -> str:
    """The code argument, or stdin for ``-``."""
    return sys.stdin.read() if code == "-" else code


def run(args: argparse.Namespace, out: Out) -> int:
    from kcf_client._blocking import KernelConnection
    from kcf_client._errors import KernelTimeout

    from ._reach import find, reach

    path = find(args.file, out)
    code = read_code(args.code)
    with reach(path, args) as info, KernelConnection(info, path=path) as kc:
        kc.wait_until_ready(args.timeout or 30.0)
        try:
            result = kc.execute(code, timeout=args.timeout)
        except KernelTimeout as exc:
            if exc.request != "execute_request":
                raise
            what = _interrupt(kc)
            message = f"{exc}; {what}"
            out.error(message, type(exc).__name__, TIMEOUT)
            return TIMEOUT
    return print_result(result, out)


def _interrupt(kc: KernelConnection) -> str:
    """Interrupt the code still running, and say how (or that it could not be)."""
    from kcf_client._errors import ClientError

    try:
        kc.interrupt(timeout=5.0)
    except ClientError:
        return (
            "sent interrupt_request, but the kernel did not answer it: the code may still "
            "be running"
        )
    return "interrupted it (interrupt_request)"


def print_result(result: ExecuteResult, out: Out) -> int:
    """Print what running code produced; exit code 0 if it ran without error, else 1.

    The traceback is shown as the kernel sent it; its colours only on a terminal.
    """
    if out.json:
        out.emit(result.to_dict(), "")
        return OK if result.ok else FAILED
    if result.stdout:
        sys.stdout.write(result.stdout)
    if result.stderr:
        sys.stderr.write(result.stderr)
    if result.text is not None:
        print(result.text)
    sys.stdout.flush()
    if result.error is not None:
        err = result.error
        text = "\n".join(err.traceback) if err.traceback else f"{err.ename}: {err.evalue}"
        if not sys.stderr.isatty():
            text = strip_ansi(text)
        print(text, file=sys.stderr)
    elif result.status != "ok":
        print(f"execution {result.status}", file=sys.stderr)
    return OK if result.ok else FAILED
