"""Fast structural check of connection documents, in step with ``schema/``.

The fast path is plain Python and never imports :mod:`jsonschema`. When it finds a
problem, :func:`validate` asks the JSON Schema for the precise error
(:func:`kcf_spec._schema.explain`) so that the message (JSON pointer, expectation) is the
one every other language's validator would give. The two must agree on every document:
the conformance vectors in ``schema/vectors/`` and the hypothesis tests in
``tests/test_validate_agrees.py`` prove it.

Each rule below names the schema definition it mirrors.
"""

from __future__ import annotations

import os
from typing import Literal

from ._channel import Channel

__all__ = [
    "Profile",
    "Kind",
    "SCHEMA_NAMES",
    "SIGNATURE_SCHEMES",
    "SCHEME_ALIASES",
    "check",
    "check_connection",
    "check_registration",
    "check_port_report",
    "validate",
]

#: Which rules a connection document is held to: ``"connect"`` (what a client connects
#: with: every port 1..65535) or ``"launch"`` (what a kernel is given: 0 = choose).
Profile = Literal["connect", "launch"]

#: Every kind of document :func:`validate` knows.
Kind = Literal["connect", "launch", "registration", "port-report"]

#: Kind -> the file stem of its schema in ``schema/``.
SCHEMA_NAMES: dict[str, str] = {
    "connect": "connection",
    "launch": "connection-launch",
    "registration": "registration",
    "port-report": "port-report",
}

_PORT_KEYS = tuple(c.port_key for c in Channel)

#: ``definitions/signature_scheme``: ``hmac-`` and a digest every hashlib has (not the
#: variable-length shake digests), plus the Kotlin kernel's Java spelling.
SIGNATURE_SCHEMES = frozenset(
    {
        "hmac-sha256",
        "hmac-sha224",
        "hmac-sha384",
        "hmac-sha512",
        "hmac-sha3_224",
        "hmac-sha3_256",
        "hmac-sha3_384",
        "hmac-sha3_512",
        "hmac-blake2b",
        "hmac-blake2s",
        "hmac-sha1",
        "hmac-md5",
        "HmacSHA256",
    }
)

#: Spellings the schema accepts that the model normalises.
SCHEME_ALIASES = {"HmacSHA256": "hmac-sha256"}

# definitions/curve_key: the Z85 alphabet (ZeroMQ RFC 32).
_Z85 = frozenset(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
)
# definitions/ip: ASCII control characters (\x00-\x1f, \x7f).
_CONTROL = frozenset([*map(chr, range(0x20)), "\x7f"])
# definitions/tcp_host: what a tcp address never contains.
_NOT_TCP = frozenset(" /[]")
_DIGITS = frozenset("0123456789")


def _is_int(value: object) -> bool:
    """``type: integer`` as JSON Schema means it: ``1.0`` is one, ``True`` is not."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()


def _port_ok(value: object, low: int) -> bool:
    """``definitions/port``: an integer from ``low`` to 65535."""
    return _is_int(value) and low <= value <= 65535  # type: ignore[operator]


def _ip_ok(value: object, transport: object) -> bool:
    """``definitions/ip`` (and ``tcp_host`` when the transport is tcp)."""
    if not isinstance(value, str) or not value:
        return False
    if "://" in value or not _CONTROL.isdisjoint(value):
        return False
    return transport != "tcp" or _NOT_TCP.isdisjoint(value)


def _scheme_ok(data: dict[str, object]) -> bool:
    """``definitions/signature_scheme``; absent is fine."""
    if "signature_scheme" not in data:
        return True
    scheme = data["signature_scheme"]
    return isinstance(scheme, str) and scheme in SIGNATURE_SCHEMES


def _curve_ok(value: object) -> bool:
    """``definitions/curve_key``: exactly 40 characters of the Z85 alphabet."""
    return isinstance(value, str) and len(value) == 40 and _Z85.issuperset(value)


def check_connection(data: object, profile: Profile = "connect") -> bool:
    """Return ``True`` when ``data`` is a valid connection document for ``profile``.

    Cheap: no dependency is imported. Callers that get ``False`` ask the schema to
    explain (see :func:`validate`).
    """
    if not isinstance(data, dict):
        return False
    low = 0 if profile == "launch" else 1
    for key in _PORT_KEYS:
        if not _port_ok(data.get(key), low):
            return False
    transport = data.get("transport")
    if transport != "tcp" and transport != "ipc":
        return False
    if not _ip_ok(data.get("ip"), transport):
        return False
    if not isinstance(data.get("key"), str):
        return False
    if not _scheme_ok(data):
        return False
    for opt in ("kernel_name", "jupyter_session"):
        if opt in data and not isinstance(data[opt], str):
            return False
    has_pub = "curve_publickey" in data
    if has_pub != ("curve_secretkey" in data):
        return False
    return not has_pub or (
        _curve_ok(data["curve_publickey"]) and _curve_ok(data["curve_secretkey"])
    )


def check_registration(data: object) -> bool:
    """Return ``True`` when ``data`` is a valid JEP 66 registration document, in any of
    the three deployed dialects (see ``schema/registration.schema.json``)."""
    if not isinstance(data, dict):
        return False
    transport = data.get("transport")
    if transport != "tcp" and transport != "ipc":
        return False
    port = data.get("registration_port")
    if not _reported_port_ok(port):  # definitions/registration_port: int or decimal string
        return False
    if not isinstance(data.get("key"), str) or not _scheme_ok(data):
        return False
    for field in ("registration_ip", "ip"):
        if field in data and not _ip_ok(data[field], transport):
            return False
    if "kernel_id" in data:
        kernel_id = data["kernel_id"]
        if not isinstance(kernel_id, str) or not kernel_id or "registration_ip" not in data:
            return False
    elif "ip" not in data or "signature_scheme" not in data:  # Kallichore's shape
        return False
    # a string port is xeus's shape: kernel_id, ip and signature_scheme are required
    return not isinstance(port, str) or (
        "kernel_id" in data and "ip" in data and "signature_scheme" in data
    )


def _reported_port_ok(value: object) -> bool:
    """``port-report definitions/reported_port``: 1..65535 as an integer or decimal string."""
    if isinstance(value, str):
        return (
            0 < len(value) <= 5
            and _DIGITS.issuperset(value)
            and value[0] != "0"
            and int(value) <= 65535
        )
    return _port_ok(value, 1)


def check_port_report(data: object) -> bool:
    """Return ``True`` when ``data`` is valid port-report message content."""
    if not isinstance(data, dict):
        return False
    return all(_reported_port_ok(data.get(key)) for key in _PORT_KEYS)


def check(data: object, kind: Kind = "connect") -> bool:
    """Dispatch to the fast check of ``kind``."""
    if kind == "connect" or kind == "launch":
        return check_connection(data, kind)
    if kind == "registration":
        return check_registration(data)
    if kind == "port-report":
        return check_port_report(data)
    raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(SCHEMA_NAMES)}")


def validate(
    data: object,
    profile: Kind = "connect",
    *,
    path: str | os.PathLike[str] | None = None,
) -> None:
    """Validate a decoded document against the schema of ``profile``.

    The fast path runs first; only an invalid document loads :mod:`jsonschema`, to say
    precisely what is wrong.

    Args:
        data: the decoded JSON document.
        profile: ``"connect"``, ``"launch"``, ``"registration"`` or ``"port-report"``.
        path: the file the document came from, named in the error.

    Raises:
        ConnectionFileError: the document is not valid; the error carries the JSON
            pointer, the offending value and what was expected there.
        ValueError: ``profile`` is not one of the four kinds.

    .. versionadded:: 0.1.0
    """
    if check(data, profile):
        return
    from ._schema import explain

    raise explain(data, profile, path=path)
