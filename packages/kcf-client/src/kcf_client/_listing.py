"""Listing connection files with their kernels' liveness, and pruning the dead ones.

The scan, the rules of :func:`prune` and the litter it removes live here; the values
returned are :mod:`._entry`'s and the verdicts :mod:`._liveness`'s. Both are imported only
once a directory holds a matching file, so that ``kcf list`` on an empty directory loads
no socket, JSON, zmq or :mod:`dataclasses` code.
"""

from __future__ import annotations

import os
import stat
import time

from ._scan import scan_dir, search_dirs

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds at every start
if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from ._entry import KernelEntry, KernelState, PruneResult

__all__ = [
    "KernelState",
    "KernelEntry",
    "PruneResult",
    "list_kernels",
    "prune",
    "DEFAULT_PATTERN",
    "DEFAULT_GRACE",
    "DEFAULT_CONFIRM",
]

#: The files :func:`list_kernels` and :func:`prune` look at in each directory.
DEFAULT_PATTERN = "kernel-*.json"
#: Seconds during which a file whose ports are all closed may belong to a kernel that is
#: still starting (its writer writes the file, then the kernel binds): never called dead.
DEFAULT_GRACE = 10.0
#: Seconds for which :func:`prune` watches a dead kernel before removing its file: longer
#: than a kernel restart keeps its ports closed (one to two seconds, more under load).
DEFAULT_CONFIRM = 3.0

if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        """``KernelState``, ``KernelEntry`` and ``PruneResult``, defined in :mod:`._entry`
        (imported on first use: see the module docstring)."""
        if name in ("KernelState", "KernelEntry", "PruneResult"):
            from . import _entry

            return getattr(_entry, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _entries(dirs: list[str], pattern: str, now: float) -> list[KernelEntry]:
    out: list[KernelEntry] = []
    for d in dirs:
        scan = scan_dir(d, pattern)
        if not (scan.names or scan.failed):
            continue
        from pathlib import Path

        from ._entry import KernelEntry, KernelState, read_entry

        base = Path(d)
        out.extend(
            read_entry(base / n, st, now) for n, st in zip(scan.names, scan.stats, strict=True)
        )
        out.extend(
            KernelEntry(
                base / n, None, KernelState.INVALID, f"cannot stat: {exc.strerror}", None, None
            )
            for n, exc in scan.failed
        )
    return out


def list_kernels(
    dirs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    *,
    pattern: str = DEFAULT_PATTERN,
    check: bool = True,
    timeout: float = 1.0,
    grace: float = DEFAULT_GRACE,
) -> list[KernelEntry]:
    """Every connection file in ``dirs`` with what is known about its kernel.

    Files that are not valid connection files (garbage, unreadable, half-written, a
    directory with a matching name) are listed as :attr:`KernelState.INVALID` with the
    reason; nothing here raises for a bad file. Names match ``pattern`` as with ``glob``:
    hidden files (``.*``) only when the pattern starts with ``.``.

    A kernel is :attr:`~KernelState.ALIVE` when its heartbeat answers; :attr:`~KernelState.DEAD`
    when every one of its ports refuses a connection on this machine (tcp) or has no
    listening socket (ipc), the file is older than ``grace``, and (on Linux) no process
    has the file's name in its command line (a kernel starting or restarting); else
    :attr:`~KernelState.UNKNOWN`, with the reason. Ports are probed while the heartbeat
    pings are in flight, and at most a few hundred sockets are open at once, so any
    number of files can be checked.

    Args:
        dirs: the directories to look in; default the runtime directory.
        pattern: the file names to consider (a glob).
        check: ping the heartbeats and probe the ports.
        timeout: seconds to wait for the heartbeats, in total.
        grace: a file younger than this whose ports are all closed is ``unknown`` (its
            kernel may be starting), not ``dead``.

    Returns:
        The entries, newest file first (ties by path).

    .. versionadded:: 0.1.0
    """
    if dirs is None:
        from ._find import default_runtime_dir

        dirs = [default_runtime_dir()]
    now = time.time()
    entries = _entries(search_dirs(dirs, list), pattern, now)
    if check and entries:
        from ._liveness import judge

        entries = judge(entries, timeout, grace)
    entries.sort(key=lambda e: (-(e.mtime or 0.0), str(e.path)))
    return entries


def _temp_writer_pid(name: str) -> int | None:
    """The writer's pid encoded in a temporary file's name, if any.

    kcf_kernel writes ``.<target>.<pid>.<token>.tmp`` (older versions:
    ``.<target>.<token>.tmp``, no pid): the pid is the all-digit field before the last.
    """
    fields = name[1:].removesuffix(".tmp").split(".")
    if len(fields) >= 3 and fields[-2].isdigit() and len(fields[-2]) <= 10:
        return int(fields[-2])
    return None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: another user's process
        return True
    return True


def _abandoned_temp_files(d: str, pattern: str, grace: float, now: float) -> list[Path]:
    """Temporary files a connection-file writer left behind (killed mid-write): ours,
    regular, older than ``grace``, and their writer (when the name records it) gone."""
    from pathlib import Path

    scan = scan_dir(d, f".{pattern}.*.tmp")
    me = os.geteuid() if hasattr(os, "geteuid") else None
    out = []
    for n, st in zip(scan.names, scan.stats, strict=True):
        if not stat.S_ISREG(st.st_mode) or (me is not None and st.st_uid != me):
            continue
        if now - st.st_mtime < grace:
            continue
        pid = _temp_writer_pid(n)
        if pid is not None and _pid_alive(pid):
            continue
        out.append(Path(d, n))
    return out


#: Where kcf_kernel keeps its port lock files, under each runtime directory.
_PORT_LOCKS = "kcf-ports"


def _free_port_locks(d: str, *, remove: bool) -> list[Path]:
    """Port lock files in ``<d>/kcf-ports/`` that no process holds, removed when ``remove``.

    kcf_kernel's protocol: a reservation is an exclusive ``flock`` on the file, and the file
    is removed only by whoever holds that lock, which checks that the path still names the
    file it locked. So a lock we can take is free, and removing it while we hold it is what
    its own holder would do.
    """
    try:
        import fcntl
    except ImportError:  # Windows: the lock protocol there is exclusive creation; left alone
        return []
    locks = os.path.join(d, _PORT_LOCKS)
    try:
        st = os.lstat(locks)
    except OSError:
        return []
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        return []
    from pathlib import Path

    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    out = []
    for n in scan_dir(locks, "*.lock").names:
        path = os.path.join(locks, n)
        try:
            fd = os.open(path, flags)
        except OSError:
            continue
        try:
            fst = os.fstat(fd)
            if not stat.S_ISREG(fst.st_mode) or fst.st_uid != os.geteuid():
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # held: a live reservation
                continue
            try:
                if os.lstat(path).st_ino != fst.st_ino:
                    continue  # replaced meanwhile: not the file we locked
                if remove:
                    os.unlink(path)
            except OSError:
                continue
            out.append(Path(path))
        finally:
            os.close(fd)  # releases the lock
    return out


def prune(
    dirs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    *,
    dry_run: bool = False,
    pattern: str = DEFAULT_PATTERN,
    timeout: float = 1.0,
    grace: float = DEFAULT_GRACE,
    confirm: float = DEFAULT_CONFIRM,
) -> PruneResult:
    """Remove the files of provably dead kernels, and the litter of killed writers.

    The rule for a connection file: it is removed only when all of these hold.

    1. :func:`list_kernels` calls its kernel :attr:`KernelState.DEAD`: no heartbeat, every
       port refuses on this machine (or no ipc socket listens), the file is older than
       ``grace``, and (on Linux) no process has the file's name in its command line.
    2. Death persists for ``confirm`` seconds: the heartbeat port and the processes are
       checked every quarter second, and every port once more at the end. A kernel that
       jupyter_client restarts keeps its file (same mtime, whatever its age) while its
       ports are closed for a second or two; its new process names the file from the
       start, and the ports reopen, so any sign of life within the window keeps the file.
    3. The file has not changed since it was checked.

    A file whose kernel answers, whose death cannot be proven (a remote address, a port
    something else listens on), or that is not a valid connection file is never removed.
    ipc socket files of a removed kernel go with it.

    Litter is removed too: temporary files ``.<pattern>.*.tmp`` (a writer killed
    mid-write leaves one, holding the key) older than ``grace`` whose writer, when the
    name records its pid, is gone; and port lock files in ``<dir>/kcf-ports/`` that no
    process holds (kcf_kernel's lock protocol: a lock file nobody holds is free).

    Args:
        dirs: the directories to prune; default the runtime directory.
        dry_run: report what would be removed, remove nothing.
        pattern: the file names to consider (a glob).
        timeout: seconds to wait for the heartbeats.
        grace: files younger than this are never removed (see :func:`list_kernels`).
        confirm: seconds for which death must persist (``0``: no second look; only for
            directories where no kernel can be restarting).

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Death must persist for ``confirm`` seconds and no process may name the file (a
       restarting kernel's file is kept); abandoned temporary files and free port lock
       files are removed.
    """
    import contextlib
    import dataclasses

    from ._entry import KernelState, PruneResult
    from ._liveness import confirm_dead, ipc_socket_files

    if dirs is None:
        from ._find import default_runtime_dir

        dirs = [default_runtime_dir()]
    dir_strs = search_dirs(dirs, list)
    entries = list_kernels(dir_strs, pattern=pattern, check=True, timeout=timeout, grace=grace)
    kept = [e for e in entries if e.state is not KernelState.DEAD or e.info is None]
    dead = [e for e in entries if e.state is KernelState.DEAD and e.info is not None]
    if dead:
        dead, revived = confirm_dead(dead, confirm)
        kept.extend(revived)
    removed: list[KernelEntry] = []
    sockets: list[Path] = []
    for e in dead:
        assert e.info is not None
        try:
            unchanged = os.stat(e.path).st_mtime == e.mtime
        except OSError:
            unchanged = False
        if not unchanged:
            kept.append(
                dataclasses.replace(
                    e, state=KernelState.UNKNOWN, reason="the file changed while it was checked"
                )
            )
            continue
        files = ipc_socket_files(e.info)
        if not dry_run:
            try:
                os.unlink(e.path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                kept.append(dataclasses.replace(e, reason=f"cannot remove: {exc.strerror}"))
                continue
            for f in files:
                with contextlib.suppress(OSError):
                    os.unlink(f)
        removed.append(e)
        sockets.extend(files)
    now = time.time()
    temps: list[Path] = []
    locks: list[Path] = []
    for d in dir_strs:
        for t in _abandoned_temp_files(d, pattern, grace, now):
            if not dry_run:
                try:
                    os.unlink(t)
                except FileNotFoundError:
                    continue
                except OSError:
                    continue
            temps.append(t)
        locks.extend(_free_port_locks(d, remove=not dry_run))
    kept.sort(key=lambda e: (-(e.mtime or 0.0), str(e.path)))
    return PruneResult(
        tuple(removed), tuple(sockets), tuple(kept), dry_run, tuple(temps), tuple(locks)
    )
