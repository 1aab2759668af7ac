"""``RegistrationInfo`` and the JEP 66 port report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kcf_spec import (
    Channel,
    ConnectionFileError,
    RegistrationInfo,
    parse_port_report,
    port_report,
)

REG: dict[str, Any] = {
    "kernel_id": "4c7f5c5e",
    "transport": "tcp",
    "registration_ip": "127.0.0.1",
    "registration_port": 45623,
    "key": "secret",
    "signature_scheme": "hmac-sha256",
}
PORTS = {
    Channel.SHELL: 5001,
    Channel.IOPUB: 5002,
    Channel.STDIN: 5003,
    Channel.CONTROL: 5004,
    Channel.HB: 5005,
}


class TestRegistrationInfo:
    def test_registration_round_trip_is_lossless(self, tmp_path: Path) -> None:
        """load -> to_dict gives the file back; dumps -> loads gives the value back."""
        path = tmp_path / "reg.json"
        path.write_text(json.dumps({**REG, "x_extra": [1]}))
        info = RegistrationInfo.load(path)
        assert info.key == b"secret"
        assert list(info.to_dict().items()) == list({**REG, "x_extra": [1]}.items())
        assert RegistrationInfo.loads(info.dumps()) == info

    def test_registration_url_brackets_ipv6_and_uses_ipc_suffix(self) -> None:
        """The endpoint is tcp://host:port (IPv6 bracketed) or ipc://prefix-port."""
        assert RegistrationInfo.from_dict(REG).url == "tcp://127.0.0.1:45623"
        assert RegistrationInfo.from_dict({**REG, "registration_ip": "::1"}).url == (
            "tcp://[::1]:45623"
        )
        ipc = {**REG, "transport": "ipc", "registration_ip": "/tmp/r", "registration_port": 1}
        assert RegistrationInfo.from_dict(ipc).url == "ipc:///tmp/r-1"

    @pytest.mark.parametrize(
        ("change", "pointer"),
        [
            ({"registration_port": 0}, "/registration_port"),
            ({"kernel_id": ""}, "/kernel_id"),
            ({"signature_scheme": "none"}, "/signature_scheme"),
            ({"registration_ip": "tcp://1.2.3.4"}, "/registration_ip"),
        ],
    )
    def test_registration_invalid_names_pointer(self, change: dict[str, Any], pointer: str) -> None:
        """An invalid registration document names the offending field."""
        with pytest.raises(ConnectionFileError) as err:
            RegistrationInfo.from_dict({**REG, **change}, path="reg.json")
        assert err.value.pointer == pointer
        assert err.value.path == "reg.json"

    def test_registration_missing_scheme_and_alias_normalise(self) -> None:
        """No scheme means hmac-sha256; HmacSHA256 is held as hmac-sha256."""
        no_scheme = {k: v for k, v in REG.items() if k != "signature_scheme"}
        assert RegistrationInfo.from_dict(no_scheme).signature_scheme == "hmac-sha256"
        alias = {**REG, "signature_scheme": "HmacSHA256"}
        assert RegistrationInfo.from_dict(alias).signature_scheme == "hmac-sha256"

    def test_registration_connection_info_combines_with_ports(self) -> None:
        """The registration plus reported ports make the kernel's ConnectionInfo."""
        info = RegistrationInfo.from_dict(REG).connection_info(PORTS, kernel_name="python3")
        assert info.ports == PORTS
        assert (info.ip, info.key, info.kernel_name) == ("127.0.0.1", b"secret", "python3")


class TestPortReport:
    def test_port_report_writes_documented_strings(self) -> None:
        """``port_report`` writes each port as a decimal string, in canonical order."""
        content = port_report(PORTS)
        assert content == {
            "shell_port": "5001",
            "iopub_port": "5002",
            "stdin_port": "5003",
            "control_port": "5004",
            "hb_port": "5005",
        }
        assert parse_port_report(content) == PORTS

    def test_parse_port_report_accepts_integers(self) -> None:
        """Integer ports (xeus, ark) are read too; extra fields are ignored."""
        content = {c.port_key: p for c, p in PORTS.items()} | {"kernel_id": "k"}
        assert parse_port_report(content) == PORTS

    @pytest.mark.parametrize(
        ("content", "pointer"),
        [
            ({"shell_port": "0"}, "/shell_port"),
            ({"iopub_port": "05002"}, "/iopub_port"),
            ({"hb_port": None}, "/hb_port"),
        ],
    )
    def test_parse_port_report_rejects_bad_ports(
        self, content: dict[str, Any], pointer: str
    ) -> None:
        """A zero, non-canonical or missing port is an error naming its field."""
        full = {c.port_key: str(p) for c, p in PORTS.items()} | content
        with pytest.raises(ConnectionFileError) as err:
            parse_port_report(full)
        assert err.value.pointer == pointer

    def test_port_report_rejects_missing_channel(self) -> None:
        """Building a report without every channel names the missing one."""
        with pytest.raises(ConnectionFileError) as err:
            port_report({c: p for c, p in PORTS.items() if c is not Channel.HB})
        assert err.value.pointer == "/hb_port"
