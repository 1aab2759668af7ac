"""Tunnel pieces that need no server: server specs, forward targets, ssh argv, errors,
config resolution, error mapping, lazy import."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from kcf_client.tunnel import (
    AuthenticationFailed,
    BackendUnavailable,
    ConnectTimeout,
    ForwardRefused,
    HostKeyError,
    HostKeyMismatch,
    HostKeyRevoked,
    HostKeyUnknown,
    HostUnreachable,
    ServerSpec,
    SSHConfigError,
    TunnelDied,
    TunnelError,
    UnsupportedTransport,
    choose_backend,
    forward_host,
    open_tunnel,
    parse_server,
)
from kcf_client.tunnel._base import TunnelOptions
from kcf_spec import Channel, ConnectionInfo, KcfError

INFO = ConnectionInfo.from_ports({c: 5000 + i for i, c in enumerate(Channel)}, key=b"secret")


class TestParseServer:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("gpu", ServerSpec("gpu")),
            ("me@gpu", ServerSpec("gpu", "me")),
            ("me@gpu:2222", ServerSpec("gpu", "me", 2222)),
            ("gpu.example.org:22", ServerSpec("gpu.example.org", None, 22)),
            ("me@[::1]:2222", ServerSpec("::1", "me", 2222)),
            ("[fe80::1%eth0]", ServerSpec("fe80::1%eth0")),
            ("me@::1", ServerSpec("::1", "me")),
            ("ssh://me@10.0.0.5:2200", ServerSpec("10.0.0.5", "me", 2200)),
            ("a@b@host", ServerSpec("host", "a@b")),
        ],
    )
    def test_parse_server_forms(self, text: str, expected: ServerSpec) -> None:
        """Aliases, user@host:port, bracketed and bare IPv6 and ssh:// URLs parse."""
        assert parse_server(text) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "me@",
            "@host",
            "host:0",
            "host:65536",
            "host:x",
            "[::1",
            "[::1]x",
            "-oProxyCommand=sh",
            "me@-host",
            "-l@host",
            "host name",
            "ho;st",
            "h$(id)",
            "h`id`",
        ],
    )
    def test_parse_server_refuses_bad_or_option_like(self, text: str) -> None:
        """Bad ports, empty parts, and hosts or users that ssh could take as options or a
        shell as code are refused."""
        with pytest.raises(SSHConfigError):
            parse_server(text)

    @given(
        host=st.one_of(
            st.from_regex(r"[a-z][a-z0-9.\-]{0,20}", fullmatch=True),
            st.ip_addresses(v=4).map(str),
            st.ip_addresses(v=6).map(str),
        ),
        user=st.one_of(st.none(), st.from_regex(r"[a-z_][a-z0-9_.\-]{0,15}", fullmatch=True)),
        port=st.one_of(st.none(), st.integers(1, 65535)),
    )
    def test_parse_server_round_trips(self, host: str, user: str | None, port: int | None) -> None:
        """Any spec written by ``str(ServerSpec)`` parses back to the same spec."""
        spec = ServerSpec(host, user, port)
        assert parse_server(str(spec)) == spec


class TestForwardHost:
    @pytest.mark.parametrize(
        ("ip", "expected"),
        [
            ("0.0.0.0", "127.0.0.1"),
            ("*", "127.0.0.1"),
            ("", "127.0.0.1"),
            ("::", "::1"),
            ("[::]", "::1"),
            ("[::1]", "::1"),
            ("localhost", "localhost"),
        ],
    )
    def test_forward_host_bind_all_goes_to_loopback(self, ip: str, expected: str) -> None:
        """Bind-all addresses are reached through the server's loopback of the same family."""
        assert forward_host(ip) == expected

    @given(st.ip_addresses())
    def test_forward_host_specific_address_unchanged(self, addr: Any) -> None:
        """A specific address is connected to as written (it must be reachable from the
        server)."""
        if addr == ipaddress.ip_address("0.0.0.0") or addr == ipaddress.ip_address("::"):
            return
        assert forward_host(str(addr)) == str(addr)


class TestOpenTunnelRefusals:
    def test_open_tunnel_ipc_refused(self) -> None:
        """An ipc connection info is refused with a message naming the transport."""
        ipc = INFO.replace(transport="ipc", ip="/tmp/kernel-x")
        with pytest.raises(UnsupportedTransport, match="ipc"):
            open_tunnel(ipc, "anywhere")

    def test_open_tunnel_bad_spec_refused_before_connecting(self) -> None:
        """A malformed server spec fails fast, before any backend runs."""
        with pytest.raises(SSHConfigError):
            open_tunnel(INFO, "me@host:99999")

    def test_choose_backend_unknown_name(self) -> None:
        """An unknown backend name is a configuration error."""
        with pytest.raises(SSHConfigError):
            choose_backend("putty")  # type: ignore[arg-type]

    def test_choose_backend_auto_prefers_openssh_when_present(self) -> None:
        """``auto`` picks the system ssh where one is installed (it honours the whole
        config)."""
        assert choose_backend("auto") == "openssh"
        assert choose_backend("paramiko") == "paramiko"


class TestErrors:
    def test_errors_share_kcf_root_and_builtins(self) -> None:
        """Every tunnel error is a KcfError; the builtins callers catch are kept."""
        for cls in (
            HostKeyUnknown,
            HostKeyMismatch,
            AuthenticationFailed,
            ForwardRefused,
            ConnectTimeout,
            TunnelDied,
            UnsupportedTransport,
            HostUnreachable,
            SSHConfigError,
            BackendUnavailable,
        ):
            assert issubclass(cls, TunnelError)
            assert issubclass(cls, KcfError)
        assert issubclass(AuthenticationFailed, PermissionError)
        assert issubclass(ConnectTimeout, TimeoutError)
        assert issubclass(ForwardRefused, ConnectionRefusedError)
        assert issubclass(BackendUnavailable, ImportError)

    def test_errors_mismatch_is_not_unknown(self) -> None:
        """Code that offers to trust an unknown host never catches a changed key."""
        assert issubclass(HostKeyMismatch, HostKeyError)
        assert not issubclass(HostKeyMismatch, HostKeyUnknown)

    def test_errors_tunnel_died_carries_stderr_tail(self) -> None:
        """TunnelDied keeps ssh's last lines and shows them in its message."""
        err = TunnelDied(
            "ssh exited", server="gpu", stderr_tail=("line one", "line two"), returncode=255
        )
        assert err.stderr_tail == ("line one", "line two")
        assert "line two" in str(err)
        assert "gpu" in str(err)


class TestOpenSSHArgv:
    def _argv(self, **kw: Any) -> list[str]:
        from kcf_client.tunnel._openssh import build_argv

        server = kw.pop("server", "me@[::1]:2222")
        info = kw.pop("info", INFO)
        opts = TunnelOptions(server=server, spec=parse_server(server), **kw)
        ports = {c: 6000 + i for i, c in enumerate(Channel)}
        return build_argv("/usr/bin/ssh", info, ports, opts)

    def test_openssh_argv_one_process_five_forwards(self) -> None:
        """One ssh: -N, five -L in channel order, user/port from the spec, host after --."""
        argv = self._argv()
        assert argv[:2] == ["/usr/bin/ssh", "-N"]
        forwards = [argv[i + 1] for i, a in enumerate(argv) if a == "-L"]
        assert forwards == [f"127.0.0.1:{6000 + i}:127.0.0.1:{5000 + i}" for i in range(5)]
        assert argv[-2:] == ["--", "::1"]
        assert argv[argv.index("-l") + 1] == "me"
        assert argv[argv.index("-p") + 1] == "2222"
        assert "-f" not in argv

    def test_openssh_argv_safety_options(self) -> None:
        """Forward failures are fatal, host keys strict, batch mode without callbacks."""
        argv = self._argv()
        opts = {argv[i + 1] for i, a in enumerate(argv) if a == "-o"}
        for required in (
            "ExitOnForwardFailure=yes",
            "StrictHostKeyChecking=yes",
            "BatchMode=yes",
            "ControlMaster=no",
            "PermitLocalCommand=no",
        ):
            assert required in opts
        interactive = self._argv(accept_new=True, password_callback=lambda p: None)
        opts = {interactive[i + 1] for i, a in enumerate(interactive) if a == "-o"}
        assert "StrictHostKeyChecking=accept-new" in opts
        assert "BatchMode=no" in opts

    def test_openssh_argv_ipv6_kernel_bracketed(self) -> None:
        """A kernel on an IPv6 address is forwarded to ``[addr]:port``."""
        argv = self._argv(info=INFO.replace(ip="fd00::5"))
        assert "127.0.0.1:6000:[fd00::5]:5000" in argv

    def test_openssh_argv_alias_keeps_config_user_and_port(self) -> None:
        """An alias passes no -l/-p, so the ssh config's User and Port apply."""
        argv = self._argv(server="gpu-box")
        assert "-l" not in argv
        assert "-p" not in argv
        assert argv[-1] == "gpu-box"

    def test_openssh_argv_known_hosts_path_escaped(self) -> None:
        """A known_hosts path with blanks and % is quoted and %-escaped for ssh."""
        argv = self._argv(known_hosts=Path("/tmp/my dir/100%/kh"))
        assert 'UserKnownHostsFile="/tmp/my dir/100%%/kh"' in argv


class TestOpenSSHQuoting:
    @settings(max_examples=25)
    @given(
        st.text(
            st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp")),
            min_size=1,
            max_size=30,
        )
    )
    def test_openssh_quote_read_back_by_ssh(self, name: str) -> None:
        """Whatever a path holds (%, quotes, backslashes...), ssh reads back the same path."""
        from kcf_client.tunnel._openssh import _quote

        assume("${" not in name)  # refused: see the next test
        path = "/tmp/" + name
        out = subprocess.run(
            ["ssh", "-G", "-F", "/dev/null", "-o", f"UserKnownHostsFile={_quote(path)}", "h"],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=True,
        ).stdout
        got = [
            ln.split(" ", 1)[1] for ln in out.splitlines() if ln.startswith("userknownhostsfile ")
        ]
        assert got == [path]

    def test_openssh_quote_refuses_env_expansion(self) -> None:
        """A path with ``${`` (expanded by ssh, not escapable) is refused, not mangled."""
        from kcf_client.tunnel._openssh import _quote

        with pytest.raises(SSHConfigError, match="environment"):
            _quote("/tmp/${HOME}/kh")


class TestSSHConfig:
    def test_sshconfig_include_warns(self, tmp_path: Path) -> None:
        """paramiko cannot read Include: a warning names the OpenSSH backend."""
        from kcf_client.tunnel._sshconfig import IncompleteConfigWarning, resolve

        cfg = tmp_path / "config"
        cfg.write_text("Include ~/.ssh/conf.d/*\nHost gpu\n  HostName 10.1.2.3\n  Port 2200\n")
        with pytest.warns(IncompleteConfigWarning, match="openssh"):
            host = resolve(parse_server("gpu"), config_path=cfg)
        assert (host.hostname, host.port) == ("10.1.2.3", 2200)
        assert host.known_name == "[10.1.2.3]:2200"

    def test_sshconfig_spec_wins_and_jump_kept(self, tmp_path: Path) -> None:
        """User and port in the spec beat the config; ProxyJump and keys are resolved."""
        from kcf_client.tunnel._sshconfig import resolve

        cfg = tmp_path / "config"
        cfg.write_text(
            "Host gpu\n  HostName 10.1.2.3\n  User alice\n  Port 2200\n"
            "  ProxyJump bastion,inner\n  IdentityFile ~/.ssh/gpu_key\n  IdentitiesOnly yes\n"
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            host = resolve(parse_server("bob@gpu:22"), config_path=cfg)
        assert (host.user, host.port, host.proxy_jump) == ("bob", 22, "bastion,inner")
        assert host.identity_files == (Path("~/.ssh/gpu_key").expanduser(),)
        assert host.identities_only
        assert host.known_name == "10.1.2.3"


class TestParamikoErrorMapping:
    @pytest.mark.parametrize(
        ("make", "expected"),
        [
            (lambda p: p.AuthenticationException("no"), AuthenticationFailed),
            (lambda p: p.BadAuthenticationType("no", ["password"]), AuthenticationFailed),
            (lambda p: p.ChannelException(2, "Connect failed"), HostUnreachable),
            (lambda p: p.SSHException("Error reading SSH protocol banner"), HostUnreachable),
            (lambda p: p.SSHException("timeout waiting"), ConnectTimeout),
            (lambda p: TimeoutError(), ConnectTimeout),
            (lambda p: ConnectionRefusedError(111, "refused"), HostUnreachable),
            (lambda p: EOFError(), HostUnreachable),
            (lambda p: OSError(113, "No route to host"), HostUnreachable),
        ],
    )
    def test_paramiko_errors_all_mapped(self, make: Any, expected: type[Exception]) -> None:
        """Every paramiko / socket failure leaves as one of ours, with the cause chained."""
        import paramiko
        from kcf_client.tunnel._paramiko import _mapped

        opts = TunnelOptions(server="gpu", spec=parse_server("gpu"))
        foreign = make(paramiko)
        with pytest.raises(expected) as err, _mapped(opts):
            raise foreign
        assert err.value.__cause__ is foreign


def test_import_tunnel_does_not_import_paramiko() -> None:
    """Importing ``kcf_client.tunnel`` (and choosing OpenSSH) never imports paramiko."""
    code = (
        "import sys, kcf_client.tunnel as t; t.choose_backend('openssh'); "
        "print('paramiko' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_paramiko_missing_gives_install_hint() -> None:
    """Without paramiko, asking for its backend names the extra to install."""
    code = (
        "import sys; sys.modules['paramiko'] = None\n"
        "from kcf_client.tunnel import BackendUnavailable, choose_backend\n"
        "try:\n    choose_backend('paramiko')\n"
        "except BackendUnavailable as e:\n    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "pip install 'kcf-client[ssh]'" in out


class TestKnownHostsMarkers:
    """The paramiko backend's known_hosts reader, on the marker lines OpenSSH allows."""

    def _key(self, tmp_path: Path, name: str) -> tuple[Any, str]:
        import paramiko

        path = tmp_path / name
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
        pub = " ".join(Path(f"{path}.pub").read_text().split()[:2])
        return paramiko.Ed25519Key.from_private_key_file(str(path)), pub

    def _known(self, tmp_path: Path, text: str) -> Any:
        from kcf_client.tunnel._hostkeys import KnownHosts

        path = tmp_path / "known_hosts"
        path.write_text(text)
        return KnownHosts((path,), ())

    def test_cert_authority_and_garbage_lines_skipped(self, tmp_path: Path) -> None:
        """@cert-authority, unknown markers and malformed lines are skipped; the plain line
        after them still counts."""
        key, pub = self._key(tmp_path, "k")
        known = self._known(
            tmp_path,
            f"@cert-authority *.example.com {pub}\n@future-marker x {pub}\n"
            "host.example ssh-ed25519 !!!not-base64!!!\n"
            f"host.example {pub}\n",
        )
        assert known.known_types("host.example") == ["ssh-ed25519"]
        known.check("host.example", key, accept_new=False, server="s")
        with pytest.raises(HostKeyUnknown):  # the CA line vouches for no plain key
            known.check("a.example.com", key, accept_new=False, server="s")

    def test_revoked_key_refused_for_every_host(self, tmp_path: Path) -> None:
        """A key on a @revoked line is refused whatever host offers it, and is not recorded
        by accept_new."""
        key, pub = self._key(tmp_path, "k")
        known = self._known(tmp_path, f"@revoked other.example {pub}\nhost.example {pub}\n")
        for name in ("host.example", "other.example", "new.example"):
            with pytest.raises(HostKeyRevoked, match="REVOKED"):
                known.check(name, key, accept_new=True, server="s")
        assert "new.example" not in (tmp_path / "known_hosts").read_text()

    def test_revoked_is_a_mismatch(self) -> None:
        """Callers catching HostKeyMismatch (a refused known key) catch a revoked one too."""
        assert issubclass(HostKeyRevoked, HostKeyMismatch)
