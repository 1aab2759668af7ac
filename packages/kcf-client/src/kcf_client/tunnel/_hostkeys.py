"""Host key checking for the paramiko backend: OpenSSH's rules, never paramiko's policies.

Unknown host: refused (:class:`HostKeyUnknown`) unless ``accept_new``, which records the key
in the first user known_hosts file (trust on first use). A key different from the recorded
one: :class:`HostKeyMismatch`, always. ``WarningPolicy``/``AutoAddPolicy`` are never used.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

from ._errors import HostKeyMismatch, HostKeyUnknown

__all__ = ["KnownHosts", "fingerprint"]


def fingerprint(key: Any) -> str:
    """OpenSSH's ``SHA256:...`` fingerprint of a paramiko key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


class KnownHosts:
    """The known_hosts files for one host: user files (first one is written) and global ones."""

    def __init__(self, user_files: tuple[Path, ...], global_files: tuple[Path, ...]) -> None:
        import paramiko

        self.user_files = user_files
        self._keys = paramiko.HostKeys()
        for path in (*user_files, *global_files):
            if path.is_file():
                try:
                    self._keys.load(os.fspath(path))
                except (OSError, ValueError, paramiko.SSHException):
                    continue  # unreadable or malformed file: its keys are simply not known

    def known_types(self, name: str) -> list[str]:
        """Key types recorded for ``name`` (to prefer them in the key exchange)."""
        entry = self._keys.lookup(name)
        return list(entry.keys()) if entry is not None else []

    def check(self, name: str, key: Any, *, accept_new: bool, server: str) -> None:
        """Accept ``key`` for ``name`` or raise.

        Raises:
            HostKeyUnknown: no key is recorded for ``name`` and not ``accept_new``.
            HostKeyMismatch: a different key is recorded for ``name``.
        """
        entry = self._keys.lookup(name)
        fp = fingerprint(key)
        if entry is None:
            if not accept_new:
                raise HostKeyUnknown(
                    f"host key for {name} is not known ({key.get_name()} {fp}); refusing to "
                    "connect. Add it to known_hosts, or allow trust on first use (accept-new)",
                    server=server,
                    backend="paramiko",
                    host=name,
                    fingerprint=fp,
                )
            self._record(name, key)
            return
        recorded = entry.get(key.get_name())
        if recorded is None or recorded != key:
            raise HostKeyMismatch(
                f"HOST KEY MISMATCH for {name}: the server offered {key.get_name()} {fp}, "
                "which is not the key recorded in known_hosts. Someone may be intercepting "
                "the connection, or the host key changed; refusing to connect",
                server=server,
                backend="paramiko",
                host=name,
                fingerprint=fp,
            )

    def _record(self, name: str, key: Any) -> None:
        self._keys.add(name, key.get_name(), key)
        if not self.user_files:
            return
        path = self.user_files[0]
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        line = f"{name} {key.get_name()} {key.get_base64()}\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="ascii") as f:
            if f.tell() > 0 and not _ends_with_newline(path):
                f.write("\n")
            f.write(line)


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
