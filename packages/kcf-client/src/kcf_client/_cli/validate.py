"""``kcf validate``: check connection files against the schema."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path
from typing import TypedDict

from ._args import Parser
from ._output import FAILED, OK, Out

__all__ = ["add_arguments", "run"]


class _Verdict(TypedDict):
    path: str
    valid: bool
    error: str | None
    pointer: str | None
    warnings: list[str]


def add_arguments(p: Parser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument(
        "--profile",
        choices=["connect", "launch"],
        default="connect",
        help="connect: real ports (default); launch: port 0 allowed",
    )


def _check(p: Path, profile: str) -> _Verdict:
    from kcf_spec import ConnectionFileError, ConnectionFileNotFound, ConnectionInfo

    verdict: _Verdict = {
        "path": str(p),
        "valid": True,
        "error": None,
        "pointer": None,
        "warnings": [],
    }
    try:
        ConnectionInfo.load(p, profile="launch" if profile == "launch" else "connect")
    except ConnectionFileNotFound:
        verdict["valid"], verdict["error"] = False, f"{p}: no such file"
    except ConnectionFileError as exc:
        verdict["valid"], verdict["error"] = False, str(exc)
        verdict["pointer"] = exc.pointer or "/"
    else:
        with contextlib.suppress(OSError):
            mode = p.stat().st_mode
            if os.name == "posix" and mode & 0o077:
                verdict["warnings"].append(
                    f"{p}: readable by others (mode {mode & 0o777:04o}); "
                    "it holds the key: chmod 600"
                )
    return verdict


def run(args: argparse.Namespace, out: Out) -> int:
    results = [_check(Path(name), args.profile) for name in args.files]

    def text() -> str:
        lines = []
        for r in results:
            lines.append(f"{r['path']}: ok" if r["valid"] else f"{r['error']}")
            lines.extend(f"warning: {w}" for w in r["warnings"])
        return "\n".join(lines)

    out.emit(results, text)
    return OK if all(r["valid"] for r in results) else FAILED
