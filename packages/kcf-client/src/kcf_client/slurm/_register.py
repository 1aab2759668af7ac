"""The launcher's registration socket: where the job on the compute node calls back.

The launcher binds a TCP socket (port chosen by the system, so no race) on an address the
nodes can reach and puts that address and a one-time token (from :mod:`secrets`) in the job's
script. The node connects and sends ``kcf-slurm/2 TOKEN JOBID ADDRESS\\n`` first (``JOBID``:
the job's ``SLURM_JOB_ID``, with ``.STEP`` under ``srun``); a connection that does not
present the token within a few seconds is closed and the launcher keeps waiting, so another
user who finds the port can neither take the job's place nor learn anything.

``ADDRESS`` is where the kernel will listen: the node's own end of this connection
(``getsockname()``), the address of the node's interface that routes to the launcher. The
launcher reached the node by that path, so the frontend beside the launcher can reach the
kernel there; a node with several networks (a management and a fast interconnect, say)
picks the one its routes choose for the launcher. The launcher asks the nanny to bind it
and writes it as the connection file's ``ip``. A route through NAT, where the launcher sees
another address, is not supported.

After the token, the connection is the nanny's link (:mod:`kcf_kernel.nanny`). It crosses the
cluster network unencrypted, like the kernel's own ZMQ traffic: its messages are signed, but
an eavesdropper on that network sees them.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import secrets
import select
import socket
import time
from typing import NamedTuple

__all__ = ["Registration", "Callback", "HELLO"]

#: What the node sends first, then the token, the job id, its address and a newline.
HELLO = b"kcf-slurm/2 "
_PEER_TIMEOUT = 10.0
_MAX_TAIL = 64 + 1 + 64  # " JOBID ADDRESS": a job id, an IPv6 address with its scope


class Callback(NamedTuple):
    """The job's accepted call: its connection (the nanny's link), the job id it reports
    (``""`` when it has none) and the node's address for the kernel (``""`` when what it
    sent is not an IP address).

    .. versionadded:: 0.2.0
    """

    conn: socket.socket
    job_id: str
    address: str


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
        """The token line the job sends first (then, before the newline, `` JOBID ADDRESS``)."""
        return HELLO + self.token.encode("ascii") + b"\n"

    def accept(self, timeout: float) -> Callback | None:
        """The job's call, if it arrives and proves the token within ``timeout``.

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
            called = self._check(conn)
            if called is not None:
                conn.settimeout(None)
                return Callback(conn, *called)
            conn.close()

    def _check(self, conn: socket.socket) -> tuple[str, str] | None:
        """The job id and address after a correct token line, else ``None``. Reads byte by
        byte up to the newline (bounded), so nothing of the link that follows is consumed."""
        want = self.hello[:-1]  # without the newline
        conn.settimeout(_PEER_TIMEOUT)
        line = b""
        with contextlib.suppress(OSError):
            while len(line) < len(want) + _MAX_TAIL and not line.endswith(b"\n"):
                chunk = conn.recv(1)
                if not chunk:
                    break
                line += chunk
        if not line.endswith(b"\n"):
            return None
        token, _, rest = line[:-1].partition(b" ")[2].partition(b" ")
        got = line[: len(HELLO)] + token
        if not hmac.compare_digest(got, want):
            return None
        job_id, _, address = rest.decode("ascii", "replace").partition(" ")
        if not all(c.isdigit() or c == "." for c in job_id):
            job_id = ""
        try:
            address = str(ipaddress.ip_address(address))
        except ValueError:
            address = ""
        return job_id, address

    def close(self) -> None:
        """Stop listening (idempotent)."""
        self._sock.close()

    def __enter__(self) -> Registration:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def batch_script(python: str, registration: Registration) -> str:
    """The job's script: a Python script (``#!python``) that calls the launcher back, proves
    the token, reports the job id and its own end's address (the module docstring says why),
    and runs ``kcf_kernel.nanny`` as ``python -m`` would, in the same process, with the
    connection as its stdin/stdout. Values are written as Python literals (``repr``), never
    through a shell.
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
        "here = s.getsockname()[0]\n"  # the node's address on the path to the launcher
        f"s.sendall({hello[:-1]!r} + b' ' + job.encode() + b' ' + here.encode() + b'\\n')\n"
        "os.dup2(s.fileno(), 0)\n"
        "os.dup2(s.fileno(), 1)\n"
        "s.close()\n"
        "import runpy\n"  # python -m kcf_kernel.nanny, in this process
        'sys.argv = ["kcf_kernel.nanny"]\n'
        'runpy.run_module("kcf_kernel.nanny", run_name="__main__", alter_sys=True)\n'
    )
