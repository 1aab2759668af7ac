"""``python -m kcf_client.remote --ssh HOST [--remote-python PATH] [KERNELSPEC] [-- ARGV...]``.

Starts a remote kernel, prints the local connection file, and keeps the connection (and
its healing) until interrupted; then shuts the kernel down. The ``kcf start --ssh`` command
of the CLI package is meant to call :func:`run` (see ``docs/remote.md``).

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from kcf_spec import KcfError

from . import start_remote_kernel

__all__ = ["main", "run"]


def run(args: argparse.Namespace) -> int:
    """Run the command for parsed ``args`` (``ssh``, ``remote_python``, ``kernelspec``,
    ``argv``, ``grace``, ``backend``); the CLI's one entry."""
    try:
        kernel = start_remote_kernel(
            args.ssh,
            remote_python=args.remote_python,
            kernelspec=args.kernelspec,
            argv=args.argv or None,
            grace=args.grace,
            backend=args.backend,
        )
    except KcfError as exc:
        print(f"kcf: {exc}", file=sys.stderr)  # noqa: T201 - the command's output
        return 1
    with kernel:
        print(kernel.connection_file, flush=True)  # noqa: T201 - the command's output
        try:
            kernel.wait()
        except KeyboardInterrupt:
            return 0
    if kernel.error is not None:
        print(f"kcf: {kernel.error}", file=sys.stderr)  # noqa: T201 - the command's output
        return 1
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``kcf start --ssh``."""
    parser.add_argument("--ssh", required=True, metavar="[USER@]HOST[:PORT]")
    parser.add_argument("--remote-python", default="python3", metavar="PATH")
    parser.add_argument("--grace", type=float, default=60.0, metavar="SECONDS")
    parser.add_argument("--backend", choices=("auto", "openssh"), default="auto")
    parser.add_argument("kernelspec", nargs="?")
    parser.add_argument("argv", nargs=argparse.REMAINDER)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and :func:`run`."""
    parser = argparse.ArgumentParser(prog="python -m kcf_client.remote")
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.argv and args.argv[0] == "--":
        args.argv = args.argv[1:]
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
