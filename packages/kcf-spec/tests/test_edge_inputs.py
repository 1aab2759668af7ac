"""Hostile and odd inputs: JSON Python accepts but JSON does not, secrets in errors,
ports that are not integers, fields given twice, copying across processes."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from kcf_spec import (
    Channel,
    ConnectionFileError,
    ConnectionInfo,
    ConnectionValueError,
    Header,
    MalformedMessage,
    Message,
    RegistrationInfo,
)

BASE: dict[str, Any] = {
    "shell_port": 5001,
    "iopub_port": 5002,
    "stdin_port": 5003,
    "control_port": 5004,
    "hb_port": 5005,
    "ip": "127.0.0.1",
    "transport": "tcp",
    "key": "a0b1c2d3-secret-key-text",
    "signature_scheme": "hmac-sha256",
}
REG: dict[str, Any] = {
    "kernel_id": "k1",
    "transport": "tcp",
    "registration_ip": "127.0.0.1",
    "registration_port": 6000,
    "key": "a0b1c2d3-secret-key-text",
}
LOADERS: list[Callable[[str], object]] = [ConnectionInfo.loads, RegistrationInfo.loads]


def _with(doc: dict[str, Any], tail: str) -> str:
    """``doc`` as JSON text with ``tail`` spliced in as its last member."""
    return json.dumps(doc)[:-1] + ", " + tail + "}"


class TestLoadsNotJson:
    @pytest.mark.parametrize("load", LOADERS)
    @pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
    def test_loads_nan_constant_refused(self, load: Callable[[str], object], constant: str) -> None:
        """``NaN``/``Infinity`` are Python-only JSON: refused, as Rust/JS/Go parsers do."""
        doc = BASE if load is ConnectionInfo.loads else REG
        with pytest.raises(ConnectionFileError, match=f"not valid JSON: {constant}"):
            load(_with(doc, f'"extra": {constant}'))

    @pytest.mark.parametrize("load", LOADERS)
    def test_loads_huge_integer_connection_file_error(self, load: Callable[[str], object]) -> None:
        """A number past Python's int-digits limit is a ConnectionFileError, not ValueError."""
        doc = BASE if load is ConnectionInfo.loads else REG
        with pytest.raises(ConnectionFileError, match="not valid JSON"):
            load(_with(doc, '"extra": 1' + "0" * 5000))

    @pytest.mark.parametrize("load", LOADERS)
    def test_loads_deep_nesting_connection_file_error(self, load: Callable[[str], object]) -> None:
        """JSON nested deeper than the recursion limit is a ConnectionFileError."""
        with pytest.raises(ConnectionFileError, match="not valid JSON"):
            load("[" * 100_000 + "]" * 100_000)

    def test_load_nan_file_names_path(self, tmp_path: Any) -> None:
        """A file holding ``NaN`` is refused with its path in the error."""
        path = tmp_path / "kernel-nan.json"
        path.write_text(_with(BASE, '"x": NaN'))
        with pytest.raises(ConnectionFileError) as info:
            ConnectionInfo.load(path)
        assert info.value.path == str(path)


class TestErrorsHideSecrets:
    def test_bad_curve_secretkey_not_in_message(self) -> None:
        """A malformed CURVE secret key is described by length, never echoed."""
        secret = "TOPSECRET" * 4
        doc = {**BASE, "curve_publickey": "a" * 40, "curve_secretkey": secret}
        with pytest.raises(ConnectionFileError) as info:
            ConnectionInfo.from_dict(doc)
        assert info.value.pointer == "/curve_secretkey"
        assert "TOPSECRET" not in str(info.value)
        assert "length 36" in str(info.value)

    def test_non_utf8_key_bytes_not_in_message(self) -> None:
        """Key bytes that are not UTF-8 are refused without showing them."""
        with pytest.raises(ConnectionValueError) as info:
            ConnectionInfo(1, 2, 3, 4, 5, key=b"\xffsecretbytes")
        assert "secretbytes" not in str(info.value)
        assert info.value.field == "key"

    @pytest.mark.parametrize("cls", [ConnectionInfo, RegistrationInfo])
    def test_surrogate_key_not_in_message(self, cls: Any) -> None:
        """A key with a lone surrogate is refused without showing it."""
        doc = {**(BASE if cls is ConnectionInfo else REG), "key": "hidden\ud800text"}
        with pytest.raises(ConnectionFileError) as info:
            cls.from_dict(doc)
        assert "hidden" not in str(info.value)

    def test_key_of_wrong_type_names_type(self) -> None:
        """A key that is not a string is named by its type only."""
        with pytest.raises(ConnectionFileError, match="got an int"):
            ConnectionInfo.from_dict({**BASE, "key": 12345678})

    def test_other_pointer_still_shows_value(self) -> None:
        """Values of ordinary fields are still quoted, so the message stays useful."""
        with pytest.raises(ConnectionFileError, match="got 70000"):
            ConnectionInfo.from_dict({**BASE, "hb_port": 70000})


class TestPortsFromMapping:
    @pytest.mark.parametrize("bad", [1.5, "7000", True])
    def test_from_ports_non_integer_refused(self, bad: object) -> None:
        """``from_ports`` refuses 1.5, "7000" and True instead of truncating or parsing."""
        ports = {c: 5000 + i for i, c in enumerate(Channel)}
        ports[Channel.HB] = bad  # type: ignore[assignment]
        with pytest.raises(ConnectionValueError) as info:
            ConnectionInfo.from_ports(ports)
        assert info.value.field == "hb_port"

    def test_replace_ports_non_integer_refused(self) -> None:
        """``replace(ports=...)`` checks the ports as the constructor does."""
        info = ConnectionInfo.from_dict(BASE)
        with pytest.raises(ConnectionValueError) as err:
            info.replace(ports={Channel.SHELL: 2.5})
        assert err.value.field == "shell_port"

    def test_from_ports_integral_float_and_index_types_become_int(self) -> None:
        """``1.0`` and objects with ``__index__`` become plain ints."""

        class Port:
            def __init__(self, n: int) -> None:
                self.n = n

            def __index__(self) -> int:
                return self.n

        ports: dict[Channel, Any] = {c: Port(5000 + i) for i, c in enumerate(Channel)}
        ports[Channel.HB] = 6000.0
        info = ConnectionInfo.from_ports(ports)
        assert [type(p) for p in info.ports.values()] == [int] * 5
        assert info.hb_port == 6000
        assert info.shell_port == 5000


class TestExtrasShadowing:
    @pytest.mark.parametrize("name", ["kernel_name", "shell_port", "key"])
    def test_connection_extras_naming_field_refused(self, name: str) -> None:
        """Extras may not name a model field: to_dict would write it in the field's place."""
        with pytest.raises(ValueError, match=name):
            ConnectionInfo(1, 2, 3, 4, 5, extras={name: "x"})

    def test_registration_extras_naming_field_refused(self) -> None:
        """Registration extras may not name a model field either."""
        with pytest.raises(ValueError, match="kernel_id"):
            RegistrationInfo("k", 6000, extras={"kernel_id": "other"})

    def test_from_dict_unknown_fields_still_kept(self) -> None:
        """Unknown fields of a document still land in extras and round-trip."""
        info = ConnectionInfo.from_dict({**BASE, "pid": 42})
        assert info.extras == {"pid": 42}
        assert ConnectionInfo.from_dict(info.to_dict()) == info


VALUES: list[Callable[[], Any]] = [
    lambda: ConnectionInfo.from_dict({**BASE, "pid": 1}),
    lambda: RegistrationInfo.from_dict({**REG, "x": [1]}),
    lambda: Header("m", "t", "s", extras={"subshell_id": None}),
    lambda: Message(Header("m", "t", "s", extras={"a": 1}), content={"x": 1}),
]


class TestCopyAcrossProcesses:
    @pytest.mark.parametrize("build", VALUES)
    def test_pickle_round_trip_equal(self, build: Callable[[], Any]) -> None:
        """Values pickle (for multiprocessing) and come back equal, extras read-only."""
        value = build()
        back = pickle.loads(pickle.dumps(value))  # noqa: S301 - our own bytes
        assert back == value
        extras: Any = back.header.extras if isinstance(back, Message) else back.extras
        with pytest.raises(TypeError):
            extras["new"] = 1

    @pytest.mark.parametrize("build", VALUES)
    def test_deepcopy_equal(self, build: Callable[[], Any]) -> None:
        """``copy.deepcopy`` works and gives an equal value."""
        value = build()
        assert copy.deepcopy(value) == value


class TestHeaderDate:
    @pytest.mark.parametrize(
        "date",
        [
            "\uff12\uff10\uff12\uff16-01-02T03:04:05Z",  # fullwidth year
            "2026-01-02T03:04:\u0660\u0665Z",  # Arabic-Indic seconds
            "2026-01-02T03:04:05.\u09e7\u09e8Z",  # Bengali fraction
        ],
    )
    def test_datetime_non_ascii_digits_refused(self, date: str) -> None:
        """Only ASCII digits make a date, as in every other language's parser."""
        with pytest.raises(MalformedMessage, match="ISO 8601"):
            _ = Header("m", "t", "s", date=date).datetime
