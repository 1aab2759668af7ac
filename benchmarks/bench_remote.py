"""Remote kernels over SSH: start, round trip, recovery after a drop, side by side.

The "remote host" is a private sshd on 127.0.0.1 started here (as in the tests, with
``tests/ssh/sshd_server.py``); the kernel is a real ipykernel.

- **start to first kernel_info**: :func:`kcf_client.remote.start_remote_kernel` and a
  first ``kernel_info`` through its local file, vs the manual way: write a connection
  file here (jupyter_client), copy it over (``ssh HOST 'cat > FILE'``), start ``ssh HOST
  python -m ipykernel_launcher -f FILE``, the five ``ssh -f -L ... sleep`` forwards of
  ``jupyter_client.tunnel_to_kernel`` (its exact command, run without the pexpect pty that
  often kills it here: the manual way at its best), then a ``BlockingKernelClient`` asking
  ``kernel_info`` until answered (``wait_for_ready`` calls a kernel still starting behind
  a tunnel dead).
- **round trip**: a ``kernel_info`` round trip through the remote kernel's forwards vs
  straight to its ports (the same machine: the cost of the tunnel alone).
- **recovery after a drop**: the SSH connection killed under a connected frontend; time
  until that same frontend's ``kernel_info`` is answered again, vs the manual way's
  recovery (the forwards again, a new client on the new ports).

remote_ikernel is not compared: it does not install on this Python (its last release
predates jupyter_client 7). Runnable alone: ``python benchmarks/bench_remote.py [--quick]``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import QUICK, Case, Figure, main
from bench_tunnel import _JcOpenSSH, _keep, _world

if TYPE_CHECKING:
    from jupyter_client import BlockingKernelClient

KERNEL = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
KERNEL_ARGS = ["--HistoryManager.enabled=False"]
TRIES = 2 if QUICK else 5


def _ssh_base() -> list[str]:
    s = _keep["sshd"]
    return ["ssh", "-F", str(s.ssh_config), "-o", "BatchMode=yes"]


def _ours_start() -> Any:
    from kcf_client.remote import start_remote_kernel

    s = _keep["sshd"]
    return start_remote_kernel(
        "kcf-plain",
        remote_python=sys.executable,
        argv=[*KERNEL, *KERNEL_ARGS],
        ssh_config=s.ssh_config,
        known_hosts=s.known_hosts,
        grace=10.0,
    )


def _kcf_info(target: Any) -> None:
    import kcf_client

    with kcf_client.connect(target) as kc:
        kc.wait_until_ready(timeout=60)


class _Manual:
    """The manual way: a file written here, copied, the kernel started over ssh, tunnels."""

    def __init__(self) -> None:
        from jupyter_client.connect import write_connection_file

        self.dir = Path(tempfile.mkdtemp(prefix="kcf-bench-remote-"))
        local = self.dir / "kernel-local.json"
        remote = self.dir / "kernel-remote.json"  # "on the remote host" (same machine here)
        fname, info = write_connection_file(str(local), ip="127.0.0.1")
        with open(fname, "rb") as f:
            subprocess.run(
                [*_ssh_base(), "kcf-plain", f"cat > {remote}"], stdin=f, check=True, timeout=60
            )
        self.kernel = subprocess.Popen(
            [*_ssh_base(), "kcf-plain", *KERNEL[:-1], str(remote), *KERNEL_ARGS],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.info = info
        self.client: BlockingKernelClient | None = None
        self.lports: list[int] = []
        try:
            self.reconnect()
        except BaseException:
            self.close()
            raise

    def _keyfile(self) -> str:
        s = _keep["sshd"]
        return f"{s.client_key} -F {s.ssh_config}"

    def reconnect(self) -> None:
        """Forwards as tunnel_to_kernel makes them (new local ports), a client on them, ready."""
        from jupyter_client import BlockingKernelClient

        self.close_client()
        from jupyter_client.ssh import tunnel

        # tunnel_to_kernel's `ssh -f ... sleep` runs under a pexpect pty that often kills it
        # before it forwards (see bench_tunnel's _JcOpenSSH): to time the manual way at its
        # best, run the command it runs for each port, without the pty.
        names = ("shell_port", "iopub_port", "stdin_port", "hb_port", "control_port")
        ports = tunnel.select_random_ports(5)
        for lport, name in zip(ports, names, strict=True):
            _JcOpenSSH._open(lport, int(self.info[name]))
        self.lports = ports
        kc = BlockingKernelClient()
        local = dict(zip(names, ports, strict=True))
        kc.load_connection_info({**self.info, "ip": "127.0.0.1", **local})
        kc.start_channels()
        self.client = kc
        # wait_for_ready() calls a kernel still starting behind a tunnel dead (its
        # heartbeat is not beating yet): ask as a user script does, until answered.
        deadline = time.monotonic() + 60
        while True:
            kc.kernel_info()
            with contextlib.suppress(queue.Empty):
                kc.get_shell_msg(timeout=1)
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the manual way: no kernel_info reply in 60 s")

    def drop_tunnels(self) -> None:
        """Stop the forwards' ssh processes (bench_tunnel's way: by their ``-L`` arguments)."""
        _JcOpenSSH.close(self)  # type: ignore[arg-type]  # it needs only .lports

    def close_client(self) -> None:
        if self.client is not None:
            self.client.stop_channels()
            self.client = None

    def close(self) -> None:
        self.close_client()
        self.drop_tunnels()
        self.kernel.terminate()
        self.kernel.wait(10)
        # The kernel was started through ssh without a tty: stop it by its connection file.
        self._kill_kernel()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _kill_kernel(self) -> None:
        needle = str(self.dir).encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if needle in (entry / "cmdline").read_bytes():
                    os.kill(int(entry.name), 9)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _start_figure() -> Figure:
    ours: list[float] = []
    theirs: list[float] = []
    with _world():
        for _ in range(TRIES):  # interleaved
            t0 = time.perf_counter()
            k = _ours_start()
            try:
                _kcf_info(k.connection_file)
                ours.append(time.perf_counter() - t0)
            finally:
                k.close()
            took, manual = _timed(_Manual)
            manual.close()
            theirs.append(took)
    return Figure(ours, theirs, "s", theirs_name="manual ssh+scp+tunnel")


def _round_trip_figure() -> Figure:
    import kcf_client

    with _world():
        k = _ours_start()
        try:
            with (
                kcf_client.connect(k.connection_file) as via,
                kcf_client.connect(k.remote_info) as direct,
            ):
                via.wait_until_ready(timeout=60)
                direct.wait_until_ready(timeout=60)
                ours: list[float] = []
                theirs: list[float] = []
                n = 20 if QUICK else 200
                for _ in range(3 if QUICK else 7):
                    for kc, out in ((via, ours), (direct, theirs)):
                        t0 = time.perf_counter()
                        for _ in range(n):
                            kc.kernel_info(timeout=30)
                        out.append((time.perf_counter() - t0) / n)
        finally:
            k.close()
    return Figure(ours, theirs, "s", theirs_name="direct (no ssh)")


def _recovery_figure() -> Figure:
    import kcf_client

    ours: list[float] = []
    theirs: list[float] = []
    with _world():
        k = _ours_start()
        manual = _Manual()
        try:
            with kcf_client.connect(k.connection_file) as kc:
                kc.wait_until_ready(timeout=60)
                for _ in range(TRIES):
                    healed = k.reconnects + 1
                    t0 = time.perf_counter()
                    k.drop_connection()
                    while k.reconnects < healed:  # the handle heals (an event, polled)
                        time.sleep(0.002)
                    kc.kernel_info(timeout=60)  # the same frontend, the same file
                    ours.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    manual.drop_tunnels()
                    manual.reconnect()  # by hand: tunnel again, a new client
                    theirs.append(time.perf_counter() - t0)
        finally:
            k.close()
            manual.close()
    return Figure(ours, theirs, "s", theirs_name="re-tunnel by hand")


def cases() -> list[Case]:
    return [
        Case(
            "remote start to first kernel_info: kcf start_remote_kernel vs the manual way",
            figure=_start_figure,
        ),
        Case(
            "kernel_info round trip: through the remote kernel's forwards vs direct",
            figure=_round_trip_figure,
        ),
        Case(
            "recovery after a dropped SSH connection, to the frontend's next kernel_info",
            figure=_recovery_figure,
        ),
    ]


CASES = cases

if __name__ == "__main__":
    raise SystemExit(main(CASES))
