"""Argument types and option groups that several commands share."""

from __future__ import annotations

import argparse
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

__all__ = [
    "Parser",
    "HelpFormatter",
    "RawDescriptionHelpFormatter",
    "UsageError",
    "positive_float",
    "nonnegative_float",
    "positive_int",
    "add_ssh_options",
    "add_ssh_files",
    "add_ssh_backend",
    "add_dir_options",
    "add_kernel_options",
    "add_output_options",
    "port_range",
    "KERNEL_WORDS",
]


class UsageError(Exception):
    """Bad arguments (exit code 2)."""


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size().columns`` gives it (``$COLUMNS``,
    else stdout's terminal, else 80), without importing :mod:`shutil` and the compression
    modules it pulls in (argparse imports it to size every formatter it makes, and it makes
    one per ``add_argument``)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):  # no stdout, closed, or not a terminal
            columns = 0
        columns = columns or 80
    return columns


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help formatter, as wide as argparse makes it (the terminal's width less 2)."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        super().__init__(
            prog, indent_increment, max_help_position, _columns() - 2 if width is None else width
        )


class RawDescriptionHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """:class:`HelpFormatter` keeping descriptions and epilogs as written."""


class Parser(argparse.ArgumentParser):
    """An argument parser that raises :class:`UsageError` instead of exiting, and formats its
    help with :class:`HelpFormatter` unless told otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        where = self.prog.removeprefix("kcf").strip()
        raise UsageError(f"{where}: {message}" if where else message)


def add_output_options(p: argparse.ArgumentParser) -> None:
    """``--json`` and ``--debug`` after a command's name too (``kcf list --json``); the
    top-level parser holds their defaults."""
    p.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print one JSON document instead of text",
    )
    p.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks on errors",
    )


def _number(text: str, kind: type[float] | type[int], lowest: float, strict: bool) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    import math

    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    if value < lowest or (strict and value == lowest):
        bound = f"greater than {lowest:g}" if strict else f"at least {lowest:g}"
        raise argparse.ArgumentTypeError(f"must be {bound}, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A float > 0 (a timeout: 0 or less would never wait, or wait forever)."""
    return float(_number(text, float, 0.0, strict=True))


def nonnegative_float(text: str) -> float:
    """A float >= 0."""
    return float(_number(text, float, 0.0, strict=False))


def positive_int(text: str) -> int:
    """An int >= 1."""
    return int(_number(text, int, 1, strict=False))


def add_ssh_files(p: argparse.ArgumentParser) -> None:
    """``--ssh-config`` and ``--ssh-identity``."""
    p.add_argument(
        "--ssh-config",
        metavar="FILE",
        default=None,
        help="ssh configuration file (default ~/.ssh/config)",
    )
    p.add_argument("--ssh-identity", metavar="FILE", default=None, help="private key to try first")


def add_ssh_backend(p: argparse.ArgumentParser) -> None:
    """``--ssh-backend`` and ``--accept-new``."""
    p.add_argument(
        "--ssh-backend",
        default="auto",
        choices=["auto", "openssh", "paramiko"],
        help="how to run the tunnel (default: auto)",
    )
    p.add_argument(
        "--accept-new", action="store_true", help="accept and remember an unknown host key"
    )


def add_ssh_options(p: argparse.ArgumentParser) -> None:
    """``--ssh SERVER`` and the tunnel's options, for commands that talk to a kernel."""
    p.add_argument(
        "--ssh",
        metavar="SERVER",
        default=None,
        help="reach the kernel through an SSH tunnel to [user@]host[:port]",
    )
    add_ssh_backend(p)
    add_ssh_files(p)


def add_dir_options(p: argparse.ArgumentParser) -> None:
    """``--dir``, ``--pattern`` and the heartbeat ``--timeout`` (list, prune)."""
    p.add_argument(
        "--dir",
        action="append",
        metavar="DIR",
        help="look in DIR (repeatable; default the runtime directory)",
    )
    p.add_argument("--pattern", default=None, help="file names to consider (default kernel-*.json)")
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=1.0,
        help="seconds to wait for the heartbeats (default 1)",
    )


def port_range(text: str) -> tuple[int, int]:
    """``LOW-HIGH``: the ports the ``reserve`` strategy chooses from (both inclusive)."""
    # kcf_kernel's own parser of $KCF_PORT_RANGE: one rule for both ways of giving a range.
    from kcf_kernel import parse_port_range

    try:
        return parse_port_range(text, "--port-range")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--port-range: ")) from None


#: ``--kernel`` words that are not kernelspec names.
KERNEL_WORDS = ("auto", "ipykernel", "example")


def add_kernel_options(p: argparse.ArgumentParser) -> None:
    """Which kernel to start, how it gets its ports, how long to wait for it (start, run)."""
    p.add_argument(
        "--kernel",
        metavar="KERNEL",
        default=None,
        help="a kernelspec name (see 'kcf kernelspec list'), or: auto (default: ipykernel "
        "when installed, else kcf's example kernel), ipykernel, example",
    )
    p.add_argument(
        "--ports",
        choices=["reserve", "kernel", "handshake"],
        default=None,
        help="how the kernel gets its ports (default: the strategy 'kcf kernelspec list' "
        "shows): reserve: kcf chooses them outside the ephemeral range and reserves them; "
        "kernel: the kernel binds port 0 and writes them back; handshake: the kernel binds "
        "and reports them (JEP 66)",
    )
    p.add_argument(
        "--port-range",
        type=port_range,
        metavar="LOW-HIGH",
        default=None,
        help="the ports 'reserve' chooses from (default $KCF_PORT_RANGE, else 20000-32767)",
    )
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=30.0,
        help="seconds to wait for the kernel (default 30)",
    )
    p.add_argument(
        "--kernel-output",
        action="store_true",
        help="let the kernel's own stdout/stderr through",
    )
