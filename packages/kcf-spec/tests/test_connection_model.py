"""``ConnectionInfo``: reading, writing and normalising connection documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kcf_spec import (
    Channel,
    ConnectionFileError,
    ConnectionFileNotFound,
    ConnectionInfo,
    ConnectionValueError,
)

KEY = "a0436f6c-1916-498b-8eb9-e81ab9368e84"
PUB = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
SEC = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"


def doc(**changes: Any) -> dict[str, Any]:
    """A jupyter_client-style document with ``changes`` (``...`` drops a field)."""
    out: dict[str, Any] = {
        "shell_port": 57503,
        "iopub_port": 40885,
        "stdin_port": 52597,
        "control_port": 50160,
        "hb_port": 42540,
        "ip": "127.0.0.1",
        "key": KEY,
        "transport": "tcp",
        "signature_scheme": "hmac-sha256",
        "kernel_name": "",
    }
    for k, v in changes.items():
        if v is ...:
            out.pop(k, None)
        else:
            out[k] = v
    return out


class TestFromDict:
    def test_from_dict_reads_every_field(self) -> None:
        """Ports, address, transport, key (as bytes), scheme and kernel_name are read."""
        info = ConnectionInfo.from_dict(doc(kernel_name="python3"))
        assert info.ports == {
            Channel.SHELL: 57503,
            Channel.IOPUB: 40885,
            Channel.STDIN: 52597,
            Channel.CONTROL: 50160,
            Channel.HB: 42540,
        }
        assert info.ip == "127.0.0.1"
        assert info.transport == "tcp"
        assert info.key == KEY.encode()
        assert info.signature_scheme == "hmac-sha256"
        assert info.kernel_name == "python3"
        assert info.signed

    def test_from_dict_keeps_unknown_fields_in_order(self) -> None:
        """Unknown fields (jupyter_session, Enterprise Gateway's pid) land in extras, in order."""
        info = ConnectionInfo.from_dict(doc(jupyter_session="/a.ipynb", pid=12, comm_port=5))
        assert list(info.extras) == ["jupyter_session", "pid", "comm_port"]
        assert info.to_dict() == doc(jupyter_session="/a.ipynb", pid=12, comm_port=5)

    def test_from_dict_missing_scheme_means_hmac_sha256(self) -> None:
        """A document without signature_scheme (IHaskell) is read as hmac-sha256 and written so."""
        info = ConnectionInfo.from_dict(doc(signature_scheme=...))
        assert info.signature_scheme == "hmac-sha256"
        assert info.to_dict()["signature_scheme"] == "hmac-sha256"

    def test_from_dict_normalises_kotlin_scheme(self) -> None:
        """``HmacSHA256`` (Kotlin) is held as ``hmac-sha256``, the spelling every reader knows."""
        assert ConnectionInfo.from_dict(doc(signature_scheme="HmacSHA256")).signature_scheme == (
            "hmac-sha256"
        )

    def test_from_dict_integral_float_port_becomes_int(self) -> None:
        """A port written ``50160.0`` is the int 50160 in the model and in its output."""
        info = ConnectionInfo.from_dict(doc(control_port=50160.0))
        assert type(info.control_port) is int
        assert info.to_dict()["control_port"] == 50160

    def test_from_dict_launch_profile_accepts_port_zero(self) -> None:
        """Port 0 is valid in the launch profile and invalid in the connect profile."""
        info = ConnectionInfo.from_dict(doc(hb_port=0), profile="launch")
        assert info.hb_port == 0
        with pytest.raises(ConnectionFileError) as err:
            ConnectionInfo.from_dict(doc(hb_port=0))
        assert err.value.pointer == "/hb_port"

    def test_from_dict_curve_keys_read_as_pair(self) -> None:
        """Both CURVE keys are read; one alone is an error naming the missing partner."""
        info = ConnectionInfo.from_dict(doc(curve_publickey=PUB, curve_secretkey=SEC))
        assert (info.curve_publickey, info.curve_secretkey) == (PUB, SEC)
        with pytest.raises(ConnectionFileError) as err:
            ConnectionInfo.from_dict(doc(curve_publickey=PUB))
        assert err.value.pointer == "/curve_secretkey"
        assert err.value.missing
        assert "curve_publickey" in err.value.expected


class TestRoundTrip:
    @pytest.mark.parametrize(
        "document",
        [
            doc(),
            doc(transport="ipc", ip="/tmp/k-ipc", shell_port=1, iopub_port=2),
            doc(curve_publickey=PUB, curve_secretkey=SEC, jupyter_session="s"),
            doc(ip="::1", key="", kernel_name="Python 3 (ipykernel)", x={"y": [1]}),
        ],
        ids=["default", "ipc", "curve", "ipv6-unsigned"],
    )
    def test_round_trip_is_lossless(self, document: dict[str, Any]) -> None:
        """``to_dict(from_dict(d)) == d`` with the same key order, and ``loads(dumps(x)) == x``."""
        info = ConnectionInfo.from_dict(document)
        assert list(info.to_dict().items()) == list(document.items())
        assert ConnectionInfo.loads(info.dumps()) == info

    def test_dumps_is_indented_json_with_newline(self) -> None:
        """``dumps`` writes 2-space indented JSON ending in a newline."""
        text = ConnectionInfo.from_dict(doc()).dumps()
        assert text.endswith("}\n")
        assert text.splitlines()[1].startswith('  "shell_port"')
        assert json.loads(text) == doc()


class TestLoad:
    def test_load_reads_a_file(self, tmp_path: Path) -> None:
        """``load`` reads, validates and returns the model of a file."""
        path = tmp_path / "kernel-1.json"
        path.write_text(json.dumps(doc()))
        assert ConnectionInfo.load(path) == ConnectionInfo.from_dict(doc())

    def test_load_missing_file_raises_not_found(self, tmp_path: Path) -> None:
        """A missing file is ConnectionFileNotFound, which is also a FileNotFoundError."""
        with pytest.raises(FileNotFoundError) as err:
            ConnectionInfo.load(tmp_path / "nope.json")
        assert isinstance(err.value, ConnectionFileNotFound)

    def test_load_directory_raises_connection_file_error(self, tmp_path: Path) -> None:
        """A directory is a ConnectionFileError naming it."""
        with pytest.raises(ConnectionFileError, match="directory") as err:
            ConnectionInfo.load(tmp_path)
        assert err.value.path == str(tmp_path)

    def test_load_invalid_file_names_path_and_pointer(self, tmp_path: Path) -> None:
        """An invalid file's error carries the file, the pointer, the value and the expectation."""
        path = tmp_path / "kernel-2.json"
        path.write_text(json.dumps(doc(transport="udp")))
        with pytest.raises(ConnectionFileError) as err:
            ConnectionInfo.load(path)
        assert (err.value.path, err.value.pointer, err.value.value) == (
            str(path),
            "/transport",
            "udp",
        )
        assert err.value.expected == '"tcp" or "ipc"'
        assert str(path) in str(err.value)


class TestConstruct:
    def test_constructor_validates_like_a_document(self) -> None:
        """A hand-built value with a bad field raises a ConnectionValueError naming the
        argument (not a ConnectionFileError: there is no file), with the schema's wording."""
        with pytest.raises(ConnectionValueError) as err:
            ConnectionInfo(1, 2, 3, 4, 70000)
        assert not isinstance(err.value, ConnectionFileError)
        assert isinstance(err.value, ValueError)
        assert err.value.field == "hb_port"
        assert err.value.value == 70000
        assert "ConnectionInfo(hb_port=...)" in str(err.value)
        with pytest.raises(ConnectionValueError) as err:
            ConnectionInfo(1, 2, 3, 4, 5, signature_scheme="none")
        assert err.value.field == "signature_scheme"

    def test_constructor_bad_key_bytes_and_extras_are_value_errors(self) -> None:
        """A key that is not UTF-8 and extras repeating a field are ConnectionValueErrors
        that never show the key."""
        with pytest.raises(ConnectionValueError) as err:
            ConnectionInfo(1, 2, 3, 4, 5, key=b"secret\xff")
        assert err.value.field == "key"
        assert "hunter2" not in str(err.value)
        with pytest.raises(ConnectionValueError) as err:
            ConnectionInfo(1, 2, 3, 4, 5, extras={"ip": "x"})
        assert err.value.field == "extras"

    def test_constructor_normalises_scheme_alias(self) -> None:
        """Building with ``HmacSHA256`` holds ``hmac-sha256``."""
        assert ConnectionInfo(1, 2, 3, 4, 5, signature_scheme="HmacSHA256").signature_scheme == (
            "hmac-sha256"
        )

    def test_from_ports_builds_from_channel_mapping(self) -> None:
        """``from_ports`` takes ``{Channel: port}`` and any other field."""
        info = ConnectionInfo.from_ports({c: 10 + i for i, c in enumerate(Channel)}, key=b"k")
        assert info.port(Channel.HB) == 14
        assert info.key == b"k"


def test_from_dict_sets_every_field_like_the_constructor() -> None:
    """The fast construction in ``from_dict`` equals building through ``__init__``."""
    info = ConnectionInfo.from_dict(doc(curve_publickey=PUB, curve_secretkey=SEC, extra=1))
    fields = {name: getattr(info, name) for name in ConnectionInfo.__match_args__}
    assert ConnectionInfo(**fields) == info
    assert info.replace() == info
