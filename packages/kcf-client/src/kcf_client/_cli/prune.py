"""``kcf prune``: remove the connection files of provably dead kernels."""

from __future__ import annotations

import argparse

from ._args import Parser, add_dir_options, nonnegative_float
from ._output import OK, Out

__all__ = ["add_arguments", "run"]


def add_arguments(p: Parser) -> None:
    add_dir_options(p)
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    p.add_argument(
        "--grace",
        type=nonnegative_float,
        default=10.0,
        help="never remove files younger than this many seconds (default 10)",
    )
    p.add_argument(
        "--confirm",
        type=nonnegative_float,
        default=None,
        metavar="SECONDS",
        help="a kernel's death must persist this long before its file is removed, so a "
        "kernel that is restarting keeps it (default 3; 0: no second look, only for "
        "directories where no kernel can be restarting)",
    )


def run(args: argparse.Namespace, out: Out) -> int:
    from kcf_client._listing import DEFAULT_CONFIRM, DEFAULT_PATTERN, prune

    res = prune(
        args.dir or None,
        dry_run=args.dry_run,
        pattern=args.pattern or DEFAULT_PATTERN,
        timeout=args.timeout,
        grace=args.grace,
        confirm=DEFAULT_CONFIRM if args.confirm is None else args.confirm,
    )
    verb = "would remove" if res.dry_run else "removed"

    def text() -> str:
        lines = [f"{verb} {e.path} ({e.reason})" for e in res.removed]
        lines += [f"{verb} {s}" for s in res.removed_sockets]
        lines += [f"{verb} {t} (temporary file of a killed writer)" for t in res.removed_temp_files]
        lines += [f"{verb} {lk} (free port lock)" for lk in res.removed_port_locks]
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
            "removed_temp_files": [str(t) for t in res.removed_temp_files],
            "removed_port_locks": [str(lk) for lk in res.removed_port_locks],
            "kept": [e.to_dict() for e in res.kept],
        },
        text,
    )
    return OK
