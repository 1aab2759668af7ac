"""The ``kcf`` command: find, inspect, check, talk to, start and tidy kernels.

Only this module prints. Every error is one line, ``kcf: error: ...``, unless ``--debug``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from kcf_spec import ConnectionInfo


__all__ = ["main", "EXIT_CODES"]

OK, FAILED, USAGE, NOT_FOUND, TIMEOUT, ERROR, INTERRUPTED = 0, 1, 2, 3, 4, 5, 130

#: Exit codes, as documented in ``kcf --help`` and the README.
EXIT_CODES = {
    OK: "success",
    FAILED: "a check failed: an invalid file, code that raised, a kernel that is not alive",
    USAGE: "usage error (bad arguments)",
    NOT_FOUND: "not found: no connection file matches, or a program is not installed",
    TIMEOUT: "the kernel did not answer in time, or died",
    ERROR: "any other error (socket, file system, SSH)",
    INTERRUPTED: "interrupted (Ctrl-C)",
}

_EPILOG = (
    "FILE is a path, a name or a glob: 'abc' finds kernel-abc.json in the current\n"
    "directory or the runtime directory; several matches pick the newest.\n\nexit codes:\n"
    + "\n".join(f"  {code:<4} {text}" for code, text in EXIT_CODES.items())
)


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        where = self.prog.removeprefix("kcf").strip()
        raise _UsageError(f"{where}: {message}" if where else message)


class _Out:
    """Where the command writes: human text or one JSON document."""

    def __init__(self, as_json: bool) -> None:
        self.json = as_json

    def emit(self, data: object, text: str | Callable[[], str]) -> None:
        if self.json:
            print(json.dumps(data, indent=2, default=str))
        else:
            print(text() if callable(text) else text)


# -- helpers ------------------------------------------------------------------------------


def _find(name: str) -> Path:
    from ._find import find_connection_file

    return find_connection_file(name)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


@contextlib.contextmanager
def _reach(path: Path, ssh: str | None, args: argparse.Namespace) -> Iterator[ConnectionInfo]:
    """The connection info to use for ``path``: itself, or through an SSH tunnel."""
    from kcf_spec import ConnectionInfo

    info = ConnectionInfo.load(path)
    if ssh is None:
        yield info
        return
    open_tunnel = _tunnel_api()
    with open_tunnel(info, ssh, connection_file=path, **_tunnel_options(args)) as t:
        yield t.local


def _tunnel_options(args: argparse.Namespace) -> dict[str, Any]:
    """``open_tunnel`` options from the command line; secrets are asked on the terminal."""
    import getpass

    def ask(prompt: str) -> str | None:
        try:
            return getpass.getpass(prompt)
        except (EOFError, KeyboardInterrupt):
            return None

    interactive = sys.stdin is not None and sys.stdin.isatty()
    return {
        "backend": args.ssh_backend,
        "accept_new": args.accept_new,
        "ssh_config": args.ssh_config,
        "identity_file": args.ssh_identity,
        "password_callback": ask if interactive else None,
        "passphrase_callback": ask if interactive else None,
    }


def _tunnel_api() -> Any:
    try:
        from .tunnel import open_tunnel
    except ImportError as exc:
        raise _Unavailable(
            "SSH tunnels are not available in this installation (kcf_client.tunnel: "
            f"{exc}); install kcf-client[ssh]"
        ) from exc
    return open_tunnel


class _Unavailable(Exception):
    pass


def _connect(info: ConnectionInfo, path: Path | None) -> Any:
    from ._blocking import KernelConnection

    return KernelConnection(info, path=path)


# -- commands -----------------------------------------------------------------------------


def _cmd_list(args: argparse.Namespace, out: _Out) -> int:
    from ._listing import DEFAULT_PATTERN, list_kernels

    dirs = args.dir or None
    entries = list_kernels(
        dirs, pattern=args.pattern or DEFAULT_PATTERN, check=not args.no_check, timeout=args.timeout
    )

    def text() -> str:
        if not entries:
            return "no connection files"
        rows = [["STATE", "KERNEL", "TRANSPORT", "ADDRESS", "AGE", "FILE"]]
        notes = []
        for e in entries:
            rows.append(
                [
                    e.state.value,
                    e.kernel_name or "-",
                    e.transport or "-",
                    e.address or "-",
                    _age(e.age),
                    str(e.path),
                ]
            )
            if e.state.value in ("invalid", "unknown", "dead"):
                notes.append(f"{e.path}: {e.reason}")
        return _table(rows) + ("\n\n" + "\n".join(notes) if notes else "")

    out.emit([e.to_dict() for e in entries], text)
    return OK


def _cmd_info(args: argparse.Namespace, out: _Out) -> int:
    from kcf_spec import ConnectionInfo

    path = _find(args.file)
    info = ConnectionInfo.load(path)
    data = info.to_dict()
    if not args.show_key:
        data["key"] = "<hidden>" if info.key else ""
        if info.curve_secretkey is not None:
            data["curve_secretkey"] = "<hidden>"
    st = path.stat()
    doc = {
        "path": str(path),
        "mode": f"{st.st_mode & 0o777:04o}",
        "mtime": st.st_mtime,
        "connection": data,
        "endpoints": {c.value: info.connect_url(c) for c, _ in info},
    }

    def text() -> str:
        lines = [
            f"file:      {path}",
            f"mode:      {doc['mode']}",
            f"kernel:    {info.kernel_name or '-'}",
            f"transport: {info.transport}",
            f"address:   {info.ip}",
            f"scheme:    {info.signature_scheme}"
            + ("" if info.signed else " (unsigned: empty key)"),
            f"curve:     {'yes' if info.curve_publickey else 'no'}",
        ]
        lines += [f"{c.value + ':':<10} {info.connect_url(c)}" for c, _ in info]
        return "\n".join(lines)

    out.emit(doc, text)
    return OK


def _cmd_validate(args: argparse.Namespace, out: _Out) -> int:
    from kcf_spec import ConnectionFileError, ConnectionFileNotFound, ConnectionInfo

    results = []
    for name in args.files:
        p = Path(name)
        entry: dict[str, Any] = {
            "path": str(p),
            "valid": True,
            "error": None,
            "pointer": None,
            "warnings": [],
        }
        try:
            ConnectionInfo.load(p, profile=args.profile)
        except ConnectionFileNotFound:
            entry.update(valid=False, error=f"{p}: no such file")
        except ConnectionFileError as exc:
            entry.update(valid=False, error=str(exc), pointer=exc.pointer or "/")
        else:
            with contextlib.suppress(OSError):
                if os.name == "posix" and p.stat().st_mode & 0o077:
                    entry["warnings"].append(
                        f"{p}: readable by others (mode {p.stat().st_mode & 0o777:04o}); "
                        "it holds the key: chmod 600"
                    )
        results.append(entry)

    def text() -> str:
        lines = []
        for r in results:
            lines.append(f"{r['path']}: ok" if r["valid"] else f"{r['error']}")
            lines.extend(f"warning: {w}" for w in r["warnings"])
        return "\n".join(lines)

    out.emit(results, text)
    return OK if all(r["valid"] for r in results) else FAILED


def _cmd_ping(args: argparse.Namespace, out: _Out) -> int:
    from ._errors import KernelTimeout

    path = _find(args.file)
    rtts: list[float] = []
    with _reach(path, args.ssh, args) as info, _connect(info, path) as kc:
        for i in range(args.count):
            try:
                rtts.append(kc.ping(args.timeout))
            except KernelTimeout:
                if i == args.count - 1 or not rtts:
                    raise
    best = min(rtts)
    out.emit(
        {"path": str(path), "alive": True, "rtt": rtts},
        f"{path}: alive (heartbeat round trip {best * 1e3:.2f} ms)",
    )
    return OK


def _cmd_exec(args: argparse.Namespace, out: _Out) -> int:
    path = _find(args.file)
    code = sys.stdin.read() if args.code == "-" else args.code
    with _reach(path, args.ssh, args) as info, _connect(info, path) as kc:
        kc.wait_until_ready(args.timeout or 30.0)
        result = kc.execute(code, timeout=args.timeout)
    return _print_result(result, out)


def _print_result(result: Any, out: _Out) -> int:
    if out.json:
        out.emit(result.to_dict(), "")
    else:
        if result.stdout:
            sys.stdout.write(result.stdout)
        if result.stderr:
            sys.stderr.write(result.stderr)
        if result.text is not None:
            print(result.text)
        if result.error is not None:
            print(f"{result.error.ename}: {result.error.evalue}", file=sys.stderr)
        elif result.status != "ok":
            print(f"execution {result.status}", file=sys.stderr)
        sys.stdout.flush()
    return OK if result.ok else FAILED


def _cmd_console(args: argparse.Namespace, out: _Out) -> int:
    from ._console import console_argv

    path = _find(args.file or "kernel-*.json")
    frontend: str | list[str] = "qtconsole" if args.qt else "console"
    if args.ssh is not None:
        with _reach(path, args.ssh, args) as local:
            from kcf_kernel import write_connection_file

            tmp = write_connection_file(local)
            try:
                return _run_console(console_argv(tmp, frontend, args.extra))
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
    return _run_console(console_argv(path, frontend, args.extra))


def _run_console(argv: list[str]) -> int:
    import subprocess

    proc = subprocess.Popen(argv)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:  # the console handles Ctrl-C itself
            continue


def _cmd_prune(args: argparse.Namespace, out: _Out) -> int:
    from ._listing import DEFAULT_PATTERN, prune

    res = prune(
        args.dir or None,
        dry_run=args.dry_run,
        pattern=args.pattern or DEFAULT_PATTERN,
        timeout=args.timeout,
        grace=args.grace,
    )
    verb = "would remove" if res.dry_run else "removed"

    def text() -> str:
        lines = [f"{verb} {e.path} ({e.reason})" for e in res.removed]
        lines += [f"{verb} {s}" for s in res.removed_sockets]
        lines += [
            f"kept {e.path}: {e.state.value}" + (f" ({e.reason})" if e.reason else "")
            for e in res.kept
            if e.state.value != "alive"
        ]
        alive = sum(1 for e in res.kept if e.state.value == "alive")
        lines.append(f"{len(res.removed)} {verb}, {len(res.kept)} kept ({alive} alive)")
        return "\n".join(lines)

    out.emit(
        {
            "dry_run": res.dry_run,
            "removed": [e.to_dict() for e in res.removed],
            "removed_sockets": [str(s) for s in res.removed_sockets],
            "kept": [e.to_dict() for e in res.kept],
        },
        text,
    )
    return OK


def _kernel_argv(args: argparse.Namespace) -> tuple[list[str], str]:
    import kcf_kernel

    if args.argv:
        argv = list(args.argv)
        return argv, os.path.basename(argv[0])
    if args.kernel in ("auto", "ipykernel"):
        import importlib.util

        if importlib.util.find_spec("ipykernel") is not None:
            return list(kcf_kernel.ipykernel_argv()), "python3"
        if args.kernel == "ipykernel":
            from ._errors import ProgramNotFound

            raise ProgramNotFound("ipykernel", "pip install ipykernel")
    return list(kcf_kernel.example_kernel_argv()), "kcf-example"


def _launch(args: argparse.Namespace) -> Any:
    try:
        import kcf_kernel

        launch = kcf_kernel.launch_kernel
    except (ImportError, AttributeError) as exc:
        raise _Unavailable(f"kcf_kernel cannot launch kernels here: {exc}") from exc
    import subprocess

    argv, name = _kernel_argv(args)
    # The kernel's own chatter (ipykernel's banner notes) must not mix with our output.
    quiet = subprocess.DEVNULL if not getattr(args, "kernel_output", False) else None
    return launch(argv, kernel_name=name, stdin=subprocess.DEVNULL, stdout=quiet, stderr=quiet)


def _cmd_start(args: argparse.Namespace, out: _Out) -> int:
    from ._blocking import KernelConnection

    kernel = _launch(args)
    with kernel:
        path = Path(kernel.connection_file)
        with KernelConnection(kernel.info, path=path) as kc:
            kc.wait_until_ready(args.timeout)
        out.emit(
            {"path": str(path), "pid": kernel.pid},
            f"{path}\nkernel running (pid {kernel.pid}); Ctrl-C to stop it",
        )
        sys.stdout.flush()
        stop = _TermAsInterrupt()
        try:
            with stop:
                while kernel.poll() is None:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            with KernelConnection(kernel.info, path=path) as kc, contextlib.suppress(Exception):
                kc.shutdown(timeout=3.0)
            try:
                kernel.wait(timeout=5.0)
            except Exception:  # noqa: BLE001 - any failure to stop cleanly: force it
                kernel.kill()
            return OK
        print(f"kcf: kernel exited with code {kernel.poll()}", file=sys.stderr)
        return FAILED


class _TermAsInterrupt:
    """Within the block, SIGTERM raises KeyboardInterrupt (so a stopped `kcf start`
    shuts its kernel down)."""

    def __enter__(self) -> None:
        self._old = signal.signal(signal.SIGTERM, self._raise)

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGTERM, self._old)

    @staticmethod
    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt


def _cmd_run(args: argparse.Namespace, out: _Out) -> int:
    from kcf_spec import ConnectionInfo

    from ._blocking import KernelConnection

    code = sys.stdin.read() if args.code == "-" else args.code
    kernel = _launch(args)
    with kernel:
        # Find it as any other client would: by the name of the file it wrote.
        path = _find(Path(kernel.connection_file).name)
        info = ConnectionInfo.load(path)
        with KernelConnection(info, path=path) as kc:
            kc.wait_until_ready(args.timeout)
            result = kc.execute(code, timeout=args.timeout)
            kc.shutdown(timeout=5.0)
        try:
            kernel.wait(timeout=10.0)
        except Exception:  # noqa: BLE001 - a kernel slow to exit is killed, not waited on
            kernel.kill()
    return _print_result(result, out)


def _cmd_tunnel(args: argparse.Namespace, out: _Out) -> int:
    from kcf_spec import ConnectionInfo

    open_tunnel = _tunnel_api()
    path = _find(args.file)
    info = ConnectionInfo.load(path)
    with open_tunnel(info, args.server, connection_file=path, **_tunnel_options(args)) as t:
        local = t.write_connection_file(args.output)
        out.emit(
            {"path": str(local), "remote": str(path), "server": args.server},
            f"{local}\ntunnel to {args.server} open; Ctrl-C to close it",
        )
        sys.stdout.flush()
        try:
            with _TermAsInterrupt():
                while not t.wait(0.5):
                    pass
        except KeyboardInterrupt:
            return OK
        finally:
            with contextlib.suppress(OSError):
                os.unlink(local)
        t.check()  # died: TunnelDied says how (ssh's last words for OpenSSH)
    print("kcf: error: the tunnel closed", file=sys.stderr)
    return ERROR


# -- parser -------------------------------------------------------------------------------


def _parser() -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print one JSON document instead of text",
    )
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors"
    )

    p = _Parser(
        prog="kcf",
        description="Find, inspect, check and talk to Jupyter kernels "
        "through their connection files.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--json", action="store_true", default=False, help="print one JSON document instead of text"
    )
    p.add_argument("--debug", action="store_true", default=False, help="show tracebacks on errors")
    from . import __version__

    p.add_argument("--version", action="version", version=f"kcf {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def add(name: str, fn: Callable[[argparse.Namespace, _Out], int], help: str) -> _Parser:
        sp: _Parser = sub.add_parser(name, parents=[common], help=help, description=help)
        sp.set_defaults(fn=fn)
        return sp

    def ssh_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--ssh",
            metavar="SERVER",
            default=None,
            help="reach the kernel through an SSH tunnel to [user@]host[:port]",
        )
        sp.add_argument(
            "--ssh-backend",
            default="auto",
            choices=["auto", "openssh", "paramiko"],
            help="how to run the tunnel (default: auto)",
        )
        sp.add_argument(
            "--accept-new", action="store_true", help="accept and remember an unknown host key"
        )
        tunnel_files(sp)

    def tunnel_files(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--ssh-config",
            metavar="FILE",
            default=None,
            help="ssh configuration file (default ~/.ssh/config)",
        )
        sp.add_argument(
            "--ssh-identity", metavar="FILE", default=None, help="private key to try first"
        )

    def dirs(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--dir",
            action="append",
            metavar="DIR",
            help="look in DIR (repeatable; default the runtime directory)",
        )
        sp.add_argument(
            "--pattern", default=None, help="file names to consider (default kernel-*.json)"
        )
        sp.add_argument(
            "--timeout",
            type=_positive_float,
            default=1.0,
            help="seconds to wait for the heartbeats (default 1)",
        )

    sp = add("list", _cmd_list, "list connection files with their kernels' liveness")
    dirs(sp)
    sp.add_argument("--no-check", action="store_true", help="do not ping the kernels")

    sp = add("info", _cmd_info, "show what a connection file says (the key hidden)")
    sp.add_argument("file", metavar="FILE")
    sp.add_argument("--show-key", action="store_true", help="print the key too")

    sp = add("validate", _cmd_validate, "check connection files against the schema")
    sp.add_argument("files", nargs="+", metavar="FILE")
    sp.add_argument(
        "--profile",
        choices=["connect", "launch"],
        default="connect",
        help="connect: real ports (default); launch: port 0 allowed",
    )

    sp = add("ping", _cmd_ping, "ping a kernel's heartbeat")
    sp.add_argument("file", metavar="FILE")
    sp.add_argument("--timeout", type=_positive_float, default=1.0, help="seconds (default 1)")
    sp.add_argument("--count", type=_positive_int, default=1, help="pings to send (default 1)")
    ssh_opts(sp)

    sp = add("exec", _cmd_exec, "run code in a kernel and print its output")
    sp.add_argument("file", metavar="FILE")
    sp.add_argument("code", metavar="CODE", help="the code; '-' reads it from stdin")
    sp.add_argument("--timeout", type=_positive_float, default=None, help="seconds (default: none)")
    ssh_opts(sp)

    sp = add("console", _cmd_console, "attach jupyter-console (or qtconsole) to a kernel")
    sp.add_argument(
        "file", metavar="FILE", nargs="?", default=None, help="default: the newest kernel-*.json"
    )
    sp.add_argument("--qt", action="store_true", help="use qtconsole")
    sp.add_argument("extra", nargs="*", metavar="-- ARGS", help="arguments for the console")
    ssh_opts(sp)

    sp = add("prune", _cmd_prune, "remove the connection files of provably dead kernels")
    dirs(sp)
    sp.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    sp.add_argument(
        "--grace",
        type=_nonnegative_float,
        default=10.0,
        help="never remove files younger than this many seconds (default 10)",
    )

    def kernel_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--kernel",
            choices=["auto", "ipykernel", "example"],
            default="auto",
            help="auto: ipykernel when installed, else the example kernel",
        )
        sp.add_argument(
            "--timeout",
            type=_positive_float,
            default=30.0,
            help="seconds to wait for the kernel (default 30)",
        )
        sp.add_argument(
            "--kernel-output",
            action="store_true",
            help="let the kernel's own stdout/stderr through",
        )

    sp = add("start", _cmd_start, "start a kernel and keep it running until Ctrl-C")
    kernel_opts(sp)
    sp.add_argument(
        "argv",
        nargs="*",
        metavar="-- ARGV",
        help="the kernel's command ({connection_file} is replaced)",
    )

    sp = add("run", _cmd_run, "start a kernel, find it, run CODE, print the result, shut it down")
    sp.add_argument("code", metavar="CODE", help="the code; '-' reads it from stdin")
    kernel_opts(sp)
    sp.set_defaults(argv=None)

    sp = add("tunnel", _cmd_tunnel, "forward a remote kernel's ports over SSH")
    sp.add_argument("file", metavar="FILE")
    sp.add_argument("server", metavar="SERVER", help="[user@]host[:port]")
    sp.add_argument("-o", "--output", default=None, help="where to write the local file")
    sp.add_argument("--ssh-backend", default="auto", choices=["auto", "openssh", "paramiko"])
    sp.add_argument(
        "--accept-new", action="store_true", help="accept and remember an unknown host key"
    )
    tunnel_files(sp)
    return p


def _number(text: str, kind: type[float] | type[int], lowest: float, strict: bool) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    if value < lowest or (strict and value == lowest):
        bound = f"greater than {lowest:g}" if strict else f"at least {lowest:g}"
        raise argparse.ArgumentTypeError(f"must be {bound}, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    """A float > 0 (a timeout: 0 or less would never wait, or wait forever)."""
    return float(_number(text, float, 0.0, strict=True))


def _nonnegative_float(text: str) -> float:
    """A float >= 0."""
    return float(_number(text, float, 0.0, strict=False))


def _positive_int(text: str) -> int:
    """An int >= 1."""
    return int(_number(text, int, 1, strict=False))


def _exit_code(exc: BaseException) -> int:
    from kcf_spec import ConnectionFileError, ConnectionFileNotFound

    from ._errors import ClientError, KernelDied, KernelTimeout, ProgramNotFound

    if isinstance(exc, (ConnectionFileNotFound, ProgramNotFound)):
        return NOT_FOUND
    if isinstance(exc, (KernelTimeout, KernelDied)):
        return TIMEOUT
    if isinstance(exc, ConnectionFileError):
        return FAILED
    if isinstance(exc, ClientError):
        return ERROR
    return ERROR


def _parse(args_list: list[str]) -> argparse.Namespace:
    """Parse ``kcf`` arguments; everything after the first ``--`` goes to the started program.

    argparse cannot place ``--`` arguments after an optional positional
    (``kcf console FILE -- ARGS``), so they are split off first and given to the command's
    ``extra`` (console) or ``argv`` (start) list.

    Raises:
        _UsageError: bad arguments, or arguments after ``--`` for a command without any.
    """
    trailing: list[str] | None = None
    if "--" in args_list:
        cut = args_list.index("--")
        args_list, trailing = args_list[:cut], args_list[cut + 1 :]
    args = _parser().parse_args(args_list)
    if trailing is not None:
        slot = next(
            (n for n in ("extra", "argv") if isinstance(getattr(args, n, None), list)), None
        )
        if slot is None:
            raise _UsageError(f"'kcf {args.command}' takes no arguments after '--'")
        getattr(args, slot).extend(trailing)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``kcf`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    .. versionadded:: 0.1.0
    """
    from kcf_spec import KcfError

    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parse(args_list)
    except _UsageError as exc:
        print(f"kcf: error: {exc}", file=sys.stderr)
        return USAGE
    debug = bool(getattr(args, "debug", False))
    out = _Out(bool(getattr(args, "json", False)))
    try:
        return int(args.fn(args, out))
    except KeyboardInterrupt:
        if debug:
            raise
        return INTERRUPTED
    except (KcfError, _Unavailable, OSError) as exc:
        if debug:
            raise
        print(f"kcf: error: {_one_line(exc)}", file=sys.stderr)
        return _exit_code(exc)


def _one_line(exc: BaseException) -> str:
    # OSError subclasses render as "[Errno None] ..." once ``filename`` is set: use the
    # message they were built with.
    text = (
        str(exc.args[0])
        if isinstance(exc, OSError) and exc.errno is None and exc.args
        else str(exc)
    )
    return " ".join(text.split()) or type(exc).__name__


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
