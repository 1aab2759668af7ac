"""``kcf``'s entry point: build the parser for the command at hand, run it, map errors.

Only the ``kcf`` command prints. Every error is one line, ``kcf: error: ...`` on stderr
(with ``--json``: one JSON document on stdout), unless ``--debug``.
"""

from __future__ import annotations

import sys

from ._commands import COMMANDS, NEEDS_SIGNALS
from ._output import (
    ERROR,
    EXIT_CODES,
    FAILED,
    INTERRUPTED,
    NOT_FOUND,
    OK,
    TIMEOUT,
    USAGE,
    CliError,
    Out,
    one_line,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from ._args import Parser
    from ._lifecycle import StopSignals


__all__ = ["main", "parse"]

_EPILOG = (
    "FILE is a path, a name or a glob: 'abc' finds kernel-abc.json in the current\n"
    "directory or the runtime directory. Among several matches the newest\n"
    "kernel-*abc*.json wins, then other *.json files; a note on stderr says which.\n\n"
    "With --json, stdout holds one JSON document, errors included:\n"
    '  {"error": {"message": ..., "type": ..., "exit_code": ...}}\n\nexit codes:\n'
    + "\n".join(f"  {code:<4} {text}" for code, text in EXIT_CODES.items())
)


def _command_word(args: Sequence[str]) -> str | None:
    """The command named in ``args`` (the first word not an option), if any."""
    for arg in args:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg
    return None


def _parser(command: str | None) -> Parser:
    """The ``kcf`` parser; only ``command``'s own options are built (and its module imported)."""
    from kcf_client import __version__

    from ._args import Parser, RawDescriptionHelpFormatter, add_output_options

    p = Parser(
        prog="kcf",
        description="Find, inspect, check and talk to Jupyter kernels "
        "through their connection files.",
        epilog=_EPILOG,
        formatter_class=RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--json", action="store_true", default=False, help="print one JSON document instead of text"
    )
    p.add_argument("--debug", action="store_true", default=False, help="show tracebacks on errors")
    p.add_argument("--version", action="version", version=f"kcf {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name, (module, text) in COMMANDS.items():
        sp: Parser = sub.add_parser(name, help=text, description=text)
        if name != command:
            continue
        add_output_options(sp)
        import importlib

        mod = importlib.import_module(f"{__package__}.{module}")
        mod.add_arguments(sp)
        sp.set_defaults(run=mod.run)
    return p


def parse(args_list: Sequence[str]) -> argparse.Namespace:
    """Parse ``kcf`` arguments; everything after the first ``--`` goes to the started program.

    argparse cannot place ``--`` arguments after an optional positional
    (``kcf console FILE -- ARGS``), so they are split off first and given to the command's
    ``extra`` (console) or ``argv`` (start) list.

    Raises:
        UsageError: bad arguments, or arguments after ``--`` for a command without any.
    """
    from ._args import UsageError

    words = list(args_list)
    trailing: list[str] | None = None
    if "--" in words:
        cut = words.index("--")
        words, trailing = words[:cut], words[cut + 1 :]
    args = _parser(_command_word(words)).parse_args(words)
    if trailing is not None:
        slot = next(
            (n for n in ("extra", "argv") if isinstance(getattr(args, n, None), list)), None
        )
        if slot is None:
            raise UsageError(f"'kcf {args.command}' takes no arguments after '--'")
        getattr(args, slot).extend(trailing)
    return args


def _exit_code(exc: BaseException) -> int:
    from kcf_kernel import NoSuchKernelSpec
    from kcf_spec import ConnectionFileError, ConnectionFileNotFound

    from kcf_client._errors import KernelDied, KernelTimeout, ProgramNotFound

    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, (ConnectionFileNotFound, ProgramNotFound, NoSuchKernelSpec)):
        return NOT_FOUND
    if isinstance(exc, (KernelTimeout, KernelDied)):
        return TIMEOUT
    if isinstance(exc, ConnectionFileError):
        return FAILED
    return ERROR


def _quiet_stdout() -> None:
    """The reader closed our stdout (``kcf list | head -1``): send the rest nowhere, so the
    interpreter's final flush does not fail too."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # not a real file (captured): nothing to flush at exit
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``kcf`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    .. versionadded:: 0.1.0
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list == ["--version"]:  # the one answer that needs no parser (argparse costs ~10 ms)
        from kcf_client import __version__

        print(f"kcf {__version__}")
        return OK
    signals: StopSignals | None = None
    if _command_word(args_list) in NEEDS_SIGNALS:
        from ._lifecycle import StopSignals

        signals = StopSignals()
        signals.install()  # before anything is started: no signal can orphan it
    try:
        return _main(args_list, signals)
    finally:
        if signals is not None:
            signals.restore()


def _main(args_list: list[str], signals: StopSignals | None) -> int:
    head = args_list[: args_list.index("--")] if "--" in args_list else args_list
    out = Out("--json" in head)
    from ._args import UsageError

    try:
        args = parse(args_list)
    except UsageError as exc:
        out.error(str(exc), "UsageError", USAGE)
        return USAGE
    from kcf_spec import KcfError  # after parsing: `kcf --version` and `--help` never need it

    debug = bool(args.debug)
    out = Out(bool(args.json))
    try:
        if signals is not None:
            code = int(args.run(args, out, signals))
        else:
            code = int(args.run(args, out))
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return OK
    except KeyboardInterrupt as exc:
        if debug:
            raise
        # A stop signal (see _lifecycle.Stopped) exits as the shell shows one: 128 + its number.
        return 128 + int(getattr(exc, "signum", INTERRUPTED - 128))
    except (KcfError, CliError, OSError) as exc:
        if debug:
            raise
        if signals is not None and signals.received is not None:
            return 128 + signals.received  # what failed did because we were stopping it
        code = _exit_code(exc)
        out.error(one_line(exc), type(exc).__name__, code)
        return code
