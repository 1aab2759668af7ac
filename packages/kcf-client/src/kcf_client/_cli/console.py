"""``kcf console``: attach jupyter-console (or qtconsole) to a kernel."""

from __future__ import annotations

import argparse
import contextlib
import os

from ._args import Parser, add_ssh_options
from ._output import Out

__all__ = ["add_arguments", "run"]


def add_arguments(p: Parser) -> None:
    p.add_argument(
        "file", metavar="FILE", nargs="?", default=None, help="default: the newest kernel-*.json"
    )
    p.add_argument("--qt", action="store_true", help="use qtconsole")
    p.add_argument("extra", nargs="*", metavar="-- ARGS", help="arguments for the console")
    add_ssh_options(p)


def run(args: argparse.Namespace, out: Out) -> int:
    from kcf_client._console import console_argv

    from ._reach import find, reach

    path = find(args.file or "kernel-*.json", out)
    frontend = "qtconsole" if args.qt else "console"
    # Checked here, with our error (file, JSON pointer): jupyter-console would crash with
    # its own traceback, or wait forever for a kernel that cannot be reached.
    with reach(path, args) as info:
        if args.ssh is None:
            return _run_console(console_argv(path, frontend, args.extra))
        from kcf_kernel import write_connection_file

        local = write_connection_file(info)
        try:
            return _run_console(console_argv(local, frontend, args.extra))
        finally:
            with contextlib.suppress(OSError):
                os.unlink(local)


def _run_console(argv: list[str]) -> int:
    import subprocess

    proc = subprocess.Popen(argv)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:  # the console handles Ctrl-C itself
            continue
