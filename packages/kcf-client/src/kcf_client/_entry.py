"""The values :func:`~kcf_client.list_kernels` and :func:`~kcf_client.prune` return, and how
one connection file is read into an entry.

Kept apart from :mod:`._listing` so that listing an empty directory (the common ``kcf
list``) imports neither :mod:`dataclasses` (which pulls in :mod:`inspect`) nor the
connection-file reader: this module is imported once a directory holds a matching file.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import stat

from kcf_spec import ConnectionInfo, KcfError

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds at every start
if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["KernelState", "KernelEntry", "PruneResult", "read_entry"]


class KernelState(str, enum.Enum):
    """What is known about the kernel behind a connection file.

    .. versionadded:: 0.1.0
    """

    ALIVE = "alive"  #: the heartbeat answered
    DEAD = "dead"  #: provably gone: no heartbeat and every port closed on this machine
    UNKNOWN = "unknown"  #: no answer, but death cannot be proven (remote, port taken...)
    INVALID = "invalid"  #: not a valid connection file (see ``reason``)
    UNCHECKED = "unchecked"  #: liveness was not asked for

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True, slots=True)
class KernelEntry:
    """One connection file found by :func:`list_kernels`.

    Attributes:
        path: the file.
        info: its parsed contents, or ``None`` when it is not a valid connection file.
        state: what is known about its kernel.
        reason: why that state, in words (the validation error for invalid files).
        mtime: the file's modification time (seconds since the epoch), or ``None``.
        age: seconds since ``mtime`` when listed, or ``None``.

    .. versionadded:: 0.1.0
    """

    path: Path
    info: ConnectionInfo | None
    state: KernelState
    reason: str
    mtime: float | None
    age: float | None

    @property
    def kernel_name(self) -> str | None:
        """The kernelspec name the file records, if any."""
        return self.info.kernel_name if self.info is not None else None

    @property
    def transport(self) -> str | None:
        """``"tcp"`` or ``"ipc"``, or ``None`` for an invalid file."""
        return self.info.transport if self.info is not None else None

    @property
    def address(self) -> str | None:
        """The address (tcp) or socket path prefix (ipc), or ``None`` for an invalid file."""
        return self.info.ip if self.info is not None else None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary (no key)."""
        return {
            "path": str(self.path),
            "state": self.state.value,
            "reason": self.reason,
            "kernel_name": self.kernel_name,
            "transport": self.transport,
            "address": self.address,
            "ports": (
                {c.value: p for c, p in self.info.ports.items()} if self.info is not None else None
            ),
            "mtime": self.mtime,
            "age": self.age,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class PruneResult:
    """What :func:`prune` did.

    Attributes:
        removed: connection files removed (or that would be, with ``dry_run``).
        removed_sockets: ipc socket files removed alongside them.
        kept: every other entry, with its state and reason.
        dry_run: ``True`` when nothing was actually removed.
        removed_temp_files: temporary files of killed writers removed.
        removed_port_locks: free port lock files removed.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``removed_temp_files`` and ``removed_port_locks``.
    """

    removed: tuple[KernelEntry, ...]
    removed_sockets: tuple[Path, ...]
    kept: tuple[KernelEntry, ...]
    dry_run: bool
    removed_temp_files: tuple[Path, ...] = ()
    removed_port_locks: tuple[Path, ...] = ()


def read_entry(path: Path, st: os.stat_result, now: float) -> KernelEntry:
    """The entry for ``path``, whose ``stat`` (symlinks followed) the scan gave.

    The type check here only words the common cases; the file itself is read through
    :meth:`ConnectionInfo.load`, the one reader that opens without blocking and refuses
    what it opened when it is not a regular file of sane size (a file swapped for a FIFO
    after the scan must not stall a listing).
    """
    mtime = st.st_mtime
    age = max(0.0, now - mtime)
    if stat.S_ISDIR(st.st_mode):
        return KernelEntry(path, None, KernelState.INVALID, "is a directory", mtime, age)
    if not stat.S_ISREG(st.st_mode):
        return KernelEntry(path, None, KernelState.INVALID, "is not a regular file", mtime, age)
    try:
        info = ConnectionInfo.load(path)
    except KcfError as exc:
        reason = str(exc).removeprefix(f"{path}: ")  # the entry names its path already
        return KernelEntry(path, None, KernelState.INVALID, reason, mtime, age)
    return KernelEntry(path, info, KernelState.UNCHECKED, "", mtime, age)
