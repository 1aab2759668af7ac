"""kcf-spec: Jupyter kernel connection files, their schema, and the signed wire format.

Pure: no sockets, no processes. The kernel and client packages build on it.
"""

from __future__ import annotations

from ._channel import Channel
from ._connection import DEFAULT_SIGNATURE_SCHEME, ConnectionInfo, Transport
from ._errors import (
    ConnectionFileError,
    ConnectionFileNotFound,
    KcfError,
    MalformedMessage,
    ReplayError,
    SignatureError,
    UnsupportedScheme,
    WireError,
)
from ._message import PROTOCOL_VERSION, Header, Message
from ._replay import ReplayGuard
from ._signing import Signer, supported_schemes
from ._wire import DELIMITER, Codec, new_id, parse, serialize

__version__ = "0.1.0"

__all__ = [
    # model
    "Channel",
    "ConnectionInfo",
    "Transport",
    "DEFAULT_SIGNATURE_SCHEME",
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
    "WireError",
    "MalformedMessage",
    "SignatureError",
    "ReplayError",
    "UnsupportedScheme",
    "__version__",
]
