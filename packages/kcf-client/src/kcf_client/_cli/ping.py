"""``kcf ping``: ping a kernel's heartbeat."""

from __future__ import annotations

import argparse

from ._args import Parser, add_ssh_options, positive_float, positive_int
from ._output import OK, TIMEOUT, Out, one_line

__all__ = ["add_arguments", "run"]


def add_arguments(p: Parser) -> None:
    p.add_argument("file", metavar="FILE")
    p.add_argument("--timeout", type=positive_float, default=1.0, help="seconds (default 1)")
    p.add_argument("--count", type=positive_int, default=1, help="pings to send (default 1)")
    add_ssh_options(p)


def run(args: argparse.Namespace, out: Out) -> int:
    from kcf_client._blocking import KernelConnection
    from kcf_client._errors import KernelTimeout

    from ._reach import find, reach

    path = find(args.file, out)
    rtts: list[float] = []
    failure: KernelTimeout | None = None
    with reach(path, args) as info, KernelConnection(info, path=path) as kc:
        for i in range(args.count):
            try:
                rtts.append(kc.ping(args.timeout))
            except KernelTimeout as exc:
                if i == args.count - 1 or not rtts:  # silent from the start, or at the end
                    failure = exc
                    break
    if failure is not None:
        if not out.json:
            raise failure
        out.emit({"path": str(path), "alive": False, "rtt": rtts, "error": one_line(failure)}, "")
        return TIMEOUT
    best = min(rtts)
    out.emit(
        {"path": str(path), "alive": True, "rtt": rtts},
        f"{path}: alive (heartbeat round trip {best * 1e3:.2f} ms)",
    )
    return OK
