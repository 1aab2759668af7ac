"""The value classes (``ConnectionInfo``, ``RegistrationInfo``, ``Header``, ``Message``)
behave as the frozen slotted dataclasses they replace: immutable, compared field by
field, hashed without their mappings, copied, replaced and matched."""

from __future__ import annotations

import copy
import dataclasses
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kcf_spec import (
    Channel,
    ConnectionFileError,
    ConnectionInfo,
    Header,
    Message,
    RegistrationInfo,
)

DATE = "2026-01-02T03:04:05.123456Z"


def _header(**changes: Any) -> Header:
    fields: dict[str, Any] = {"msg_id": "m1", "msg_type": "kernel_info_request"}
    fields.update({"session": "s1", "date": DATE, "extras": {"subshell_id": "x"}})
    fields.update(changes)
    return Header(**fields)


def _message(**changes: Any) -> Message:
    fields: dict[str, Any] = {"header": _header(), "parent_header": {"msg_id": "p"}}
    fields.update({"metadata": {"a": 1}, "content": {"b": 2}})
    fields.update({"buffers": (b"buf",), "identities": (b"id",)})
    fields.update(changes)
    return Message(**fields)


def _connection(**changes: Any) -> ConnectionInfo:
    fields: dict[str, Any] = {"key": b"secret", "kernel_name": "python3", "extras": {"z": 1}}
    fields.update(changes)
    return ConnectionInfo(5001, 5002, 5003, 5004, 5005, **fields)


def _registration(**changes: Any) -> RegistrationInfo:
    fields: dict[str, Any] = {"kernel_id": "k1", "registration_port": 45623, "key": b"secret"}
    fields.update({"extras": {"q": 1}})
    fields.update(changes)
    return RegistrationInfo(**fields)


BUILDERS: list[Callable[..., Any]] = [_connection, _registration, _header, _message]
IDS = ["ConnectionInfo", "RegistrationInfo", "Header", "Message"]
#: A field of each class and another valid value for it.
CHANGE: dict[str, tuple[str, Any]] = {
    "ConnectionInfo": ("ip", "10.0.0.7"),
    "RegistrationInfo": ("kernel_id", "k2"),
    "Header": ("msg_type", "execute_request"),
    "Message": ("content", {"c": 3}),
}
#: The mapping field each class leaves out of its hash, and another value for it.
UNHASHED: dict[str, tuple[str, Any]] = {
    "ConnectionInfo": ("extras", {"z": 2}),
    "RegistrationInfo": ("extras", {"q": 2}),
    "Header": ("extras", {"subshell_id": "y"}),
    "Message": ("parent_header", {"msg_id": "other"}),
}


def _fields(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in type(value).__match_args__}


@pytest.mark.parametrize("build", BUILDERS, ids=IDS)
class TestImmutable:
    def test_value_assign_field_frozen_instance_error(self, build: Callable[..., Any]) -> None:
        """Assigning a field raises ``dataclasses.FrozenInstanceError`` and changes nothing."""
        value = build()
        name = type(value).__match_args__[0]
        before = getattr(value, name)
        with pytest.raises(
            dataclasses.FrozenInstanceError, match=f"cannot assign to field '{name}'"
        ):
            setattr(value, name, before)
        assert getattr(value, name) is before

    def test_value_assign_new_attribute_frozen_instance_error(
        self, build: Callable[..., Any]
    ) -> None:
        """Assigning a name that is not a field is refused as well (an AttributeError)."""
        value = build()
        with pytest.raises(AttributeError, match="cannot assign to field 'other'"):
            value.other = 1
        assert not hasattr(value, "other")

    def test_value_delete_field_frozen_instance_error(self, build: Callable[..., Any]) -> None:
        """Deleting a field raises ``dataclasses.FrozenInstanceError`` and keeps the field."""
        value = build()
        name = type(value).__match_args__[-1]
        with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot delete field '{name}'"):
            delattr(value, name)
        assert hasattr(value, name)

    def test_value_slotted_without_dict_or_weakref(self, build: Callable[..., Any]) -> None:
        """The value has slots for exactly its fields: no ``__dict__``, no weak references."""
        value = build()
        assert type(value).__slots__ == type(value).__match_args__
        assert not hasattr(value, "__dict__")
        with pytest.raises(TypeError, match="cannot create weak reference"):
            weakref.ref(value)


@pytest.mark.parametrize("build", BUILDERS, ids=IDS)
class TestEqualityAndHash:
    def test_value_equals_rebuilt_value(self, build: Callable[..., Any]) -> None:
        """A value built again from its fields is equal and has the same hash."""
        value = build()
        again = type(value)(**_fields(value))
        assert again == value
        assert again is not value
        assert hash(again) == hash(value)

    def test_value_differs_when_one_field_differs(self, build: Callable[..., Any]) -> None:
        """Changing any one field makes the values unequal."""
        value = build()
        name, other = CHANGE[type(value).__name__]
        assert build(**{name: other}) != value

    def test_value_mapping_field_compared_but_not_hashed(self, build: Callable[..., Any]) -> None:
        """The mapping left out of the hash still takes part in ``==``."""
        value = build()
        name, other = UNHASHED[type(value).__name__]
        changed = build(**{name: other})
        assert changed != value
        assert hash(changed) == hash(value)

    def test_value_other_type_not_implemented(self, build: Callable[..., Any]) -> None:
        """Comparing with another type (even the tuple of the same fields) is unequal."""
        value = build()
        assert value.__eq__(tuple(_fields(value).values())) is NotImplemented
        assert value != tuple(_fields(value).values())
        assert value != object()

    def test_value_subclass_instance_unequal(self, build: Callable[..., Any]) -> None:
        """An instance of a subclass never equals one of the class, as with a dataclass."""
        value = build()
        sub = type("Sub", (type(value),), {})
        assert sub(**_fields(value)) != value

    def test_value_not_ordered(self, build: Callable[..., Any]) -> None:
        """Values define no ordering."""
        with pytest.raises(TypeError):
            _ = build() < build()


_XY = st.sampled_from(["x", "y"])


class TestHeaderProperties:
    @given(
        a=st.tuples(_XY, _XY, _XY, _XY, _XY, _XY),
        b=st.tuples(_XY, _XY, _XY, _XY, _XY, _XY),
        extras_a=st.dictionaries(st.sampled_from(["p", "q"]), st.integers(0, 1), max_size=2),
        extras_b=st.dictionaries(st.sampled_from(["p", "q"]), st.integers(0, 1), max_size=2),
    )
    def test_header_equal_iff_every_field_equal_and_hash_agrees(
        self,
        a: tuple[str, str, str, str, str, str],
        b: tuple[str, str, str, str, str, str],
        extras_a: dict[str, int],
        extras_b: dict[str, int],
    ) -> None:
        """Two headers are equal exactly when all fields are; equal headers hash alike."""
        ha = Header(*a, extras=extras_a)
        hb = Header(*b, extras=extras_b)
        assert (ha == hb) == (a == b and extras_a == extras_b)
        if ha == hb:
            assert hash(ha) == hash(hb)
        if a == b:
            assert hash(ha) == hash(hb)


@pytest.mark.parametrize("build", BUILDERS, ids=IDS)
class TestReplaceAndCopy:
    def test_replace_changes_only_the_named_field(self, build: Callable[..., Any]) -> None:
        """``replace`` returns a new value with one field changed and the rest kept."""
        value = build()
        name, other = CHANGE[type(value).__name__]
        changed = value.replace(**{name: other})
        assert type(changed) is type(value)
        assert changed == build(**{name: other})
        assert {k: v for k, v in _fields(changed).items() if k != name} == {
            k: v for k, v in _fields(value).items() if k != name
        }

    def test_replace_without_changes_is_an_equal_copy(self, build: Callable[..., Any]) -> None:
        """``replace()`` with nothing to change returns an equal, distinct value."""
        value = build()
        assert value.replace() == value
        assert value.replace() is not value

    def test_replace_unknown_field_type_error(self, build: Callable[..., Any]) -> None:
        """Naming a field the class does not have is a TypeError, as for the constructor."""
        with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
            build().replace(nope=1)

    def test_dunder_replace_matches_replace(self, build: Callable[..., Any]) -> None:
        """``__replace__`` (what ``copy.replace`` calls on 3.13+) does what ``replace`` does."""
        value = build()
        name, other = CHANGE[type(value).__name__]
        assert value.__replace__(**{name: other}) == build(**{name: other})

    def test_copy_copy_equal_distinct(self, build: Callable[..., Any]) -> None:
        """``copy.copy`` gives an equal, distinct value sharing the field objects."""
        value = build()
        dup = copy.copy(value)
        assert dup == value
        assert dup is not value
        assert all(getattr(dup, n) is getattr(value, n) for n in type(value).__match_args__)

    def test_getstate_lists_fields_in_order(self, build: Callable[..., Any]) -> None:
        """The copy/pickle state is the list of field values, in declaration order."""
        value = build()
        assert value.__getstate__() == list(_fields(value).values())

    def test_match_positional_patterns(self, build: Callable[..., Any]) -> None:
        """``match`` binds positional sub-patterns to the fields in declaration order."""
        value = build()
        first, second = type(value).__match_args__[:2]
        match value:
            case ConnectionInfo(a, b) | RegistrationInfo(a, b) | Header(a, b) | Message(a, b):
                assert (a, b) == (getattr(value, first), getattr(value, second))
            case _:
                pytest.fail("no pattern matched")


class TestReplaceChecks:
    def test_replace_header_checks_types(self) -> None:
        """A header replaced with a non-string field is refused like a new one."""
        with pytest.raises(TypeError, match=r"Header\.msg_id must be str"):
            _header().replace(msg_id=1)

    def test_replace_message_converts_buffers(self) -> None:
        """Buffers given to ``replace`` are stored as bytes, as by the constructor."""
        assert _message().replace(buffers=[bytearray(b"ab")]).buffers == (b"ab",)

    def test_replace_connection_ports_mapping(self) -> None:
        """``ConnectionInfo.replace`` also takes ``ports={Channel: port}``."""
        info = _connection().replace(ports={Channel.HB: 6000}, ip="10.0.0.2")
        assert info.hb_port == 6000
        assert info.ip == "10.0.0.2"
        assert info.shell_port == 5001

    def test_replace_connection_key_must_be_bytes(self) -> None:
        """A str key given to ``replace`` is refused, as by the constructor."""
        with pytest.raises(TypeError, match="key must be bytes"):
            _connection().replace(key="secret")

    def test_replace_registration_revalidates(self) -> None:
        """A registration replaced with port 0 breaks the schema and says where."""
        with pytest.raises(ConnectionFileError) as err:
            _registration().replace(registration_port=0)
        assert err.value.pointer == "/registration_port"


class TestDefaults:
    def test_message_default_mappings_fresh_per_message(self) -> None:
        """Each message built without mappings gets its own empty dicts."""
        header = _header()
        one, two = Message(header), Message(header)
        assert one.content == {}
        assert one.parent_header == {}
        assert one.metadata == {}
        assert one.content is not two.content
        assert one.buffers == ()
        assert one.identities == ()

    def test_header_default_date_is_now_and_extras_empty(self) -> None:
        """A header built without date gets the current UTC time and no extras."""
        header = Header("m", "t", "s")
        assert header.date.endswith("Z")
        assert header.datetime.utcoffset() is not None
        assert dict(header.extras) == {}
        assert header.username == "kcf"

    def test_connection_default_extras_empty_read_only(self) -> None:
        """A connection built without extras has an empty read-only mapping."""
        extras = ConnectionInfo(1, 2, 3, 4, 5).extras
        assert dict(extras) == {}
        with pytest.raises(TypeError):
            extras["x"] = 1  # type: ignore[index]


class TestRepr:
    def test_header_repr_names_every_field(self) -> None:
        """A header's repr is the dataclass-style list of its fields."""
        assert repr(_header()) == (
            "Header(msg_id='m1', msg_type='kernel_info_request', session='s1', "
            f"username='kcf', date='{DATE}', version='5.4', "
            "extras=mappingproxy({'subshell_id': 'x'}))"
        )

    def test_message_repr_self_reference_shows_ellipsis(self) -> None:
        """A message whose content holds the message itself repr's it as ``...``."""
        content: dict[str, Any] = {}
        msg = _message(content=content)
        content["self"] = msg
        assert "content={'self': ...}" in repr(msg)
        assert repr(msg).startswith("Message(header=Header(msg_id='m1'")
