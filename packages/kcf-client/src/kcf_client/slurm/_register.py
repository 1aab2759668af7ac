"""The launcher's registration socket: where the job on the compute node calls back.

The launcher binds a TCP socket (port chosen by the system, so no race) on an address the
nodes can reach and puts that address and a one-time token (from :mod:`secrets`) in the job's
script. The node connects and sends ``kcf-slurm/1 TOKEN JOBID\\n`` first (``JOBID``: the
job's ``SLURM_JOB_ID``, with ``.STEP`` under ``srun``); a connection that does not present
the token within a few seconds is closed and the launcher keeps waiting, so another
user who finds the port can neither take the job's place nor learn anything.

After the token, the connection is the nanny's link (:mod:`kcf_kernel.nanny`). It crosses the
cluster network unencrypted, like the kernel's own ZMQ traffic: its messages are signed, but
an eavesdropper on that network sees them.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
import select
import socket
import time

__all__ = ["Registration", "HELLO"]

#: What the node sends first, then the token and a newline.
HELLO = b"kcf-slurm/1 "
_PEER_TIMEOUT = 10.0
_MAX_JOB_ID = 64


class Registration:
    """A listening socket and the token the job must present.

    .. versionadded:: 0.2.0
    """

    def __init__(self, address: str) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._sock.bind((address, 0))
            self._sock.listen(8)
        except OSError:
            self._sock.close()
            raise
        self.address = address
        self.port: int = self._sock.getsockname()[1]
        self.token = secrets.token_urlsafe(32)

    @property
    def hello(self) -> bytes:
        """The token line the job sends first (then, before the newline, `` JOBID``)."""
        return HELLO + self.token.encode("ascii") + b"\n"

    def accept(self, timeout: float) -> tuple[socket.socket, str] | None:
        """The job's connection and the job id it reports, if it arrives and proves the
        token within ``timeout``.

        Connections without the token are closed. Returns ``None`` when the time is up.
        """
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._sock], [], [], left)
            if not ready:
                return None
            conn, _peer = self._sock.accept()
            job_id = self._check(conn)
            if job_id is not None:
                conn.settimeout(None)
                return conn, job_id
            conn.close()

    def _check(self, conn: socket.socket) -> str | None:
        """The job id after a correct token line, else ``None``. Reads byte by byte up to
        the newline (bounded), so nothing of the link that follows is consumed."""
        want = self.hello[:-1]  # without the newline
        conn.settimeout(_PEER_TIMEOUT)
        line = b""
        with contextlib.suppress(OSError):
            while len(line) < len(want) + _MAX_JOB_ID and not line.endswith(b"\n"):
                chunk = conn.recv(1)
                if not chunk:
                    break
                line += chunk
        if not line.endswith(b"\n"):
            return None
        token, _, job_id = line[:-1].partition(b" ")[2].partition(b" ")
        got = line[: len(HELLO)] + token
        if not hmac.compare_digest(got, want):
            return None
        text = job_id.decode("ascii", "replace")
        return text if all(c.isdigit() or c == "." for c in text) else ""

    def close(self) -> None:
        """Stop listening (idempotent)."""
        self._sock.close()

    def __enter__(self) -> Registration:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def batch_script(python: str, registration: Registration) -> str:
    """The job's script: a Python script (``#!python``) that calls the launcher back, proves
    the token, and runs ``kcf_kernel.nanny`` as ``python -m`` would, in the same process, with
    the connection as its stdin/stdout. Values are written as Python literals (``repr``),
    never through a shell.
    """
    host, port, hello = registration.address, registration.port, registration.hello
    return (
        f"#!{python}\n"
        "# kcf: the job of one kcf kernel. Call the launcher back, then become its nanny.\n"
        "import os, socket, sys\n"
        f"s = socket.create_connection(({host!r}, {port!r}), timeout=60)\n"
        "s.settimeout(None)\n"
        'job = os.environ.get("SLURM_JOB_ID", "")\n'
        'step = os.environ.get("SLURM_STEP_ID", "")\n'
        'job += "." + step if job and step and step.isdigit() else ""\n'
        f"s.sendall({hello[:-1]!r} + b' ' + job.encode() + b'\\n')\n"
        "os.dup2(s.fileno(), 0)\n"
        "os.dup2(s.fileno(), 1)\n"
        "s.close()\n"
        "import runpy\n"  # python -m kcf_kernel.nanny, in this process
        'sys.argv = ["kcf_kernel.nanny"]\n'
        'runpy.run_module("kcf_kernel.nanny", run_name="__main__", alter_sys=True)\n'
    )
