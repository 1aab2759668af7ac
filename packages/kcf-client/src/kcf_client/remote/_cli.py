"""The command line of remote kernels: what ``kcf start --ssh`` runs.

``python -m kcf_client.remote --ssh HOST [--remote-python PATH] [KERNELSPEC] [-- ARGV...]``
starts a kernel on ``HOST``, prints the local connection file, and keeps the kernel (and the
connection's healing) until Ctrl-C / SIGTERM / SIGHUP or until the kernel ends (``kcf stop
FILE``); then shuts it down, with nothing left on either side. ``kcf start --ssh`` runs the
same through :func:`add_options` and :func:`run`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from kcf_spec import KcfError

from kcf_client._stop_signals import raise_on_stop_signals

from ._kernel import start_remote_kernel

__all__ = ["add_options", "kernel_choice", "run", "main"]

#: ``--kernel`` words meaning "ipykernel with the remote Python" (start_remote_kernel's default).
_DEFAULT_WORDS = (None, "auto", "ipykernel")


def add_options(p: argparse.ArgumentParser) -> None:
    """The remote options of ``kcf start --ssh`` (besides ``--ssh`` itself and the command's
    own ``KERNELSPEC | -- ARGV``, ``--kernel``, ``--ports``, ``--timeout``, ``--json``)."""
    from kcf_client._cli._args import add_ssh_backend, add_ssh_files, positive_float

    p.add_argument(
        "--remote-python",
        default="python3",
        metavar="PATH",
        help="with --ssh: the Python on the host that has kcf-kernel and the kernel "
        "(default python3)",
    )
    p.add_argument(
        "--grace",
        type=positive_float,
        default=60.0,
        metavar="SECONDS",
        help="with --ssh: seconds the remote kernel outlives a dropped connection (default 60)",
    )
    p.add_argument(
        "--known-hosts",
        default=None,
        metavar="FILE",
        help="with --ssh: a known_hosts file instead of the configured ones",
    )
    add_ssh_backend(p)
    add_ssh_files(p)


def kernel_choice(args: argparse.Namespace) -> tuple[str | None, list[str] | None]:
    """The kernelspec (``KERNELSPEC`` or ``--kernel NAME``) or the argv (after ``--``) to run
    on the host; neither: ipykernel with the remote Python.

    Raises:
        ValueError: both a kernelspec and an argv, or two different kernelspecs.
    """
    spec = getattr(args, "kernelspec", None)
    named = getattr(args, "kernel", None)
    if spec is not None and named not in _DEFAULT_WORDS and named != spec:
        raise ValueError(f"two kernels named: {spec!r} and --kernel {named!r}")
    if spec is None and named not in _DEFAULT_WORDS:
        spec = named
    argv = list(getattr(args, "argv", None) or []) or None
    if spec == "example":  # kcf's example kernel, as kcf start --kernel example
        from kcf_kernel import example_kernel_argv

        spec, argv = None, [args.remote_python, *example_kernel_argv()[1:]]
    elif spec in ("auto", "ipykernel"):
        spec = None
    if spec is not None and argv is not None:
        raise ValueError("give a kernelspec (or --kernel) or '-- ARGV', not both")
    return spec, argv


def run(
    args: argparse.Namespace,
    *,
    interruptible: Callable[[], AbstractContextManager[object]] | None = None,
    emit: Callable[[object, str], None] | None = None,
) -> int:
    """Start the kernel, report it, wait for a stop signal or its end, shut it down.

    Args:
        args: :func:`add_options`' options, ``ssh``, and when present ``kernelspec``,
            ``kernel``, ``argv`` (see :func:`kernel_choice`), ``ports``, ``timeout``,
            ``connection_file``, ``json``.
        interruptible: the caller's stop-signal seam (``kcf``: ``StopSignals.interruptible``,
            whose signals raise a ``KeyboardInterrupt`` inside it); ``None``: SIGTERM and
            SIGHUP raise ``KeyboardInterrupt`` here, as SIGINT does.
        emit: prints ``(data, text)`` (``kcf``: ``Out.emit``); ``None``: the connection
            file's path on stdout, or JSON with ``--json``. With ``emit``, a failed start
            raises (the caller maps it); without, it is one line on stderr.

    Raises:
        KcfError: (only with ``emit``) the start failed.
        ValueError: (only with ``emit``) a kernelspec and an argv both given.

    Returns:
        0 when stopped by a signal; 1 when the start failed or the kernel ended by itself
        (or was lost); 128 + the signal when stopped while starting.
    """
    if interruptible is None:
        raise_on_stop_signals()
        interruptible = contextlib.nullcontext
    try:
        kernelspec, argv = kernel_choice(args)
        with interruptible():
            kernel = start_remote_kernel(
                args.ssh,
                remote_python=args.remote_python,
                kernelspec=kernelspec,
                argv=argv,
                strategy=getattr(args, "ports", None) or "auto",
                grace=args.grace,
                timeout=getattr(args, "timeout", None) or 60.0,
                backend=args.ssh_backend,
                accept_new=args.accept_new,
                ssh_config=args.ssh_config,
                identity_file=args.ssh_identity,
                known_hosts=args.known_hosts,
                connection_file=getattr(args, "connection_file", None),
            )
    except (KcfError, ValueError) as exc:
        if emit is not None:
            raise
        print(f"kcf: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print("kcf: stopped while starting; nothing was left running", file=sys.stderr)
        return 128 + int(getattr(exc, "signum", signal.SIGINT))
    with kernel:
        path = str(kernel.connection_file)
        data = {"path": path, "host": args.ssh, "pid": kernel.pid, "backend": kernel.backend}
        running = f"kernel running on {args.ssh} (pid {kernel.pid}); Ctrl-C to stop it"
        if emit is not None:
            emit(data, f"{path}\n{running}")
        elif getattr(args, "json", False):
            print(json.dumps(data))
        else:
            print(path)
            print(running, file=sys.stderr)
        sys.stdout.flush()
        try:
            with interruptible():
                while not kernel.wait(1.0):  # short waits: signal handlers run in between
                    pass
        except KeyboardInterrupt:
            return 0  # stopping a running kernel is how the command ends
    print(f"kcf: {kernel.error or 'the remote kernel ended'}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kcf_client.remote --ssh HOST [options] [KERNELSPEC | -- ARGV...]``."""
    p = argparse.ArgumentParser(
        prog="python -m kcf_client.remote",
        usage="python -m kcf_client.remote --ssh HOST [options] [KERNELSPEC | -- ARGV...]",
        description="Start a kernel on another host over SSH.",
    )
    p.add_argument("--ssh", required=True, metavar="[USER@]HOST[:PORT]")
    add_options(p)
    p.add_argument("--connection-file", default=None, metavar="FILE")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("kernelspec", nargs="?", default=None, help="a kernelspec on the host")
    words = list(sys.argv[1:] if argv is None else argv)
    trailing: list[str] = []
    if "--" in words:  # the kernel's command: never read as options, nor as KERNELSPEC
        cut = words.index("--")
        words, trailing = words[:cut], words[cut + 1 :]
    args = p.parse_args(words)
    args.argv = trailing
    return run(args)
