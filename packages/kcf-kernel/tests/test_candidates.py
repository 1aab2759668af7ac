"""Reservation candidates come from outside the ephemeral range; probes open no connection."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import kcf_kernel
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kcf_kernel import _candidates, _listen

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _system_ephemeral() -> tuple[int, int]:
    """The ephemeral range read here, independently of kcf's reader."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low, high = f.read().split()
    return int(low), int(high)


class TestCandidates:
    @linux_only
    def test_candidates_fall_outside_the_system_ephemeral_range(self, runtime: Path) -> None:
        """Every reserved port lies outside /proc/sys/net/ipv4/ip_local_port_range."""
        low, high = _system_ephemeral()
        seen: set[int] = set()
        for _ in range(40):
            with kcf_kernel.reserve_ports(5) as res:
                seen.update(res.ports)
        assert seen
        assert [p for p in seen if low <= p <= high] == []
        d_low, d_high = kcf_kernel.DEFAULT_PORT_RANGE
        assert all(d_low <= p <= d_high for p in seen)

    def test_candidates_honour_reserved_ports(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Ports the administrator reserved (ip_local_reserved_ports) are never candidates."""
        monkeypatch.setattr(_candidates, "reserved_ports", lambda: frozenset(range(20000, 20010)))
        monkeypatch.setattr(_candidates, "ephemeral_port_range", lambda: (30000, 60999))
        got = list(_candidates.candidate_ports((20000, 20020)))
        assert sorted(got) == list(range(20010, 20021))

    def test_port_range_from_env_and_argument(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """KCF_PORT_RANGE sets the range; the argument wins over it; bad values are named."""
        monkeypatch.setenv("KCF_PORT_RANGE", "21000-21010")
        assert kcf_kernel.PORT_RANGE_ENV == "KCF_PORT_RANGE"
        assert _candidates.port_range() == (21000, 21010)
        assert _candidates.port_range((22000, 22001)) == (22000, 22001)
        monkeypatch.setenv("KCF_PORT_RANGE", "nope")
        with pytest.raises(ValueError, match="KCF_PORT_RANGE"):
            _candidates.port_range()

    def test_range_inside_ephemeral_is_a_clear_error(self, runtime: Path) -> None:
        """A range wholly inside the ephemeral range is refused, naming both and the setting."""
        low, _ = kcf_kernel.ephemeral_port_range()
        with pytest.raises(kcf_kernel.PortAllocationError, match="KCF_PORT_RANGE"):
            kcf_kernel.reserve_ports(1, port_range=(low, low + 5))

    @given(st.lists(st.integers(1, 65535), min_size=1, max_size=6))
    def test_reserved_port_list_parsing(self, ports: list[int]) -> None:
        """The kernel's comma/range list format reads back as the same set of ports."""
        text = ",".join(f"{p}-{p + 1}" if p < 65535 else str(p) for p in ports)
        expected = {q for p in ports for q in (p, min(p + 1, 65535))}
        assert _candidates._parse_port_list(text + "\n") == expected

    def test_walk_visits_every_candidate_once(self) -> None:
        """The random walk over the allowed ports yields each exactly once."""
        allowed = list(range(100, 197))
        assert sorted(_candidates._walk(allowed)) == allowed


class TestListeningProbe:
    @linux_only
    def test_wait_until_bound_opens_no_connection(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """On Linux the probe reads /proc: no connect() at all while waiting for a kernel."""
        with socket.socket() as srv:
            srv.bind(("127.0.0.1", 0))
            srv.listen()
            port = srv.getsockname()[1]

            def no_connect(self: socket.socket, address: object) -> None:
                raise AssertionError(f"the probe connected to {address}")

            monkeypatch.setattr(socket.socket, "connect", no_connect)
            assert _listen.wait_until_bound("127.0.0.1", [port], timeout=30)
            assert _listen.listening_ports("0.0.0.0", [port]) == {port}
            assert _listen.listening_ports("::1", [port]) == set()

    def test_wait_until_bound_gives_up_when_dead_or_late(self) -> None:
        """A port nobody binds: False when alive() turns false, and False at the timeout."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))  # bound, never listening
            port = s.getsockname()[1]
            assert not _listen.wait_until_bound(
                "127.0.0.1", [port], timeout=30, alive=lambda: False
            )
            assert not _listen.wait_until_bound("127.0.0.1", [port], timeout=0.05)


class TestLockFiles:
    def test_abandoned_lock_files_are_removed(self, runtime: Path) -> None:
        """A launcher SIGKILLed while holding ports leaves lock files; the next reservation
        removes them (they pile up no more), and its own release removes the directory."""
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import kcf_kernel, sys\n"
                "r = kcf_kernel.reserve_ports(5)\n"
                "print(' '.join(map(str, r.ports)), flush=True)\n"
                "sys.stdin.read()\n",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None
            ports = holder.stdout.readline().split()
            holder.send_signal(signal.SIGKILL)
            holder.wait(60)
            directory = runtime / "kcf-ports"
            assert sorted(p.name for p in directory.iterdir()) == sorted(f"{p}.lock" for p in ports)
            with kcf_kernel.reserve_ports(1) as res:
                assert [p.name for p in directory.iterdir()] == [f"{res.ports[0]}.lock"]
            assert not directory.exists()
        finally:
            holder.kill()
            holder.wait()

    def test_held_lock_file_is_kept(self, runtime: Path) -> None:
        """The clean-up never removes a lock another reservation still holds."""
        with kcf_kernel.reserve_ports(2) as first, kcf_kernel.reserve_ports(2) as second:
            names = sorted(p.name for p in (runtime / "kcf-ports").iterdir())
            assert names == sorted(f"{p}.lock" for p in (*first.ports, *second.ports))


_CHURN = textwrap.dedent(
    """
    import socket, sys, time
    # Bounded churn on 127.0.0.1: listeners bound to port 0 and outgoing connections to them,
    # at most 600 sockets held, cycled, for at most the given seconds or until stdin closes.
    import select
    end = time.monotonic() + float(sys.argv[1])
    held = []
    print("ready", flush=True)
    while time.monotonic() < end:
        if select.select([sys.stdin], [], [], 0)[0]:
            break
        srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(64)
        cli = socket.socket(); cli.connect(srv.getsockname())
        conn, _ = srv.accept()
        held += [srv, cli, conn]
        while len(held) > 600:
            held.pop(0).close()
    """
)


@pytest.mark.scale
def test_reserve_under_churn_never_collides(runtime: Path) -> None:
    """While another process keeps binding port 0 and connecting on 127.0.0.1, every reserved
    port is still free when "its kernel" binds it (0 EADDRINUSE in 150 ports)."""
    churn = subprocess.Popen(
        [sys.executable, "-c", _CHURN, "120"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert churn.stdout is not None
        assert churn.stdout.readline().strip() == "ready"
        in_use = []
        for _ in range(30):
            with kcf_kernel.reserve_ports(5) as res:
                for port in res.ports:
                    s = socket.socket()
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as zmq binds
                    try:
                        s.bind(("127.0.0.1", port))
                        s.listen()
                    except OSError as exc:
                        if exc.errno != errno.EADDRINUSE:
                            raise
                        in_use.append(port)
                    finally:
                        s.close()
        assert churn.poll() is None, "the churn must run during the whole test"
        assert in_use == []
    finally:
        assert churn.stdin is not None
        churn.stdin.close()
        try:
            churn.wait(60)
        finally:
            churn.kill()
            churn.wait()


def test_abandoned_cleanup_does_not_follow_symlinks(runtime: Path, tmp_path: Path) -> None:
    """A symlink planted as a lock file is neither followed nor its target removed."""
    directory = runtime / "kcf-ports"
    directory.mkdir(parents=True, mode=0o700)
    runtime.chmod(0o700)
    victim = tmp_path / "victim"
    victim.write_text("keep")
    os.symlink(victim, directory / "20001.lock")
    kcf_kernel.reserve_ports(1).release()
    assert victim.read_text() == "keep"
