"""``ConnectionFileError`` from loading: one clear message per kind of fault, never a traceback
from inside a dependency."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kcf_spec
import pytest
from kcf_spec import ConnectionFileError, ConnectionInfo

GOOD: dict[str, Any] = {
    "shell_port": 57503,
    "iopub_port": 40885,
    "stdin_port": 52597,
    "control_port": 50160,
    "hb_port": 42540,
    "ip": "127.0.0.1",
    "key": "secret",
    "transport": "tcp",
    "signature_scheme": "hmac-sha256",
}


def _load_text(tmp_path: Path, text: str | bytes) -> ConnectionFileError:
    path = tmp_path / "kernel-x.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConnectionFileError) as err:
        ConnectionInfo.load(path)
    assert err.value.path == str(path)
    assert str(path) in str(err.value)
    assert err.value.__cause__ is None or isinstance(err.value.__cause__, ConnectionFileError)
    return err.value


@pytest.mark.parametrize(
    ("text", "pointer", "words"),
    [
        ("{not json", "", "not valid JSON"),
        (b"\xff\xfe{}", "", "not valid JSON"),
        ("", "", "not valid JSON"),
        ("[1, 2]", "", "a JSON object"),
        ('"kernel.json"', "", "a JSON object"),
        (json.dumps({**GOOD, "shell_port": "57503"}), "/shell_port", "integer from 1 to 65535"),
        (json.dumps({**GOOD, "iopub_port": 70000}), "/iopub_port", "integer from 1 to 65535"),
        (json.dumps({**GOOD, "transport": "inproc"}), "/transport", '"tcp" or "ipc"'),
        (json.dumps({**GOOD, "signature_scheme": "none"}), "/signature_scheme", "hmac-sha256"),
        (json.dumps({**GOOD, "curve_secretkey": "x" * 40}), "/curve_publickey", "pairs"),
        (json.dumps({**GOOD, "ip": "tcp://127.0.0.1"}), "/ip", "tcp address"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "key"}), "/key", "it is missing"),
        (
            '{"key": "\\ud800", ' + json.dumps(GOOD)[1:].replace('"key": "secret", ', ""),
            "/key",
            "Unicode",
        ),
    ],
    ids=[
        "malformed",
        "not-utf8",
        "empty",
        "array",
        "string",
        "port-string",
        "port-range",
        "transport",
        "scheme",
        "lone-curve",
        "ip-url",
        "missing-key",
        "surrogate-key",
    ],
)
def test_connection_file_error_is_clear(
    tmp_path: Path, text: str | bytes, pointer: str, words: str
) -> None:
    """Each fault gives a ConnectionFileError naming the file, pointer and expectation."""
    err = _load_text(tmp_path, text)
    assert err.pointer == pointer
    assert words in str(err)


def test_connection_file_error_message_shape() -> None:
    """The message reads ``<file>: at <pointer>: expected <what>; got <value>``."""
    with pytest.raises(ConnectionFileError) as err:
        ConnectionInfo.from_dict({**GOOD, "hb_port": -5}, path="/run/k.json")
    assert str(err.value) == "/run/k.json: at /hb_port: expected an integer from 1 to 65535; got -5"
    assert err.value.value == -5
    assert not err.value.missing


def test_connection_file_error_is_a_value_error() -> None:
    """Callers that catch ValueError keep working."""
    with pytest.raises(ValueError):  # noqa: PT011 - the builtin is the point
        ConnectionInfo.from_dict([])


def test_connection_file_not_found_message_names_pattern_and_dirs() -> None:
    """The not-found error reads as one sentence naming the pattern and every directory."""
    err = kcf_spec.ConnectionFileNotFound("kernel-x*", ("/a", "/b"))
    assert str(err) == "no connection file matches 'kernel-x*'; searched: /a, /b"
    assert isinstance(err, FileNotFoundError)
    assert err.errno == 2
    assert err.filename == "kernel-x*"
