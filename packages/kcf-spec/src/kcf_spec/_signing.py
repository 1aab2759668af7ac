"""HMAC signing of the four JSON frames, with any ``hmac-<hashlib name>`` scheme."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ._errors import UnsupportedScheme

if TYPE_CHECKING:
    import hmac

# hashlib and hmac load OpenSSL (a few ms): they are imported by the first Signer made,
# not by ``import kcf_spec``.

__all__ = ["Signer", "supported_schemes", "digest_name"]

_PREFIX = "hmac-"


def digest_name(scheme: object) -> str:
    """The :mod:`hashlib` name of a ``hmac-<hashlib name>`` scheme.

    Raises:
        UnsupportedScheme: ``scheme`` is not of that form, or hashlib has no such digest.
    """
    if not (isinstance(scheme, str) and scheme.startswith(_PREFIX)):
        raise UnsupportedScheme(
            f"signature scheme {scheme!r} is not of the form 'hmac-<hashlib name>'",
            check="scheme",
        )
    import hashlib
    import hmac

    name = scheme[len(_PREFIX) :]
    if name not in hashlib.algorithms_available:
        raise UnsupportedScheme(
            f"signature scheme {scheme!r}: this Python's hashlib has no digest {name!r}",
            check="scheme",
        )
    try:
        hmac.new(b"probe", digestmod=name)
    except (ValueError, TypeError) as exc:  # shake_*: no fixed digest size, not HMAC-able
        raise UnsupportedScheme(
            f"signature scheme {scheme!r}: digest {name!r} cannot be used with HMAC",
            check="scheme",
        ) from exc
    return name


def supported_schemes() -> frozenset[str]:
    """Every ``hmac-*`` scheme this Python can sign with.

    .. versionadded:: 0.1.0
    """
    import hashlib

    out = set()
    for name in hashlib.algorithms_available:
        try:
            digest_name(_PREFIX + name)
        except UnsupportedScheme:
            continue
        out.add(_PREFIX + name)
    return frozenset(out)


class Signer:
    """Signs and verifies the header, parent header, metadata and content frames.

    The HMAC state for the key is computed once and copied per message. An empty key
    means messages are not signed: :meth:`sign` returns ``b""``.

    Args:
        key: the HMAC key (the UTF-8 bytes of the connection file's ``key``).
        signature_scheme: ``"hmac-<hashlib name>"``, e.g. ``"hmac-sha256"``.

    Raises:
        UnsupportedScheme: the scheme is malformed or names a digest HMAC cannot use
            (checked even when the key is empty).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_compare", "_hmac", "scheme")

    def __init__(self, key: bytes = b"", signature_scheme: str = "hmac-sha256") -> None:
        if not isinstance(key, bytes):
            raise TypeError(f"key must be bytes, not {type(key).__name__}")
        name = digest_name(signature_scheme)
        import hmac

        self.scheme = signature_scheme
        self._hmac: hmac.HMAC | None = hmac.new(key, digestmod=name) if key else None
        self._compare: Callable[[bytes, bytes], bool] = hmac.compare_digest

    @property
    def signs(self) -> bool:
        """Whether a key is set (messages are signed and checked)."""
        return self._hmac is not None

    def sign(self, parts: Iterable[bytes]) -> bytes:
        """Return the lowercase hex HMAC of ``parts`` as ASCII bytes (``b""`` without a key)."""
        if self._hmac is None:
            return b""
        h = self._hmac.copy()
        for part in parts:
            h.update(part)
        return h.hexdigest().encode("ascii")

    def verify(self, signature: bytes, parts: Iterable[bytes]) -> bool:
        """Whether ``signature`` is the signature of ``parts``, compared in constant time.

        Without a key every signature verifies (there is nothing to check against).
        """
        if self._hmac is None:
            return True
        return self._compare(signature, self.sign(parts))

    def __repr__(self) -> str:
        return f"Signer(scheme={self.scheme!r}, signs={self.signs})"
