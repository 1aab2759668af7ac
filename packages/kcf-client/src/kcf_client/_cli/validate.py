"""``kcf validate``: check connection files against the schema, and warn about what other
readers of the same file refuse (a byte order mark, UTF-16/32, repeated names)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TypedDict

from ._args import Parser
from ._output import FAILED, OK, Out

__all__ = ["add_arguments", "run"]


class _Portability(TypedDict):
    code: str
    message: str
    readers: list[str]


class _Verdict(TypedDict):
    path: str
    valid: bool
    error: str | None
    pointer: str | None
    warnings: list[str]
    portability: list[_Portability]


def add_arguments(p: Parser) -> None:
    p.description = (
        "Check connection files against the schema. Also warn about what kcf accepts but "
        "other readers refuse or read differently (a UTF-8 byte order mark, UTF-16/32, "
        "repeated names), naming those readers, and about a file others can read. "
        "Exit code 1 when a file is invalid; warnings alone exit 0 unless --strict."
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument(
        "--profile",
        choices=["connect", "launch"],
        default="connect",
        help="connect: real ports (default); launch: port 0 allowed",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="treat warnings as failures: exit 1 when any file has one",
    )


def _check(p: Path, profile: str) -> _Verdict:
    from kcf_spec import (
        ConnectionFileError,
        ConnectionFileNotFound,
        ConnectionInfo,
        portability_warnings,
        read_document,
    )

    verdict: _Verdict = {
        "path": str(p),
        "valid": True,
        "error": None,
        "pointer": None,
        "warnings": [],
        "portability": [],
    }
    try:
        data = read_document(p)
    except ConnectionFileNotFound:
        verdict["valid"], verdict["error"] = False, f"{p}: no such file"
        return verdict
    except ConnectionFileError as exc:
        verdict["valid"], verdict["error"] = False, str(exc)
        verdict["pointer"] = exc.pointer or "/"
        return verdict
    for w in portability_warnings(data):
        verdict["portability"].append(
            {"code": w.code, "message": w.message, "readers": list(w.readers)}
        )
        verdict["warnings"].append(f"{p}: {w}")
    try:
        ConnectionInfo.loads(data, profile="launch" if profile == "launch" else "connect", path=p)
    except ConnectionFileError as exc:
        verdict["valid"], verdict["error"] = False, str(exc)
        verdict["pointer"] = exc.pointer or "/"
        return verdict
    try:
        mode = p.stat().st_mode
    except OSError:
        return verdict
    if os.name == "posix" and mode & 0o077:
        verdict["warnings"].append(
            f"{p}: readable by others (mode {mode & 0o777:04o}); it holds the key: chmod 600"
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
    failed = not all(r["valid"] for r in results)
    warned = any(r["warnings"] for r in results)
    return FAILED if failed or (args.strict and warned) else OK
