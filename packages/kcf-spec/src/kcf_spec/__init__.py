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
