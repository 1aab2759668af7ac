"""Execute notebooks through nbclient in separate processes (tests and benchmarks share it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["write_notebook", "run_notebooks", "RUNNER"]

#: One notebook, one process: execute in place with nbclient; exit 0 on success.
RUNNER = (
    "import sys, nbformat, nbclient\n"
    "nb = nbformat.read(sys.argv[1], as_version=4)\n"
    "nbclient.NotebookClient(nb, timeout=120, startup_timeout=120, kernel_name='python3')"
    ".execute()\n"
    "nbformat.write(nb, sys.argv[1])\n"
)


def write_notebook(path: Path) -> Path:
    """A two-cell notebook whose output proves it ran in a kernel."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import os\nx = 6 * 7"),
        nbformat.v4.new_code_cell("print('answer', x)"),
    ]
    nbformat.write(nb, path)
    return path


def run_notebooks(
    paths: list[Path],
    *,
    provisioner: str,
    runtime_dir: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 600.0,
) -> list[int]:
    """Execute each notebook in its own process, all at once; return their exit statuses.

    Processes still running at ``timeout`` are killed (status ``-9``).
    """
    full = dict(os.environ)
    full.update(env or {})
    full["JUPYTER_DEFAULT_PROVISIONER_NAME"] = provisioner
    full["JUPYTER_RUNTIME_DIR"] = str(runtime_dir)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RUNNER, str(p)],
            env=full,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for p in paths
    ]
    deadline = time.monotonic() + timeout
    codes: list[int] = []
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if proc.returncode != 0:
            sys.stderr.write(err.decode(errors="replace")[-2000:])
        codes.append(proc.returncode)
    return codes
