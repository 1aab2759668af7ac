"""Host key checking for the paramiko backend: OpenSSH's rules, never paramiko's policies.

Unknown host: refused (:class:`HostKeyUnknown`) unless ``accept_new``, which records the key
in the first user known_hosts file (trust on first use). A key different from the recorded
one: :class:`HostKeyMismatch`, always. ``WarningPolicy``/``AutoAddPolicy`` are never used.

The files are read here, not by ``paramiko.HostKeys.load`` (which raises ``InvalidHostKey``
on the first marker line and so loses the whole file). Marker lines as OpenSSH reads them
(sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"): ``@revoked`` keys are refused for every host
(:class:`HostKeyRevoked`: "must not ever be accepted"); ``@cert-authority`` lines are skipped,
since they only vouch for certificate host keys, which this backend does not check; lines
that cannot be parsed are skipped as OpenSSH skips them.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

from ._errors import HostKeyMismatch, HostKeyRevoked, HostKeyUnknown

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
        self._revoked: set[bytes] = set()  # key blobs
        for path in (*user_files, *global_files):
            if path.is_file():
                try:
                    with open(path, encoding="utf-8", errors="replace") as f:
                        lines = f.readlines()
                except OSError:
                    continue  # unreadable file: its keys are simply not known
                for line in lines:
                    self._add_line(line)

    def _add_line(self, line: str) -> None:
        import paramiko
        from paramiko.hostkeys import HostKeyEntry, InvalidHostKey

        line = line.strip()
        if not line or line.startswith("#"):
            return
        marker = None
        if line.startswith("@"):
            marker, _, line = line.partition(" ")
            line = line.strip()
            if marker not in ("@revoked", "@cert-authority"):
                return  # unknown marker: OpenSSH ignores the line too
        try:
            entry = HostKeyEntry.from_line(line)
        except (InvalidHostKey, paramiko.SSHException, ValueError):
            return  # malformed line: skipped, the rest of the file still counts
        if entry is None or marker == "@cert-authority":
            return
        if marker == "@revoked":
            self._revoked.add(entry.key.asbytes())
            return
        for name in entry.hostnames:
            self._keys.add(name, entry.key.get_name(), entry.key)

    def known_types(self, name: str) -> list[str]:
        """Key types recorded for ``name`` (to prefer them in the key exchange)."""
        entry = self._keys.lookup(name)
        return list(entry.keys()) if entry is not None else []

    def check(self, name: str, key: Any, *, accept_new: bool, server: str) -> None:
        """Accept ``key`` for ``name`` or raise.

        Raises:
            HostKeyRevoked: the key is marked ``@revoked`` in a known_hosts file.
            HostKeyUnknown: no key is recorded for ``name`` and not ``accept_new``.
            HostKeyMismatch: a different key is recorded for ``name``.
        """
        fp = fingerprint(key)
        if key.asbytes() in self._revoked:
            raise HostKeyRevoked(
                f"host key for {name} ({key.get_name()} {fp}) is REVOKED in known_hosts "
                "(@revoked); refusing to connect",
                server=server,
                backend="paramiko",
                host=name,
                fingerprint=fp,
            )
        entry = self._keys.lookup(name)
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
