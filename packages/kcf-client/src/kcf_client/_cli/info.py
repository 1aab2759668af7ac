"""``kcf info``: show what a connection file says."""

from __future__ import annotations

import argparse

from ._args import Parser
from ._output import OK, Out

__all__ = ["add_arguments", "run"]


def add_arguments(p: Parser) -> None:
    p.add_argument("file", metavar="FILE")
    p.add_argument("--show-key", action="store_true", help="print the key too")


def run(args: argparse.Namespace, out: Out) -> int:
    from kcf_spec import ConnectionInfo

    from ._reach import find

    path = find(args.file, out)
    info = ConnectionInfo.load(path)
    data = info.to_dict()
    if not args.show_key:
        data["key"] = "<hidden>" if info.key else ""
        if info.curve_secretkey is not None:
            data["curve_secretkey"] = "<hidden>"
    mode = f"{path.stat().st_mode & 0o777:04o}"
    doc = {
        "path": str(path),
        "mode": mode,
        "mtime": path.stat().st_mtime,
        "connection": data,
        "endpoints": {c.value: info.connect_url(c) for c, _ in info},
    }

    def text() -> str:
        lines = [
            f"file:      {path}",
            f"mode:      {mode}",
            f"kernel:    {info.kernel_name or '-'}",
            f"transport: {info.transport}",
            f"address:   {info.ip}",
            f"scheme:    {info.signature_scheme}"
            + ("" if info.signed else " (unsigned: empty key)"),
            f"curve:     {'yes' if info.curve_publickey else 'no'}",
        ]
        if args.show_key:
            lines.append(f"key:       {data['key']}")
            if info.curve_secretkey is not None:
                lines.append(f"curve key: {data['curve_secretkey']}")
        lines += [f"{c.value + ':':<10} {info.connect_url(c)}" for c, _ in info]
        return "\n".join(lines)

    out.emit(doc, text)
    return OK
