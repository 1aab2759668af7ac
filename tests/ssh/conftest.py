"""A private OpenSSH server on 127.0.0.1 (and ::1), and what the tunnel tests need around it.

Everything lives in one temp dir: the server's host key, ``sshd_config``, authorized keys,
log; the client's keys (plain and passphrase-protected), ``known_hosts`` and an
``ssh_config`` with aliases:

- ``kcf-plain``: root, key auth.
- ``kcf-jump``: the same server reached through itself with ``ProxyJump kcf-plain``.
- ``kcf-jump2``: a two-hop chain, ``ProxyJump kcf-plain,USER@localhost:PORT`` (another
  name for the last hop: OpenSSH refuses a last hop equal to the target).
- ``kcf-proxycmd``: likewise with ``ProxyCommand ssh -F CFG -W %h:%p kcf-plain``.
- ``kcf-pw``: the password user, password auth only.
- ``kcf-enc``: the password user, key auth with the encrypted key only.

The password user is a dedicated local account made for this session only when running as
root: ``useradd --system --no-create-home kcft<6 hex>``, a password from :mod:`secrets`
(``chpasswd``), ``userdel`` at the end. A name per session, so that concurrent test runs
never change each other's password; root's password is never touched. Without root the
password tests fail (``KCF_REQUIRE_REAL_PARTS=1``) or skip.

With ``KCF_REQUIRE_REAL_PARTS=1`` (set by ``.ci/run``) a server that cannot start FAILS the
tests; without it, a developer machine lacking ``sshd`` skips them with the reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from realparts import missing_real_part
from ssh.sshd_server import (
    PASSPHRASE,
    PW_USER_PREFIX,
    SSHD,
    SSHDUnavailable,
    SSHServer,
    _make_password_user,
    _remove_password_user,
)
from ssh.sshd_server import start_sshd as _start_sshd

__all__ = ["PASSPHRASE", "PW_USER_PREFIX", "SSHD", "SSHServer", "start_sshd"]

pytestmark = pytest.mark.ssh


def start_sshd(base: Path, **options: object) -> SSHServer:
    """:func:`sshd_server.start_sshd`; an absent or failing sshd fails or skips the test."""
    try:
        return _start_sshd(base, **options)  # type: ignore[arg-type]
    except SSHDUnavailable as exc:
        missing_real_part(str(exc))


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    """The session's private sshd (key and, as root, password auth)."""
    saved = os.environ.pop("SSH_AUTH_SOCK", None)  # never the developer's agent
    base = Path(tempfile.mkdtemp(prefix="kcf-sshd-"))
    made = _make_password_user()
    try:
        if made is None:
            server = start_sshd(base, password=None)
        else:
            server = start_sshd(base, password=made[1], pw_user=made[0])
    except BaseException:
        if made is not None:
            _remove_password_user(made[0])
        raise
    try:
        yield server
    finally:
        server.stop()
        if made is not None:
            _remove_password_user(made[0])
        shutil.rmtree(base, ignore_errors=True)
        if saved is not None:
            os.environ["SSH_AUTH_SOCK"] = saved


@pytest.fixture
def doomed_sshd(sshd: SSHServer) -> Iterator[SSHServer]:
    """A second, private sshd for one test, which may kill it (same client keys)."""
    base = Path(tempfile.mkdtemp(prefix="kcf-sshd-doomed-"))
    server = start_sshd(
        base, password=None, client_key=sshd.client_key, encrypted_key=sshd.encrypted_key
    )
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["paramiko", "openssh"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each test runs once per backend."""
    return str(request.param)


@pytest.fixture(scope="session")
def kernel() -> Iterator[object]:
    """A real ipykernel on 127.0.0.1 (the "remote" kernel), via jupyter_client."""
    try:
        from jupyter_client.manager import KernelManager
    except ImportError:
        missing_real_part("jupyter_client is not installed")
    km = KernelManager(kernel_name="python3")
    km.ip = "127.0.0.1"
    km.start_kernel(extra_arguments=["--HistoryManager.enabled=False"])
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        kc.stop_channels()
        yield km
    finally:
        km.shutdown_kernel(now=True)


class Sink:
    """A TCP server that reads everything, then replies with the SHA-256 of what it read."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, daemon=True, name="test-sink")
        self._thread.start()

    def _serve(self) -> None:
        import hashlib

        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                h = hashlib.sha256()
                n = 0
                while chunk := conn.recv(1 << 16):
                    h.update(chunk)
                    n += len(chunk)
                conn.sendall(h.hexdigest().encode() + b" " + str(n).encode())

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(5)


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A checksumming sink on 127.0.0.1."""
    s = Sink()
    try:
        yield s
    finally:
        s.close()
