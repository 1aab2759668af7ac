"""Where Jupyter keeps runtime files, resolved exactly as ``jupyter_core.paths`` does.

The rules (jupyter_core 5):

* runtime dir: ``$JUPYTER_RUNTIME_DIR`` if set and not empty, else ``<data dir>/runtime``;
* data dir: ``$JUPYTER_DATA_DIR`` if set and not empty; else, when ``JUPYTER_PLATFORM_DIRS``
  is set to a true value, ``platformdirs.user_data_dir("jupyter")`` ("Jupyter" on Windows and
  on macOS outside Homebrew); else ``~/Library/Jupyter`` (macOS),
  ``%APPDATA%\\jupyter`` (Windows, falling back to ``<config dir>\\data``), or
  ``$XDG_DATA_HOME/jupyter`` with ``~/.local/share`` as the default (everything else).
* ``~`` is the resolved home directory (symlinks followed, as jupyter_core does).

A test compares :func:`runtime_dir` with ``jupyter_core.paths.jupyter_runtime_dir()`` under
each of these settings, so the two cannot drift apart silently.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from kcf_spec import ownership_problem

from ._errors import InsecureWriteWarning, RuntimeDirError, insecure_mode_reason

__all__ = [
    "runtime_dir",
    "jupyter_data_dir",
    "ensure_private_dir",
    "check_dir_trusted",
    "env_flag",
    "ALLOW_INSECURE_RUNTIME_DIR",
]

#: The escape hatch for :func:`check_dir_trusted`: set to a true word, a runtime dir owned by
#: another user or writable by others is used anyway, with an :class:`InsecureWriteWarning`.
ALLOW_INSECURE_RUNTIME_DIR = "KCF_ALLOW_INSECURE_RUNTIME_DIR"

_FALSE = frozenset({"no", "n", "false", "off", "0", "0.0"})


def _appname() -> str:
    if sys.platform == "win32" or (
        sys.platform == "darwin" and not sys.prefix.startswith("/opt/homebrew")
    ):
        return "Jupyter"
    return "jupyter"


def env_flag(name: str, default: bool = False) -> bool:
    """``True`` when the environment variable is set to anything but a false word.

    The false words are jupyter_core's: ``no``, ``n``, ``false``, ``off``, ``0``, ``0.0``
    (any case). An unset variable gives ``default``.
    """
    value = os.environ.get(name)
    if value is None:
        return default
    return value.lower() not in _FALSE


def _home() -> Path:
    return Path("~").expanduser().resolve()


def _config_dir() -> str:
    env = os.environ.get("JUPYTER_CONFIG_DIR")
    if env:
        return env
    if env_flag("JUPYTER_PLATFORM_DIRS"):
        import platformdirs

        return platformdirs.user_config_dir(_appname(), appauthor=False)
    return os.path.join(str(_home()), ".jupyter")


def jupyter_data_dir() -> Path:
    """The per-user Jupyter data directory (not created).

    .. versionadded:: 0.1.0
    """
    env = os.environ.get("JUPYTER_DATA_DIR")
    if env:
        return Path(env)
    if env_flag("JUPYTER_PLATFORM_DIRS"):
        import platformdirs

        return Path(platformdirs.user_data_dir(_appname(), appauthor=False))
    if sys.platform == "darwin":
        return _home() / "Library" / "Jupyter"
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        appdata = os.environ.get("APPDATA")
        if appdata:
            return Path(appdata, "jupyter").resolve()
        return Path(_config_dir(), "data")
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(str(_home()), ".local", "share")
    return Path(xdg, "jupyter")


def runtime_dir(*, create: bool = True) -> Path:
    """The Jupyter runtime directory, where connection files live.

    Resolved as ``jupyter_core.paths.jupyter_runtime_dir()`` resolves it (see the module
    docstring), so files written here are found by jupyter_client and the other way round.

    Args:
        create: create it (mode 0700, parents as needed) when it does not exist.

    An existing directory must be one only you can write (see :func:`check_dir_trusted`):
    otherwise someone else could put or swap the connection files kcf reads from it.

    Raises:
        RuntimeDirError: it cannot be created; the path exists and is not a directory; or it
            is owned by another user or writable by group or others.

    .. versionchanged:: 0.2.0
       A runtime dir owned by another user, or writable by group or others, is refused.

    .. versionadded:: 0.1.0
    """
    env = os.environ.get("JUPYTER_RUNTIME_DIR")
    path = Path(env) if env else jupyter_data_dir() / "runtime"
    if create:
        ensure_private_dir(path)
    else:
        try:
            st = os.stat(path)
        except OSError:  # missing (or unreadable): nothing in it to trust or distrust
            return path
        if stat.S_ISDIR(st.st_mode):
            check_dir_trusted(path, st)
    return path


def check_dir_trusted(path: Path, st: os.stat_result | None = None) -> None:
    """Refuse a directory that someone else could put files in, as OpenSSH's ``StrictModes``
    refuses such a ``~/.ssh``: it must be owned by you (or root) and not writable by its group
    or by others. A symlink is judged by the directory it leads to.

    Escape hatches: ``KCF_ALLOW_INSECURE_RUNTIME_DIR`` (any problem) and, for a directory
    you own that is only too open (what CIFS or WSL drvfs show for every directory),
    jupyter_core's ``JUPYTER_ALLOW_INSECURE_WRITES``; either gives an
    :class:`InsecureWriteWarning` instead of the error.

    Raises:
        RuntimeDirError: the directory is not trusted; the message says why and names the
            escape hatch.
    """
    if st is None:
        st = os.stat(path)
    problem = ownership_problem(st, "directory")
    if problem is None:
        return
    foreign = "owned by" in problem
    if env_flag(ALLOW_INSECURE_RUNTIME_DIR) or (
        not foreign and env_flag("JUPYTER_ALLOW_INSECURE_WRITES")
    ):
        import warnings  # on this rare path only: every kcf start resolves the runtime dir

        warnings.warn(
            f"{path} is used although {problem}: other users may put or replace connection "
            "files in it",
            InsecureWriteWarning,
            stacklevel=3,
        )
        return
    hatch = f"{ALLOW_INSECURE_RUNTIME_DIR}=1"
    if not foreign:
        hatch += " (or JUPYTER_ALLOW_INSECURE_WRITES=1)"
    raise RuntimeDirError(
        path,
        f"is not safe to use: {problem}, so someone else could put or replace the connection "
        f"files in it (their keys and ports). Use a directory only you can write (chmod 700 "
        f"it, or set JUPYTER_RUNTIME_DIR), or set {hatch} to use it anyway",
    )


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` with mode 0700 when it is missing (parents with the default mode).

    An existing directory is not changed, but it must be one only you can write
    (:func:`check_dir_trusted`: owned by you or root, not writable by group or others). A
    directory this
    call creates must end up 0700: when the file system will not have it (CIFS, WSL drvfs...),
    the new directory is removed again and :class:`RuntimeDirError` says so, unless
    ``JUPYTER_ALLOW_INSECURE_WRITES`` is set (then it is kept, with an
    :class:`InsecureWriteWarning`).

    Raises:
        RuntimeDirError: it cannot be created, it exists and is not a directory, it is not
            trusted (see :func:`check_dir_trusted`), or the file system will not give the
            new directory mode 0700.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        pass
    except NotADirectoryError as exc:
        raise RuntimeDirError(path, "cannot be created: a parent is not a directory") from exc
    except OSError as exc:
        raise RuntimeDirError(path, f"cannot be examined: {exc.strerror}") from exc
    else:
        if not stat.S_ISDIR(st.st_mode):
            raise RuntimeDirError(path, "exists and is not a directory")
        check_dir_trusted(path, st)
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            if not path.is_dir():
                raise RuntimeDirError(path, "exists and is not a directory") from None
            check_dir_trusted(path)  # created concurrently: by whom?
            return
        _make_private_dir(path)
    except RuntimeDirError:
        raise
    except (FileExistsError, NotADirectoryError) as exc:
        raise RuntimeDirError(
            path, f"cannot be created: a parent is not a directory ({exc.filename})"
        ) from exc
    except OSError as exc:
        raise RuntimeDirError(path, f"cannot be created: {exc.strerror}") from exc


def _make_private_dir(path: Path) -> None:
    """Give the directory just created mode 0700 exactly (the umask may have taken bits away),
    or remove it and raise when the file system will not."""
    chmod_error = None
    try:
        os.chmod(path, 0o700)
    except OSError as exc:  # CIFS, WSL drvfs... refuse it (EPERM)
        chmod_error = exc.strerror or str(exc)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if os.name == "nt" or mode == 0o700:  # on Windows POSIX modes do not apply
        return
    reason = insecure_mode_reason(mode, 0o700, chmod_error)
    if env_flag("JUPYTER_ALLOW_INSECURE_WRITES"):
        import warnings  # on this rare path only: every kcf start resolves the runtime dir

        warnings.warn(
            f"runtime directory {path} is kept because JUPYTER_ALLOW_INSECURE_WRITES is set: "
            f"{reason}; other users may be able to list its connection files",
            InsecureWriteWarning,
            stacklevel=4,
        )
        return
    import contextlib

    with contextlib.suppress(OSError):
        os.rmdir(path)
    raise RuntimeDirError(
        path,
        f"cannot be made private: {reason} (set JUPYTER_ALLOW_INSECURE_WRITES=1 to use it "
        "anyway, with a warning)",
    )
