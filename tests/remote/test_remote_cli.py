"""``kcf start --ssh`` through the private sshd, with a real ipykernel: the local file works
with ``kcf exec``; ``kcf stop FILE`` and SIGTERM end the remote kernel with nothing left on
either side; KERNELSPEC and ``-- ARGV`` stay apart."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from remote.support import Remote, pids_with, wait_for

pytestmark = [pytest.mark.ssh, pytest.mark.interop]

KERNEL_ARGV = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


def _kcf(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kcf_client", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _ssh_args(remote: Remote, backend: str = "openssh") -> list[str]:
    return [
        "--ssh",
        "kcf-plain",
        "--remote-python",
        remote.python,
        "--ssh-config",
        str(remote.server.ssh_config),
        "--known-hosts",
        str(remote.server.known_hosts),
        "--ssh-backend",
        backend,
        "--timeout",
        "60",
    ]


class Started:
    """A running ``kcf start --ssh`` and the local file it printed."""

    def __init__(
        self, proc: subprocess.Popen[str], path: Path, doc: dict[str, object], backend: str
    ) -> None:
        self.backend = backend
        self.proc = proc
        self.path = path
        self.doc = doc


@pytest.fixture
def started(remote: Remote, request: pytest.FixtureRequest) -> Iterator[Started]:
    """``kcf --json start --ssh kcf-plain ... -- ipykernel argv``, its JSON read."""
    backend = getattr(request, "param", "openssh")
    argv = ["start", "--json", *_ssh_args(remote, backend), "--", *KERNEL_ARGV]
    proc = subprocess.Popen(
        [sys.executable, "-m", "kcf_client", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        text = ""
        while not text.rstrip().endswith("}"):  # one indented JSON document
            line = proc.stdout.readline()
            if not line:
                assert proc.stderr is not None
                pytest.fail(f"kcf start --ssh ended: {proc.wait(30)} {proc.stderr.read()}")
            text += line
        doc = json.loads(text)
        yield Started(proc, Path(str(doc["path"])), doc, backend)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)


def _nothing_left(remote: Remote, started: Started) -> None:
    pid = int(started.doc["pid"])  # type: ignore[call-overload]
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), 60, "the remote kernel exited")
    wait_for(lambda: not pids_with("kcf_kernel.nanny"), 30, "no nanny left")
    wait_for(lambda: not pids_with(str(remote.server.ssh_config)), 30, "no ssh left")
    wait_for(lambda: remote.leftovers() == [], 30, f"remote files removed: {remote.leftovers()}")
    assert not started.path.exists()


class TestKcfStartSsh:
    def test_kcf_start_ssh_exec_then_kcf_stop(self, remote: Remote, started: Started) -> None:
        """The printed local file works with kcf exec; kcf stop FILE ends the remote kernel,
        kcf start ends with it, and nothing is left on either side."""
        info = json.loads(started.path.read_text())
        assert info["ip"] == "127.0.0.1"
        assert started.doc["host"] == "kcf-plain"
        done = _kcf("exec", str(started.path), "1+1")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "2"
        stopped = _kcf("stop", str(started.path), "--timeout", "60")
        assert stopped.returncode == 0, stopped.stderr
        assert started.proc.wait(60) == 1  # the kernel ended by itself: kcf start says so
        assert started.proc.stderr is not None
        assert "exited" in started.proc.stderr.read()
        _nothing_left(remote, started)

    @pytest.mark.parametrize("started", ["openssh", "paramiko"], indirect=True)
    def test_kcf_start_ssh_sigterm(self, remote: Remote, started: Started) -> None:
        """SIGTERM to kcf start shuts the remote kernel down; nothing left on either side
        (each backend)."""
        done = _kcf("exec", str(started.path), "x = 6 * 7; x")
        assert done.stdout.strip() == "42", done.stderr
        started.proc.send_signal(signal.SIGTERM)
        assert started.proc.wait(60) == 0
        assert started.doc["backend"] == started.backend
        _nothing_left(remote, started)

    def test_kcf_start_ssh_kernelspec_is_not_argv(self, remote: Remote) -> None:
        """A KERNELSPEC word goes to the remote host as a kernelspec (the error names it);
        with '-- ARGV' as well it is a usage error."""
        done = _kcf("start", *_ssh_args(remote), "no-such-kernel-xyz")
        assert done.returncode not in (0, 2), done.stderr
        assert "no-such-kernel-xyz" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        both = _kcf("start", *_ssh_args(remote), "python3", "--", *KERNEL_ARGV)
        assert both.returncode == 2
        assert "not both" in both.stderr
        wait_for(lambda: remote.leftovers() == [], 30, "remote files removed")

    def test_kcf_start_ssh_refuses_local_options(self, remote: Remote) -> None:
        """--outlive is a local kernel's: refused with --ssh, nothing started."""
        done = _kcf("start", *_ssh_args(remote), "--outlive")
        assert done.returncode == 2
        assert "--outlive" in done.stderr
