"""SSH tunnels against a real OpenSSH server (the ``sshd`` fixture), once per backend."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from kcf_client.tunnel import (
    AuthenticationFailed,
    ConnectTimeout,
    ForwardRefused,
    HostKeyMismatch,
    HostKeyRevoked,
    HostKeyUnknown,
    HostUnreachable,
    Tunnel,
    TunnelDied,
    open_tunnel,
)
from kcf_spec import Channel, ConnectionInfo
from realparts import missing_real_part

pytestmark = [pytest.mark.ssh, pytest.mark.timeout(90)]

MiB = 1 << 20


# -- helpers -----------------------------------------------------------------------------------


def _info_for(port: int, **fields: Any) -> ConnectionInfo:
    """A connection info whose five channels all point at ``port`` on the server's loopback."""
    return ConnectionInfo.from_ports({c: port for c in Channel}, key=b"k" * 8, **fields)


def _kernel_info(km: Any) -> ConnectionInfo:
    return ConnectionInfo.load(km.connection_file)


def _open(
    sshd: Any, info: ConnectionInfo, backend: str, server: str = "kcf-plain", **kw: Any
) -> Tunnel:
    kw.setdefault("ssh_config", sshd.ssh_config)
    kw.setdefault("timeout", 20)
    return open_tunnel(info, server, backend=backend, **kw)  # type: ignore[arg-type]


def _child_pids() -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        with contextlib.suppress(OSError):
            out |= {int(p) for p in (task / "children").read_text().split()}
    return {p for p in out if _pid_alive(p)}


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _send_through(port: int, total: int) -> tuple[str, str]:
    """Send ``total`` pseudo-random bytes to 127.0.0.1:port; return (our digest, the reply)."""
    h = hashlib.sha256()
    block = hashlib.sha256(b"seed").digest() * (MiB // 32)
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        sent = 0
        while sent < total:
            chunk = block[: min(len(block), total - sent)]
            s.sendall(chunk)
            h.update(chunk)
            sent += len(chunk)
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while data := s.recv(4096):
            reply += data
    return f"{h.hexdigest()} {total}", reply.decode()


def _with_one_tunnel(sshd: Any, sink: Any, backend: str) -> None:
    with _open(sshd, _info_for(sink.port), backend, check=False) as tunnel:
        ours, theirs = _send_through(tunnel.local.port(Channel.CONTROL), 64 * 1024)
    assert theirs == ours


class Answers:
    """A password/passphrase callback answering from a list, recording every prompt."""

    def __init__(self, *answers: str | None) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str | None:
        self.prompts.append(prompt)
        return self.answers.pop(0) if self.answers else None


# -- a real kernel through the tunnel ------------------------------------------------------------


class TestTunnelKernel:
    def test_tunnel_kernel_talks_through_every_channel(
        self, sshd: Any, kernel: Any, backend: str
    ) -> None:
        """kernel_info (shell), execute with stream output (iopub) and heartbeat work."""
        from kcf_client import connect

        remote = _kernel_info(kernel)
        with _open(sshd, remote, backend) as tunnel:
            assert tunnel.backend == backend
            assert tunnel.local.ip == "127.0.0.1"
            assert tunnel.local.key == remote.key
            assert tunnel.local.signature_scheme == remote.signature_scheme
            assert set(tunnel.local.ports.values()).isdisjoint(remote.ports.values())
            with connect(tunnel.local) as kc:
                info = kc.kernel_info(timeout=20)
                assert info["implementation"] == "ipython"
                result = kc.execute("print(6 * 7)", timeout=20)
                assert result.status == "ok"
                assert result.stdout == "42\n"
                assert kc.ping(timeout=10) > 0

    def test_tunnel_connection_file_serves_jupyter_client(
        self, sshd: Any, kernel: Any, backend: str, tmp_path: Path
    ) -> None:
        """The written ``<name>-ssh.json`` lets jupyter_client's client talk, and close()
        removes it."""
        from jupyter_client.blocking.client import BlockingKernelClient

        remote = _kernel_info(kernel)
        source = tmp_path / "kernel-remote.json"
        source.write_text(remote.dumps())
        with _open(sshd, remote, backend, connection_file=source) as tunnel:
            path = tunnel.write_connection_file()
            assert path == tmp_path / "kernel-remote-ssh.json"
            assert path.stat().st_mode & 0o777 == 0o600
            assert ConnectionInfo.load(path) == tunnel.local
            kc = BlockingKernelClient()
            kc.load_connection_file(str(path))
            kc.start_channels()
            try:
                reply = kc.kernel_info(reply=True, timeout=20)
                assert reply["content"]["status"] == "ok"
                assert kc.hb_channel.is_alive()
            finally:
                kc.stop_channels()
        assert not path.exists()


# -- bulk transfer ------------------------------------------------------------------------------


class TestTunnelTransfer:
    def test_tunnel_transfer_100mib_intact(self, sshd: Any, sink: Any, backend: str) -> None:
        """100 MiB through one forwarded port arrive intact (SHA-256 checked by the far end)."""
        with _open(sshd, _info_for(sink.port), backend, check=False) as tunnel:
            ours, theirs = _send_through(tunnel.local.port(Channel.SHELL), 100 * MiB)
        assert theirs == ours

    def test_tunnel_transfer_concurrent_connections(
        self, sshd: Any, sink: Any, backend: str
    ) -> None:
        """Several connections through the five forwards at once each arrive intact."""
        results: list[tuple[str, str]] = []
        with _open(sshd, _info_for(sink.port), backend, check=False) as tunnel:
            threads = [
                threading.Thread(target=lambda p=p: results.append(_send_through(p, 3 * MiB)))
                for p in tunnel.local.ports.values()
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        assert len(results) == 5
        assert all(ours == theirs for ours, theirs in results)


# -- host keys -----------------------------------------------------------------------------------


class TestTunnelHostKeys:
    def test_tunnel_unknown_host_refused(
        self, sshd: Any, sink: Any, backend: str, tmp_path: Path
    ) -> None:
        """A server whose key is not in known_hosts is refused, and nothing is recorded."""
        known = tmp_path / "known_hosts"
        known.write_text("")
        with pytest.raises(HostKeyUnknown):
            _open(sshd, _info_for(sink.port), backend, known_hosts=known, check=False)
        assert known.read_text() == ""

    def test_tunnel_changed_key_refused_as_mismatch(
        self, sshd: Any, sink: Any, backend: str, tmp_path: Path
    ) -> None:
        """A different key recorded for the server is a mismatch, even with accept_new."""
        other = tmp_path / "other"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True
        )
        pub = " ".join(Path(f"{other}.pub").read_text().split()[:2])
        known = tmp_path / "known_hosts"
        known.write_text(f"[127.0.0.1]:{sshd.port} {pub}\n")
        for accept_new in (False, True):
            with pytest.raises(HostKeyMismatch):
                _open(
                    sshd,
                    _info_for(sink.port),
                    backend,
                    known_hosts=known,
                    accept_new=accept_new,
                    check=False,
                )
        assert known.read_text() == f"[127.0.0.1]:{sshd.port} {pub}\n"

    def test_tunnel_accept_new_records_key(
        self, sshd: Any, sink: Any, backend: str, tmp_path: Path
    ) -> None:
        """accept_new trusts a first-seen server and records its key; later opens need no
        opt-in."""
        known = tmp_path / "sub" / "known_hosts"
        with _open(
            sshd, _info_for(sink.port), backend, known_hosts=known, accept_new=True, check=False
        ) as tunnel:
            assert tunnel.is_alive()
        lines = known.read_text().splitlines()
        assert [" ".join(line.split()[1:3]) for line in lines] == [sshd.host_pub]
        assert lines[0].split()[0] == f"[127.0.0.1]:{sshd.port}"
        with _open(sshd, _info_for(sink.port), backend, known_hosts=known, check=False):
            pass


class TestParamikoKnownHostsMarkers:
    """``@cert-authority`` and ``@revoked`` lines, as OpenSSH reads them (paramiko backend:
    paramiko's own loader crashed on them, even for another host)."""

    def _other_pub(self, tmp_path: Path) -> str:
        other = tmp_path / "other"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True
        )
        return " ".join(Path(f"{other}.pub").read_text().split()[:2])

    def test_marker_lines_for_other_hosts_do_not_break_the_file(
        self, sshd: Any, sink: Any, tmp_path: Path
    ) -> None:
        """A known_hosts with @cert-authority and @revoked lines for other hosts still
        verifies the server by its plain line."""
        pub = self._other_pub(tmp_path)
        known = tmp_path / "known_hosts"
        known.write_text(
            f"@cert-authority *.example.com {pub}\n"
            f"@revoked old.example.com {pub}\n"
            f"[127.0.0.1]:{sshd.port} {sshd.host_pub}\n"
        )
        with _open(sshd, _info_for(sink.port), "paramiko", known_hosts=known, check=False) as t:
            assert t.is_alive()

    def test_revoked_server_key_refused(self, sshd: Any, sink: Any, tmp_path: Path) -> None:
        """The server's key marked @revoked (for any host pattern) is refused as revoked,
        though a plain line also records it, and even with accept_new."""
        known = tmp_path / "known_hosts"
        text = f"[127.0.0.1]:{sshd.port} {sshd.host_pub}\n@revoked * {sshd.host_pub}\n"
        known.write_text(text)
        for accept_new in (False, True):
            with pytest.raises(HostKeyRevoked, match="REVOKED"):
                _open(
                    sshd,
                    _info_for(sink.port),
                    "paramiko",
                    known_hosts=known,
                    accept_new=accept_new,
                    check=False,
                )
        assert known.read_text() == text


# -- routes ----------------------------------------------------------------------------------


class TestTunnelRoutes:
    @pytest.mark.parametrize("alias", ["kcf-jump", "kcf-jump2", "kcf-proxycmd"])
    def test_tunnel_through_jump_or_proxy_command(
        self, sshd: Any, sink: Any, backend: str, alias: str
    ) -> None:
        """ProxyJump (nested channels) and ProxyCommand (ssh -W) from ssh_config carry data."""
        with _open(sshd, _info_for(sink.port), backend, server=alias, check=False) as tunnel:
            ours, theirs = _send_through(tunnel.local.port(Channel.IOPUB), 4 * MiB)
        assert theirs == ours

    def test_tunnel_explicit_spec_and_ipv6(self, sshd: Any, sink: Any, backend: str) -> None:
        """``user@127.0.0.1:PORT`` and ``user@[::1]:PORT`` reach the server without an alias."""
        user = os.environ.get("USER") or __import__("getpass").getuser()
        specs = [f"{user}@127.0.0.1:{sshd.port}"]
        if sshd.ipv6:
            specs.append(f"{user}@[::1]:{sshd.port}")
        for spec in specs:
            with _open(
                sshd,
                _info_for(sink.port),
                backend,
                server=spec,
                identity_file=sshd.client_key,
                check=False,
            ) as tunnel:
                ours, theirs = _send_through(tunnel.local.port(Channel.HB), 1 * MiB)
            assert theirs == ours, spec

    def test_tunnel_bind_all_kernel_reached_on_server_loopback(
        self, sshd: Any, sink: Any, backend: str
    ) -> None:
        """A kernel file saying 0.0.0.0 or * is reached through the server's 127.0.0.1."""
        for ip in ("0.0.0.0", "*"):
            with _open(sshd, _info_for(sink.port, ip=ip), backend, check=False) as tunnel:
                ours, theirs = _send_through(tunnel.local.port(Channel.STDIN), MiB)
            assert theirs == ours, ip

    def test_tunnel_closed_ssh_port_is_unreachable(
        self, sshd: Any, sink: Any, backend: str
    ) -> None:
        """Nothing listening at the SSH address: HostUnreachable."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        with pytest.raises(HostUnreachable):
            _open(sshd, _info_for(sink.port), backend, server=f"root@127.0.0.1:{dead}", check=False)

    def test_tunnel_silent_server_times_out(self, sshd: Any, sink: Any, backend: str) -> None:
        """A server that accepts but never speaks SSH: ConnectTimeout within the timeout."""
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(4)
            port = silent.getsockname()[1]
            with pytest.raises(ConnectTimeout):
                _open(
                    sshd,
                    _info_for(sink.port),
                    backend,
                    server=f"root@127.0.0.1:{port}",
                    timeout=2,
                    check=False,
                )

    def test_tunnel_kernel_on_ipv6_loopback(self, sshd: Any, sink: Any, backend: str) -> None:
        """A kernel address written as an IPv6 literal is forwarded to that address."""
        if not sshd.ipv6:
            missing_real_part("no IPv6 loopback on this machine")
        srv = socket.socket(socket.AF_INET6)
        srv.bind(("::1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]

        def serve() -> None:
            conn, _ = srv.accept()
            with conn:
                conn.sendall(b"hello over v6")

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        try:
            with _open(sshd, _info_for(port, ip="::1"), backend, check=False) as tunnel:
                local = ("127.0.0.1", tunnel.local.port(Channel.SHELL))
                with socket.create_connection(local, timeout=10) as c:
                    assert c.recv(64) == b"hello over v6"
        finally:
            t.join(5)
            srv.close()

    def test_tunnel_closed_kernel_port_is_forward_refused(self, sshd: Any, backend: str) -> None:
        """A kernel port nobody listens on is reported as ForwardRefused, naming the target."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        before = {t.ident for t in threading.enumerate()}
        with pytest.raises(ForwardRefused) as err:
            _open(sshd, _info_for(dead), backend)
        assert err.value.target == ("127.0.0.1", dead)
        assert "connect failed" in str(err.value).lower()  # the server's reason, quoted
        assert {t.ident for t in threading.enumerate()} <= before


# -- authentication --------------------------------------------------------------------------


class TestTunnelAuth:
    def test_tunnel_wrong_then_right_password(self, sshd: Any, sink: Any, backend: str) -> None:
        """A wrong password is asked again, and the right one then opens the tunnel."""
        _require_password(sshd)
        answers = Answers("wrong-" + sshd.password, sshd.password)
        with _open(
            sshd,
            _info_for(sink.port),
            backend,
            server="kcf-pw",
            password_callback=answers,
            check=False,
        ) as tunnel:
            assert tunnel.is_alive()
        assert len(answers.prompts) == 2
        assert "password" in answers.prompts[0].lower()

    def test_tunnel_wrong_password_fails_then_retry_works(
        self, sshd: Any, sink: Any, backend: str
    ) -> None:
        """Only wrong passwords: AuthenticationFailed; a new attempt with the right one works."""
        _require_password(sshd)
        wrong = Answers("nope", "nope", "nope", "nope")
        with pytest.raises(AuthenticationFailed):
            _open(
                sshd,
                _info_for(sink.port),
                backend,
                server="kcf-pw",
                password_callback=wrong,
                check=False,
            )
        assert 1 <= len(wrong.prompts) <= 3
        with _open(
            sshd,
            _info_for(sink.port),
            backend,
            server="kcf-pw",
            password_callback=Answers(sshd.password),
            check=False,
        ) as tunnel:
            assert tunnel.is_alive()

    def test_tunnel_no_password_callback_fails(self, sshd: Any, sink: Any, backend: str) -> None:
        """Without a callback the library never prompts: authentication simply fails."""
        _require_password(sshd)
        with pytest.raises(AuthenticationFailed):
            _open(sshd, _info_for(sink.port), backend, server="kcf-pw", check=False)

    def test_tunnel_encrypted_key_passphrase(self, sshd: Any, sink: Any, backend: str) -> None:
        """An encrypted key asks its passphrase through the callback (wrong, then right)."""
        _require_password(sshd)
        answers = Answers("not the passphrase", sshd.passphrase)
        with _open(
            sshd,
            _info_for(sink.port),
            backend,
            server="kcf-enc",
            passphrase_callback=answers,
            check=False,
        ) as tunnel:
            assert tunnel.is_alive()
        assert len(answers.prompts) == 2
        assert "passphrase" in answers.prompts[0].lower()
        with pytest.raises(AuthenticationFailed):
            _open(sshd, _info_for(sink.port), backend, server="kcf-enc", check=False)


class TestTunnelAgent:
    def test_tunnel_agent_key_used(
        self, sshd: Any, sink: Any, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A key held only by ssh-agent (no key file configured) authenticates."""
        sock = tmp_path / "agent.sock"
        agent = subprocess.Popen(
            ["ssh-agent", "-D", "-a", str(sock)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while not sock.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            env = dict(os.environ, SSH_AUTH_SOCK=str(sock))
            subprocess.run(
                ["ssh-add", "-q", str(sshd.client_key)], env=env, check=True, capture_output=True
            )
            monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
            monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh keys of our own
            cfg = tmp_path / "ssh_config"
            cfg.write_text(
                f"Host *\n  UserKnownHostsFile {sshd.known_hosts}\n"
                "  IdentityFile /nonexistent/key\n"
            )
            user = os.environ.get("USER") or __import__("getpass").getuser()
            with _open(
                sshd,
                _info_for(sink.port),
                backend,
                ssh_config=cfg,
                server=f"{user}@127.0.0.1:{sshd.port}",
                check=False,
            ) as tunnel:
                ours, theirs = _send_through(tunnel.local.port(Channel.SHELL), MiB)
            assert theirs == ours
            monkeypatch.delenv("SSH_AUTH_SOCK")
            with pytest.raises(AuthenticationFailed):
                _open(
                    sshd,
                    _info_for(sink.port),
                    backend,
                    ssh_config=cfg,
                    server=f"{user}@127.0.0.1:{sshd.port}",
                    check=False,
                )
        finally:
            agent.terminate()
            agent.wait(5)


def _require_password(sshd: Any) -> None:
    if sshd.password is None:
        missing_real_part("password tests need root (to create the password user)")


# -- lifetime --------------------------------------------------------------------------------


class TestTunnelLifetime:
    def test_tunnel_close_leaves_nothing(self, sshd: Any, sink: Any, backend: str) -> None:
        """After close(): no thread, no child process, and the local ports are free."""
        threads = set(threading.enumerate())
        children = _child_pids()
        tunnel = _open(sshd, _info_for(sink.port), backend, server="kcf-proxycmd", check=False)
        ports = list(tunnel.local.ports.values())
        _send_through(ports[0], MiB)
        assert _child_pids() - children  # ssh (openssh) or the ProxyCommand (paramiko)
        assert tunnel.is_alive()
        tunnel.close()
        tunnel.close()  # idempotent
        assert not tunnel.is_alive()
        tunnel.check()  # closed on purpose: not an error
        assert set(threading.enumerate()) <= threads
        assert _child_pids() <= children
        assert all(_port_free(p) for p in ports)

    def test_tunnel_repeated_open_close_leaks_nothing(
        self, sshd: Any, sink: Any, backend: str
    ) -> None:
        """Opening and closing many tunnels (an IDE's day) leaks no fd, thread or process."""
        _with_one_tunnel(sshd, sink, backend)  # warm up lazy imports and caches
        fds = len(os.listdir("/proc/self/fd"))
        threads = set(threading.enumerate())
        children = _child_pids()
        for _ in range(8):
            _with_one_tunnel(sshd, sink, backend)
        assert len(os.listdir("/proc/self/fd")) <= fds
        assert set(threading.enumerate()) <= threads
        assert _child_pids() <= children

    def test_tunnel_sshd_killed_reports_died(
        self, doomed_sshd: Any, sink: Any, backend: str
    ) -> None:
        """Killing the server is reported: is_alive() False, check() raises TunnelDied."""
        tunnel = _open(doomed_sshd, _info_for(sink.port), backend, check=False)
        try:
            assert tunnel.is_alive()
            doomed_sshd.kill()
            assert tunnel.wait(30)
            assert not tunnel.is_alive()
            with pytest.raises(TunnelDied) as err:
                tunnel.check()
            if backend == "openssh":
                assert err.value.stderr_tail
        finally:
            tunnel.close()

    @pytest.mark.parametrize("server", ["kcf-plain", "kcf-proxycmd"])
    def test_tunnel_parent_sigkill_leaves_no_ssh(
        self, sshd: Any, sink: Any, backend: str, server: str
    ) -> None:
        """A process SIGKILLed with a tunnel open leaves no ssh process behind."""
        script = textwrap.dedent(f"""
            import json, os, sys, time
            from kcf_spec import Channel, ConnectionInfo
            from kcf_client.tunnel import open_tunnel
            info = ConnectionInfo.from_ports({{c: {sink.port} for c in Channel}})
            t = open_tunnel(info, {server!r}, backend={backend!r},
                            ssh_config={str(sshd.ssh_config)!r}, check=False)
            kids = set()
            for task in os.listdir(f"/proc/{{os.getpid()}}/task"):
                kids |= set(open(f"/proc/{{os.getpid()}}/task/{{task}}/children").read().split())
            print(json.dumps(sorted(int(k) for k in kids)), flush=True)
            time.sleep(600)
        """)
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            kids = json.loads(proc.stdout.readline())
            if backend == "openssh" or server == "kcf-proxycmd":
                assert kids, "the tunnel should have started an ssh process"
            assert all(_pid_alive(k) for k in kids)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        deadline = time.monotonic() + 10
        while any(_pid_alive(k) for k in kids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [k for k in kids if _pid_alive(k)]

    def test_tunnel_connection_file_default_in_runtime_dir(
        self, sshd: Any, sink: Any, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Opened from an info alone, the local file goes to the Jupyter runtime dir as
        ``kernel-*-ssh.json`` (0600) and is removed by close()."""
        monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
        with _open(sshd, _info_for(sink.port), backend, check=False) as tunnel:
            path = tunnel.write_connection_file()
            assert path.parent == tmp_path / "runtime"
            assert path.name.startswith("kernel-")
            assert path.name.endswith("-ssh.json")
            assert path.stat().st_mode & 0o777 == 0o600
            assert ConnectionInfo.load(path) == tunnel.local
        assert not path.exists()

    def test_tunnel_context_manager_and_repr(self, sshd: Any, sink: Any, backend: str) -> None:
        """The tunnel is a context manager; repr names server and state."""
        with _open(sshd, _info_for(sink.port), backend, check=False) as tunnel:
            assert "alive" in repr(tunnel)
            assert "kcf-plain" in repr(tunnel)
        assert "closed" in repr(tunnel)
        assert tunnel.closed
