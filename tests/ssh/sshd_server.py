"""A private OpenSSH server on 127.0.0.1 (and ::1), without pytest.

Used by the ``sshd`` fixtures of ``conftest.py`` beside this file and by
``benchmarks/bench_tunnel.py`` (which must run where pytest is not installed). A missing or
failing sshd raises :class:`SSHDUnavailable`; the fixtures turn it into a skip or, with
``KCF_REQUIRE_REAL_PARTS=1``, a failure. What the server offers is described in
``conftest.py``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"
PW_USER_PREFIX = "kcft"
PASSPHRASE = "correct horse battery staple"


class SSHDUnavailable(RuntimeError):
    """OpenSSH is not installed here, or the private sshd could not start."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _keygen(path: Path, passphrase: str = "") -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", path.name, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )


def _make_password_user() -> tuple[str, str] | None:
    """Create this session's password user; return (name, password). Root only."""
    if os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("chpasswd") is None:
        return None
    name = PW_USER_PREFIX + secrets.token_hex(3)
    subprocess.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/bin/sh",
            "--comment",
            "kcf ssh tests (temporary)",
            name,
        ],
        check=True,
        capture_output=True,
    )
    password = "pw-" + secrets.token_urlsafe(12)
    subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
    return name, password


def _remove_password_user(name: str) -> None:
    subprocess.run(["userdel", name], check=False, capture_output=True)


@dataclasses.dataclass
class SSHServer:
    """A running private sshd and the client files that reach it."""

    dir: Path
    port: int
    proc: subprocess.Popen[bytes]
    host_pub: str  # "ssh-ed25519 AAAA..."
    client_key: Path
    encrypted_key: Path
    known_hosts: Path
    ssh_config: Path
    log: Path
    password: str | None
    ipv6: bool
    pw_user: str = PW_USER_PREFIX
    passphrase: str = PASSPHRASE

    @property
    def host_key_lines(self) -> str:
        names = [f"[127.0.0.1]:{self.port}", f"[localhost]:{self.port}"]
        names += [f"[::1]:{self.port}"] if self.ipv6 else []
        return "".join(f"{n} {self.host_pub}\n" for n in names)

    def session_pids(self) -> list[int]:
        """Pids of this sshd's children (one per client connection, plus privsep)."""
        out = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if ppid == self.proc.pid:
                    out.append(int(entry.name))
        return out

    def kill(self) -> None:
        """SIGKILL the server and every session it serves (the network "goes away")."""
        sessions = self.session_pids()
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        for pid in sessions:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_sshd(
    base: Path,
    *,
    password: str | None,
    pw_user: str = PW_USER_PREFIX,
    client_key: Path | None = None,
    encrypted_key: Path | None = None,
) -> SSHServer:
    """Start a private sshd under ``base``; wait until it answers with its banner."""
    if (
        not os.path.exists(SSHD)
        or shutil.which("ssh") is None
        or shutil.which("ssh-keygen") is None
    ):
        raise SSHDUnavailable(f"OpenSSH server/client not installed ({SSHD}, ssh, ssh-keygen)")
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o711)  # noqa: S103 - traverse only; the password user's sshd child must reach authorized_keys/
    host_key = base / "ssh_host_ed25519_key"
    _keygen(host_key)
    host_pub = " ".join(Path(f"{host_key}.pub").read_text().split()[:2])
    if client_key is None:
        client_key = base / "id_ed25519"
        _keygen(client_key)
    if encrypted_key is None:
        encrypted_key = base / "id_ed25519_enc"
        _keygen(encrypted_key, PASSPHRASE)
    auth = base / "authorized_keys"
    auth.mkdir(mode=0o755, exist_ok=True)
    user = os.environ.get("USER") or __import__("getpass").getuser()
    (auth / user).write_text(Path(f"{client_key}.pub").read_text())
    (auth / pw_user).write_text(Path(f"{encrypted_key}.pub").read_text())
    for f in auth.iterdir():
        f.chmod(0o644)
    ipv6 = _ipv6_loopback()
    log = base / "sshd.log"
    for _attempt in range(5):
        port = _free_port()
        listen = f"ListenAddress 127.0.0.1:{port}\n" + (
            f"ListenAddress [::1]:{port}\n" if ipv6 else ""
        )
        config = base / "sshd_config"
        config.write_text(
            listen + f"HostKey {host_key}\n"
            f"PidFile {base / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {auth}/%u\n"
            "StrictModes no\n"
            "UsePAM no\n"
            "PubkeyAuthentication yes\n"
            f"PasswordAuthentication {'yes' if password else 'no'}\n"
            "KbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\n"
            "PermitEmptyPasswords no\n"
            "AllowTcpForwarding yes\n"
            "AllowAgentForwarding no\n"
            "X11Forwarding no\n"
            "PermitTTY no\n"
            "MaxStartups 100:30:200\n"
            "MaxSessions 100\n"
            "MaxAuthTries 10\n"
            "LoginGraceTime 30\n"
            "LogLevel VERBOSE\n"
        )
        proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config), "-E", str(log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), 0.5) as s,
            ):
                s.settimeout(2)
                if s.recv(64).startswith(b"SSH-2.0"):
                    break
            time.sleep(0.05)
        else:
            proc.kill()
            proc.wait()
            continue
        break
    else:
        reason = log.read_text()[-2000:] if log.exists() else "(no log)"
        raise SSHDUnavailable(f"sshd could not start: {reason}")
    known = base / "known_hosts"
    server = SSHServer(
        dir=base,
        port=port,
        proc=proc,
        host_pub=host_pub,
        client_key=client_key,
        encrypted_key=encrypted_key,
        known_hosts=known,
        ssh_config=base / "ssh_config",
        log=log,
        password=password,
        ipv6=ipv6,
        pw_user=pw_user,
    )
    known.write_text(server.host_key_lines)
    known.chmod(0o600)
    cfg = server.ssh_config
    common = f"  HostName 127.0.0.1\n  Port {port}\n"
    cfg.write_text(
        f"Host kcf-plain\n{common}  User {user}\n"
        f"Host kcf-jump\n{common}  User {user}\n  ProxyJump kcf-plain\n"
        f"Host kcf-jump2\n{common}  User {user}\n  ProxyJump kcf-plain,{user}@localhost:{port}\n"
        f"Host kcf-proxycmd\n{common}  User {user}\n"
        f"  ProxyCommand {shutil.which('ssh')} -F {cfg} -o BatchMode=yes -W %h:%p kcf-plain\n"
        f"Host kcf-pw\n{common}  User {pw_user}\n  PubkeyAuthentication no\n"
        f"Host kcf-enc\n{common}  User {pw_user}\n  IdentityFile {encrypted_key}\n"
        "  PasswordAuthentication no\n"
        "Host *\n"
        f"  IdentityFile {client_key}\n"
        "  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {known}\n"
        "  GlobalKnownHostsFile /dev/null\n"
        "  UpdateHostKeys no\n"
        "  CheckHostIP no\n"
        "  LogLevel ERROR\n"
    )
    return server
