"""The signed wire format: Header, Message, Codec, serialize/parse, signing, replay guard."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import kcf_spec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kcf_spec import (
    DELIMITER,
    Codec,
    ConnectionInfo,
    Header,
    MalformedMessage,
    Message,
    ReplayError,
    ReplayGuard,
    SignatureError,
    UnsupportedScheme,
    WireError,
    parse,
    serialize,
)

KEY = b"a0f3c2e1-5b6d-4e7f-8a9b-0c1d2e3f4a5b"

HMAC_SCHEMES = sorted(
    f"hmac-{name}" for name in hashlib.algorithms_guaranteed if not name.startswith("shake_")
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=6)
byte_frames = st.lists(st.binary(max_size=64), max_size=3)
identity_frames = st.lists(
    st.binary(min_size=1, max_size=16).filter(lambda b: b != DELIMITER), max_size=3
)


def _frames(codec: Codec, **kw: Any) -> list[bytes]:
    return codec.serialize(codec.message("execute_request", {"code": "1 + 1"}, **kw))


class TestCodecRoundTrip:
    def test_codec_round_trip_preserves_every_part(self) -> None:
        """A message serialized and parsed by codecs sharing a key comes back equal."""
        codec = Codec(KEY)
        parent = codec.message("execute_request", {"code": "x"})
        msg = codec.message(
            "execute_reply",
            {"status": "ok", "execution_count": 3, "ünï": "çødé ✓"},
            parent=parent,
            metadata={"started": "2026-01-01T00:00:00Z"},
            buffers=[b"\x00\x01", b""],
            identities=[b"router-id", b"\xff\xfe"],
        )
        back = Codec(KEY, session="other").parse(codec.serialize(msg))
        assert back == msg
        assert back.parent_msg_id == parent.msg_id
        assert back.identities == (b"router-id", b"\xff\xfe")
        assert back.buffers == (b"\x00\x01", b"")

    @settings(max_examples=150, deadline=None)
    @given(
        content=json_objects,
        metadata=json_objects,
        buffers=byte_frames,
        identities=identity_frames,
    )
    def test_codec_round_trip_any_json_buffers_and_identities(
        self,
        content: dict[str, Any],
        metadata: dict[str, Any],
        buffers: list[bytes],
        identities: list[bytes],
    ) -> None:
        """Any JSON content and metadata, buffers and identities survive a round trip."""
        codec = Codec(KEY)
        msg = codec.message(
            "comm_msg", content, metadata=metadata, buffers=buffers, identities=identities
        )
        back = codec.parse(codec.serialize(msg))
        assert back.content == content
        assert back.metadata == metadata
        assert back.buffers == tuple(buffers)
        assert back.identities == tuple(identities)
        assert back.header == msg.header

    def test_serialize_frame_layout(self) -> None:
        """Frames are identities, delimiter, signature, four JSON objects, then buffers."""
        codec = Codec(KEY)
        msg = codec.message("x", {"a": 1}, buffers=[b"B1", b"B2"], identities=[b"I1", b"I2"])
        frames = codec.serialize(msg)
        assert frames[:3] == [b"I1", b"I2", DELIMITER]
        assert frames[-2:] == [b"B1", b"B2"]
        assert len(frames) == 2 + 1 + 1 + 4 + 2
        header, parent, metadata, content = (json.loads(f) for f in frames[4:8])
        assert header == msg.header.to_dict()
        assert (parent, metadata, content) == ({}, {}, {"a": 1})

    def test_serialize_writes_compact_utf8_json(self) -> None:
        """JSON frames are compact and carry non-ASCII text as raw UTF-8, not escapes."""
        codec = Codec(KEY)
        frames = codec.serialize(codec.message("x", {"text": "λ ✓", "list": [1, 2]}))
        assert frames[5] == '{"text":"λ ✓","list":[1,2]}'.encode()

    def test_parse_accepts_memoryview_bytearray_and_bytes_attribute_frames(self) -> None:
        """Frames may be memoryviews, bytearrays, or objects exposing ``.bytes``."""

        class FrameLike:
            def __init__(self, data: bytes) -> None:
                self.bytes = data

        codec = Codec(KEY, check_replay=False)
        frames = _frames(codec, buffers=[b"buf"], identities=[b"id"])
        expected = codec.parse(frames)
        for wrap in (memoryview, bytearray, FrameLike):
            assert codec.parse([wrap(f) for f in frames]) == expected

    def test_parse_rejects_non_bytes_frame(self) -> None:
        """A frame that is not bytes-like is a TypeError."""
        codec = Codec(KEY)
        frames: list[Any] = _frames(codec)
        frames[3] = 42
        with pytest.raises(TypeError):
            codec.parse(frames)

    def test_serialize_accepts_mapping_content(self) -> None:
        """Content may be any Mapping (a read-only proxy too), written as a JSON object."""
        from types import MappingProxyType

        codec = Codec(KEY)
        msg = codec.message("x", MappingProxyType({"a": MappingProxyType({"b": 1})}))
        assert codec.parse(codec.serialize(msg)).content == {"a": {"b": 1}}

    def test_stateless_helpers_match_codec(self) -> None:
        """serialize()/parse() interoperate with a Codec of the same key and scheme."""
        codec = Codec(KEY, "hmac-sha512")
        msg = codec.message("x", {"n": 1}, buffers=[b"z"])
        frames = serialize(msg, key=KEY, signature_scheme="hmac-sha512")
        assert frames == codec.serialize(msg)
        assert parse(frames, key=KEY, signature_scheme="hmac-sha512") == msg
        assert parse(frames, key=KEY, signature_scheme="hmac-sha512") == msg  # no guard


class TestSigning:
    @pytest.mark.parametrize("scheme", HMAC_SCHEMES)
    def test_sign_every_guaranteed_scheme_is_hmac_of_the_four_frames(self, scheme: str) -> None:
        """The signature is the hex HMAC (scheme's digest) of header, parent, metadata, content."""
        codec = Codec(KEY, scheme)
        frames = _frames(codec)
        want = hmac.new(KEY, b"".join(frames[2:6]), scheme[5:]).hexdigest().encode()
        assert frames[1] == want
        assert codec.parse(frames).content == {"code": "1 + 1"}

    @pytest.mark.parametrize("scheme", ["hmac-shake_128", "hmac-shake_256"])
    def test_codec_shake_scheme_unsupported(self, scheme: str) -> None:
        """shake_* digests have no fixed size and cannot be used with HMAC."""
        with pytest.raises(UnsupportedScheme) as info:
            Codec(KEY, scheme)
        assert info.value.check == "scheme"

    @pytest.mark.parametrize("scheme", ["sha256", "hmac-", "hmac-nope", "HmacSHA256", ""])
    def test_codec_unknown_scheme_unsupported(self, scheme: str) -> None:
        """A scheme that is not hmac-<hashlib digest> is refused at construction, keyed or not."""
        with pytest.raises(UnsupportedScheme):
            Codec(KEY, scheme)
        with pytest.raises(UnsupportedScheme):
            Codec(b"", scheme)

    def test_supported_schemes_cover_guaranteed(self) -> None:
        """supported_schemes() lists every guaranteed HMAC-able digest and no shake."""
        schemes = kcf_spec.supported_schemes()
        assert set(HMAC_SCHEMES) <= schemes
        assert not {s for s in schemes if "shake" in s}

    @pytest.mark.parametrize("index", [2, 3, 4, 5])
    def test_parse_tampered_frame_signature_error(self, index: int) -> None:
        """Changing header, parent, metadata or content breaks the signature."""
        codec = Codec(KEY)
        frames = _frames(codec)
        frames[index] = frames[index][:-1] + b',"x":1}'
        with pytest.raises(SignatureError) as info:
            codec.parse(frames)
        assert info.value.check == "mismatch"
        assert info.value.frame == "signature"

    def test_parse_tampered_signature_signature_error(self) -> None:
        """A signature with one changed hex digit is refused."""
        codec = Codec(KEY)
        frames = _frames(codec)
        sig = frames[1]
        frames[1] = sig[:-1] + (b"0" if sig[-1:] != b"0" else b"1")
        with pytest.raises(SignatureError, match="does not match"):
            codec.parse(frames)

    @settings(max_examples=60, deadline=None)
    @given(data=st.data())
    def test_parse_any_flipped_byte_detected(self, data: st.DataObject) -> None:
        """Flipping any byte of any signed frame (or the signature) is detected."""
        codec = Codec(KEY, check_replay=False)
        frames = _frames(codec)
        index = data.draw(st.integers(1, 5))
        pos = data.draw(st.integers(0, len(frames[index]) - 1))
        bit = data.draw(st.integers(0, 7))
        frame = bytearray(frames[index])
        frame[pos] ^= 1 << bit
        frames[index] = bytes(frame)
        with pytest.raises(SignatureError):
            codec.parse(frames)

    def test_parse_wrong_key_signature_error(self) -> None:
        """A message signed with another key is refused."""
        frames = _frames(Codec(b"other key"))
        with pytest.raises(SignatureError):
            Codec(KEY).parse(frames)

    def test_parse_wrong_scheme_signature_error(self) -> None:
        """A message signed with another digest is refused."""
        frames = _frames(Codec(KEY, "hmac-sha512"))
        with pytest.raises(SignatureError):
            Codec(KEY, "hmac-sha256").parse(frames)

    def test_parse_unsigned_message_by_signed_codec_missing(self) -> None:
        """A keyed codec refuses a message with an empty signature (check 'missing')."""
        frames = _frames(Codec(b""))
        with pytest.raises(SignatureError) as info:
            Codec(KEY).parse(frames)
        assert info.value.check == "missing"

    def test_serialize_empty_key_unsigned(self) -> None:
        """With an empty key the signature frame is empty and accepted."""
        codec = Codec(b"")
        frames = _frames(codec)
        assert frames[1] == b""
        assert codec.sign([b"a"]) == b""
        assert not codec.signs
        assert codec.parse(frames).content == {"code": "1 + 1"}

    def test_parse_signed_message_by_unsigned_codec_accepted(self) -> None:
        """An unsigned codec does not check signatures, as jupyter_client's Session."""
        frames = _frames(Codec(KEY))
        frames[1] = b"not even hex"
        assert Codec(b"").parse(frames).content == {"code": "1 + 1"}

    def test_codec_repr_hides_key(self) -> None:
        """The key never appears in a codec's repr."""
        assert KEY.decode() not in repr(Codec(KEY))
        assert "secret" not in repr(kcf_spec.Signer(b"secret"))

    def test_codec_from_connection_uses_key_and_scheme(self) -> None:
        """from_connection signs with the connection's key and scheme."""
        info = ConnectionInfo(5001, 5002, 5003, 5004, 5005, key=KEY, signature_scheme="hmac-sha1")
        codec = Codec.from_connection(info, username="me")
        assert codec.signature_scheme == "hmac-sha1"
        assert codec.username == "me"
        frames = _frames(codec)
        assert frames[1] == hmac.new(KEY, b"".join(frames[2:6]), "sha1").hexdigest().encode()

    def test_codec_key_must_be_bytes(self) -> None:
        """A str key is a TypeError (keys are bytes everywhere in kcf)."""
        with pytest.raises(TypeError):
            Codec("key")  # type: ignore[arg-type]


class TestReplayGuard:
    def test_parse_same_frames_twice_replay_error(self) -> None:
        """The second sighting of a signature is a replay."""
        codec = Codec(KEY)
        frames = _frames(codec)
        codec.parse(frames)
        with pytest.raises(ReplayError) as info:
            codec.parse(frames)
        assert info.value.check == "replay"
        assert isinstance(info.value, SignatureError)

    def test_replay_window_bounded(self) -> None:
        """After window+1 messages the guard holds exactly window signatures, oldest gone."""
        window = 8
        codec = Codec(KEY, replay_window=window)
        sent = [_frames(codec) for _ in range(window + 1)]
        for frames in sent:
            codec.parse(frames)
        guard = codec.replay_guard
        assert guard is not None
        assert len(guard) == window
        assert sent[0][1] not in guard
        with pytest.raises(ReplayError):
            codec.parse(sent[-1])
        codec.parse(sent[0])  # forgotten: accepted again (the bound is real)

    def test_replay_guard_memory_constant_over_many(self) -> None:
        """Admitting many more signatures than the window never grows the guard past it."""
        guard = ReplayGuard(100)
        for i in range(5000):
            assert guard.admit(i.to_bytes(4, "big"))
            assert len(guard) <= 100
        assert len(guard) == 100
        assert not guard.admit((4999).to_bytes(4, "big"))

    def test_replay_bad_signature_not_remembered(self) -> None:
        """A refused (forged) message does not enter the guard."""
        codec = Codec(KEY)
        frames = _frames(codec)
        forged = [*frames]
        forged[5] = b'{"code":"evil"}'
        with pytest.raises(SignatureError):
            codec.parse(forged)
        codec.parse(frames)

    def test_replay_check_off_accepts_duplicates(self) -> None:
        """check_replay=False, and the stateless parse(), accept the same frames again."""
        codec = Codec(KEY, check_replay=False)
        frames = _frames(codec)
        assert codec.replay_guard is None
        assert codec.parse(frames) == codec.parse(frames)
        assert parse(frames, key=KEY) == parse(frames, key=KEY)

    def test_replay_unsigned_not_checked(self) -> None:
        """Unsigned messages (empty key) have no signature to guard."""
        codec = Codec(b"")
        frames = _frames(codec)
        assert codec.parse(frames) == codec.parse(frames)

    def test_replay_window_must_be_positive(self) -> None:
        """A window below 1 is a ValueError."""
        with pytest.raises(ValueError, match="at least 1"):
            ReplayGuard(0)
        with pytest.raises(ValueError, match="at least 1"):
            Codec(KEY, replay_window=0)


class TestMalformed:
    def test_parse_no_delimiter_malformed(self) -> None:
        """Frames without <IDS|MSG> are malformed (check 'delimiter')."""
        frames = _frames(Codec(KEY))
        frames.remove(DELIMITER)
        with pytest.raises(MalformedMessage) as info:
            Codec(KEY).parse(frames)
        assert info.value.check == "delimiter"

    @pytest.mark.parametrize("keep", [0, 1, 2, 3, 4])
    def test_parse_too_few_frames_malformed(self, keep: int) -> None:
        """Fewer than five frames after the delimiter is malformed (check 'frame-count')."""
        frames = _frames(Codec(KEY), identities=[b"id"])[: 2 + keep]
        with pytest.raises(MalformedMessage) as info:
            Codec(KEY).parse(frames)
        assert info.value.check == "frame-count"

    @pytest.mark.parametrize(
        ("frame", "data", "check"),
        [
            ("header", b"\xff\xfe{}", "utf-8"),
            ("parent_header", b"{not json", "json"),
            ("metadata", b"[1, 2]", "object"),
            ("content", b'"text"', "object"),
            ("content", b'{"x": NaN}', "json"),
            ("content", b'{"x": 1} trailing', "json"),
            ("content", b"", "json"),
        ],
    )
    def test_parse_bad_json_frame_names_frame(self, frame: str, data: bytes, check: str) -> None:
        """A JSON frame that is not a UTF-8 JSON object is malformed and named."""
        index = 2 + ["header", "parent_header", "metadata", "content"].index(frame)
        frames = _frames(Codec(b""))
        frames[index] = data
        with pytest.raises(MalformedMessage) as info:
            Codec(b"").parse(frames)
        assert (info.value.frame, info.value.check) == (frame, check)
        assert frame in str(info.value)

    def test_parse_xeus_iopub_welcome_null_parent_and_metadata_accepted(self) -> None:
        """xeus-python's iopub_welcome, byte for byte as it sent it (key ``kcf-fixture-key``):
        ``parent_header`` and ``metadata`` are JSON ``null``; they read as ``{}``."""
        frames = [
            b"",
            DELIMITER,
            b"476d6f338d46c1045f592837c500f49e8f97ae1ead6d76169609b2c01f06130c",
            b'{"date":"2026-12-02T16:13:20.685392Z","msg_id":"4c4ed41f39c9458fbe4d0bdb703720fb",'
            b'"msg_type":"iopub_welcome","session":"","username":"","version":"5.6"}',
            b"null",
            b"null",
            b'{"subscription":""}',
        ]
        msg = Codec(b"kcf-fixture-key").parse(frames)
        assert (msg.msg_type, msg.parent_header, msg.metadata) == ("iopub_welcome", {}, {})
        assert msg.parent_msg_id is None
        assert msg.content == {"subscription": ""}

    @pytest.mark.parametrize("frame", ["parent_header", "metadata"])
    @pytest.mark.parametrize("data", [b"null", b" null\n"])
    def test_parse_null_parent_or_metadata_reads_as_empty(self, frame: str, data: bytes) -> None:
        """A ``null`` parent_header or metadata frame (signed as sent) reads as ``{}``."""
        index = 2 + ["header", "parent_header", "metadata", "content"].index(frame)
        codec = Codec(KEY)
        frames = _frames(codec)
        frames[index] = data
        frames[1] = codec.sign(frames[2:6])
        assert getattr(codec.parse(frames), frame) == {}

    @pytest.mark.parametrize("frame", ["header", "content"])
    def test_parse_null_header_or_content_malformed(self, frame: str) -> None:
        """The header and content stay strict: ``null`` there is malformed, named."""
        index = 2 + ["header", "parent_header", "metadata", "content"].index(frame)
        frames = _frames(Codec(b""))
        frames[index] = b"null"
        with pytest.raises(MalformedMessage, match=f"{frame} frame must be a JSON object"):
            Codec(b"").parse(frames)

    def test_parse_json_with_whitespace_accepted(self) -> None:
        """JSON frames with surrounding whitespace (legal JSON) are accepted."""
        frames = _frames(Codec(b""))
        frames[5] = b'  { "a" : [1, 2] }\n'
        assert Codec(b"").parse(frames).content == {"a": [1, 2]}

    @pytest.mark.parametrize(
        "field", ["msg_id", "msg_type", "username", "session", "date", "version"]
    )
    def test_parse_header_missing_field_malformed(self, field: str) -> None:
        """A header without one of the six protocol fields is malformed, naming the field."""
        frames = _frames(Codec(b""))
        header = json.loads(frames[2])
        del header[field]
        frames[2] = json.dumps(header).encode()
        with pytest.raises(MalformedMessage, match=field) as info:
            Codec(b"").parse(frames)
        assert (info.value.frame, info.value.check) == ("header", "field")

    def test_parse_header_non_string_field_malformed(self) -> None:
        """A header field of the wrong type is malformed."""
        frames = _frames(Codec(b""))
        header = json.loads(frames[2])
        header["msg_id"] = 7
        frames[2] = json.dumps(header).encode()
        with pytest.raises(MalformedMessage, match="msg_id"):
            Codec(b"").parse(frames)

    @pytest.mark.parametrize(
        "content",
        [
            {"x": float("nan")},
            {"x": float("inf")},
            {"x": object()},
            {"x": b"raw bytes"},
            {"x": {1, 2}},
            {"x": dt.datetime(2026, 1, 1)},  # naive: no timezone to write
            {"x": "\ud800"},  # lone surrogate: not UTF-8
        ],
    )
    def test_serialize_non_json_content_malformed(self, content: dict[str, Any]) -> None:
        """Content that is not strict JSON cannot be serialized (check 'encode'): our fault,
        a LocalProtocolError, never the peer's MalformedMessage."""
        codec = Codec(KEY)
        with pytest.raises(kcf_spec.LocalProtocolError) as info:
            codec.serialize(codec.message("x", content))
        assert not isinstance(info.value, kcf_spec.RemoteProtocolError)
        assert (info.value.frame, info.value.check) == ("content", "encode")

    def test_serialize_cyclic_content_malformed(self) -> None:
        """A cycle in the content is reported, not a crash."""
        cyclic: dict[str, Any] = {}
        cyclic["self"] = cyclic
        codec = Codec(KEY)
        with pytest.raises(kcf_spec.LocalProtocolError):
            codec.serialize(codec.message("x", cyclic))

    def test_parse_garbage_is_remote_and_bad_signature_is_neither(self) -> None:
        """Garbage from the peer is a RemoteProtocolError; a bad signature is a
        SignatureError that is neither Local nor Remote (a wrong key of ours gives it too)."""
        codec = Codec(KEY)
        with pytest.raises(kcf_spec.RemoteProtocolError):
            codec.parse([b"no delimiter"])
        frames = codec.serialize(codec.message("x"))
        frames[1] = b"0" * 64
        with pytest.raises(SignatureError) as info:
            codec.parse(frames)
        assert not isinstance(
            info.value, (kcf_spec.RemoteProtocolError, kcf_spec.LocalProtocolError)
        )

    def test_message_non_mapping_content_type_error(self) -> None:
        """Codec.message refuses content or metadata that is not a mapping."""
        codec = Codec(KEY)
        with pytest.raises(TypeError, match="content"):
            codec.message("x", [1, 2])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="metadata"):
            codec.message("x", metadata="m")  # type: ignore[arg-type]

    def test_serialize_datetime_content_iso8601(self) -> None:
        """Aware datetimes are written as ISO 8601 (UTC as 'Z'), dates as YYYY-MM-DD."""
        codec = Codec(KEY)
        when = dt.datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=dt.timezone.utc)
        other = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
        msg = codec.message("x", {"t": when, "u": other, "d": dt.date(2026, 3, 4)})
        content = codec.parse(codec.serialize(msg)).content
        assert content == {
            "t": "2026-03-04T05:06:07.000089Z",
            "u": "2026-03-04T05:06:07-05:00",
            "d": "2026-03-04",
        }


class TestHeader:
    def test_header_dict_round_trip_keeps_extras_in_order(self) -> None:
        """to_dict/from_dict keep the six fields, then extras in their order."""
        d = {
            "msg_id": "m",
            "msg_type": "t",
            "username": "u",
            "session": "s",
            "date": "2026-01-01T00:00:00.000001Z",
            "version": "5.3",
            "subshell_id": None,
            "zeta": [1],
        }
        header = Header.from_dict(d)
        assert header.extras == {"subshell_id": None, "zeta": [1]}
        assert header.to_dict() == d
        assert list(header.to_dict()) == list(d)

    def test_header_from_dict_accepts_datetime_date(self) -> None:
        """A header dict from jupyter_client (date as datetime) converts to the wire string."""
        when = dt.datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=dt.timezone.utc)
        d = {"msg_id": "m", "msg_type": "t", "username": "u", "session": "s"}
        header = Header.from_dict({**d, "date": when, "version": "5.4"})
        assert header.date == "2026-01-02T03:04:05.600000Z"
        assert header.datetime == when

    def test_header_extras_repeating_a_field_value_error(self) -> None:
        """extras may not repeat one of the six protocol fields."""
        with pytest.raises(ValueError, match="msg_id"):
            Header("m", "t", "s", extras={"msg_id": "again"})

    def test_header_non_string_field_type_error(self) -> None:
        """Header fields must be str."""
        with pytest.raises(TypeError, match="session"):
            Header("m", "t", 5)  # type: ignore[arg-type]

    def test_header_default_date_is_utc_now_iso(self) -> None:
        """The default date is an aware UTC ISO 8601 string ending in 'Z'."""
        header = Header("m", "t", "s")
        assert header.date.endswith("Z")
        assert header.datetime.utcoffset() == dt.timedelta(0)
        assert header.version == kcf_spec.PROTOCOL_VERSION == "5.4"

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (
                "2026-01-02T03:04:05.123456Z",
                dt.datetime(2026, 1, 2, 3, 4, 5, 123456, dt.timezone.utc),
            ),
            ("2026-01-02T03:04:05Z", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)),
            (
                "2026-01-02T03:04:05.123456789+02:00",
                dt.datetime(2026, 1, 2, 3, 4, 5, 123456, dt.timezone(dt.timedelta(hours=2))),
            ),
            (
                "2026-01-02T03:04:05.1-0530",
                dt.datetime(
                    2026, 1, 2, 3, 4, 5, 100000, dt.timezone(-dt.timedelta(hours=5, minutes=30))
                ),
            ),
            ("2026-01-02T03:04:05.5", dt.datetime(2026, 1, 2, 3, 4, 5, 500000)),
        ],
    )
    def test_header_datetime_parses_iso8601(self, text: str, expected: dt.datetime) -> None:
        """datetime parses Z, offsets, any fraction length, and naive times (kept naive)."""
        got = Header("m", "t", "s", date=text).datetime
        assert got == expected
        assert got.utcoffset() == expected.utcoffset()

    @pytest.mark.parametrize(
        "text", ["yesterday", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00+25:00", ""]
    )
    def test_header_datetime_invalid_malformed(self, text: str) -> None:
        """A date that is not ISO 8601 raises MalformedMessage when parsed."""
        with pytest.raises(MalformedMessage) as info:
            _ = Header("m", "t", "s", date=text).datetime
        assert info.value.check == "date"


class TestMessage:
    def test_message_buffers_and_identities_become_bytes(self) -> None:
        """Bytes-like buffers and identities are stored as a tuple of bytes."""
        msg = Message(
            Header("m", "t", "s"),
            buffers=[memoryview(b"ab"), bytearray(b"cd")],  # type: ignore[arg-type]
            identities=[bytearray(b"id")],  # type: ignore[arg-type]
        )
        assert msg.buffers == (b"ab", b"cd")
        assert msg.identities == (b"id",)
        assert all(type(b) is bytes for b in msg.buffers + msg.identities)

    def test_message_single_bytes_as_buffers_type_error(self) -> None:
        """One bytes object where a sequence of frames is expected is refused."""
        with pytest.raises(TypeError):
            Message(Header("m", "t", "s"), buffers=b"abc")  # type: ignore[arg-type]

    def test_message_non_mapping_content_type_error(self) -> None:
        """Message content must be a mapping."""
        with pytest.raises(TypeError, match="content"):
            Message(Header("m", "t", "s"), content=[1])  # type: ignore[arg-type]

    def test_message_convenience_properties(self) -> None:
        """msg_id, msg_type and parent_msg_id read through to the headers."""
        msg = Message(Header("m", "t", "s"), parent_header={"msg_id": "p"})
        assert (msg.msg_id, msg.msg_type, msg.parent_msg_id) == ("m", "t", "p")
        assert Message(Header("m", "t", "s")).parent_msg_id is None

    def test_message_to_dict_jupyter_client_shape(self) -> None:
        """to_dict gives jupyter_client's nested message dict."""
        msg = Message(Header("m", "t", "s"), content={"a": 1}, buffers=(b"x",))
        d = msg.to_dict()
        assert d["msg_id"] == "m"
        assert d["msg_type"] == "t"
        assert d["header"] == msg.header.to_dict()
        assert d["content"] == {"a": 1}
        assert d["buffers"] == [b"x"]


class TestCodecMessage:
    def test_message_header_uses_codec_session_and_username(self) -> None:
        """New headers carry the codec's session, username and protocol version."""
        codec = Codec(KEY, session="sess", username="ana")
        header = codec.message("status").header
        assert (header.session, header.username, header.version) == ("sess", "ana", "5.4")
        assert header.msg_id.startswith("sess_")

    def test_message_ids_unique(self) -> None:
        """Every new message gets a distinct msg_id."""
        codec = Codec(KEY)
        ids = {codec.message("status").msg_id for _ in range(1000)}
        assert len(ids) == 1000

    def test_codec_default_session_is_random_id(self) -> None:
        """Without a session, each codec gets a fresh jupyter_client-style random id."""
        a, b = Codec().session, Codec().session
        assert a != b
        assert len(a) == 33
        assert a[8] == "-"

    @pytest.mark.parametrize("form", ["message", "header", "dict", "jc_dict"])
    def test_message_parent_in_any_form(self, form: str) -> None:
        """parent may be a Message, a Header, a header dict or a nested message dict."""
        codec = Codec(KEY)
        parent = codec.message("execute_request")
        given_parent: Any = {
            "message": parent,
            "header": parent.header,
            "dict": parent.header.to_dict(),
            "jc_dict": parent.to_dict(),
        }[form]
        child = codec.message("execute_reply", parent=given_parent)
        assert child.parent_header == parent.header.to_dict()
        assert child.parent_msg_id == parent.msg_id

    def test_message_no_parent_empty_parent_header(self) -> None:
        """Without a parent the parent header is an empty object."""
        codec = Codec(KEY)
        assert codec.message("status").parent_header == {}
        assert codec.message("status", parent={}).parent_header == {}


def test_public_names_exported() -> None:
    """The wire API is re-exported from kcf_spec's __all__."""
    for name in ("Header", "Message", "Codec", "serialize", "parse", "ReplayGuard", "Signer"):
        assert name in kcf_spec.__all__
        assert hasattr(kcf_spec, name)


def test_wire_errors_share_one_root() -> None:
    """Every wire error is a WireError, a KcfError and a ValueError (what callers catch)."""
    for exc in (MalformedMessage, SignatureError, ReplayError, UnsupportedScheme):
        assert issubclass(exc, WireError)
        assert issubclass(exc, kcf_spec.KcfError)
        assert issubclass(exc, ValueError)
