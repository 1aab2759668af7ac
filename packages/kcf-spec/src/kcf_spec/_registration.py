"""The JEP 66 handshake documents: the registration file and the kernel's port report.

With the handshake pattern the client does not choose the kernel's ports. It binds one
*registration* socket and hands the kernel a registration file naming it; the kernel binds
its five sockets wherever it can and reports the ports in a message whose content is the
*port report*. The client then has everything a :class:`ConnectionInfo` needs.

:class:`RegistrationInfo` is a hand-written slotted class (see :mod:`._frozen`), not a
dataclass, because importing :mod:`dataclasses` pulls in :mod:`inspect`: about 8 ms of a
~90 ms fresh process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from operator import attrgetter
from types import MappingProxyType
from typing import Any

from ._channel import Channel
from ._connection import (
    DEFAULT_SIGNATURE_SCHEME,
    ConnectionInfo,
    Transport,
    check_extras,
)
from ._errors import ConnectionFileError
from ._frozen import FACTORY, Frozen
from ._hosts import format_host
from ._read import parse_json_document, read_document
from ._validate import SCHEME_ALIASES, check_port_report, check_registration

__all__ = ["RegistrationInfo", "parse_port_report", "port_report"]

_KNOWN = frozenset(
    {"kernel_id", "transport", "registration_ip", "registration_port", "key", "signature_scheme"}
)


def _explain(data: object, kind: Any, path: str | os.PathLike[str] | None) -> ConnectionFileError:
    from ._schema import explain

    return explain(data, kind, path=path)


class RegistrationInfo(Frozen):
    """A JEP 66 registration file: where the kernel reports the ports it bound.

    The key is ``bytes`` (the UTF-8 bytes of the file's ``key``), as in
    :class:`ConnectionInfo`. Fields the model does not name are kept in :attr:`extras`.

    One model for the three deployed dialects (see :data:`DIALECTS` and
    ``schema/registration.schema.json``): :meth:`from_dict` reads each one's file (a
    string ``registration_port``, ``ip`` standing in for ``registration_ip``, no
    ``kernel_id``); :func:`registration_document` writes the file of a dialect.

    Args:
        kernel_id: the id the client gave the kernel; the kernel repeats it. ``None`` for
            a file without one (the Kallichore dialect).
        registration_port: the port (tcp) or ipc suffix of the client's registration socket.
        registration_ip: its address (tcp) or ipc path prefix.
        transport: ``"tcp"`` or ``"ipc"``.
        key: the HMAC key; empty means messages are not signed.
        signature_scheme: ``"hmac-<hashlib name>"``.
        extras: every other field, in order.

    Raises:
        ConnectionFileError: a field breaks ``schema/registration.schema.json``.

    .. versionadded:: 0.1.0
    """

    __match_args__ = (
        "kernel_id",
        "registration_port",
        "registration_ip",
        "transport",
        "key",
        "signature_scheme",
        "extras",
    )
    __slots__ = __match_args__
    _key = attrgetter(*__match_args__)
    _hash_key = attrgetter(*__match_args__[:-1])  # all but extras

    kernel_id: str | None
    registration_port: int
    registration_ip: str
    transport: Transport
    key: bytes
    signature_scheme: str
    extras: Mapping[str, Any]

    def __init__(
        self,
        kernel_id: str | None,
        registration_port: int,
        registration_ip: str = "127.0.0.1",
        transport: Transport = "tcp",
        key: bytes = b"",
        signature_scheme: str = DEFAULT_SIGNATURE_SCHEME,
        extras: Mapping[str, Any] = FACTORY,
    ) -> None:
        if extras is FACTORY:
            extras = MappingProxyType({})
        self._assign(
            kernel_id, registration_port, registration_ip, transport, key, signature_scheme, extras
        )
        if not isinstance(self.key, bytes):
            raise TypeError(f"key must be bytes, not {type(self.key).__name__}")
        try:
            self.key.decode("utf-8")
        except UnicodeDecodeError:
            raise ConnectionFileError(
                "a key whose bytes are UTF-8 text", pointer="/key", value=self.key
            ) from None
        port: object = self.registration_port
        if isinstance(port, float) and port.is_integer():
            object.__setattr__(self, "registration_port", int(port))
        scheme = self.signature_scheme
        if scheme in SCHEME_ALIASES:
            object.__setattr__(self, "signature_scheme", SCHEME_ALIASES[scheme])
        if not isinstance(self.extras, MappingProxyType):
            object.__setattr__(self, "extras", MappingProxyType(dict(self.extras)))
        check_extras(self.extras, _KNOWN, "RegistrationInfo")
        doc = self.to_dict()
        if not check_registration(doc):
            raise _explain(doc, "registration", None)

    @classmethod
    def from_dict(
        cls, data: object, *, path: str | os.PathLike[str] | None = None
    ) -> RegistrationInfo:
        """Build from a decoded registration document, validating it.

        Raises:
            ConnectionFileError: the document is not valid (names pointer, value, expectation).
        """
        if not check_registration(data):
            raise _explain(data, "registration", path)
        assert isinstance(data, dict)
        if "key" not in data:  # pragma: no cover - the schema requires it
            raise _explain(data, "registration", path)
        try:
            key = data["key"].encode("utf-8")
        except UnicodeEncodeError:
            raise ConnectionFileError(
                "a key that is valid Unicode text", path=path, pointer="/key", value=data["key"]
            ) from None
        return cls(
            kernel_id=data.get("kernel_id"),
            registration_port=int(data["registration_port"]),  # xeus writes a string
            registration_ip=data["registration_ip" if "registration_ip" in data else "ip"],
            transport=data["transport"],
            key=key,
            signature_scheme=data.get("signature_scheme", DEFAULT_SIGNATURE_SCHEME),
            extras=MappingProxyType({k: v for k, v in data.items() if k not in _KNOWN}),
        )

    @classmethod
    def loads(
        cls, text: str | bytes, *, path: str | os.PathLike[str] | None = None
    ) -> RegistrationInfo:
        """Parse JSON text (see :meth:`from_dict`).

        Raises:
            ConnectionFileError: the text is not JSON, not an object, or not valid.
        """
        return cls.from_dict(parse_json_document(text, path), path=path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RegistrationInfo:
        """Read and validate a registration file.

        Raises:
            ConnectionFileNotFound: there is no such file.
            ConnectionFileError: it cannot be read as a valid registration document.
        """
        return cls.loads(read_document(path), path=path)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document, extras last.

        Without a :attr:`kernel_id` (Kallichore's shape) the document also carries ``ip``
        (from :attr:`extras`, else :attr:`registration_ip`), which that shape requires.
        """
        out: dict[str, Any] = {} if self.kernel_id is None else {"kernel_id": self.kernel_id}
        out.update(
            {
                "transport": self.transport,
                "registration_ip": self.registration_ip,
                "registration_port": self.registration_port,
                "key": self.key.decode("utf-8"),
                "signature_scheme": self.signature_scheme,
            }
        )
        if self.kernel_id is None:
            out["ip"] = self.extras.get("ip", self.registration_ip)
        for k, v in self.extras.items():
            out.setdefault(k, v)
        return out

    def dumps(self) -> str:
        """The document as JSON text (2-space indent, trailing newline)."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @property
    def url(self) -> str:
        """The ZeroMQ endpoint of the registration socket (IPv6 in brackets)."""
        if self.transport == "ipc":
            return f"ipc://{self.registration_ip}-{self.registration_port}"
        return f"tcp://{format_host(self.registration_ip)}:{self.registration_port}"

    def connection_info(
        self, ports: Mapping[Channel, int], *, ip: str | None = None, **fields: Any
    ) -> ConnectionInfo:
        """The :class:`ConnectionInfo` of a kernel that reported ``ports``.

        Args:
            ports: ``{Channel: port}``, e.g. from :func:`parse_port_report`.
            ip: the kernel's address; defaults to :attr:`registration_ip`.
            **fields: any other :class:`ConnectionInfo` field (``kernel_name``...).
        """
        return ConnectionInfo.from_ports(
            ports,
            ip=self.registration_ip if ip is None else ip,
            transport=self.transport,
            key=self.key,
            signature_scheme=self.signature_scheme,
            **fields,
        )

    def __repr__(self) -> str:
        return (
            f"RegistrationInfo({self.kernel_id!r}, {self.url}, "
            f"scheme={self.signature_scheme!r}, key=<{len(self.key)} bytes>)"
        )


def parse_port_report(content: object) -> dict[Channel, int]:
    """Read the ports from a kernel's port-report message content.

    The documented message writes each port as a decimal string; integers are accepted
    as well (xeus and ark send them).

    Returns:
        ``{Channel: port}`` in canonical order.

    Raises:
        ConnectionFileError: the content breaks ``schema/port-report.schema.json``.

    .. versionadded:: 0.1.0
    """
    if not check_port_report(content):
        raise _explain(content, "port-report", None)
    assert isinstance(content, dict)
    return {c: int(content[c.port_key]) for c in Channel}


def port_report(ports: Mapping[Channel, int]) -> dict[str, str]:
    """The port-report content for ``ports``, in the documented form (decimal strings).

    Raises:
        ConnectionFileError: a port is missing or not in 1..65535.

    .. versionadded:: 0.1.0
    """
    content: dict[str, Any] = {}
    for c in Channel:
        port = ports.get(c)
        content[c.port_key] = (
            str(port) if isinstance(port, int) and not isinstance(port, bool) else port
        )
    if not check_port_report(content):
        raise _explain(content, "port-report", None)
    return content
