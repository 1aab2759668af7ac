"""The OpenSSH side of a remote kernel: one ``ssh`` master connection per (re)connect.

``ssh -o ControlMaster=yes -o ControlPath=DIR/cN ... HOST -- PYTHON -m kcf_kernel.nanny``
runs the nanny as the master's session (its stdin/stdout are the link); once the nanny has
reported the kernel's ports, ``ssh -S DIR/cN -O forward -L ...`` asks that same master to
add the five forwards. One TCP connection carries both. ``DIR`` is a private 0700 temp
directory; ``ControlPersist=no``, so the master ends with the nanny's session. The ssh
options (strict host keys, keepalives, batch mode, ``-F``, known_hosts, identity) are the
tunnel module's; ssh is started by a keeper thread with the tunnel's parent-death signal, so
a SIGKILLed launcher takes its ssh along (Linux).
"""

from __future__ import annotations

import collections
import contextlib
import os
import shlex
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from kcf_kernel._nanny_link import StreamLink
from kcf_spec import Channel

from kcf_client.tunnel import BackendUnavailable, TunnelError
from kcf_client.tunnel._base import TunnelOptions
from kcf_client.tunnel._openssh import (
    PortTaken,
    _quote,
    command_argv,
    find_ssh,
    forward_args,
    pdeathsig,
    ssh_options,
)

from ._errors import start_failure

__all__ = ["OpenSSHConnection"]

_TAIL = 40


class OpenSSHConnection:
    """One ssh master running ``command`` on the server (see the module docstring)."""

    backend = "openssh"
    link: StreamLink

    def __init__(self, options: TunnelOptions, command: Sequence[str], control_path: Path) -> None:
        ssh = find_ssh()
        if ssh is None:
            raise BackendUnavailable(
                "the openssh backend needs the ssh command on PATH (install openssh-client), "
                "or use backend='paramiko'",
                server=options.server,
                backend="openssh",
            )
        self._ssh = ssh
        self._options = options
        self._control = control_path
        opts = ssh_options(ssh, options)
        opts.pop("SessionType", None)  # this one runs a command
        opts.update(
            ControlMaster="yes",
            ControlPath=_quote(os.fspath(control_path)),
            ControlPersist="no",
            LogLevel="ERROR",
        )
        # The remote side joins the words with spaces and gives them to the login shell:
        # each word is quoted, so a path with blanks stays one argument.
        self.argv = [*command_argv(ssh, options, opts, ["-T"]), shlex.join(command)]
        self.tail: collections.deque[str] = collections.deque(maxlen=_TAIL)
        self._exited = threading.Event()
        self._started = threading.Event()
        self._errors: list[OSError] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._keeper = threading.Thread(target=self._keep, daemon=True, name="kcf-remote-ssh")
        self._keeper.start()
        self._started.wait()
        if self._errors:
            raise BackendUnavailable(
                f"cannot run {ssh}: {self._errors[0]}", server=options.server, backend="openssh"
            )
        proc = self._popen()
        assert proc.stdout is not None
        assert proc.stdin is not None
        self.link = StreamLink(proc.stdout, proc.stdin)

    def _popen(self) -> subprocess.Popen[bytes]:
        assert self._proc is not None
        return self._proc

    @property
    def pid(self) -> int | None:
        """The ssh process id."""
        return self._proc.pid if self._proc is not None else None

    def _keep(self) -> None:
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                preexec_fn=pdeathsig(),
            )
        except OSError as exc:
            self._errors.append(exc)
            self._started.set()
            self._exited.set()
            return
        self._started.set()
        proc = self._proc
        assert proc.stderr is not None
        try:
            for raw in proc.stderr:
                line = raw.decode("utf-8", "replace").strip()
                if line:
                    self.tail.append(line)
        finally:
            proc.stderr.close()
            proc.wait()
            self._exited.set()

    def forward(
        self,
        local: Mapping[Channel, int],
        remote: Mapping[Channel, tuple[str, int]],
        timeout: float,
    ) -> None:
        opts = {
            "ControlPath": _quote(os.fspath(self._control)),
            "BatchMode": "yes",
            "LogLevel": "ERROR",
        }
        extra = ["-O", "forward", *forward_args(dict(local), dict(remote))]
        argv = command_argv(self._ssh, self._options, opts, extra)
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=max(timeout, 1.0),
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise TunnelError(
                f"the forwards were not set up within {timeout:g} s",
                server=self._options.server,
                backend=self.backend,
            ) from None
        if done.returncode != 0:
            said = done.stderr.decode("utf-8", "replace").strip()
            low = said.lower()
            if "forwarding failed" in low or "address already in use" in low:
                raise PortTaken(said)
            raise TunnelError(
                f"ssh -O forward failed: {said or done.returncode}",
                server=self._options.server,
                backend=self.backend,
            )

    def ended(self, timeout: float | None) -> bool:
        return self._exited.wait(timeout) if timeout != 0 else self._exited.is_set()

    def failure(self, python: str) -> BaseException:
        self._keeper.join(5)
        code = self._proc.returncode if self._proc is not None else None
        return start_failure(self._options.server, python, code, list(self.tail), self.backend)

    def kill(self) -> None:
        """SIGKILL ssh (the connection drops as if the network went away; for tests)."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()

    def close(self) -> None:
        proc = self._proc
        self.link.close()
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            if not self._exited.wait(5):
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        self._keeper.join(5)
        with contextlib.suppress(OSError):
            self._control.unlink()
