"""Fast structural check of connection documents, in step with ``schema/``.

The fast path is plain Python and never imports :mod:`jsonschema`. When it finds a
problem, :func:`explain` asks the JSON Schema for the precise error so that the message
(JSON pointer, expectation) is the one every other language's validator would give.
The two must agree on every document: ``tests/test_validate_agrees.py`` proves it with
the conformance vectors and with hypothesis-generated documents.
"""

from __future__ import annotations

import re
from typing import Literal

from ._channel import Channel
from ._errors import ConnectionFileError

__all__ = ["Profile", "check_connection"]

Profile = Literal["connect", "launch"]

_PORT_KEYS = tuple(c.port_key for c in Channel)
_SCHEME = re.compile(r"hmac-[a-z0-9_]+\Z")
_Z85_KEY = re.compile(r"[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}\Z")


def _is_int(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()


def check_connection(data: object, profile: Profile = "connect") -> bool:
    """Return ``True`` when ``data`` is a valid connection document for ``profile``.

    Cheap: no dependency is imported. Callers that get ``False`` use the schema to
    explain (see :func:`kcf_spec._schema.explain`).
    """
    if not isinstance(data, dict):
        return False
    low = 0 if profile == "launch" else 1
    for key in _PORT_KEYS:
        port = data.get(key)
        if not _is_int(port) or not low <= port <= 65535:  # type: ignore[operator]
            return False
    ip = data.get("ip")
    if not isinstance(ip, str) or not ip:
        return False
    if data.get("transport") not in ("tcp", "ipc"):
        return False
    if not isinstance(data.get("key"), str):
        return False
    if "signature_scheme" in data:
        scheme = data["signature_scheme"]
        if not isinstance(scheme, str) or not _SCHEME.match(scheme):
            return False
    for opt in ("kernel_name", "jupyter_session"):
        if opt in data and not isinstance(data[opt], str):
            return False
    has_pub = "curve_publickey" in data
    if has_pub != ("curve_secretkey" in data):
        return False
    if has_pub:
        for ck in ("curve_publickey", "curve_secretkey"):
            v = data[ck]
            if not isinstance(v, str) or not _Z85_KEY.match(v):
                return False
    return True
