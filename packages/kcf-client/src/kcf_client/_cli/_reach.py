"""Reaching a kernel from the command line: by its file, or through an SSH tunnel."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ._output import ERROR, USAGE, CliError, Out

if TYPE_CHECKING:
    from kcf_spec import ConnectionInfo

    from kcf_client.tunnel import Tunnel

__all__ = ["find", "reach", "tunnel_to"]


def find(name: str, out: Out) -> Path:
    """The connection file ``name`` designates (a path, a name or a glob).

    When several files match, a note says how many and which was chosen, and why.

    Raises:
        CliError: (usage) ``name`` is empty.
        ConnectionFileNotFound: nothing matches.
    """
    from kcf_client._find import find_connection_files

    try:
        found = find_connection_files(name)
    except ValueError as exc:  # an empty name: it would match every file
        raise CliError(str(exc), USAGE) from None
    chosen = found[0]
    if len(found) > 1:
        out.note(f"{len(found)} files match {name!r}; chose {chosen} ({_why(name, chosen, found)})")
    return chosen


def _why(name: str, chosen: Path, found: list[Path]) -> str:
    """Why :func:`find_connection_files` put ``chosen`` first among ``found``."""
    import os

    def mtime(p: Path) -> float:
        try:
            return os.stat(p).st_mtime
        except OSError:
            return float("-inf")

    if all(mtime(chosen) >= mtime(p) for p in found[1:]):
        return "newest"
    return f"the newest kernel-*{name}*.json; those come before other .json files"


def _ask(prompt: str) -> str | None:
    import getpass

    try:
        return getpass.getpass(prompt)
    except (EOFError, KeyboardInterrupt):
        return None


def tunnel_to(info: ConnectionInfo, server: str, path: Path, args: argparse.Namespace) -> Tunnel:
    """Open an SSH tunnel to ``info``'s kernel as the command line says.

    Secrets are asked on the terminal when there is one.

    Raises:
        CliError: kcf_client.tunnel cannot be imported in this installation.
    """
    try:
        from kcf_client.tunnel import open_tunnel
    except ImportError as exc:
        raise CliError(
            "SSH tunnels are not available in this installation (kcf_client.tunnel: "
            f"{exc}); install kcf-client[ssh]",
            ERROR,
        ) from exc
    interactive = sys.stdin is not None and sys.stdin.isatty()
    return open_tunnel(
        info,
        server,
        connection_file=path,
        backend=args.ssh_backend,
        accept_new=args.accept_new,
        ssh_config=args.ssh_config,
        identity_file=args.ssh_identity,
        password_callback=_ask if interactive else None,
        passphrase_callback=_ask if interactive else None,
    )


@contextlib.contextmanager
def reach(path: Path, args: argparse.Namespace) -> Iterator[ConnectionInfo]:
    """The connection info to use for ``path``: itself, or through ``--ssh``'s tunnel."""
    from kcf_spec import ConnectionInfo

    info = ConnectionInfo.load(path)
    if args.ssh is None:
        yield info
        return
    with tunnel_to(info, args.ssh, path, args) as t:
        yield t.local
