"""Property tests: the fast path and the schema agree on documents near the valid set."""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import kcf_spec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator
from kcf_spec import ConnectionFileError, ConnectionInfo, RegistrationInfo
from kcf_spec._validate import check

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_DIR = ROOT / "schema"
KIND = {
    "connection": "connect",
    "connection-launch": "launch",
    "registration": "registration",
    "port-report": "port-report",
}
SCHEMA_OF = {v: k for k, v in KIND.items()}
PY = {
    k: Draft7Validator(json.loads((SCHEMA_DIR / f"{n}.schema.json").read_text()))
    for k, n in SCHEMA_OF.items()
}
RS = {
    k: jsonschema_rs.Draft7Validator(json.loads((SCHEMA_DIR / f"{n}.schema.json").read_text()))
    for k, n in SCHEMA_OF.items()
}


def _valid_docs(schema: str) -> list[dict[str, Any]]:
    out = []
    for path in sorted((SCHEMA_DIR / "vectors" / "valid").glob(f"{schema}--*.json")):
        out.append(json.loads(path.read_text(encoding="utf-8"))["document"])
    return out


BASES = {
    "connect": _valid_docs("connection") + _valid_docs("connection-launch"),
    "registration": _valid_docs("registration"),
    "port-report": _valid_docs("port-report"),
}
FIELDS = sorted(
    {k for docs in BASES.values() for d in docs for k in d}
    | {"curve_publickey", "curve_secretkey", "kernel_name", "jupyter_session", "x_extra"}
)

_TRICKY = "0123456789abcXYZ :/[]*.%-\n\t\x00\x7f+=^!?&<>(){}@$#é🔑"
tricky_text = st.text(alphabet=_TRICKY, max_size=12)
z85ish = st.text(
    alphabet='0123456789abcdefXYZ.-:+=^!/*?&<>()[]{}@%$# "\n', min_size=38, max_size=42
)
schemes = st.sampled_from(
    [
        "hmac-sha256",
        "hmac-sha512",
        "hmac-md5",
        "HmacSHA256",
        "none",
        "hmac-foo",
        "",
        "HMAC-SHA256",
        "hmac-shake_128",
        "hmac-sha256\n",
    ]
)
ports = st.one_of(
    st.sampled_from([-1, 0, 1, 2, 65534, 65535, 65536, 1.0, 0.0, 65535.0, 1.5, True, False]),
    st.integers(min_value=-70000, max_value=70000),
    st.sampled_from([2**64, -(2**64), 1e300, 0.5, 65535.5]),
    st.sampled_from(["1", "0", "05555", "65535", "65536", "+80", "5555\n", " 80", "80 ", ""]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    ports,
    tricky_text,
    schemes,
    z85ish,
    st.sampled_from(
        [
            "tcp",
            "ipc",
            "TCP",
            "ws",
            "*",
            "0.0.0.0",
            "::1",
            "[::1]",
            "tcp://1.2.3.4",
            "localhost",
            "/tmp/k-ipc",
            "a b",
            "x\n",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(tricky_text, inner, max_size=3)
    ),
    max_leaves=3,
)


fragments = st.lists(
    st.sampled_from(
        [
            "127.0.0.1",
            "::1",
            "/",
            "://",
            "tcp",
            "ipc",
            ":",
            " ",
            "\n",
            "[",
            "]",
            "*",
            "x",
            "%",
            "\x00",
            "\x7f",
            "tmp",
            "é",
        ]
    ),
    max_size=4,
).map("".join)
port_strings = st.lists(st.sampled_from([*"0123456789", "+", " ", "\n", "-"]), max_size=6).map(
    "".join
)


mistakes = st.sampled_from(
    ["tcp://127.0.0.1", "ipc:///tmp/kernel-ipc", "/tmp/a b", "[::1]", "10.0.0.0/8", "::1", "*", ""]
)
_Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
curve_keys = st.one_of(
    st.text(alphabet=_Z85, min_size=40, max_size=40),
    st.text(alphabet=_Z85, min_size=39, max_size=41),
    z85ish,
    st.builds(  # 40 characters, one of them outside the alphabet
        lambda k, c, i: k[:i] + c + k[i + 1 :],
        st.text(alphabet=_Z85, min_size=40, max_size=40),
        st.sampled_from(list(" \"\n\\~`,;_|'é")),
        st.integers(min_value=0, max_value=39),
    ),
)


def _value_for(field: str) -> st.SearchStrategy[Any]:
    """A value aimed at the rules of ``field``, or now and then anything."""
    if field.endswith("_port"):
        aimed: st.SearchStrategy[Any] = st.one_of(ports, port_strings)
    elif field.endswith("ip"):
        aimed = st.one_of(fragments, mistakes)
    elif field == "signature_scheme":
        aimed = st.one_of(schemes, tricky_text)
    elif field == "transport":
        aimed = st.sampled_from(["tcp", "ipc", "TCP", "ws", "", "inproc"])
    elif field.startswith("curve_"):
        aimed = curve_keys
    else:
        aimed = st.one_of(st.just(""), st.none(), st.integers(), scalars)
    return st.one_of(aimed, aimed, aimed, values)


@st.composite
def near_valid(draw: st.DrawFn, kind: str) -> Any:
    """A valid document with one to three mutations: drop, retype or add a field."""
    doc = copy.deepcopy(draw(st.sampled_from(BASES[kind])))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        op = draw(st.sampled_from(["drop", "set", "own", "own", "curve", "flip", "ip", "wrap"]))
        if op == "drop" and doc:
            doc.pop(draw(st.sampled_from(sorted(doc))))
        elif op == "own" and doc:  # retype a field the document has: where the rules are
            field = draw(st.sampled_from(sorted(doc)))
            doc[field] = draw(_value_for(field))
        elif op == "set":
            field = draw(st.sampled_from(FIELDS))
            doc[field] = draw(_value_for(field))
        elif op == "ip":  # an address under either transport
            field = "registration_ip" if kind == "registration" else "ip"
            doc["transport"] = draw(st.sampled_from(["tcp", "ipc"]))
            doc[field] = draw(_value_for(field))
        elif op == "flip":  # the same ip under the other transport
            doc["transport"] = "ipc" if doc.get("transport") == "tcp" else "tcp"
        elif op == "curve":  # usually both keys, sometimes a lone one
            for name in draw(
                st.sampled_from(
                    [("curve_publickey", "curve_secretkey")] * 2
                    + [("curve_publickey",), ("curve_secretkey",)]
                )
            ):
                doc[name] = draw(curve_keys)
        elif op == "wrap" and draw(st.integers(min_value=0, max_value=9)) == 0:
            return draw(st.sampled_from([[doc], None, "doc", 5]))
    return doc


def _agree(doc: Any, kind: str) -> None:
    fast = check(doc, kind)  # type: ignore[arg-type]
    assert fast == PY[kind].is_valid(doc), (kind, doc)
    assert fast == RS[kind].is_valid(doc), (kind, doc)
    if not fast:
        with pytest.raises(ConnectionFileError) as info:
            kcf_spec.validate(doc, kind)  # type: ignore[arg-type]
        pointers = {"".join(f"/{p}" for p in e.absolute_path) for e in PY[kind].iter_errors(doc)}
        if not info.value.missing:
            assert info.value.pointer in pointers, (info.value.pointer, pointers)


_SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class TestFastPathAgrees:
    @_SETTINGS
    @given(near_valid("connect"))
    def test_fast_path_agrees_with_schemas_on_connection_documents(self, doc: Any) -> None:
        """Fast path, jsonschema and jsonschema-rs agree in both profiles; errors name a fault."""
        _agree(doc, "connect")
        _agree(doc, "launch")

    @_SETTINGS
    @given(near_valid("registration"))
    def test_fast_path_agrees_with_schemas_on_registration_documents(self, doc: Any) -> None:
        """Fast path and both engines agree on mutated registration files."""
        _agree(doc, "registration")

    @_SETTINGS
    @given(near_valid("port-report"))
    def test_fast_path_agrees_with_schemas_on_port_reports(self, doc: Any) -> None:
        """Fast path and both engines agree on mutated port reports."""
        _agree(doc, "port-report")

    @settings(max_examples=200, deadline=None)
    @given(values)
    def test_validate_raises_only_connection_file_error_on_any_json(self, doc: Any) -> None:
        """Any JSON value is either valid or a ConnectionFileError: no foreign exception escapes."""
        for kind in KIND.values():
            with contextlib.suppress(ConnectionFileError):
                kcf_spec.validate(doc, kind)  # type: ignore[arg-type]


class TestRoundTrip:
    @_SETTINGS
    @given(near_valid("connect"))
    def test_connection_info_round_trips(self, doc: Any) -> None:
        """For any valid launch document, ``from_dict(to_dict(x)) == x`` and nothing is lost."""
        if not check(doc, "launch"):
            return
        info = ConnectionInfo.from_dict(doc, profile="launch")
        again = ConnectionInfo.from_dict(info.to_dict(), profile="launch")
        assert again == info
        assert dict(again.extras) == dict(info.extras)
        out = info.to_dict()
        expected = dict(doc)
        expected.setdefault("signature_scheme", "hmac-sha256")
        if expected["signature_scheme"] == "HmacSHA256":
            expected["signature_scheme"] = "hmac-sha256"
        assert out == expected
        assert all(type(out[c.port_key]) is int for c in kcf_spec.Channel)

    @_SETTINGS
    @given(near_valid("registration"))
    def test_registration_info_round_trips(self, doc: Any) -> None:
        """For any valid registration document, ``from_dict(to_dict(x)) == x``."""
        if not check(doc, "registration"):
            return
        info = RegistrationInfo.from_dict(doc)
        assert RegistrationInfo.from_dict(info.to_dict()) == info
