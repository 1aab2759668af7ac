"""Pre-allocation: ports reserved across processes until the kernel has bound them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import kcf_kernel
import pytest
from kcf_kernel import _reserve


class TestReservePorts:
    def test_reserve_distinct_ports_with_lock_files(self, runtime: Path) -> None:
        """reserve_ports(5) gives five distinct ports, each with a lock file, removed on release."""
        with kcf_kernel.reserve_ports(5) as res:
            assert len(set(res.ports)) == 5
            locks = sorted(p.name for p in (runtime / "kcf-ports").iterdir())
            assert locks == sorted(f"{p}.lock" for p in res.ports)
        assert res.released
        assert not (runtime / "kcf-ports").exists()  # the last release removes the directory

    def test_reserve_directory_private(self, runtime: Path) -> None:
        """The reservation directory is created 0700 inside a 0700 runtime dir."""
        with kcf_kernel.reserve_ports(1):
            assert (runtime / "kcf-ports").stat().st_mode & 0o777 == 0o700
            assert runtime.stat().st_mode & 0o777 == 0o700

    def test_reserve_held_port_refused_to_others(self, runtime: Path) -> None:
        """A port locked by another process cannot be locked here until that process ends."""
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import kcf_kernel, sys, time\n"
                "r = kcf_kernel.reserve_ports(1)\n"
                "print(r.ports[0], flush=True)\n"
                "time.sleep(60)\n",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None
            port = int(holder.stdout.readline())
            directory = runtime / "kcf-ports"
            assert _reserve._try_lock(directory, port) is None
            holder.send_signal(signal.SIGKILL)  # dies without releasing: the OS drops the lock
            holder.wait()
            lock = _reserve._try_lock(directory, port)
            assert lock is not None
            lock.release()
        finally:
            holder.kill()
            holder.wait()

    def test_reserve_release_when_bound(self, runtime: Path) -> None:
        """The watcher releases the reservation once every port accepts connections."""
        import socket

        res = kcf_kernel.reserve_ports(2)
        listeners = []
        try:
            res.release_when_bound(timeout=30)
            time.sleep(0.1)
            assert not res.released  # nothing listens yet
            for port in res.ports:
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", port))
                s.listen()
                listeners.append(s)
            assert res.wait_released(10)
        finally:
            res.release()
            for s in listeners:
                s.close()

    def test_reserve_release_when_kernel_dies(self, runtime: Path) -> None:
        """The watcher releases the reservation when the kernel is no longer alive."""
        res = kcf_kernel.reserve_ports(1)
        res.release_when_bound(alive=lambda: False, timeout=30)
        assert res.wait_released(10)

    def test_port_is_listening(self) -> None:
        """port_is_listening tells a listening port from a closed one, without binding it."""
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            assert kcf_kernel.port_is_listening("127.0.0.1", port)
            assert kcf_kernel.port_is_listening("0.0.0.0", port)
        assert not kcf_kernel.port_is_listening("127.0.0.1", port)


# A launcher process: for each round, launch a tiny "kernel" that binds five zmq sockets to
# the ports in its file, holds them a while, and exits 3 on EADDRINUSE.
_CHILD = textwrap.dedent(
    """
    import json, sys, time, zmq
    info = json.load(open(sys.argv[1]))
    ctx = zmq.Context()
    socks = []
    try:
        for ch in ("shell", "iopub", "stdin", "control", "hb"):
            s = ctx.socket(zmq.ROUTER)
            s.linger = 0
            s.bind("tcp://127.0.0.1:%d" % info[ch + "_port"])
            socks.append(s)
    except zmq.ZMQError as e:
        sys.exit(3 if e.errno == zmq.EADDRINUSE else 4)
    time.sleep(float(sys.argv[2]))
    """
)
_LAUNCHER = textwrap.dedent(
    """
    import json, subprocess, sys, time, kcf_kernel
    start_at, rounds, hold = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    child = [sys.executable, "-c", sys.argv[4], "{connection_file}", hold]
    while time.time() < start_at:
        time.sleep(0.005)
    codes = []
    for _ in range(rounds):
        with kcf_kernel.launch_kernel(child, ports="reserve") as kp:
            codes.append(kp.wait(60))
    print(json.dumps(codes))
    """
)


def test_reserve_concurrent_launchers_never_collide(runtime: Path) -> None:
    """8 launcher processes starting at once, 2 rounds each: no kernel hits EADDRINUSE."""
    n, rounds = 8, 2
    start_at = time.time() + 1.5
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, str(start_at), str(rounds), "0.3", _CHILD],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)},
        )
        for _ in range(n)
    ]
    codes: list[int] = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        codes += json.loads(out)
    assert codes == [0] * (n * rounds)
    assert not (runtime / "kcf-ports").exists()


def test_reserve_zero_ports_is_empty(runtime: Path) -> None:
    """reserve_ports(0) is an empty reservation."""
    assert len(kcf_kernel.reserve_ports(0)) == 0


def test_reserve_attempts_exhausted_raises(runtime: Path) -> None:
    """With no attempts left, reserve_ports raises PortAllocationError naming the address."""
    with pytest.raises(kcf_kernel.PortAllocationError, match=r"127\.0\.0\.1"):
        kcf_kernel.reserve_ports(3, attempts=0)


def test_reserve_lock_never_follows_a_symlink(tmp_path: Path) -> None:
    """A symlink planted at a lock file's path is not followed (the file it points to is left
    untouched) and that port is simply not taken."""
    directory = tmp_path / "kcf-ports"
    directory.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    (directory / "40000.lock").symlink_to(victim)
    assert _reserve._try_lock(directory, 40000) is None
    assert victim.read_bytes() == b"precious"
