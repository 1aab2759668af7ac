"""The signed wire format, sans-I/O: :class:`Codec`, :func:`serialize`, :func:`parse`.

A message on a zmq socket is a list of frames::

    [*identities, b"<IDS|MSG>", signature, header, parent_header, metadata, content, *buffers]

The four JSON frames are compact UTF-8 JSON objects; the signature is the lowercase hex
HMAC of those four frames, in order, or empty when the key is empty. On parse, a
``parent_header`` or ``metadata`` frame that is JSON ``null`` (as xeus and Kallichore send
them) reads as ``{}``; the header must be an object.
"""

from __future__ import annotations

import itertools
import json
import json.encoder
import json.scanner
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import LocalProtocolError, MalformedMessage, ReplayError, SignatureError
from ._message import (
    EMPTY_MAPPING,
    PROTOCOL_VERSION,
    Header,
    Message,
    iso_date,
    trusted_header,
    trusted_message,
    utc_now_iso,
)
from ._replay import ReplayGuard
from ._signing import Signer

if TYPE_CHECKING:
    from ._connection import ConnectionInfo

__all__ = ["Codec", "DELIMITER", "serialize", "parse", "new_id"]

#: The frame that separates the zmq routing identities from the message.
DELIMITER = b"<IDS|MSG>"


def new_id() -> str:
    """A random id formatted as jupyter_client's ``new_id``: 8 hex, ``-``, 24 hex.

    .. versionadded:: 0.1.0
    """
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:]}"


# -- JSON at the edge ---------------------------------------------------------------------


def _default(obj: Any) -> Any:
    # Called by the C encoder only for values JSON has no type for. A datetime can only
    # exist once its module is imported: no need to import it here.
    dt = sys.modules.get("datetime")
    if dt is not None:
        if isinstance(obj, dt.datetime):
            return iso_date(obj)
        if isinstance(obj, dt.date):
            return obj.isoformat()
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _make_codec() -> tuple[Callable[[Any], str], Callable[[str], Any]]:
    encoder = json.JSONEncoder(
        ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_default
    )
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    make_encoder = getattr(json.encoder, "c_make_encoder", None)
    make_scanner = getattr(json.scanner, "c_make_scanner", None)
    if make_encoder is None or make_scanner is None:  # no C accelerator (e.g. PyPy)
        return encoder.encode, decoder.decode
    # The C encoder built once, rather than once a call as JSONEncoder.encode does. No
    # circular-reference markers: a cycle ends in RecursionError, which we report.
    try:
        c_encode = make_encoder(
            None, _default, json.encoder.encode_basestring, None, ":", ",", False, False, False
        )
        scan = make_scanner(decoder)
    except TypeError:  # a future CPython changed the private signature: the public path
        return encoder.encode, decoder.decode
    slow_decode = decoder.decode

    def encode(obj: Any) -> str:
        return "".join(c_encode(obj, 0))

    def decode(text: str) -> Any:
        try:
            obj, end = scan(text, 0)
        except StopIteration:  # leading whitespace, or not JSON: the full path says why
            return slow_decode(text)
        if end != len(text):  # trailing whitespace, or trailing garbage
            return slow_decode(text)
        return obj

    return encode, decode


_encode, _decode = _make_codec()


#: The frames a peer may send as JSON ``null``, read as ``{}``: xeus (``iopub_welcome``)
#: and Kallichore write an absent parent or metadata so. The header stays strict.
_NULL_AS_EMPTY = frozenset({"parent_header", "metadata"})


def _loads(data: bytes, frame: str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedMessage(
            f"{frame} frame is not UTF-8: {exc}", check="utf-8", frame=frame
        ) from None
    try:
        obj = _decode(text)
    except (ValueError, RecursionError) as exc:
        raise MalformedMessage(
            f"{frame} frame is not JSON: {exc}", check="json", frame=frame
        ) from None
    if type(obj) is not dict:
        if obj is None and frame in _NULL_AS_EMPTY:
            return {}
        raise MalformedMessage(
            f"{frame} frame must be a JSON object, got {type(obj).__name__}",
            check="object",
            frame=frame,
        )
    return obj


def _as_bytes(frame: Any) -> bytes:
    if type(frame) is bytes:
        return frame
    try:
        return bytes(memoryview(frame))
    except TypeError:
        pass
    data = getattr(frame, "bytes", None)  # a zmq.Frame-like without the buffer protocol
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"a frame must be bytes-like, not {type(frame).__name__}")


# -- the two directions -------------------------------------------------------------------


def _encode_parts(msg: Message) -> list[bytes]:
    for frame, value in (
        ("parent_header", msg.parent_header),
        ("metadata", msg.metadata),
        ("content", msg.content),
    ):
        if type(value) is not dict and not isinstance(value, Mapping):
            raise LocalProtocolError(
                f"{frame} must be a mapping, got {type(value).__name__}",
                check="object",
                frame=frame,
            )
    frame = "header"
    try:
        parts = [_encode(msg.header.to_dict()).encode("utf-8")]
        frame = "parent_header"
        parts.append(_encode(msg.parent_header).encode("utf-8"))
        frame = "metadata"
        parts.append(_encode(msg.metadata).encode("utf-8"))
        frame = "content"
        parts.append(_encode(msg.content).encode("utf-8"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise LocalProtocolError(
            f"{frame} cannot be written as JSON: {exc}", check="encode", frame=frame
        ) from exc
    return parts


def _serialize(msg: Message, signer: Signer) -> list[bytes]:
    if type(msg) is not Message:
        raise TypeError(f"expected a Message, not {type(msg).__name__}")
    parts = _encode_parts(msg)
    return [*msg.identities, DELIMITER, signer.sign(parts), *parts, *msg.buffers]


def _parse(frames: Sequence[Any], signer: Signer, guard: ReplayGuard | None) -> Message:
    parts = [f if type(f) is bytes else _as_bytes(f) for f in frames]
    try:
        idx = parts.index(DELIMITER)
    except ValueError:
        raise MalformedMessage(
            f"no {DELIMITER.decode()} delimiter among {len(parts)} frames", check="delimiter"
        ) from None
    if len(parts) - idx < 6:
        raise MalformedMessage(
            f"expected at least 5 frames after {DELIMITER.decode()} (signature, header, "
            f"parent_header, metadata, content), got {len(parts) - idx - 1}",
            check="frame-count",
        )
    signature = parts[idx + 1]
    body = parts[idx + 2 : idx + 6]
    if signer.signs:
        if not signature:
            raise SignatureError(
                "message is unsigned but a key is set", check="missing", frame="signature"
            )
        if not signer.verify(signature, body):
            raise SignatureError(
                f"signature does not match the message ({signer.scheme})",
                check="mismatch",
                frame="signature",
            )
        if guard is not None and not guard.admit(signature):
            raise ReplayError(
                "signature seen before: the message is a replay", check="replay", frame="signature"
            )
    header_d = _loads(body[0], "header")
    header = Header.from_dict(header_d)
    return trusted_message(
        header,
        _loads(body[1], "parent_header"),
        _loads(body[2], "metadata"),
        _loads(body[3], "content"),
        tuple(parts[idx + 6 :]),
        tuple(parts[:idx]),
    )


# -- public API ---------------------------------------------------------------------------


class Codec:
    """Builds, signs, serializes and parses messages for one key and session.

    Holds the HMAC state (computed once), the session id and user name written into
    new headers, and a bounded replay guard for :meth:`parse`.

    With an empty key, messages are not signed and the signature frame is not checked,
    whatever it holds: a signed message is accepted by an unsigned codec, as
    jupyter_client's ``Session`` does (the receiver has no key to check it with). The
    replay guard only applies to signed messages.

    Args:
        key: the HMAC key (the UTF-8 bytes of the connection file's ``key``).
        signature_scheme: ``"hmac-<hashlib name>"``.
        session: session id for new headers (default: a new random id).
        username: user name for new headers.
        replay_window: how many recent signatures the replay guard remembers.
        check_replay: refuse a signature already seen within the window.

    Raises:
        UnsupportedScheme: the scheme names no HMAC-able hashlib digest.
        ValueError: ``replay_window`` is less than 1.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_counter", "_guard", "_session", "_signer", "_username")

    def __init__(
        self,
        key: bytes = b"",
        signature_scheme: str = "hmac-sha256",
        *,
        session: str | None = None,
        username: str = "kcf",
        replay_window: int = 2**16,
        check_replay: bool = True,
    ) -> None:
        self._signer = Signer(key, signature_scheme)
        self._guard = ReplayGuard(replay_window) if check_replay else None
        session = new_id() if session is None else session
        if type(session) is not str or type(username) is not str:
            raise TypeError("session and username must be str")
        self._session = session
        self._username = username
        self._counter = itertools.count(1)

    @classmethod
    def from_connection(cls, info: ConnectionInfo, **kw: Any) -> Codec:
        """A codec for the key and scheme of a connection file.

        Args:
            info: the connection info.
            **kw: the keyword arguments of :class:`Codec`.
        """
        return cls(info.key, info.signature_scheme, **kw)

    @property
    def session(self) -> str:
        """The session id written into new headers."""
        return self._session

    @property
    def username(self) -> str:
        """The user name written into new headers."""
        return self._username

    @property
    def signature_scheme(self) -> str:
        """The scheme, e.g. ``"hmac-sha256"``."""
        return self._signer.scheme

    @property
    def signs(self) -> bool:
        """Whether messages are signed (the key is not empty)."""
        return self._signer.signs

    @property
    def replay_guard(self) -> ReplayGuard | None:
        """The replay guard, or ``None`` when replay checking is off."""
        return self._guard

    def new_msg_id(self) -> str:
        """A new message id: ``{session}_{pid}_{n}``, as jupyter_client's ``Session``."""
        return f"{self._session}_{os.getpid()}_{next(self._counter)}"

    def message(
        self,
        msg_type: str,
        content: Mapping[str, Any] | None = None,
        *,
        parent: Message | Header | Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        buffers: Sequence[bytes] = (),
        identities: Sequence[bytes] = (),
    ) -> Message:
        """Build a new message with a fresh id, this codec's session and the time now.

        Args:
            msg_type: e.g. ``"kernel_info_request"``.
            content: the content object (default ``{}``).
            parent: the message this answers: a :class:`Message`, a :class:`Header`, a
                header dict, or a jupyter_client message dict (with a ``header`` key).
            metadata: the metadata object (default ``{}``).
            buffers: binary frames after the content.
            identities: zmq routing identities to send before the delimiter.
        """
        if not isinstance(msg_type, str):
            raise TypeError(f"msg_type must be str, not {type(msg_type).__name__}")
        for name, value in (("content", content), ("metadata", metadata)):
            if value is not None and type(value) is not dict and not isinstance(value, Mapping):
                raise TypeError(f"{name} must be a mapping, not {type(value).__name__}")
        header = trusted_header(
            f"{self._session}_{os.getpid()}_{next(self._counter)}",
            msg_type,
            self._session,
            self._username,
            utc_now_iso(),
            PROTOCOL_VERSION,
            EMPTY_MAPPING,
        )
        if not buffers and not identities:
            return trusted_message(
                header,
                _parent_header(parent),
                {} if metadata is None else metadata,
                {} if content is None else content,
                (),
                (),
            )
        return Message(
            header,
            _parent_header(parent),
            {} if metadata is None else metadata,
            {} if content is None else content,
            tuple(buffers),
            tuple(identities),
        )

    def sign(self, parts: Sequence[bytes]) -> bytes:
        """The hex HMAC of ``parts`` as ASCII bytes; ``b""`` when the key is empty."""
        return self._signer.sign(parts)

    def serialize(self, msg: Message) -> list[bytes]:
        """The frames of ``msg``: identities, delimiter, signature, four JSON frames, buffers.

        Raises:
            LocalProtocolError: the message we built cannot be sent: a frame cannot be
                written as JSON (``check="encode"``) or is not a mapping
                (``check="object"``); the error names the frame.

        .. versionchanged:: 0.2.0
           Raises :class:`LocalProtocolError` (was :class:`MalformedMessage`, which now
           means only that the peer sent garbage).
        """
        return _serialize(msg, self._signer)

    def parse(self, frames: Sequence[Any]) -> Message:
        """Verify and decode the frames of one message.

        Args:
            frames: bytes, memoryviews, or zmq frames (anything bytes-like, or with a
                ``.bytes`` attribute), as received.

        Raises:
            MalformedMessage: (a :class:`RemoteProtocolError`) no delimiter, too few
                frames, a frame that is not a UTF-8 JSON object (``null`` reads as ``{}``
                for ``parent_header`` and ``metadata``), or a header without a protocol
                field.
            SignatureError: the signature is missing or does not match (not a
                :class:`RemoteProtocolError`: a wrong key on our side gives it too).
            ReplayError: the signature was seen within the replay window.

        .. versionchanged:: 0.2.0
           A ``null`` ``parent_header`` or ``metadata`` frame reads as ``{}``.
        """
        return _parse(frames, self._signer, self._guard)

    def __repr__(self) -> str:
        return (
            f"Codec(signature_scheme={self.signature_scheme!r}, signs={self.signs}, "
            f"session={self.session!r}, username={self.username!r})"
        )


def _parent_header(parent: Message | Header | Mapping[str, Any] | None) -> Mapping[str, Any]:
    if parent is None:
        return {}
    if isinstance(parent, Message):
        return parent.header.to_dict()
    if isinstance(parent, Header):
        return parent.to_dict()
    if not parent:
        return {}
    header = parent.get("header", parent)
    if isinstance(header, Header):
        return header.to_dict()
    return dict(header)


def serialize(
    msg: Message, *, key: bytes = b"", signature_scheme: str = "hmac-sha256"
) -> list[bytes]:
    """Serialize one message without a :class:`Codec` (see :meth:`Codec.serialize`).

    .. versionadded:: 0.1.0
    """
    return _serialize(msg, Signer(key, signature_scheme))


def parse(
    frames: Sequence[Any], *, key: bytes = b"", signature_scheme: str = "hmac-sha256"
) -> Message:
    """Verify and decode one message without a :class:`Codec`, and so without a replay guard.

    See :meth:`Codec.parse`.

    .. versionadded:: 0.1.0
    """
    return _parse(frames, Signer(key, signature_scheme), None)
