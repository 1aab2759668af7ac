"""kcf-spec: Jupyter kernel connection files, their schema, and the signed wire format.

Pure: no sockets, no processes. The kernel and client packages build on it.
"""

from __future__ import annotations

from ._channel import Channel
from ._connection import DEFAULT_SIGNATURE_SCHEME, ConnectionInfo, Transport
from ._errors import (
    ConnectionFileError,
    ConnectionFileNotFound,
    ConnectionValueError,
    KcfError,
    LocalProtocolError,
    MalformedMessage,
    RemoteProtocolError,
    ReplayError,
    SignatureError,
    UnsupportedScheme,
    WireError,
)
from ._handshake import (
    DEFAULT_DIALECT,
    DIALECTS,
    HANDSHAKE_REPLY,
    HANDSHAKE_REQUEST,
    XEUS_ACK,
    Dialect,
    HandshakeAnswer,
    PortReport,
    build_refusal,
    build_reply,
    build_report,
    check_dialect,
    dialect_for_kernelspec,
    parse_reply,
    parse_report,
    registration_dialect,
    registration_document,
    report_socket_type,
)
from ._message import PROTOCOL_VERSION, Header, Message
from ._portability import PortabilityWarning, portability_warnings
from ._read import MAX_DOCUMENT_SIZE, ownership_problem, read_document
from ._registration import RegistrationInfo, parse_port_report, port_report
from ._replay import ReplayGuard
from ._schema import load_schema, schema_path
from ._signing import Signer, supported_schemes
from ._validate import Kind, Profile, validate
from ._wire import DELIMITER, Codec, new_id, parse, serialize

__version__ = "0.1.0"

__all__ = [
    # model
    "Channel",
    "ConnectionInfo",
    "Transport",
    "DEFAULT_SIGNATURE_SCHEME",
    "RegistrationInfo",
    "parse_port_report",
    "port_report",
    # reading files
    "read_document",
    "MAX_DOCUMENT_SIZE",
    "ownership_problem",
    "portability_warnings",
    "PortabilityWarning",
    # JEP 66 handshake dialects
    "Dialect",
    "DIALECTS",
    "DEFAULT_DIALECT",
    "HANDSHAKE_REQUEST",
    "HANDSHAKE_REPLY",
    "XEUS_ACK",
    "PortReport",
    "HandshakeAnswer",
    "check_dialect",
    "registration_document",
    "registration_dialect",
    "report_socket_type",
    "build_report",
    "parse_report",
    "build_reply",
    "build_refusal",
    "parse_reply",
    "dialect_for_kernelspec",
    # schema
    "validate",
    "Profile",
    "Kind",
    "schema_path",
    "load_schema",
    # wire format
    "Header",
    "Message",
    "Codec",
    "serialize",
    "parse",
    "Signer",
    "ReplayGuard",
    "supported_schemes",
    "new_id",
    "DELIMITER",
    "PROTOCOL_VERSION",
    # errors
    "KcfError",
    "ConnectionFileError",
    "ConnectionFileNotFound",
    "ConnectionValueError",
    "WireError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "MalformedMessage",
    "SignatureError",
    "ReplayError",
    "UnsupportedScheme",
    "__version__",
]
