"""Launching a console frontend attached to a running kernel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._errors import ProgramNotFound

__all__ = ["console_argv", "launch_console", "connect_qtconsole", "FRONTENDS"]

#: Known frontends: name -> (program, install hint).
FRONTENDS: dict[str, tuple[str, str]] = {
    "console": ("jupyter-console", "pip install jupyter-console"),
    "qtconsole": ("jupyter-qtconsole", "pip install qtconsole"),
}


def _which(program: str) -> str | None:
    """``program`` on PATH, else beside the running Python (a venv not on PATH)."""
    found = shutil.which(program)
    if found is not None:
        return found
    beside = Path(sys.executable).parent / program
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def console_argv(
    connection_file: str | os.PathLike[str],
    frontend: str | Sequence[str] = "console",
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The command line that attaches ``frontend`` to the kernel of ``connection_file``.

    Args:
        connection_file: the kernel's connection file.
        frontend: ``"console"`` (jupyter-console), ``"qtconsole"``, or an argv template
            whose items may hold ``{connection_file}``, e.g.
            ``["my-term", "--kernel", "{connection_file}"]``.
        extra_args: more arguments for the frontend.

    Raises:
        ProgramNotFound: the frontend's program is not installed; the error names it.

    .. versionadded:: 0.1.0
    """
    cf = os.fspath(connection_file)
    if isinstance(frontend, str):
        if frontend not in FRONTENDS:
            known = ", ".join(FRONTENDS)
            raise ValueError(f"unknown frontend {frontend!r} (known: {known}; or an argv list)")
        program, hint = FRONTENDS[frontend]
        exe = _which(program)
        if exe is None:
            raise ProgramNotFound(program, hint)
        return [exe, "--existing", cf, *extra_args]
    template = list(frontend)
    if not template:
        raise ValueError("an argv template needs at least the program")
    argv = [part.replace("{connection_file}", cf) for part in template]
    exe = _which(argv[0]) if os.sep not in argv[0] else argv[0]
    if exe is None or not os.path.exists(exe):
        raise ProgramNotFound(argv[0])
    return [exe, *argv[1:], *extra_args]


def launch_console(
    connection_file: str | os.PathLike[str],
    frontend: str | Sequence[str] = "console",
    *,
    extra_args: Sequence[str] = (),
    **popen_kwargs: Any,
) -> subprocess.Popen[bytes]:
    """Start a frontend attached to a kernel and return its process (not waited for).

    The connection file may be a path, a name or a glob (see
    :func:`~kcf_client.find_connection_file`). Standard streams are inherited unless
    ``popen_kwargs`` says otherwise, so a terminal console takes over the terminal.

    Raises:
        ProgramNotFound: the frontend's program is not installed.
        ConnectionFileNotFound: no connection file matches.

    .. versionadded:: 0.1.0
    """
    from ._find import find_connection_file

    cf = find_connection_file(os.fspath(connection_file))
    argv = console_argv(cf, frontend, extra_args)
    try:
        return subprocess.Popen(argv, **popen_kwargs)
    except FileNotFoundError as exc:
        raise ProgramNotFound(argv[0]) from exc


def connect_qtconsole(
    connection_file: str | os.PathLike[str] | None = None, argv: Sequence[str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a Qt console attached to a kernel, as ipykernel's helper of that name does.

    Compatibility helper: with no ``connection_file``, the kernel this code runs in
    (see :func:`~kcf_client.get_connection_file`). The console runs in its own session
    so that interrupting the kernel does not kill it.

    Raises:
        ProgramNotFound: qtconsole is not installed.
        NotInKernel: no file given and not running inside a kernel.

    .. versionadded:: 0.1.0
    """
    if connection_file is None:
        from .compat import get_connection_file

        connection_file = get_connection_file()
    return launch_console(
        connection_file,
        "qtconsole",
        extra_args=list(argv or ()),
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
