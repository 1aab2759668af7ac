"""``kcf tunnel``: forward a remote kernel's ports over SSH until stopped."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from ._args import Parser, add_ssh_backend, add_ssh_files
from ._lifecycle import Stopped, StopSignals
from ._output import ERROR, OK, CliError, Out

__all__ = ["add_arguments", "run"]


def add_arguments(p: Parser) -> None:
    p.add_argument("file", metavar="FILE")
    p.add_argument("server", metavar="SERVER", help="[user@]host[:port]")
    p.add_argument("-o", "--output", default=None, help="where to write the local file")
    add_ssh_backend(p)
    add_ssh_files(p)


def run(args: argparse.Namespace, out: Out, signals: StopSignals) -> int:
    from kcf_spec import ConnectionInfo

    from ._reach import find, tunnel_to

    path = find(args.file, out)
    info = ConnectionInfo.load(path)
    with tunnel_to(info, args.server, path, args) as t:
        local = t.write_connection_file(args.output)
        try:
            out.emit(
                {"path": str(local), "remote": str(path), "server": args.server},
                f"{local}\ntunnel to {args.server} open; Ctrl-C to close it",
            )
            sys.stdout.flush()
            with signals.interruptible():
                while not t.wait(0.5):
                    pass
        except Stopped:
            return OK
        finally:
            with contextlib.suppress(OSError):
                os.unlink(local)
        t.check()  # died: TunnelDied says how (ssh's last words for OpenSSH)
    raise CliError("the tunnel closed", ERROR)
