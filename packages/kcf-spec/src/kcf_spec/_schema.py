"""The bundled JSON Schemas, and precise errors from them.

The schemas live in the monorepo's top-level ``schema/`` directory (the one source of
truth). A built wheel carries a copy at ``kcf_spec/schema/`` (see ``hatch_build.py``); an
editable install reads ``schema/`` itself. :mod:`jsonschema` is imported only here and only
when a document has to be explained, never on the fast path.
"""

from __future__ import annotations

import functools
import json
import os
from typing import TYPE_CHECKING, Any

from ._errors import ConnectionFileError
from ._validate import SCHEMA_NAMES, SIGNATURE_SCHEMES, Kind, check

if TYPE_CHECKING:
    from pathlib import Path

    from jsonschema.exceptions import ValidationError

__all__ = ["SCHEMA_FILES", "schema_dir", "schema_path", "load_schema", "explain"]

#: Schema name -> file name, for every schema kcf ships.
SCHEMA_FILES: dict[str, str] = {
    "connection": "connection.schema.json",
    "connection-launch": "connection-launch.schema.json",
    "registration": "registration.schema.json",
    "port-report": "port-report.schema.json",
}


@functools.lru_cache(maxsize=1)
def schema_dir() -> Path:
    """The directory holding the schemas: inside the package if installed from a wheel,
    else the monorepo's ``schema/`` (editable install, source checkout).

    Raises:
        FileNotFoundError: neither exists (a broken install).
    """
    from pathlib import Path  # imported on first use: pathlib costs ~4 ms at import

    here = Path(__file__).resolve().parent
    for candidate in (here / "schema", here.parents[3] / "schema"):
        if (candidate / SCHEMA_FILES["connection"]).is_file():
            return candidate
    raise FileNotFoundError(
        f"kcf_spec: no schema directory in {here} or in the source tree; reinstall kcf-spec"
    )


def schema_path(name: str) -> Path:
    """The path of the bundled schema ``name``.

    Args:
        name: ``"connection"``, ``"connection-launch"``, ``"registration"`` or
            ``"port-report"``; the profile names ``"connect"`` and ``"launch"`` work too.

    Raises:
        ValueError: there is no schema of that name.

    .. versionadded:: 0.1.0
    """
    stem = SCHEMA_NAMES.get(name, name)
    if stem not in SCHEMA_FILES:
        known = ", ".join(sorted({*SCHEMA_FILES, *SCHEMA_NAMES}))
        raise ValueError(f"no schema named {name!r}; known: {known}")
    return schema_dir() / SCHEMA_FILES[stem]


@functools.cache
def _load(stem: str) -> dict[str, Any]:
    with open(schema_path(stem), encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def load_schema(name: str) -> dict[str, Any]:
    """The bundled schema ``name`` as a fresh dict (see :func:`schema_path` for names).

    .. versionadded:: 0.1.0
    """
    import copy

    return copy.deepcopy(_load(SCHEMA_NAMES.get(name, name)))


@functools.cache
def _validator(stem: str) -> Any:
    from jsonschema import Draft7Validator

    return Draft7Validator(_load(stem))


# -- turning a schema error into a ConnectionFileError ----------------------------------

_PORT = {
    "connect": "an integer from 1 to 65535",
    "launch": "an integer from 0 to 65535 (0: the kernel chooses)",
    "registration": "a port from 1 to 65535: an integer, or a decimal string (xeus)",
    "port-report": "a port from 1 to 65535, as an integer or a decimal string",
}
_SCHEMES = ", ".join(sorted(s for s in SIGNATURE_SCHEMES if s.startswith("hmac-")))
_FIELD = {
    "transport": '"tcp" or "ipc"',
    "key": "a string (empty: messages are not signed)",
    "signature_scheme": f'"hmac-<digest>": one of {_SCHEMES} (or absent: hmac-sha256)',
    "kernel_name": "a string",
    "jupyter_session": "a string",
    "kernel_id": "a non-empty string",
    "curve_publickey": "a 40-character Z85 CURVE key",
    "curve_secretkey": "a 40-character Z85 CURVE key",
}
_PARTNER = {"curve_publickey": "curve_secretkey", "curve_secretkey": "curve_publickey"}
_IP_FIELDS = ("ip", "registration_ip")


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _ip_expected(data: dict[str, Any], field: str, value: object) -> str:
    if field not in data:
        return "an address to bind or connect to (or, for ipc, a path prefix)"
    if not isinstance(value, str):
        return "a string"
    if data.get("transport") == "tcp":
        return (
            "a tcp address: a host name, '*', an IPv4 or a bare IPv6 address "
            "(not empty; no space, control character, '/', brackets or 'tcp://')"
        )
    return "a non-empty address or ipc path prefix without control characters or 'scheme://'"


def _expected(kind: Kind, data: dict[str, Any], field: str, value: object) -> str:
    if field.endswith("_port"):
        if kind == "connect" and _is_zero(value):
            return f"{_PORT[kind]} (0, 'the kernel chooses', is only for the launch profile)"
        return _PORT[kind]
    if field in _IP_FIELDS:
        return _ip_expected(data, field, value)
    return _FIELD.get(field, "")


def _is_zero(value: object) -> bool:
    return type(value) in (int, float) and value == 0


def _pick(errors: list[ValidationError]) -> ValidationError:
    """The most useful error: the one jsonschema's ``best_match`` picks, descending into
    ``anyOf`` the way it does."""
    from jsonschema.exceptions import best_match

    best = best_match(errors)
    assert best is not None
    return best


def explain(
    data: object,
    kind: Kind = "connect",
    *,
    path: str | os.PathLike[str] | None = None,
) -> ConnectionFileError:
    """Return the error the schema of ``kind`` reports for ``data``.

    The error carries the JSON pointer of the offending value (for a missing property,
    where it belongs, with ``missing=True``), the value, and what was expected there.
    Never raises a :mod:`jsonschema` exception.

    Args:
        data: the decoded document (expected to be invalid).
        kind: ``"connect"``, ``"launch"``, ``"registration"`` or ``"port-report"``.
        path: the file, named in the error.
    """
    if not isinstance(data, dict):
        return ConnectionFileError("a JSON object", path=path, value=data)
    try:
        errors = list(_validator(SCHEMA_NAMES[kind]).iter_errors(data))
    except Exception as exc:  # noqa: BLE001 - whatever jsonschema raises, we explain ourselves
        return ConnectionFileError(
            f"a valid {kind} document", path=path, value=data, detail=f"the schema failed: {exc}"
        )
    if not errors:
        # The fast path and the schema disagree: a bug. Say so rather than guess.
        detail = "the fast check rejected it but the schema accepts it (please report)"
        if check(data, kind):
            detail = "it is valid"
        return ConnectionFileError(f"a valid {kind} document", path=path, detail=detail)
    err = _pick(errors)
    where = [str(p) for p in err.absolute_path]
    if err.validator in ("required", "dependencies") and not where:
        required = err.validator_value
        if err.validator == "dependencies":
            # validator_value is the whole mapping; find the pair that fails.
            required = [
                dep for prop, deps in err.validator_value.items() if prop in data for dep in deps
            ]
        missing = next((r for r in required if r not in data), None)
        if missing is not None:
            expected = _expected(kind, data, missing, None)
            if missing in _PARTNER:
                expected = f"{expected}, since {_PARTNER[missing]} is given (keys come in pairs)"
            return ConnectionFileError(
                expected or "this property",
                path=path,
                pointer=f"/{_escape(missing)}",
                missing=True,
            )
    pointer = "".join(f"/{_escape(p)}" for p in where)
    value: object = data
    for p in err.absolute_path:
        value = value[p]  # type: ignore[index]
    field = where[0] if len(where) == 1 else ""
    expected = _expected(kind, data, field, value) if field else ""
    return ConnectionFileError(
        expected or f"a value the schema accepts ({err.message})",
        path=path,
        pointer=pointer,
        value=value,
    )
