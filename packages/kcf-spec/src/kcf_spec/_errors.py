"""The one exception hierarchy of kcf.

Every error any kcf package raises derives from :class:`KcfError`. Where callers of the
older Jupyter APIs already catch a builtin, our error inherits it too, so that code keeps
working (``except FileNotFoundError`` still catches a missing connection file).
"""

from __future__ import annotations

import errno
import os

__all__ = [
    "KcfError",
    "ConnectionFileError",
    "ConnectionValueError",
    "ConnectionFileNotFound",
    "WireError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "MalformedMessage",
    "SignatureError",
    "ReplayError",
    "UnsupportedScheme",
]


class KcfError(Exception):
    """Root of every error raised by kcf-spec, kcf-kernel and kcf-client.

    .. versionadded:: 0.1.0
    """


class ConnectionFileError(KcfError, ValueError):
    """A connection (or registration) document is not what it must be.

    Attributes:
        path: the file the document came from, or ``None`` for an in-memory document.
        pointer: JSON pointer (RFC 6901) to the offending value; ``""`` is the whole document.
        value: the offending value (``None`` when the field is missing).
        expected: what was expected there, in words.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        expected: str,
        *,
        path: str | os.PathLike[str] | None = None,
        pointer: str = "",
        value: object = None,
        missing: bool = False,
        detail: str | None = None,
    ) -> None:
        self.path = os.fspath(path) if path is not None else None
        self.pointer = pointer
        self.value = value
        self.expected = expected
        self.missing = missing
        self.detail = detail
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.path if self.path is not None else "<document>"
        at = self.pointer or "/"
        if self.missing:
            got = "it is missing"
        elif self.detail is not None:
            got = self.detail
        else:
            got = f"got {describe_value(self.value, self.pointer)}"
        return f"{where}: at {at}: expected {self.expected}; {got}"

    def with_path(self, path: str | os.PathLike[str]) -> ConnectionFileError:
        """Return a copy of this error that names ``path`` as its file."""
        err = type(self)(
            self.expected,
            path=path,
            pointer=self.pointer,
            value=self.value,
            missing=self.missing,
            detail=self.detail,
        )
        err.__cause__ = self.__cause__
        return err


class ConnectionValueError(KcfError, ValueError):
    """A value built in Python (not read from a file) is not a valid connection value:
    an argument of :class:`ConnectionInfo`, :meth:`ConnectionInfo.replace`,
    :meth:`ConnectionInfo.from_ports` or :class:`RegistrationInfo`, or a value handed to a
    writer that cannot hold it.

    :class:`ConnectionFileError` is for documents (a file, a decoded JSON object): it names
    a path and a JSON pointer. This one names the argument.

    Attributes:
        owner: what was being built, e.g. ``"ConnectionInfo"``.
        field: the argument at fault (``""`` when no one argument is).
        value: the offending value (``None`` when the argument is missing).
        expected: what was expected there, in words.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self,
        expected: str,
        *,
        owner: str = "ConnectionInfo",
        field: str = "",
        value: object = None,
        detail: str | None = None,
    ) -> None:
        self.owner = owner
        self.field = field
        self.value = value
        self.expected = expected
        self.detail = detail
        where = f"{owner}({field}=...)" if field else owner
        got = detail if detail is not None else f"got {describe_value(value, '/' + field)}"
        super().__init__(f"{where}: expected {expected}; {got}")

    @classmethod
    def from_document_error(cls, err: ConnectionFileError, owner: str) -> ConnectionValueError:
        """The argument error that ``err`` (found in the document a value would write) means."""
        field = err.pointer[1:].split("/", 1)[0].replace("~1", "/").replace("~0", "~")
        detail = "it is missing" if err.missing else err.detail
        new = cls(err.expected, owner=owner, field=field, value=err.value, detail=detail)
        new.__cause__ = err.__cause__
        return new


class ConnectionFileNotFound(KcfError, FileNotFoundError):
    """No connection file matched what was asked for.

    Attributes:
        pattern: the name, path or glob that was looked for.
        searched: the directories searched, in order.

    .. versionadded:: 0.1.0
    """

    def __init__(self, pattern: str, searched: tuple[str, ...] = ()) -> None:
        self.pattern = pattern
        self.searched = searched
        where = ", ".join(searched) if searched else "(no directory searched)"
        super().__init__(f"no connection file matches {pattern!r}; searched: {where}")
        # FileNotFoundError's attributes, for callers that read them.
        self.errno = errno.ENOENT
        self.filename = pattern

    def __str__(self) -> str:
        # OSError renders "[Errno 2] ..." once errno/filename are set; keep our sentence.
        return str(self.args[0])


class WireError(KcfError, ValueError):
    """A message on the wire could not be accepted.

    Attributes:
        check: which check failed, one short word (``"delimiter"``, ``"frame-count"``,
            ``"utf-8"``, ``"json"``, ``"object"``, ``"field"``, ``"encode"``, ``"missing"``,
            ``"mismatch"``, ``"replay"``, ``"scheme"``).
        frame: the frame that failed (``"signature"``, ``"header"``, ``"parent_header"``,
            ``"metadata"``, ``"content"``), or ``None`` when no one frame is at fault.

    .. versionadded:: 0.1.0
    """

    def __init__(self, message: str, *, check: str = "", frame: str | None = None) -> None:
        self.check = check
        self.frame = frame
        super().__init__(message)


class LocalProtocolError(WireError):
    """We are at fault: a message this process built cannot be sent as it is
    (a header field of the wrong type, content that is not JSON).

    .. versionadded:: 0.2.0
    """


class RemoteProtocolError(WireError):
    """The peer is at fault: what it sent is not an acceptable Jupyter message, or a
    correctly signed message whose content is not shaped as the protocol says.

    .. versionadded:: 0.2.0
    """


class MalformedMessage(RemoteProtocolError):
    """The frames do not form a Jupyter message (no delimiter, too few frames, bad JSON).

    .. versionadded:: 0.1.0
    """


class SignatureError(WireError):
    """The HMAC signature is missing or does not match.

    Deliberately not a :class:`RemoteProtocolError`: a mismatch does not prove the peer at
    fault. Our own connection file may hold the wrong key or scheme (a kernel restarted with
    a new key), or a third party may have injected the message; callers that drop a peer's
    garbage and carry on must not silently drop every message after a key change.

    .. versionadded:: 0.1.0
    """


class ReplayError(SignatureError):
    """A signature was seen before: the message is a replay.

    .. versionadded:: 0.1.0
    """


class UnsupportedScheme(WireError):
    """The ``signature_scheme`` names a digest this Python's hashlib does not have.

    .. versionadded:: 0.1.0
    """


#: Pointers whose value is key material: messages give its type and length, never the text.
_SECRET_POINTERS = frozenset({"/key", "/curve_secretkey"})

_JSON_TYPES = {dict: "JSON object", list: "JSON array", str: "string", bool: "boolean"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def a_type(value: object) -> str:
    """``"an int"``, ``"a str"``: the type of ``value`` with its article."""
    name = type(value).__name__
    if name in ("bytes", "bytearray"):
        name += " value"
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def describe_value(value: object, pointer: str = "") -> str:
    """``value`` in words for an error message, without echoing text that may hold a key.

    Scalars are shown as they are, except at a secret pointer (``/key``...) and for the
    whole document (``pointer == ""``); an object or array is described by its type and
    size only, since it may hold the key of a connection file (``[{"key": ...}]``).
    """
    if pointer in _SECRET_POINTERS:
        size = len(value) if isinstance(value, (str, bytes)) else None
        return a_type(value) + (
            f" of length {size} (not shown: it is secret)" if size is not None else ""
        )
    if isinstance(value, dict):
        return f"a JSON object with {_plural(len(value), 'member')} (not shown)"
    if isinstance(value, (list, tuple)):
        return f"a JSON array of {_plural(len(value), 'item')} (not shown)"
    if pointer == "" and isinstance(value, (str, bytes)):
        return f"a JSON string of length {len(value)} (not shown)"
    return _short_repr(value)


def _short_repr(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
