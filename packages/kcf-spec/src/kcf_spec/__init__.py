"""kcf-spec: Jupyter kernel connection files, their schema, and the signed wire format.

Pure: no sockets, no processes. The kernel and client packages build on it.
"""

from __future__ import annotations

from ._lazy import attach

# Every public name is imported on first use (PEP 562), so that importing the package
# costs next to nothing; type checkers and documentation tools see the imports below.
# Not `from typing import TYPE_CHECKING`: typing costs milliseconds at every start
# (type checkers treat any name TYPE_CHECKING as true).
TYPE_CHECKING = False

if TYPE_CHECKING:
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
        DialectChoice,
        HandshakeAnswer,
        PortReport,
        build_refusal,
        build_reply,
        build_report,
        check_dialect,
        choose_dialect,
        dialect_for_kernelspec,
        parse_reply,
        parse_report,
        registration_dialect,
        registration_document,
        report_socket_type,
    )
    from ._hosts import connect_host, format_host, is_ipv6_host
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
    # host addresses
    "connect_host",
    "format_host",
    "is_ipv6_host",
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
    "DialectChoice",
    "choose_dialect",
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

#: Each public name and the module that defines it.
_LAZY = {
    "Channel": "_channel",
    "ConnectionInfo": "_connection",
    "Transport": "_connection",
    "DEFAULT_SIGNATURE_SCHEME": "_connection",
    "RegistrationInfo": "_registration",
    "parse_port_report": "_registration",
    "port_report": "_registration",
    "connect_host": "_hosts",
    "format_host": "_hosts",
    "is_ipv6_host": "_hosts",
    "read_document": "_read",
    "MAX_DOCUMENT_SIZE": "_read",
    "ownership_problem": "_read",
    "portability_warnings": "_portability",
    "PortabilityWarning": "_portability",
    "Dialect": "_handshake",
    "DIALECTS": "_handshake",
    "DEFAULT_DIALECT": "_handshake",
    "HANDSHAKE_REQUEST": "_handshake",
    "HANDSHAKE_REPLY": "_handshake",
    "XEUS_ACK": "_handshake",
    "PortReport": "_handshake",
    "HandshakeAnswer": "_handshake",
    "check_dialect": "_handshake",
    "DialectChoice": "_handshake",
    "choose_dialect": "_handshake",
    "registration_document": "_handshake",
    "registration_dialect": "_handshake",
    "report_socket_type": "_handshake",
    "build_report": "_handshake",
    "parse_report": "_handshake",
    "build_reply": "_handshake",
    "build_refusal": "_handshake",
    "parse_reply": "_handshake",
    "dialect_for_kernelspec": "_handshake",
    "validate": "_validate",
    "Profile": "_validate",
    "Kind": "_validate",
    "schema_path": "_schema",
    "load_schema": "_schema",
    "Header": "_message",
    "Message": "_message",
    "Codec": "_wire",
    "serialize": "_wire",
    "parse": "_wire",
    "Signer": "_signing",
    "ReplayGuard": "_replay",
    "supported_schemes": "_signing",
    "new_id": "_wire",
    "DELIMITER": "_wire",
    "PROTOCOL_VERSION": "_message",
    "KcfError": "_errors",
    "ConnectionFileError": "_errors",
    "ConnectionFileNotFound": "_errors",
    "ConnectionValueError": "_errors",
    "WireError": "_errors",
    "LocalProtocolError": "_errors",
    "RemoteProtocolError": "_errors",
    "MalformedMessage": "_errors",
    "SignatureError": "_errors",
    "ReplayError": "_errors",
    "UnsupportedScheme": "_errors",
}


__getattr__, __dir__ = attach(__name__, _LAZY, __all__)
