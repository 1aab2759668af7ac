"""``ConnectionInfo``: the typed value of a connection file.

It is a hand-written slotted class (see :mod:`._frozen`), not a dataclass, because importing
:mod:`dataclasses` pulls in :mod:`inspect`: about 8 ms of a ~90 ms fresh process.
"""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Iterator, Mapping
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Literal

from ._channel import Channel
from ._errors import ConnectionFileError, ConnectionValueError
from ._frozen import FACTORY, Frozen
from ._hosts import connect_host, format_host, is_ipv6_host
from ._read import parse_json_document, read_document
from ._validate import SCHEME_ALIASES, Profile, check_connection

__all__ = ["ConnectionInfo", "Transport", "DEFAULT_SIGNATURE_SCHEME", "check_extras"]

Transport = Literal["tcp", "ipc"]

#: The scheme a document means when it has no ``signature_scheme`` (what jupyter_client
#: and ipykernel assume: their ``Session`` default).
DEFAULT_SIGNATURE_SCHEME = "hmac-sha256"

_PORT_KEYS = tuple(c.port_key for c in Channel)
_KNOWN = frozenset(
    {*_PORT_KEYS}
    | {"ip", "transport", "key", "signature_scheme", "kernel_name"}
    | {"curve_publickey", "curve_secretkey"}
)


def _as_port(value: object) -> object:
    """An integer-like port (numpy's included) as ``int``; anything else as is, for the
    constructor to check (so ``1.5``, ``"7"`` and ``True`` are refused, not truncated)."""
    if isinstance(value, (int, float)) or not hasattr(type(value), "__index__"):
        return value
    return operator.index(value)  # type: ignore[arg-type]


def check_extras(extras: Mapping[str, Any], known: frozenset[str], cls: str) -> None:
    """Refuse ``extras`` that repeat a field the model ``cls`` names (``known``).

    Raises:
        ConnectionValueError: a named field is also in ``extras``.
    """
    clash = known.intersection(extras)
    if clash:
        raise ConnectionValueError(
            "fields the model does not name",
            owner=cls,
            field="extras",
            detail=f"it repeats named fields: {sorted(clash)}",
        )


class ConnectionInfo(Frozen):
    """Everything needed to reach a kernel: five ports, an address, a key and its scheme.

    The key is always ``bytes`` (the UTF-8 bytes of the file's ``key`` string). Fields the
    model does not name (``jupyter_session``, Enterprise Gateway's ``pid``...) are kept in
    :attr:`extras` and written back by :meth:`to_dict`, so a round trip loses nothing.

    Args:
        shell_port: port (tcp) or ipc suffix of the shell channel; 0 means "choose"
            (launch profile only).
        iopub_port: likewise for iopub.
        stdin_port: likewise for stdin.
        control_port: likewise for control.
        hb_port: likewise for the heartbeat.
        ip: address to bind or connect (tcp), or the path prefix of the sockets (ipc).
        transport: ``"tcp"`` or ``"ipc"``.
        key: the HMAC key; empty means messages are not signed.
        signature_scheme: ``"hmac-<hashlib name>"``.
        kernel_name: the kernelspec name, if the writer recorded one.
        curve_publickey: Z85 CURVE public key of the kernel (with ``curve_secretkey``).
        curve_secretkey: Z85 CURVE secret key of the kernel.
        extras: every other field of the document, in its original order.

    Raises:
        ConnectionValueError: an argument is not a valid value (the error names it); also
            from :meth:`replace` and :meth:`from_ports`. Documents read from files raise
            :class:`ConnectionFileError` instead.
        TypeError: ``key`` is not ``bytes``.

    .. versionchanged:: 0.2.0
       A bad argument raises :class:`ConnectionValueError`, no longer
       :class:`ConnectionFileError` (both are ``ValueError``).

    .. versionadded:: 0.1.0
    """

    __match_args__ = (
        "shell_port",
        "iopub_port",
        "stdin_port",
        "control_port",
        "hb_port",
        "ip",
        "transport",
        "key",
        "signature_scheme",
        "kernel_name",
        "curve_publickey",
        "curve_secretkey",
        "extras",
    )
    __slots__ = __match_args__
    _key = attrgetter(*__match_args__)
    _hash_key = attrgetter(*__match_args__[:-1])  # all but extras

    shell_port: int
    iopub_port: int
    stdin_port: int
    control_port: int
    hb_port: int
    ip: str
    transport: Transport
    key: bytes
    signature_scheme: str
    kernel_name: str | None
    curve_publickey: str | None
    curve_secretkey: str | None
    extras: Mapping[str, Any]

    def __init__(
        self,
        shell_port: int,
        iopub_port: int,
        stdin_port: int,
        control_port: int,
        hb_port: int,
        ip: str = "127.0.0.1",
        transport: Transport = "tcp",
        key: bytes = b"",
        signature_scheme: str = DEFAULT_SIGNATURE_SCHEME,
        kernel_name: str | None = None,
        curve_publickey: str | None = None,
        curve_secretkey: str | None = None,
        extras: Mapping[str, Any] = FACTORY,
    ) -> None:
        if extras is FACTORY:
            extras = MappingProxyType({})
        self._assign(
            shell_port,
            iopub_port,
            stdin_port,
            control_port,
            hb_port,
            ip,
            transport,
            key,
            signature_scheme,
            kernel_name,
            curve_publickey,
            curve_secretkey,
            extras,
        )
        if not isinstance(self.key, bytes):
            raise TypeError(f"key must be bytes, not {type(self.key).__name__}")
        try:
            self.key.decode("utf-8")
        except UnicodeDecodeError:
            raise ConnectionValueError(
                "a key whose bytes are UTF-8 text", field="key", value=self.key
            ) from None
        for name in _PORT_KEYS:  # JSON Schema's integers include 1.0; the model holds ints
            port = getattr(self, name)
            if isinstance(port, float) and port.is_integer():
                object.__setattr__(self, name, int(port))
        scheme = self.signature_scheme
        if scheme in SCHEME_ALIASES:
            # "HmacSHA256" (Kotlin) means hmac-sha256; hold the spelling every reader knows.
            object.__setattr__(self, "signature_scheme", SCHEME_ALIASES[scheme])
        if not isinstance(self.extras, MappingProxyType):
            object.__setattr__(self, "extras", MappingProxyType(dict(self.extras)))
        # A named field in extras would be written by to_dict in place of the field.
        check_extras(self.extras, _KNOWN, "ConnectionInfo")
        # The same rules as a loaded document, so a hand-built value can always be written.
        if not check_connection(self.to_dict(), "launch"):
            from ._schema import explain

            err = explain(self.to_dict(), "launch")
            raise ConnectionValueError.from_document_error(err, type(self).__name__)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_ports(
        cls,
        ports: Mapping[Channel, int],
        **fields: Any,
    ) -> ConnectionInfo:
        """Build from a ``{Channel: port}`` mapping plus any other field."""
        kwargs: dict[str, Any] = {c.port_key: _as_port(ports[c]) for c in Channel}
        kwargs.update(fields)
        return cls(**kwargs)

    @classmethod
    def from_dict(
        cls,
        data: object,
        *,
        profile: Profile = "connect",
        path: str | os.PathLike[str] | None = None,
    ) -> ConnectionInfo:
        """Build from a decoded JSON document, validating it against ``profile``.

        Args:
            data: the decoded document.
            profile: ``"connect"`` (every port 1..65535) or ``"launch"`` (0 = choose).
            path: the file it came from, named in errors.

        Raises:
            ConnectionFileError: the document is not valid; the error names the JSON
                pointer, the value and what was expected.
        """
        if not check_connection(data, profile):
            from ._schema import explain

            err = explain(data, profile)
            raise err.with_path(path) if path is not None else err
        assert isinstance(data, dict)
        extras = {k: v for k, v in data.items() if k not in _KNOWN}
        try:
            key = data["key"].encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (\ud800) decoded from JSON
            raise ConnectionFileError(
                "a key that is valid Unicode text", path=path, pointer="/key", value=data["key"]
            ) from None
        # The document is valid, so skip __init__'s re-validation (loading is hot).
        scheme = data.get("signature_scheme", DEFAULT_SIGNATURE_SCHEME)
        values: dict[str, Any] = {k: int(data[k]) for k in _PORT_KEYS}
        values["ip"] = data["ip"]
        values["transport"] = data["transport"]
        values["key"] = key
        values["signature_scheme"] = SCHEME_ALIASES.get(scheme, scheme)
        values["kernel_name"] = data.get("kernel_name")
        values["curve_publickey"] = data.get("curve_publickey")
        values["curve_secretkey"] = data.get("curve_secretkey")
        values["extras"] = MappingProxyType(extras)
        obj = object.__new__(cls)
        for name, value in values.items():
            object.__setattr__(obj, name, value)
        return obj

    @classmethod
    def loads(
        cls,
        text: str | bytes,
        *,
        profile: Profile = "connect",
        path: str | os.PathLike[str] | None = None,
    ) -> ConnectionInfo:
        """Parse JSON text (see :meth:`from_dict`).

        Raises:
            ConnectionFileError: the text is not JSON, not an object, or not valid.
        """
        data = parse_json_document(text, path)
        return cls.from_dict(data, profile=profile, path=path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, profile: Profile = "connect") -> ConnectionInfo:
        """Read and validate a connection file (read with :func:`read_document`: a FIFO,
        a device, a directory or a file over 1 MiB is refused, never waited on).

        Raises:
            ConnectionFileNotFound: there is no such file.
            ConnectionFileError: it cannot be read as a valid connection document.
        """
        return cls.loads(read_document(path), profile=profile, path=path)

    # -- views ----------------------------------------------------------------------------

    @property
    def ports(self) -> Mapping[Channel, int]:
        """``{Channel: port}`` in canonical order."""
        return MappingProxyType({c: getattr(self, c.port_key) for c in Channel})

    def port(self, channel: Channel) -> int:
        """The port (or ipc suffix) of ``channel``."""
        return int(getattr(self, Channel(channel).port_key))

    def url(self, channel: Channel) -> str:
        """The ZeroMQ endpoint of ``channel`` as written (for binding).

        tcp: ``tcp://{ip}:{port}``, IPv6 addresses in brackets; ipc: ``ipc://{ip}-{port}``.
        """
        return self._endpoint(self.ip, channel)

    def connect_url(self, channel: Channel) -> str:
        """Like :meth:`url`, with a bind-all address (``0.0.0.0``, ``*``, ``::``) mapped to
        the loopback address of the same family, which is where a local client connects."""
        ip = self.ip if self.transport == "ipc" else connect_host(self.ip)
        return self._endpoint(ip, channel)

    def _endpoint(self, ip: str, channel: Channel) -> str:
        port = self.port(channel)
        if self.transport == "ipc":
            return f"ipc://{ip}-{port}"
        return f"tcp://{format_host(ip)}:{port}"

    @property
    def is_ipv6(self) -> bool:
        """``True`` for a tcp address that is an IPv6 literal."""
        return self.transport == "tcp" and is_ipv6_host(self.ip)

    @property
    def signed(self) -> bool:
        """``True`` when messages are signed (the key is not empty)."""
        return bool(self.key)

    def replace(self, **changes: Any) -> ConnectionInfo:
        """A copy with ``changes`` applied (ports may be given as ``ports={Channel: int}``)."""
        ports = changes.pop("ports", None)
        if ports is not None:
            changes.update({Channel(c).port_key: _as_port(p) for c, p in ports.items()})
        return super().replace(**changes)

    def __iter__(self) -> Iterator[tuple[Channel, int]]:
        return iter(self.ports.items())

    # -- output ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON document, in the field order jupyter_client writes, extras last."""
        out: dict[str, Any] = {k: getattr(self, k) for k in _PORT_KEYS}
        out["ip"] = self.ip
        out["key"] = self.key.decode("utf-8")
        out["transport"] = self.transport
        out["signature_scheme"] = self.signature_scheme
        if self.kernel_name is not None:
            out["kernel_name"] = self.kernel_name
        if self.curve_publickey is not None:
            out["curve_publickey"] = self.curve_publickey
        if self.curve_secretkey is not None:
            out["curve_secretkey"] = self.curve_secretkey
        for k, v in self.extras.items():
            out.setdefault(k, v)
        return out

    def dumps(self) -> str:
        """The document as JSON text (2-space indent, trailing newline)."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def __repr__(self) -> str:
        ports = ", ".join(f"{c.value}={p}" for c, p in self.ports.items())
        return (
            f"ConnectionInfo({self.transport}://{self.ip} {ports}, "
            f"scheme={self.signature_scheme!r}, key=<{len(self.key)} bytes>)"
        )
