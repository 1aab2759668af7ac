"""The three JEP 66 dialects, sans I/O, against byte-exact fixtures built from each
implementation's documented structs and wire code (xeus-zmq 4 ``xhandshaking.cpp`` /
``xhandshake_client_zmq.cpp``; ark ``handshake_request.rs``; Kallichore
``handshake_protocol.rs`` / ``registration_socket.rs``)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json

import kcf_spec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kcf_spec import Channel, Codec, RegistrationInfo, Signer

KEY = b"a0436f6c-1916-498b-8eb9-e81ab9368e84"
KID = "4c7f5c5e-2d7b-4c3e-9a61-0f4c9d1e8b2a"
PORTS = {
    Channel.SHELL: 57503,
    Channel.IOPUB: 40885,
    Channel.STDIN: 52597,
    Channel.CONTROL: 50160,
    Channel.HB: 42540,
}
REG = RegistrationInfo(KID, 45623, key=KEY)


def _hex(key: bytes, *parts: bytes) -> bytes:
    h = hmac.new(key, digestmod=hashlib.sha256)
    for p in parts:
        h.update(p)
    return h.hexdigest().encode()


# xeus-zmq's kernel half: nlohmann::json (sorted keys) dumped compact, ports as strings,
# signed alone, sent from a DEALER after an empty identity list and the delimiter.
XEUS_CONTENT = (
    b'{"control_port":"50160","hb_port":"42540","iopub_port":"40885",'
    b'"kernel_id":"4c7f5c5e-2d7b-4c3e-9a61-0f4c9d1e8b2a","shell_port":"57503",'
    b'"stdin_port":"52597"}'
)
XEUS_REPORT = [b"<IDS|MSG>", _hex(KEY, XEUS_CONTENT), XEUS_CONTENT]
# ark's HandshakeRequest content: serde_json, struct order, integer ports.
ARK_CONTENT = (
    b'{"control_port":50160,"shell_port":57503,"stdin_port":52597,"iopub_port":40885,'
    b'"hb_port":42540}'
)


def _ark_request(key: bytes = KEY) -> list[bytes]:
    header = json.dumps(
        {
            "msg_id": "m1",
            "msg_type": "handshake_request",
            "username": "ark",
            "session": "s1",
            "date": "2025-01-01T00:00:00.000Z",
            "version": "5.3",
        },
        separators=(",", ":"),
    ).encode()
    body = [header, b"{}", b"{}", ARK_CONTENT]
    return [b"<IDS|MSG>", _hex(key, *body), *body]


class TestRegistrationDocument:
    def test_registration_document_xeus_port_is_string(self) -> None:
        """The xeus file carries registration_port as a string, ip and the scheme."""
        doc = kcf_spec.registration_document(REG, "xeus")
        assert doc["registration_port"] == "45623"
        assert doc["ip"] == doc["registration_ip"] == "127.0.0.1"
        assert doc["signature_scheme"] == "hmac-sha256"
        assert doc["kernel_id"] == KID

    def test_registration_document_kallichore_is_ark_struct(self) -> None:
        """The Kallichore file has exactly the fields of ark's RegistrationFile struct."""
        doc = kcf_spec.registration_document(REG, "kallichore")
        assert list(doc) == ["transport", "signature_scheme", "ip", "key", "registration_port"]
        assert doc["registration_port"] == 45623

    def test_registration_document_kallichore_ipc_refused(self) -> None:
        """ark cannot build an ipc endpoint, so a Kallichore ipc file is refused."""
        with pytest.raises(ValueError, match="tcp only"):
            kcf_spec.registration_document(REG.replace(transport="ipc"), "kallichore")

    @pytest.mark.parametrize("dialect", kcf_spec.DIALECTS)
    def test_registration_document_round_trips_through_model(self, dialect: str) -> None:
        """Each dialect's file is valid, is recognised as its dialect, and reads back."""
        doc = kcf_spec.registration_document(REG, dialect)  # type: ignore[arg-type]
        kcf_spec.validate(doc, "registration")
        assert kcf_spec.registration_dialect(doc) == dialect
        back = RegistrationInfo.from_dict(doc)
        assert (back.registration_port, back.key, back.registration_ip) == (45623, KEY, "127.0.0.1")


class TestXeusFixtures:
    def test_build_report_xeus_is_byte_exact(self) -> None:
        """kcf's kernel half in the xeus dialect sends xeus-zmq's frames byte for byte."""
        assert kcf_spec.build_report(REG, PORTS, "xeus") == XEUS_REPORT

    def test_parse_report_xeus_kernel_half(self) -> None:
        """The launcher reads xeus-zmq's report from a DEALER (one routing id)."""
        report = kcf_spec.parse_report([b"peer", *XEUS_REPORT], Signer(KEY), kernel_id=KID)
        assert report.ports == PORTS
        assert report.kernel_id == KID
        assert not report.full_message
        assert report.identities == (b"peer",)

    def test_build_reply_xeus_is_signed_ack(self) -> None:
        """The launcher answers as xeus-zmq's launcher half: [id, delim, hmac(ACK), ACK]."""
        report = kcf_spec.parse_report([b"peer", *XEUS_REPORT], Signer(KEY))
        reply = kcf_spec.build_reply(report, "xeus", Codec(KEY))
        assert reply == [b"peer", b"<IDS|MSG>", _hex(KEY, b"ACK"), b"ACK"]

    def test_build_reply_xeus_empty_key_signs_anyway(self) -> None:
        """With an empty key xeus still checks an HMAC (of the empty key), so kcf sends one."""
        report = kcf_spec.parse_report([b"p", *XEUS_REPORT], Signer(b""))
        reply = kcf_spec.build_reply(report, "xeus", Codec(b""))
        assert reply is not None
        assert reply[2] == _hex(b"", b"ACK")

    def test_xeus_refusal_is_silence(self) -> None:
        """A refused xeus report gets no reply: any signed answer would read as accepted."""
        assert kcf_spec.build_refusal([b"p", *XEUS_REPORT], "xeus", Codec(KEY), "no") is None

    def test_parse_reply_xeus_launcher_half_ack(self) -> None:
        """kcf's kernel half accepts xeus-zmq's launcher half's ACK."""
        answer = kcf_spec.parse_reply([b"<IDS|MSG>", _hex(KEY, b"ACK"), b"ACK"], Signer(KEY))
        assert answer.ok

    def test_parse_report_wrong_kernel_id_is_remote_error(self) -> None:
        """A well-signed report for another kernel is the peer's fault."""
        with pytest.raises(kcf_spec.RemoteProtocolError, match="another kernel"):
            kcf_spec.parse_report([b"p", *XEUS_REPORT], Signer(KEY), kernel_id="other")

    def test_parse_report_forged_signature_refused(self) -> None:
        """A report signed with another key is a SignatureError (ignored by the launcher)."""
        with pytest.raises(kcf_spec.SignatureError):
            kcf_spec.parse_report([b"p", *XEUS_REPORT], Signer(b"other-key"))


class TestKallichoreFixtures:
    def test_build_report_kallichore_content_is_ark_struct(self) -> None:
        """kcf's kernel half sends ark's handshake_request: same content bytes (field
        names, order, integer ports), msg_type, and a signature over the four frames."""
        frames = kcf_spec.build_report(REG, PORTS, "kallichore")
        assert frames[0] == b"<IDS|MSG>"
        assert len(frames) == 6
        assert frames[5] == ARK_CONTENT
        assert json.loads(frames[2])["msg_type"] == "handshake_request"
        assert frames[1] == _hex(KEY, *frames[2:6])
        assert kcf_spec.report_socket_type("kallichore") == "REQ"

    def test_parse_report_ark_from_req(self) -> None:
        """The launcher reads ark's request as a ROUTER sees a REQ peer (id, empty frame)."""
        report = kcf_spec.parse_report([b"peer", b"", *_ark_request()], Signer(KEY), kernel_id=KID)
        assert report.ports == PORTS
        assert report.kernel_id is None
        assert report.full_message
        assert report.identities == (b"peer", b"")

    def test_build_reply_kallichore_shape(self) -> None:
        """The reply is Kallichore's: handshake_reply, parent the request, content bytes
        {"status":"ok","capabilities":{}}, routed back through the REQ's empty frame."""
        report = kcf_spec.parse_report([b"peer", b"", *_ark_request()], Signer(KEY))
        reply = kcf_spec.build_reply(report, "kallichore", Codec(KEY))
        assert reply is not None
        assert reply[:3] == [b"peer", b"", b"<IDS|MSG>"]
        assert reply[7] == b'{"status":"ok","capabilities":{}}'
        assert json.loads(reply[4])["msg_type"] == "handshake_reply"
        assert json.loads(reply[5])["msg_id"] == "m1"
        assert reply[3] != b""
        assert Signer(KEY).verify(reply[3], reply[4:8])

    def test_build_refusal_kallichore_has_error(self) -> None:
        """A refused ark request gets status error with Kallichore's error field."""
        reply = kcf_spec.build_refusal([b"p", b"", *_ark_request()], "kallichore", Codec(KEY), "no")
        assert reply is not None
        assert reply[7] == b'{"status":"error","error":"no","capabilities":{}}'

    def test_parse_reply_kallichore_null_metadata(self) -> None:
        """kcf's kernel half accepts Kallichore's reply, whose metadata frame is null."""
        header = (
            b'{"msg_id":"r","msg_type":"handshake_reply","session":"s","username":"u",'
            b'"date":"d","version":"5.5"}'
        )
        body = [header, b"{}", b"null", b'{"status":"ok","capabilities":{}}']
        answer = kcf_spec.parse_reply([b"<IDS|MSG>", _hex(KEY, *body), *body], Signer(KEY))
        assert answer.ok
        body[3] = b'{"status":"error","error":"bad ports","capabilities":{}}'
        answer = kcf_spec.parse_reply([b"<IDS|MSG>", _hex(KEY, *body), *body], Signer(KEY))
        assert (answer.ok, answer.error) == (False, "bad ports")


class TestJupyterDialect:
    def test_jupyter_round_trip_reply_is_status_json(self) -> None:
        """The documented dialect's report is the same bare shape; kcf answers a signed
        compact status object, and a refusal carries the reason."""
        frames = kcf_spec.build_report(REG, PORTS, "jupyter")
        report = kcf_spec.parse_report([b"p", *frames], Signer(KEY), kernel_id=KID)
        ok = kcf_spec.build_reply(report, "jupyter", Codec(KEY))
        assert ok is not None
        assert ok[3] == b'{"status":"ok"}'
        assert kcf_spec.parse_reply(ok[1:], Signer(KEY)).ok
        no = kcf_spec.build_refusal([b"p", *frames], "jupyter", Codec(KEY), "go away")
        assert no is not None
        assert kcf_spec.parse_reply(no[1:], Signer(KEY)) == (
            False,
            "go away",
            {"status": "error", "error": "go away"},
        )


class TestDialectForKernelspec:
    def test_ipykernel_declaring_5_5_gets_no_registration_file(self) -> None:
        """ipykernel 7.4's kernel.json declares 5.5 but has no handshake: never a file."""
        argv = ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        assert kcf_spec.dialect_for_kernelspec(argv, "python", {"debugger": True}, "5.5") is None
        assert kcf_spec.dialect_for_kernelspec(argv, "python", {}, "5.6") is None
        meta = {"kcf": {"handshake_dialect": "jupyter"}}
        assert kcf_spec.dialect_for_kernelspec(argv, "python", meta, "5.6") is None

    def test_rule_for_known_kernels_and_versions(self) -> None:
        """xeus-python → xeus, ark → kallichore, >= 5.6 → jupyter, 5.5 or none → None,
        explicit kcf metadata wins for other kernels."""
        rule = kcf_spec.dialect_for_kernelspec
        assert rule(["/opt/bin/xpython", "-f", "{connection_file}"]) == "xeus"
        assert rule(["ark", "--connection_file", "{connection_file}"], "R") == "kallichore"
        assert rule(["mykernel", "{connection_file}"], "x", None, "5.6") == "jupyter"
        assert rule(["mykernel", "{connection_file}"], "x", None, "6.0") == "jupyter"
        assert rule(["mykernel", "{connection_file}"], "x", None, "5.5") is None
        assert rule(["mykernel", "{connection_file}"], "x", None, None) is None
        assert rule(["mykernel"], "x", {"kcf": {"handshake_dialect": "xeus"}}) == "xeus"
        assert rule(["xpython"], "python", {"kcf": {"handshake_dialect": None}}) is None
        with pytest.raises(ValueError, match="unknown handshake dialect"):
            rule(["mykernel"], "x", {"kcf": {"handshake_dialect": "zmq"}})

    def test_registration_file_placeholder_means_the_documented_dialect(self) -> None:
        """An argv taking ``{registration_file}`` speaks the handshake: the documented
        dialect, unless the program is known (xeus) or the metadata says otherwise."""
        rule = kcf_spec.dialect_for_kernelspec
        hs = ["python", "-m", "kcf_kernel.examples.pykernel", "--registration"]
        assert rule([*hs, "{registration_file}"]) == "jupyter"
        assert rule(["xpython", "-f", "{registration_file}"]) == "xeus"
        off = {"kcf": {"handshake_dialect": False}}
        assert rule([*hs, "{registration_file}"], "python", off) is None

    def test_choose_dialect_says_why(self) -> None:
        """choose_dialect returns the dialect with the reason the rule matched on."""
        ipk = ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        assert kcf_spec.choose_dialect(ipk, "python", {}, "5.5") == (
            None,
            "ipykernel has no handshake (whatever its kernelspec says)",
        )
        xeus = kcf_spec.choose_dialect(["python3.11", "-m", "xpython_launcher", "-f", "x"])
        assert xeus.dialect == "xeus"
        assert "xeus" in xeus.reason
        old = kcf_spec.choose_dialect(["k", "{connection_file}"], "k", {}, "5.5")
        assert old == (None, "kernel_protocol_version 5.5 < 5.6")
        new = kcf_spec.choose_dialect(["k", "{connection_file}"], "k", {}, "5.6")
        assert new == ("jupyter", "kernel_protocol_version 5.6")


@given(st.lists(st.binary(max_size=40), max_size=8))
def test_parse_report_any_frames_raise_only_wire_errors(frames: list[bytes]) -> None:
    """Whatever arrives on the registration socket, parsing raises only WireError."""
    with contextlib.suppress(kcf_spec.WireError):
        kcf_spec.parse_report(frames, Signer(KEY))
    with contextlib.suppress(kcf_spec.WireError):
        kcf_spec.parse_reply(frames, Signer(KEY))
