"""``Frozen``: the shared base of kcf_spec's immutable value classes.

:class:`ConnectionInfo`, :class:`RegistrationInfo`, :class:`Header` and :class:`Message`
are hand-written slotted classes rather than ``@dataclass(frozen=True, slots=True)``
because importing :mod:`dataclasses` pulls in :mod:`inspect`, about 8 ms of a ~90 ms
fresh process. This base gives them what the decorator did: immutability (raising
:class:`dataclasses.FrozenInstanceError`), ``==`` over every field between instances of
the same class, a ``hash`` over the hashable fields, the field-by-field ``repr``, the
``__getstate__``/``__setstate__`` pair ``copy.copy`` uses, and ``replace`` (also as
``copy.replace`` on Python 3.13+).
Each subclass declares ``__match_args__`` (every ``__init__`` parameter, in order, which
is also its ``__slots__``) and two :func:`operator.attrgetter`: ``_key`` (every field)
and ``_hash_key`` (the fields the hash covers).
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from operator import attrgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_: object) -> Callable[[type], type]:
        return lambda cls: cls


__all__ = ["FACTORY", "Frozen"]

_T = TypeVar("_T", bound="Frozen")


class _Factory:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"


#: The default of a parameter whose value is made afresh at each call, as a dataclass
#: ``default_factory`` was (signatures show it as ``<factory>``, as they did).
FACTORY: Any = _Factory()


class _Proxied(dict):  # type: ignore[type-arg]
    """A read-only mapping field in copy/pickle state (a ``mappingproxy`` cannot be pickled)."""

    __slots__ = ()


def _frozen_error(message: str) -> AttributeError:
    # Imported on this error path only; callers may catch it as they did with dataclasses.
    from dataclasses import FrozenInstanceError

    return FrozenInstanceError(message)


@dataclass_transform(frozen_default=True)  # tells type checkers the fields are read-only
class Frozen:
    """Immutable value with ``==``, ``hash``, ``repr``, copying and ``replace``."""

    __slots__ = ()
    __match_args__: ClassVar[tuple[str, ...]] = ()
    _key: ClassVar[attrgetter[Any]]
    _hash_key: ClassVar[attrgetter[Any]]

    def _assign(self, *values: object) -> None:
        """Set every field, in ``__match_args__`` order (what ``__init__`` does first)."""
        for name, value in zip(self.__match_args__, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise _frozen_error(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise _frozen_error(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return bool(self._key(self) == self._key(other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._hash_key(self))

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{type(self).__qualname__}({fields})"

    def __copy__(self: _T) -> _T:
        # A shallow copy shares every field object (pickle state re-wraps mappingproxies).
        dup: _T = object.__new__(type(self))
        dup._assign(*self._key(self))
        return dup

    def __getstate__(self) -> list[Any]:
        return [_Proxied(v) if type(v) is MappingProxyType else v for v in self._key(self)]

    def __setstate__(self, state: list[Any]) -> None:
        self._assign(*(MappingProxyType(dict(v)) if type(v) is _Proxied else v for v in state))

    def replace(self: _T, **changes: Any) -> _T:
        """A copy with ``changes`` applied, built (and checked) like a new value.

        Raises:
            TypeError: a change names no field.

        .. versionadded:: 0.1.0
        """
        values = dict(zip(self.__match_args__, self._key(self), strict=True))
        values.update(changes)
        make: Callable[..., _T] = type(self)
        return make(**values)

    __replace__ = replace  # copy.replace (Python 3.13+), as dataclasses provide
