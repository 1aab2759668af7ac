"""Remote-kernel fixtures: the private sshd of ``tests/ssh`` (the same fixtures, imported;
``backend`` runs a test once per SSH backend),
a "remote Python" that keeps the nanny's runtime dir inside the test, and process probes."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
from remote.support import Remote
from ssh.conftest import SSHServer, backend, doomed_sshd, sshd

__all__ = ["backend", "doomed_sshd", "sshd", "remote_python", "remote"]


@pytest.fixture
def remote_python(tmp_path: Path) -> Path:
    """A wrapper around this Python giving the remote side its own runtime dir."""
    runtime = tmp_path / "remote-runtime"
    script = tmp_path / "remote python"  # a blank: the remote command must quote it
    script.write_text(
        "#!/bin/sh\n"
        f"JUPYTER_RUNTIME_DIR={shlex.quote(str(runtime))}; export JUPYTER_RUNTIME_DIR\n"
        f'exec {shlex.quote(sys.executable)} "$@"\n'
    )
    script.chmod(0o700)
    return script


@pytest.fixture
def remote(sshd: SSHServer, remote_python: Path) -> Remote:
    """The private sshd as a remote host (alias ``kcf-plain``)."""
    return Remote(sshd, remote_python, remote_python.parent / "remote-runtime")
