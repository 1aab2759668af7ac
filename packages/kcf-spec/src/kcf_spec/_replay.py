"""A bounded replay guard: remembers the last N signatures, in constant memory."""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["ReplayGuard"]


class ReplayGuard:
    """Remembers the last ``window`` signatures it admitted and refuses a second sighting.

    Memory is bounded: once ``window`` signatures are held, admitting one more forgets the
    oldest (first in, first out). Each check is O(1). :meth:`admit` is atomic, so one guard
    can be shared by threads.

    Args:
        window: how many signatures to remember (at least 1).

    Raises:
        ValueError: ``window`` is less than 1.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_seen", "_window")

    def __init__(self, window: int = 2**16) -> None:
        if window < 1:
            raise ValueError(f"replay window must be at least 1, got {window}")
        self._window = window
        self._seen: OrderedDict[bytes, object] = OrderedDict()

    @property
    def window(self) -> int:
        """How many signatures are remembered at most."""
        return self._window

    def admit(self, signature: bytes) -> bool:
        """Record ``signature``; return ``False`` if it is already remembered (a replay)."""
        token = object()
        seen = self._seen
        # setdefault is one atomic step: two threads admitting the same signature cannot
        # both see it as new.
        if seen.setdefault(signature, token) is not token:
            return False
        if len(seen) > self._window:
            try:  # noqa: SIM105 - the hot path; contextlib.suppress costs a call
                seen.popitem(last=False)
            except KeyError:  # another thread emptied it first
                pass
        return True

    def __contains__(self, signature: object) -> bool:
        return signature in self._seen

    def __len__(self) -> int:
        return len(self._seen)

    def clear(self) -> None:
        """Forget every signature."""
        self._seen.clear()

    def __repr__(self) -> str:
        return f"ReplayGuard(window={self._window}, held={len(self._seen)})"
