"""What other readers of a connection file refuse although kcf accepts it.

kcf decodes a file's bytes as :func:`json.loads` does, which detects UTF-16/32 and skips a
UTF-8 byte order mark, and keeps the last of repeated names. Other readers of the same file
do not: jupyter_client and ipykernel read it with :func:`json.load` from a text file opened
in the locale's encoding (a BOM then makes ``json`` raise "Unexpected UTF-8 BOM"); Go's
``encoding/json``, Rust's ``serde_json`` and JavaScript's ``JSON.parse`` refuse a BOM and any
encoding but UTF-8 (RFC 8259 section 8.1: "Implementations MUST NOT add a byte order mark";
JSON exchanged between systems "MUST be encoded using UTF-8"). Repeated names (RFC 8259
section 4: "The names within an object SHOULD be unique") are taken last-wins by Python,
Go and JavaScript but refused by ``serde_json`` when decoding into a struct ("duplicate
field"), so two programs can read two different keys from one file.
"""

from __future__ import annotations

import json
from operator import attrgetter

from ._frozen import Frozen

__all__ = ["PortabilityWarning", "portability_warnings"]

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-bom", "a UTF-8 byte order mark"),
    (b"\x00\x00\xfe\xff", "utf-32", "UTF-32 (big-endian, with a byte order mark)"),
    (b"\xff\xfe\x00\x00", "utf-32", "UTF-32 (little-endian, with a byte order mark)"),
    (b"\xfe\xff", "utf-16", "UTF-16 (big-endian, with a byte order mark)"),
    (b"\xff\xfe", "utf-16", "UTF-16 (little-endian, with a byte order mark)"),
)

_STRICT_UTF8 = (
    "jupyter_client and ipykernel (json.load on a text file)",
    "Go encoding/json",
    "Rust serde_json",
    "JavaScript JSON.parse",
)


class PortabilityWarning(Frozen):
    """Something in a connection file that kcf reads but other readers refuse or read
    differently.

    Args:
        code: one short word: ``"utf-8-bom"``, ``"utf-16"``, ``"utf-32"`` or
            ``"duplicate-name"``.
        message: what was found, in words (never the value of a name: it may be the key).
        readers: the readers that fail on it, or read it differently.

    .. versionadded:: 0.2.0
    """

    __match_args__ = ("code", "message", "readers")
    __slots__ = __match_args__
    _key = attrgetter(*__match_args__)
    _hash_key = _key

    code: str
    message: str
    readers: tuple[str, ...]

    def __init__(self, code: str, message: str, readers: tuple[str, ...]) -> None:
        self._assign(code, message, tuple(readers))

    def __str__(self) -> str:
        return f"{self.message}; fails in: {', '.join(self.readers)}"


def _encoding(data: bytes) -> tuple[str, str] | None:
    """``(code, words)`` when ``data`` is not plain UTF-8 without a BOM, else ``None``."""
    for bom, code, words in _BOMS:
        if data.startswith(bom):
            return code, words
    # Without a BOM, JSON text starts with an ASCII character: zero bytes around it mean
    # UTF-16 or UTF-32 (the detection RFC 4627 section 3 describes).
    head = data[:4]
    if len(head) >= 4 and head[:3] == b"\x00\x00\x00":
        return "utf-32", "UTF-32 (big-endian)"
    if len(head) >= 4 and head[1:] == b"\x00\x00\x00":
        return "utf-32", "UTF-32 (little-endian)"
    if len(head) >= 2 and head[0] == 0:
        return "utf-16", "UTF-16 (big-endian)"
    if len(head) >= 2 and head[1] == 0:
        return "utf-16", "UTF-16 (little-endian)"
    return None


def _repeated_names(data: bytes) -> list[str]:
    """The names repeated within one object, anywhere in the document, in order found."""
    found: list[str] = []

    def hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen and name not in found:
                found.append(name)
            seen.add(name)
        return dict(pairs)

    try:
        json.loads(data, object_pairs_hook=hook)
    except (ValueError, RecursionError):  # not JSON: the loader says so, not this check
        return []
    return found


def portability_warnings(data: bytes) -> list[PortabilityWarning]:
    """What in the bytes of a connection file other readers refuse though kcf accepts it.

    A file that is not JSON at all gives no warning here (loading it gives the error).

    Args:
        data: the file's bytes, as :func:`read_document` returns them.

    Returns:
        One :class:`PortabilityWarning` per problem, in a stable order: the encoding
        (a byte order mark, UTF-16 or UTF-32) first, then repeated names.

    .. versionadded:: 0.2.0
    """
    out: list[PortabilityWarning] = []
    enc = _encoding(data)
    if enc is not None:
        code, words = enc
        out.append(
            PortabilityWarning(
                code,
                f"the file is encoded as {words}; JSON files must be UTF-8 without a byte "
                "order mark (RFC 8259 section 8.1)",
                _STRICT_UTF8,
            )
        )
    repeated = _repeated_names(data)
    if repeated:
        names = ", ".join(json.dumps(n) for n in repeated[:5])
        out.append(
            PortabilityWarning(
                "duplicate-name",
                f"an object repeats the name {names}; kcf, jupyter_client, Go and JavaScript "
                "keep the last value, so readers may disagree on what the file says",
                ("Rust serde_json (decoding into a struct: 'duplicate field')",),
            )
        )
    return out
