"""What every command shares: exit codes, text or JSON output, one-line errors.

With ``--json``, stdout holds exactly one JSON document, on success and on error alike
(an error is ``{"error": {"message": ..., "type": ..., "exit_code": ...}}``); stderr stays
empty. Without it, results go to stdout and errors are one line on stderr.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "OK",
    "FAILED",
    "USAGE",
    "NOT_FOUND",
    "TIMEOUT",
    "ERROR",
    "INTERRUPTED",
    "EXIT_CODES",
    "CliError",
    "Out",
    "age",
    "table",
    "exit_status_text",
    "strip_ansi",
    "one_line",
]

OK, FAILED, USAGE, NOT_FOUND, TIMEOUT, ERROR, INTERRUPTED = 0, 1, 2, 3, 4, 5, 130

#: Exit codes, as documented in ``kcf --help`` and the README.
EXIT_CODES = {
    OK: "success",
    FAILED: "a check failed: an invalid file, code that raised, a kernel that is not alive",
    USAGE: "usage error (bad arguments)",
    NOT_FOUND: "not found: no connection file or kernelspec matches, or a program is not installed",
    TIMEOUT: "the kernel did not answer in time, or died",
    ERROR: "any other error (socket, file system, SSH)",
    INTERRUPTED: "interrupted (Ctrl-C)",
}


class CliError(Exception):
    """An error the command reports as one line, with its exit code (no traceback)."""

    def __init__(self, message: str, code: int = ERROR) -> None:
        super().__init__(message)
        self.code = code


class Out:
    """Where a command writes: human text, or one JSON document under ``--json``."""

    def __init__(self, as_json: bool) -> None:
        self.json = as_json

    def emit(self, data: object, text: str | Callable[[], str]) -> None:
        """Print ``data`` as JSON, or ``text`` (a string, or a function making it)."""
        if self.json:
            import json

            print(json.dumps(data, indent=2, default=str))
        else:
            print(text() if callable(text) else text)

    def note(self, message: str) -> None:
        """A remark beside the result (``kcf: note: ...`` on stderr); none under ``--json``,
        whose stderr stays empty."""
        if not self.json:
            print(f"kcf: note: {message}", file=sys.stderr)

    def error(self, message: str, kind: str, code: int) -> None:
        """Report an error: a JSON document on stdout under ``--json``, else a line on stderr."""
        if self.json:
            import json

            doc = {"error": {"message": message, "type": kind, "exit_code": code}}
            print(json.dumps(doc, indent=2))
        else:
            print(f"kcf: error: {message}", file=sys.stderr)


def age(seconds: float | None) -> str:
    """A short human age: ``42s``, ``5m``, ``3h``, ``2d``."""
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


def table(rows: list[list[str]]) -> str:
    """Rows as left-aligned columns two spaces apart."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def exit_status_text(code: int) -> str:
    """``exited with code 3``, or ``killed by SIGTERM`` for a negative (signal) status."""
    import signal

    if code >= 0:
        return f"exited with code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    return f"killed by {name}"


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences (colours, cursor moves)."""
    import re

    return re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]", "", text)


def one_line(exc: BaseException) -> str:
    """The exception's message on one line."""
    # OSError subclasses render as "[Errno None] ..." once ``filename`` is set: use the
    # message they were built with.
    text = (
        str(exc.args[0])
        if isinstance(exc, OSError) and exc.errno is None and exc.args
        else str(exc)
    )
    return " ".join(text.split()) or type(exc).__name__
