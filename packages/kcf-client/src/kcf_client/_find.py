"""Finding connection files: jupyter_client's search rules, made deterministic and fast."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from stat import S_ISREG

from kcf_spec import ConnectionFileNotFound

__all__ = ["find_connection_file", "default_search_path", "default_runtime_dir", "iter_matches"]

_Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None


def default_runtime_dir() -> Path:
    """The Jupyter runtime directory (``$JUPYTER_RUNTIME_DIR``...), not created.

    .. versionadded:: 0.1.0
    """
    try:
        from kcf_kernel import runtime_dir
    except ImportError:  # pragma: no cover - kcf_kernel before its public surface landed
        from kcf_kernel._paths import runtime_dir

    return Path(runtime_dir(create=False))


def default_search_path() -> list[Path]:
    """Where a bare name is looked for: the current directory, then the runtime directory.

    .. versionadded:: 0.1.0
    """
    return [Path.cwd(), default_runtime_dir()]


def _dirs(path: _Paths) -> list[Path]:
    if path is None:
        dirs = default_search_path()
    elif isinstance(path, (str, os.PathLike)):
        dirs = [Path(path)]
    else:
        dirs = [Path(p) for p in path]
    out: list[Path] = []
    seen: set[str] = set()
    for d in dirs:
        d = Path(os.path.abspath(os.path.expandvars(os.path.expanduser(d))))
        if str(d) not in seen:
            seen.add(str(d))
            out.append(d)
    return out


def _expand(name: str) -> str:
    return os.path.expandvars(os.path.expanduser(name))


def iter_matches(pattern: str, dirs: Iterable[Path]) -> list[tuple[float, str, str]]:
    """Every regular file matching ``pattern`` in ``dirs``, as ``(mtime, dir, name)``.

    One ``listdir`` per directory and one ``fnmatch.filter`` over its names; only matches
    are stat'ed, relative to an open directory descriptor (no path walk per file). Hidden
    names match only a pattern that starts with ``.`` (as ``glob``).
    """
    found: list[tuple[float, str, str]] = []
    hidden_ok = pattern.startswith(".")
    use_fd = os.stat in os.supports_dir_fd
    for d in dirs:
        try:
            names = fnmatch.filter(os.listdir(d), pattern)
        except OSError:
            continue
        if not names:
            continue
        if not hidden_ok and pattern[:1] in ("*", "?", "["):
            names = [n for n in names if not n.startswith(".")]
        base = str(d)
        try:
            fd = os.open(base, os.O_RDONLY) if use_fd else None
        except OSError:
            continue
        try:
            for name in names:
                try:
                    st = (
                        os.stat(name, dir_fd=fd)
                        if fd is not None
                        else os.stat(os.path.join(base, name))
                    )
                except OSError:
                    continue
                if S_ISREG(st.st_mode):
                    found.append((st.st_mtime, base, name))
        finally:
            if fd is not None:
                os.close(fd)
    return found


def find_connection_file(name_or_glob: str = "kernel-*.json", path: _Paths = None) -> Path:
    """Find a connection file by path, name or glob, and return its absolute path.

    The rules are jupyter_client's, made deterministic:

    1. ``name_or_glob`` naming an existing file (``~`` and ``$VARS`` expanded; absolute,
       or relative to each search directory in turn) is returned as it is.
    2. Otherwise it is a glob: as given when it holds ``*``, else ``*name*`` (any file
       whose name contains it). Every search directory is scanned; among the matching
       regular files the newest by modification time wins, ties broken by path.

    Args:
        name_or_glob: a path, a file name, a part of one (``"abc"`` finds
            ``kernel-abc.json``) or a glob.
        path: the directories to search: one or several; default the current directory,
            then the runtime directory.

    Returns:
        The absolute path of the file found.

    Raises:
        ConnectionFileNotFound: nothing matched; the error names the pattern and every
            directory searched.

    .. versionadded:: 0.1.0
    """
    name = _expand(name_or_glob)
    if os.path.isabs(name) and os.path.isfile(name):
        return Path(name)
    dirs = _dirs(path)
    for d in dirs:
        candidate = d / name
        if candidate.is_file():
            return Path(os.path.abspath(candidate))
    pattern = name if "*" in name else f"*{name}*"
    head, tail = os.path.split(pattern)
    if head:
        # A pattern with a directory part: search that part under each directory.
        search = [d / head if not os.path.isabs(head) else Path(head) for d in dirs]
        matches = iter_matches(tail, _dirs(search))
    else:
        matches = iter_matches(pattern, dirs)
    if not matches:
        raise ConnectionFileNotFound(name_or_glob, tuple(str(d) for d in dirs))
    # Newest first; for equal mtimes the first directory in sort order, then the smallest
    # name, so the answer never depends on the order a directory happened to list.
    newest = max(m[0] for m in matches)
    best = min((b, n) for t, b, n in matches if t == newest)
    return Path(best[0], best[1])
