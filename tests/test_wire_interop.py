"""kcf_spec's wire format against a real jupyter_client ``Session``, in both directions.

For every ``hmac-*`` scheme both support (and the empty key), a message serialized by one
side is verified and parsed by the other: content with unicode and dates, parent headers,
metadata, buffers and zmq identities.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import kcf_spec
import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st
from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session
from kcf_spec import Codec, ReplayError, SignatureError

pytestmark = pytest.mark.interop

KEY = b"5d1e3c7a-9b2f-4a6e-8c0d-1f2e3a4b5c6d"

# jupyter_client resolves the digest with getattr(hashlib, name); we accept any name hashlib
# and HMAC can use. "Both support" is the intersection.
BOTH_SCHEMES = sorted(s for s in kcf_spec.supported_schemes() if hasattr(hashlib, s[5:]))
GUARANTEED = {f"hmac-{n}" for n in hashlib.algorithms_guaranteed if not n.startswith("shake_")}

CONTENT = {
    "code": "print('héllo wörld ✓ λ → 🚀')",
    "nested": {"list": [1, 2.5, None, True, "ü"], "empty": {}},
    "big": 2**62,
}
BUFFERS = [b"\x00\x01\x02", bytes(range(256)) * 16, b""]
IDENTS = [b"\x00\x80\x00\x41\xa7", b"client-2"]


def _session(key: bytes, scheme: str) -> Session:
    return Session(key=key, signature_scheme=scheme, username="jc-user")


def _their_frames(session: Session, msg: dict[str, Any], buffers: list[bytes]) -> list[bytes]:
    # What Session.send puts on the socket: serialize() plus the buffers.
    return session.serialize(msg, ident=list(IDENTS)) + buffers


def _their_parse(session: Session, frames: list[bytes]) -> tuple[list[bytes], dict[str, Any]]:
    idents, rest = session.feed_identities(frames)
    return idents, session.deserialize(rest)


def test_interop_schemes_cover_guaranteed() -> None:
    """Every guaranteed HMAC digest is in the interop matrix (the matrix cannot go empty)."""
    assert set(BOTH_SCHEMES) >= GUARANTEED


@pytest.mark.parametrize("scheme", BOTH_SCHEMES)
class TestOursToJupyterClient:
    def test_ours_to_session_every_part(self, scheme: str) -> None:
        """Session verifies and decodes a kcf message: header, parent, content, buffers, ids."""
        codec = Codec(KEY, scheme, username="kcf-user")
        parent = codec.message("execute_request", {"code": "1"})
        msg = codec.message(
            "execute_reply",
            CONTENT,
            parent=parent,
            metadata={"engine": "é"},
            buffers=BUFFERS,
            identities=IDENTS,
        )
        idents, got = _their_parse(_session(KEY, scheme), codec.serialize(msg))
        assert idents == IDENTS
        assert got["content"] == CONTENT
        assert got["metadata"] == {"engine": "é"}
        assert got["msg_id"] == msg.msg_id
        assert got["msg_type"] == "execute_reply"
        assert got["header"]["username"] == "kcf-user"
        assert got["header"]["session"] == codec.session
        assert got["header"]["version"] == "5.4"
        # jupyter_client turns header dates into datetimes; they must be the same instant.
        assert got["header"]["date"] == msg.header.datetime
        assert got["parent_header"]["msg_id"] == parent.msg_id
        assert got["parent_header"]["date"] == parent.header.datetime
        assert [bytes(b) for b in got["buffers"]] == BUFFERS

    def test_ours_tampered_refused_by_session(self, scheme: str) -> None:
        """Session refuses a kcf message whose content was changed after signing."""
        codec = Codec(KEY, scheme)
        frames = codec.serialize(codec.message("x", {"a": 1}))
        frames[-1] = b'{"a":2}'
        with pytest.raises(ValueError, match="Invalid Signature"):
            _their_parse(_session(KEY, scheme), frames)


@pytest.mark.parametrize("scheme", BOTH_SCHEMES)
class TestJupyterClientToOurs:
    def test_session_to_ours_every_part(self, scheme: str) -> None:
        """kcf verifies and decodes a Session message: header, parent, content, buffers, ids."""
        session = _session(KEY, scheme)
        parent = session.msg("execute_request", {"code": "1"})
        msg = session.msg("execute_reply", CONTENT, parent=parent, metadata={"engine": "é"})
        got = Codec(KEY, scheme).parse(_their_frames(session, msg, BUFFERS))
        assert got.identities == tuple(IDENTS)
        assert got.content == CONTENT
        assert got.metadata["engine"] == "é"
        assert got.msg_id == msg["msg_id"]
        assert got.msg_type == "execute_reply"
        assert got.header.username == "jc-user"
        assert got.header.session == session.session
        assert got.header.version == msg["header"]["version"]
        assert got.header.datetime == msg["header"]["date"]
        assert got.parent_msg_id == parent["msg_id"]
        assert got.buffers == tuple(BUFFERS)

    def test_session_tampered_refused_by_ours(self, scheme: str) -> None:
        """kcf refuses a Session message whose header was changed after signing."""
        session = _session(KEY, scheme)
        frames = _their_frames(session, session.msg("x", {"a": 1}), [])
        delim = frames.index(kcf_spec.DELIMITER)
        frames[delim + 2] = frames[delim + 2].replace(b'"x"', b'"y"')
        with pytest.raises(SignatureError, match="does not match"):
            Codec(KEY, scheme).parse(frames)

    def test_session_replay_refused_by_ours(self, scheme: str) -> None:
        """The same Session frames parsed twice by one codec are a replay."""
        session = _session(KEY, scheme)
        frames = _their_frames(session, session.msg("x", {}), [])
        codec = Codec(KEY, scheme)
        codec.parse(frames)
        with pytest.raises(ReplayError):
            codec.parse(frames)


class TestUnsignedInterop:
    def test_unsigned_ours_to_session(self) -> None:
        """With empty keys, Session accepts kcf's empty signature."""
        codec = Codec(b"")
        msg = codec.message("status", {"execution_state": "idle"}, identities=IDENTS)
        frames = codec.serialize(msg)
        assert frames[len(IDENTS) + 1] == b""
        idents, got = _their_parse(_session(b"", "hmac-sha256"), frames)
        assert idents == IDENTS
        assert got["content"] == {"execution_state": "idle"}

    def test_unsigned_session_to_ours(self) -> None:
        """With empty keys, kcf accepts Session's empty signature."""
        session = _session(b"", "hmac-sha256")
        frames = _their_frames(session, session.msg("status", {"s": "ü"}), [b"buf"])
        got = Codec(b"").parse(frames)
        assert (got.content, got.buffers) == ({"s": "ü"}, (b"buf",))

    def test_signed_to_unsigned_behaves_like_session(self) -> None:
        """A signed message is accepted by an unsigned receiver, on both sides alike."""
        session = _session(KEY, "hmac-sha256")
        theirs = _their_frames(session, session.msg("x", {"k": 1}), [])
        assert Codec(b"").parse(theirs).content == {"k": 1}
        codec = Codec(KEY)
        ours = codec.serialize(codec.message("x", {"k": 1}))
        assert _their_parse(_session(b"", "hmac-sha256"), ours)[1]["content"] == {"k": 1}

    def test_unsigned_to_signed_refused_by_both(self) -> None:
        """An unsigned message is refused by a keyed receiver, on both sides alike."""
        session = _session(b"", "hmac-sha256")
        theirs = _their_frames(session, session.msg("x", {}), [])
        with pytest.raises(SignatureError):
            Codec(KEY).parse(theirs)
        codec = Codec(b"")
        ours = codec.serialize(codec.message("x", {}))
        with pytest.raises(ValueError, match="Unsigned"):
            _their_parse(_session(KEY, "hmac-sha256"), ours)


class TestDatesAndFrames:
    def test_content_datetimes_encoded_like_jupyter_client(self) -> None:
        """Aware datetimes and dates in content are written as jupyter_client writes them."""
        values = {
            "utc": dt.datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone.utc),
            "offset": dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=9))),
            "day": dt.date(2026, 5, 6),
        }
        codec = Codec(KEY)
        ours = _their_parse(
            _session(KEY, "hmac-sha256"), codec.serialize(codec.message("x", values))
        )[1]["content"]
        assert ours == {k: json_default(v) for k, v in values.items()}
        session = _session(KEY, "hmac-sha256")
        theirs = Codec(KEY).parse(_their_frames(session, session.msg("x", values), []))
        assert theirs.content == ours

    def test_parse_real_zmq_frames(self) -> None:
        """kcf parses zmq.Frame objects (as recv_multipart(copy=False) returns) directly."""
        session = _session(KEY, "hmac-sha256")
        frames = _their_frames(session, session.msg("x", {"a": "ü"}), [b"b" * 1000])
        got = Codec(KEY).parse([zmq.Frame(f) for f in frames])
        assert got.content == {"a": "ü"}
        assert got.buffers == (b"b" * 1000,)
        assert got.identities == tuple(IDENTS)

    def test_over_real_zmq_socket_pair(self) -> None:
        """A kcf DEALER and a Session ROUTER exchange a request and a reply over zmq."""
        ctx = zmq.Context()
        try:
            router = ctx.socket(zmq.ROUTER)
            dealer = ctx.socket(zmq.DEALER)
            for sock in (router, dealer):
                sock.linger = 0
                sock.rcvtimeo = 5000
            port = router.bind_to_random_port("tcp://127.0.0.1")
            dealer.connect(f"tcp://127.0.0.1:{port}")
            codec = Codec(KEY, "hmac-sha512")
            session = _session(KEY, "hmac-sha512")
            request = codec.message("kernel_info_request")
            dealer.send_multipart(codec.serialize(request))
            idents, got = session.recv(router, mode=0)
            assert got is not None
            assert got["msg_id"] == request.msg_id
            session.send(router, "kernel_info_reply", {"status": "ok"}, parent=got, ident=idents)
            reply = codec.parse(dealer.recv_multipart(copy=False))
            assert reply.parent_msg_id == request.msg_id
            assert reply.content == {"status": "ok"}
            router.close()
            dealer.close()
        finally:
            ctx.term()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=16),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=15,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=5)


@settings(max_examples=60, deadline=None)
@given(
    content=json_objects,
    buffers=st.lists(st.binary(max_size=32), max_size=3),
    scheme=st.sampled_from(BOTH_SCHEMES),
)
def test_interop_any_content_both_directions(
    content: dict[str, Any], buffers: list[bytes], scheme: str
) -> None:
    """Any JSON content and buffers cross in both directions unchanged, any common scheme."""
    codec = Codec(KEY, scheme)
    session = _session(KEY, scheme)
    _, got = _their_parse(session, codec.serialize(codec.message("m", content, buffers=buffers)))
    assert got["content"] == content
    assert [bytes(b) for b in got["buffers"]] == buffers
    back = codec.parse(_their_frames(session, session.msg("m", content), buffers))
    assert back.content == content
    assert back.buffers == tuple(buffers)


def test_reply_to_session_message_keeps_parent() -> None:
    """A kcf reply whose parent is a deserialized Session message names it as parent."""
    session = _session(KEY, "hmac-sha256")
    request = session.msg("execute_request", {"code": "1"})
    _, received = _their_parse(session, _their_frames(session, request, []))
    codec = Codec(KEY)
    reply = codec.message("execute_reply", {"status": "ok"}, parent=received)
    _, got = _their_parse(_session(KEY, "hmac-sha256"), codec.serialize(reply))
    assert got["parent_header"]["msg_id"] == request["msg_id"]
    assert got["parent_header"]["date"] == received["header"]["date"]
    assert got["parent_header"]["session"] == session.session
