"""``Header`` and ``Message``: the values a Jupyter message is made of.

They are hand-written slotted classes (see :mod:`._frozen`), not dataclasses, because
importing :mod:`dataclasses` pulls in :mod:`inspect`: about 8 ms of a ~90 ms fresh process.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from operator import attrgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ._errors import MalformedMessage
from ._frozen import FACTORY, Frozen

if TYPE_CHECKING:
    import datetime as _dt
    import re

__all__ = [
    "Header",
    "Message",
    "PROTOCOL_VERSION",
    "utc_now_iso",
    "iso_date",
    "trusted_header",
    "trusted_message",
    "EMPTY_MAPPING",
]

#: The messaging protocol version kcf writes in its headers.
PROTOCOL_VERSION = "5.4"

#: The six header fields of messaging protocol 5, in the order jupyter_client writes them.
HEADER_FIELDS = ("msg_id", "msg_type", "username", "session", "date", "version")
_HEADER_FIELD_SET = frozenset(HEADER_FIELDS)
#: The shared read-only empty mapping (extras, parent header, metadata of a new message).
EMPTY_MAPPING: Mapping[str, Any] = MappingProxyType({})


_second_cache: tuple[int, str] = (-1, "")


def utc_now_iso() -> str:
    """The current UTC time as jupyter_client writes it: ``2026-01-02T03:04:05.123456Z``."""
    global _second_cache  # a one-entry cache of the formatted second
    sec, usec = divmod(time.time_ns() // 1000, 1_000_000)
    cached_sec, prefix = _second_cache
    if sec != cached_sec:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _second_cache = (sec, prefix)  # one tuple: threads see both halves or neither
    return f"{prefix}.{usec:06d}Z"


_DATE_RE: re.Pattern[str] | None = None


def _parse_date(text: str) -> _dt.datetime:
    import datetime as _dt  # imported on first use, to keep ``import kcf_spec`` cheap
    import re

    global _DATE_RE  # compiled on first use
    if _DATE_RE is None:
        _DATE_RE = re.compile(
            r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
            r"(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?",
            re.ASCII,  # \d is 0-9 only, as in every other language's ISO 8601 parser
        )
    m = _DATE_RE.fullmatch(text)
    if m is None:
        raise MalformedMessage(
            f"header date {text!r} is not an ISO 8601 timestamp", check="date", frame="header"
        )
    year, month, day, hour, minute, second, frac, zulu, sign, oh, om = m.groups()
    tz: _dt.tzinfo | None = None
    try:
        if zulu:
            tz = _dt.timezone.utc
        elif sign:
            offset = _dt.timedelta(hours=int(oh), minutes=int(om or 0))
            tz = _dt.timezone(-offset if sign == "-" else offset)
        return _dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((frac or "0")[:6].ljust(6, "0")),
            tzinfo=tz,
        )
    except ValueError as exc:
        raise MalformedMessage(
            f"header date {text!r} is not a valid timestamp: {exc}", check="date", frame="header"
        ) from None


class Header(Frozen):
    """A message header (messaging protocol 5).

    ``date`` is kept exactly as written on the wire; :attr:`datetime` parses it. Fields
    beyond the six of the protocol (``subshell_id``...) are kept in :attr:`extras` and
    written back after them, so a message relayed through kcf loses nothing.

    Args:
        msg_id: unique id of this message.
        msg_type: e.g. ``"execute_request"``.
        session: id of the sending session.
        username: the sender's user name.
        date: ISO 8601 time of creation, with a timezone (default: now, UTC).
        version: messaging protocol version.
        extras: any other header field.

    .. versionadded:: 0.1.0
    """

    __match_args__ = ("msg_id", "msg_type", "session", "username", "date", "version", "extras")
    __slots__ = __match_args__
    _key = attrgetter(*__match_args__)
    _hash_key = attrgetter(*__match_args__[:-1])  # all but extras

    msg_id: str
    msg_type: str
    session: str
    username: str
    date: str
    version: str
    extras: Mapping[str, Any]

    def __init__(
        self,
        msg_id: str,
        msg_type: str,
        session: str,
        username: str = "kcf",
        date: str = FACTORY,
        version: str = PROTOCOL_VERSION,
        extras: Mapping[str, Any] = FACTORY,
    ) -> None:
        if date is FACTORY:
            date = utc_now_iso()
        if extras is FACTORY:
            extras = EMPTY_MAPPING
        _set = object.__setattr__
        _set(self, "msg_id", msg_id)
        _set(self, "msg_type", msg_type)
        _set(self, "session", session)
        _set(self, "username", username)
        _set(self, "date", date)
        _set(self, "version", version)
        for name in HEADER_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"Header.{name} must be str, not {type(value).__name__}")
        if type(extras) is not MappingProxyType:
            extras = MappingProxyType(dict(extras))
        _set(self, "extras", extras)
        if extras:
            clash = _HEADER_FIELD_SET.intersection(extras)
            if clash:
                raise ValueError(f"Header.extras repeats header fields: {sorted(clash)}")

    @property
    def datetime(self) -> _dt.datetime:
        """:attr:`date` parsed; timezone-aware when the wire string has an offset.

        Raises:
            MalformedMessage: the string is not an ISO 8601 timestamp.
        """
        return _parse_date(self.date)

    def to_dict(self) -> dict[str, Any]:
        """The header as a JSON object: the six protocol fields, then :attr:`extras`."""
        d = {
            "msg_id": self.msg_id,
            "msg_type": self.msg_type,
            "username": self.username,
            "session": self.session,
            "date": self.date,
            "version": self.version,
        }
        if self.extras:
            d.update(self.extras)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Header:
        """Build from a decoded JSON object.

        ``date`` may also be a :class:`datetime.datetime` (as in a header that passed
        through jupyter_client's ``extract_dates``); it is written as ISO 8601.

        Raises:
            MalformedMessage: a protocol field is missing or is not a string; the error
                names the field.
        """
        if not isinstance(data, Mapping):
            raise MalformedMessage(
                f"header must be a JSON object, got {type(data).__name__}",
                check="object",
                frame="header",
            )
        values = []
        for name in HEADER_FIELDS:
            try:
                value = data[name]
            except KeyError:
                raise MalformedMessage(
                    f"header has no {name!r} field", check="field", frame="header"
                ) from None
            if type(value) is not str:
                dt = sys.modules.get("datetime")  # a datetime exists only once it is imported
                if name == "date" and dt is not None and isinstance(value, dt.datetime):
                    value = iso_date(value)
                else:
                    raise MalformedMessage(
                        f"header field {name!r} must be a string, got {type(value).__name__}",
                        check="field",
                        frame="header",
                    )
            values.append(value)
        msg_id, msg_type, username, session, date, version = values
        if len(data) == len(HEADER_FIELDS):
            extras = EMPTY_MAPPING
        else:
            extras = MappingProxyType({k: v for k, v in data.items() if k not in _HEADER_FIELD_SET})
        if cls is Header:
            return trusted_header(msg_id, msg_type, session, username, date, version, extras)
        return cls(msg_id, msg_type, session, username, date, version, extras)


_new = object.__new__
_set = object.__setattr__


def trusted_header(
    msg_id: str,
    msg_type: str,
    session: str,
    username: str,
    date: str,
    version: str,
    extras: Mapping[str, Any],
) -> Header:
    """A :class:`Header` from values already checked (the codec's fast path): skips
    ``__init__``'s checks, so never call it with unchecked input."""
    h = _new(Header)
    _set(h, "msg_id", msg_id)
    _set(h, "msg_type", msg_type)
    _set(h, "session", session)
    _set(h, "username", username)
    _set(h, "date", date)
    _set(h, "version", version)
    _set(h, "extras", extras)
    return h


def trusted_message(
    header: Header,
    parent_header: Mapping[str, Any],
    metadata: Mapping[str, Any],
    content: Mapping[str, Any],
    buffers: tuple[bytes, ...],
    identities: tuple[bytes, ...],
) -> Message:
    """A :class:`Message` from values already checked (the codec's fast path): ``header``
    a :class:`Header`, ``buffers`` and ``identities`` tuples of bytes; skips ``__init__``."""
    m = _new(Message)
    _set(m, "header", header)
    _set(m, "parent_header", parent_header)
    _set(m, "metadata", metadata)
    _set(m, "content", content)
    _set(m, "buffers", buffers)
    _set(m, "identities", identities)
    return m


def iso_date(value: _dt.datetime) -> str:
    """``value`` as the ISO 8601 text of a header ``date`` (``Z`` for UTC).

    Raises:
        TypeError: ``value`` is naive (no timezone to write).
    """
    if value.utcoffset() is None:
        raise TypeError(f"naive datetime {value!r} has no timezone; refusing to guess one")
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class Message(Frozen):
    """One Jupyter message: a header, its parent's header, metadata, content and buffers.

    The mappings are the decoded JSON objects, not copied: treat them as read-only.
    ``identities`` is the zmq routing prefix (what a ROUTER socket puts before the
    ``<IDS|MSG>`` delimiter); it is not signed.

    Args:
        header: this message's header.
        parent_header: the header of the message this answers, as a JSON object
            (``{}`` when none).
        metadata: the metadata object.
        content: the content object.
        buffers: raw binary frames after the content (any bytes-like; stored as bytes).
        identities: zmq routing identities (any bytes-like; stored as bytes).

    .. versionadded:: 0.1.0
    """

    __match_args__ = (
        "header",
        "parent_header",
        "metadata",
        "content",
        "buffers",
        "identities",
    )
    __slots__ = __match_args__
    _key = attrgetter(*__match_args__)
    _hash_key = attrgetter("header", "buffers", "identities")  # the mappings are not hashable

    header: Header
    parent_header: Mapping[str, Any]
    metadata: Mapping[str, Any]
    content: Mapping[str, Any]
    buffers: tuple[bytes, ...]
    identities: tuple[bytes, ...]

    def __init__(
        self,
        header: Header,
        parent_header: Mapping[str, Any] = FACTORY,
        metadata: Mapping[str, Any] = FACTORY,
        content: Mapping[str, Any] = FACTORY,
        buffers: tuple[bytes, ...] = (),
        identities: tuple[bytes, ...] = (),
    ) -> None:
        _set = object.__setattr__
        _set(self, "header", header)
        _set(self, "parent_header", {} if parent_header is FACTORY else parent_header)
        _set(self, "metadata", {} if metadata is FACTORY else metadata)
        _set(self, "content", {} if content is FACTORY else content)
        _set(self, "buffers", buffers)
        _set(self, "identities", identities)
        if type(self.header) is not Header:
            raise TypeError(f"Message.header must be a Header, not {type(self.header).__name__}")
        for name in ("parent_header", "metadata", "content"):
            value = getattr(self, name)
            if not isinstance(value, Mapping):
                raise TypeError(f"Message.{name} must be a mapping, not {type(value).__name__}")
        buffers = self.buffers
        if type(buffers) is not tuple or not all(type(b) is bytes for b in buffers):
            object.__setattr__(self, "buffers", _to_bytes_tuple(buffers, "buffers"))
        identities = self.identities
        if type(identities) is not tuple or not all(type(b) is bytes for b in identities):
            object.__setattr__(self, "identities", _to_bytes_tuple(identities, "identities"))

    @property
    def msg_id(self) -> str:
        """The header's ``msg_id``."""
        return self.header.msg_id

    @property
    def msg_type(self) -> str:
        """The header's ``msg_type``."""
        return self.header.msg_type

    @property
    def parent_msg_id(self) -> str | None:
        """The parent header's ``msg_id``, or ``None`` when there is no parent."""
        value = self.parent_header.get("msg_id")
        return value if isinstance(value, str) else None

    def to_dict(self) -> dict[str, Any]:
        """The nested message dict jupyter_client's ``Session.msg`` builds.

        Keys: ``header``, ``msg_id``, ``msg_type``, ``parent_header``, ``metadata``,
        ``content``, ``buffers``.
        """
        return {
            "header": self.header.to_dict(),
            "msg_id": self.header.msg_id,
            "msg_type": self.header.msg_type,
            "parent_header": dict(self.parent_header),
            "metadata": dict(self.metadata),
            "content": dict(self.content),
            "buffers": list(self.buffers),
        }


def _to_bytes_tuple(values: Sequence[Any], what: str) -> tuple[bytes, ...]:
    if isinstance(values, (bytes, bytearray, memoryview, str)):
        raise TypeError(f"Message.{what} must be a sequence of bytes-like objects, not one")
    out = []
    for value in values:
        if type(value) is bytes:
            out.append(value)
            continue
        try:
            out.append(bytes(memoryview(value)))
        except TypeError:
            raise TypeError(
                f"Message.{what} items must be bytes-like, not {type(value).__name__}"
            ) from None
    return tuple(out)
