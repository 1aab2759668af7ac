"""The one directory scanner: which names in a directory match a glob, and their ``stat``.

Used by :func:`~kcf_client.find_connection_file` and by :func:`~kcf_client.list_kernels` /
:func:`~kcf_client.prune`, so both see the same files under the same rules: names match as
``fnmatch`` matches them, and hidden names (``.*``) only when the pattern starts with ``.``
(as ``glob``).

Where the time goes, among 10,000 matching files: one ``stat`` per match (about two thirds:
the system call and the ``stat_result`` it builds), listing the directory (a sixth),
matching the names (small). So the directory is listed once, the names are matched by one
pass (string tests for ``*part*``, ``prefix*suffix`` and exact names, else one compiled
regex), and each match is stat'ed relative to an open directory descriptor (no path walk
per file), in one list comprehension without per-file function layers.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds at every start
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import TypeAlias

    #: One directory or several; ``None`` means the caller's default.
    SearchPath: TypeAlias = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None

__all__ = ["Scan", "expand", "search_dirs", "select_names", "scan_dir"]

# Whether ``os.stat(name, dir_fd=fd)`` and ``os.listdir(fd)`` work here (POSIX).
_USE_FD = os.stat in os.supports_dir_fd and os.listdir in os.supports_fd
# Windows matches names case-insensitively (as ``glob``); keep ``fnmatch`` there.
_POSIX_NAMES = os.path.normcase("Aa") == "Aa"
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)

# Absolute directory strings already normalised (``abspath`` of an absolute path does not
# depend on the working directory, so it may be remembered). Bounded: cleared when full.
_ABS: dict[str, str] = {}
# Compiled globs, by pattern (bounded as above).
_MATCHERS: dict[str, Callable[[str], object]] = {}


def expand(name: str) -> str:
    """``~`` and ``$VARS`` expanded (skipped, as a no-op, when the name has neither)."""
    if "~" in name or "$" in name:
        return os.path.expandvars(os.path.expanduser(name))
    return name


def _absolute(d: str) -> str:
    s = _ABS.get(d)
    if s is None:
        s = os.path.abspath(d)
        if os.path.isabs(d):
            if len(_ABS) >= 256:
                _ABS.clear()
            _ABS[d] = s
    return s


def search_dirs(
    path: SearchPath, default: Callable[[], Iterable[str | os.PathLike[str]]]
) -> list[str]:
    """The directories of ``path`` as absolute strings, ``~`` and ``$VARS`` expanded,
    deduplicated in order; ``default()`` when ``path`` is ``None``."""
    if isinstance(path, str):
        return [_absolute(expand(path))]
    if path is None:
        dirs: Iterable[str | os.PathLike[str]] = default()
    elif isinstance(path, os.PathLike):
        dirs = (path,)
    else:
        dirs = path
    out: list[str] = []
    for d in dirs:
        s = _absolute(expand(os.fspath(d)))
        if s not in out:
            out.append(s)
    return out


def select_names(names: list[str], pattern: str) -> list[str]:
    """The names matching the glob ``pattern`` (as ``fnmatch.filter``), hidden names
    (``.*``) only when the pattern starts with ``.`` (as ``glob``)."""
    hidden_ok = pattern[:1] == "."
    if _POSIX_NAMES and "?" not in pattern and "[" not in pattern:
        stars = pattern.count("*")
        if stars == 0:
            return [pattern] if pattern in names else []
        if stars == 2 and len(pattern) >= 2 and pattern[0] == pattern[-1] == "*":
            inner = pattern[1:-1]  # "*part*": a substring test
            if hidden_ok:
                return [n for n in names if inner in n]
            return [n for n in names if inner in n and n[:1] != "."]
    import fnmatch

    if not _POSIX_NAMES:
        found = fnmatch.filter(names, pattern)
        return found if hidden_ok else [n for n in found if n[:1] != "."]
    match = _MATCHERS.get(pattern)
    if match is None:
        import re

        regex = fnmatch.translate(pattern)
        # The regex itself refuses hidden names unless the pattern allows them.
        match = re.compile(regex if hidden_ok else r"(?!\.)" + regex).match
        if len(_MATCHERS) >= 64:
            _MATCHERS.clear()
        _MATCHERS[pattern] = match
    return list(filter(match, names))  # one C-level pass


class Scan:
    """What :func:`scan_dir` found in one directory.

    Attributes:
        directory: the directory, as given.
        names: the matching names that could be stat'ed.
        stats: their ``os.stat`` results (symlinks followed), in the same order.
        failed: ``(name, error)`` for matching names that could not be stat'ed (a dangling
            symlink, a file removed meanwhile...).
    """

    __slots__ = ("directory", "failed", "names", "stats")

    def __init__(
        self,
        directory: str,
        names: list[str],
        stats: list[os.stat_result],
        failed: list[tuple[str, OSError]],
    ) -> None:
        self.directory = directory
        self.names = names
        self.stats = stats
        self.failed = failed


def scan_dir(d: str, pattern: str) -> Scan:
    """Every name in directory ``d`` matching ``pattern``, with its ``stat``.

    A directory that cannot be listed (missing, not a directory, unreadable) gives an empty
    scan: a search path may name directories that do not exist.
    """
    fd = None
    try:
        if _USE_FD:
            fd = os.open(d, os.O_RDONLY | _O_DIRECTORY)
            names = os.listdir(fd)
        else:
            names = os.listdir(d)
    except OSError:
        if fd is not None:
            os.close(fd)
        return Scan(d, [], [], [])
    try:
        names = select_names(names, pattern)
        if not names:
            return Scan(d, [], [], [])
        stat = os.stat
        try:
            if fd is not None:
                sts = [stat(n, dir_fd=fd) for n in names]
            else:
                sts = [stat(os.path.join(d, n)) for n in names]
        except OSError:  # a file vanished, or a symlink dangles: one by one
            ok: list[str] = []
            sts = []
            failed: list[tuple[str, OSError]] = []
            for n in names:
                try:
                    st = stat(n, dir_fd=fd) if fd is not None else stat(os.path.join(d, n))
                except OSError as exc:
                    failed.append((n, exc))
                    continue
                ok.append(n)
                sts.append(st)
            return Scan(d, ok, sts, failed)
        return Scan(d, names, sts, [])
    finally:
        if fd is not None:
            os.close(fd)
