"""Finding connection files: jupyter_client's search rules, made deterministic and fast.

The directory scanning itself (one listing, one matching pass, one ``stat`` per match
relative to a directory descriptor) is :mod:`kcf_client._scan`'s, shared with
:func:`~kcf_client.list_kernels`. ``pathlib`` is imported only to build the returned path,
and the paths returned are remembered (a ``Path`` is immutable, and building one costs more
than the lookup that found it).
"""

from __future__ import annotations

import os
from stat import S_ISREG

from kcf_spec import ConnectionFileNotFound

from ._scan import expand, scan_dir, search_dirs

# Not `from typing import TYPE_CHECKING`: typing costs milliseconds at every `kcf` start
# (type checkers treat any name TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from ._scan import SearchPath

__all__ = [
    "find_connection_file",
    "find_connection_files",
    "default_search_path",
    "default_runtime_dir",
]

# Preference tiers of a bare name's matches (a lower tier wins before mtime is looked at).
_KERNEL_JSON, _OTHER_JSON = 0, 1
# Below every modification time: a match that is not a regular file.
_GONE = float("-inf")


def default_runtime_dir() -> Path:
    """The Jupyter runtime directory (``$JUPYTER_RUNTIME_DIR``...), not created.

    .. versionadded:: 0.1.0
    """
    from kcf_kernel import runtime_dir

    return _path(os.fspath(runtime_dir(create=False)))


def default_search_path() -> list[Path]:
    """Where a bare name is looked for: the current directory, then the runtime directory.

    .. versionadded:: 0.1.0
    """
    return [_path(os.getcwd()), default_runtime_dir()]


def _dir_strs(path: SearchPath) -> list[str]:
    return search_dirs(path, default_search_path)


def _glob_of(name: str) -> tuple[str, str | None]:
    """The glob a name stands for, and the part a bare name must contain (else ``None``).

    Raises:
        ValueError: the name is empty (it would match every file).
    """
    if not name:
        raise ValueError(
            "an empty connection file name matches every file: give a path, a file name,"
            " a part of one (e.g. the kernel id) or a glob"
        )
    if "*" in name:
        return name, None
    return f"*{name}*", name


def _ranked(name: str, dirs: list[str]) -> list[tuple[int, float, str, str]]:
    """``(tier, -mtime, dir, name)`` of every regular file matching, best first.

    A glob's matches all have tier 0. A bare name's matches (files whose name contains it)
    are ranked: ``kernel-*name*.json`` first, then other ``*.json``; other files never
    match a bare name (a log named after the kernel is not its connection file).
    """
    pattern, part = _glob_of(name)
    head, tail = os.path.split(pattern)
    if head:  # a pattern with a directory part: search that part under each directory
        dirs = _dir_strs([os.path.join(d, head) for d in dirs])
        pattern = tail
    found: list[tuple[int, float, str, str]] = []
    for d in dirs:
        scan = scan_dir(d, pattern)
        for n, st in zip(scan.names, scan.stats, strict=True):
            if not S_ISREG(st.st_mode):
                continue
            tier = 0 if part is None else _tier(n, part)
            if tier is not None:
                found.append((tier, -st.st_mtime, d, n))
    found.sort()
    return found


def _tier(name: str, part: str) -> int | None:
    if not name.endswith(".json"):
        return None
    if name.startswith("kernel-") and part in name[7:-5]:
        return _KERNEL_JSON
    return _OTHER_JSON


def _best_of_glob(pattern: str, dirs: list[str]) -> tuple[str, str] | None:
    """``(dir, name)`` of the newest regular file matching a glob without a directory part:
    greatest mtime, then smallest dir, then smallest name (no sort, no per-file tuples)."""
    best: tuple[float, str, str] | None = None
    for d in dirs:
        scan = scan_dir(d, pattern)
        if not scan.names:
            continue
        stats, names = scan.stats, scan.names
        times = [st.st_mtime for st in stats]
        while True:  # the newest, if it is a regular file; else drop it and look again
            t = max(times)
            i = times.index(t)
            if t == _GONE or S_ISREG(stats[i].st_mode):
                break
            times[i] = _GONE
        if t == _GONE or (best is not None and t < best[0]):
            continue
        if times.count(t) == 1:
            n = names[i]
        else:  # ties: the smallest name among the regular files
            n = min([names[j] for j, x in enumerate(times) if x == t and S_ISREG(stats[j].st_mode)])
        if best is None or t > best[0] or (d, n) < (best[1], best[2]):
            best = (t, d, n)
    return None if best is None else (best[1], best[2])


def _existing(name: str, dirs: list[str]) -> str | None:
    """Rule 1: the absolute path of ``name`` as an existing file, or ``None``."""
    isfile = os.path.isfile
    if os.path.isabs(name):
        return name if isfile(name) else None
    join = os.path.join
    # A plain file name needs no normalising: each directory already is absolute and normal.
    plain = os.sep not in name and (os.altsep is None or os.altsep not in name)
    plain = plain and name not in ("", ".", "..")
    for d in dirs:
        p = join(d, name)
        if isfile(p):
            return p if plain else os.path.abspath(p)
    return None


def find_connection_file(name_or_glob: str = "kernel-*.json", path: SearchPath = None) -> Path:
    """Find a connection file by path, name, part of a name, or glob; return its absolute path.

    The rules are jupyter_client's, made deterministic:

    1. ``name_or_glob`` naming an existing file (``~`` and ``$VARS`` expanded; absolute,
       or relative to each search directory in turn) is returned as it is, without
       listing any directory.
    2. A glob (it holds ``*``) is matched in every search directory; among the matching
       regular files the newest by modification time wins, ties broken by directory, then
       name. Hidden files (``.*``) match only a glob that starts with ``.``.
    3. Any other name is a part of a file name (``"abc"`` finds ``kernel-abc.json``):
       among the ``*.json`` files whose name contains it, ``kernel-*abc*.json`` files are
       preferred, then other ``*.json`` files; within each group the newest wins, as in 2.
       Files not named ``*.json`` (a log named after the kernel...) never match a part.

    :func:`find_connection_files` gives every match in this order (to say what was chosen
    among several).

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
        ValueError: ``name_or_glob`` is empty.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       A part of a name prefers ``kernel-*part*.json`` and never picks a non-JSON file; an
       empty name is an error (it used to pick the newest file of the directory).
    """
    name = expand(name_or_glob)
    if os.path.isabs(name) and os.path.isfile(name):
        return _path(name)
    dirs = _dir_strs(path)
    found = _existing(name, dirs)
    if found is not None:
        return _path(found)
    pattern, part = _glob_of(name)
    if part is None and not os.path.dirname(pattern):
        best = _best_of_glob(pattern, dirs)
        if best is not None:
            return _path(os.path.join(*best))
    else:
        ranked = _ranked(name, dirs)
        if ranked:
            return _path(os.path.join(ranked[0][2], ranked[0][3]))
    raise ConnectionFileNotFound(name_or_glob, tuple(dirs))


def find_connection_files(
    name_or_glob: str = "kernel-*.json", path: SearchPath = None
) -> list[Path]:
    """Every file :func:`find_connection_file` could return, best first.

    The first item is what :func:`find_connection_file` returns; the others are the
    alternatives it passed over (for a message such as "3 files match; chose ...").
    A name that is an existing file gives that file alone.

    Args:
        name_or_glob: as for :func:`find_connection_file`.
        path: as for :func:`find_connection_file`.

    Returns:
        The absolute paths, in the order of preference (never empty).

    Raises:
        ConnectionFileNotFound: nothing matched.
        ValueError: ``name_or_glob`` is empty.

    .. versionadded:: 0.2.0
    """
    name = expand(name_or_glob)
    dirs = _dir_strs(path)
    found = _existing(name, dirs)
    if found is not None:
        return [_path(found)]
    ranked = _ranked(name, dirs)
    if not ranked:
        raise ConnectionFileNotFound(name_or_glob, tuple(dirs))
    return [_path(os.path.join(d, n)) for _, _, d, n in ranked]


_Path: type[Path] | None = None
# The paths returned lately, by string: building a ``Path`` costs more than finding the file.
_PATHS: dict[str, Path] = {}


def _path(s: str) -> Path:
    """``Path(s)``, remembered; ``pathlib`` imported on first use (not at ``import kcf_client``)."""
    p = _PATHS.get(s)
    if p is not None:
        return p
    global _Path
    if _Path is None:
        from pathlib import Path

        _Path = Path
    p = _Path(s)
    if len(_PATHS) >= 256:
        _PATHS.clear()
    _PATHS[s] = p
    return p
