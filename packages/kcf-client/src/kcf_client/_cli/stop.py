"""``kcf stop``: end a kernel by its connection file."""

from __future__ import annotations

import argparse

from ._args import Parser, positive_float
from ._output import FAILED, OK, Out

__all__ = ["add_arguments", "run"]


def add_arguments(p: Parser) -> None:
    p.add_argument("file", metavar="FILE")
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=10.0,
        help="seconds to wait for the kernel to be gone (default 10)",
    )


def run(args: argparse.Namespace, out: Out) -> int:
    from kcf_client._stop import stop_kernel

    from ._reach import find

    res = stop_kernel(find(args.file, out), timeout=args.timeout)
    doc = {
        "path": str(res.path),
        "replied": res.replied,
        "gone": res.gone,
        "file_removed": res.file_removed,
        "reason": res.reason,
    }
    if res.gone:
        kept = "" if res.file_removed else "; the file was not removed (no longer this kernel's)"
        out.emit(doc, f"{res.path}: kernel stopped ({res.reason}){kept}")
        return OK
    if out.json:
        out.emit(doc, "")
    else:
        out.error(
            f"{res.path}: the heartbeat stopped but the kernel is not provably gone "
            f"({res.reason}); the file is kept",
            "NotProvablyGone",
            FAILED,
        )
    return FAILED
