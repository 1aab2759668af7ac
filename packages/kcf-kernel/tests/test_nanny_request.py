"""NannyRequest: the launch request's content, checked field by field (the ``ip`` field)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kcf_kernel import NannyRequest
from kcf_spec import RemoteProtocolError

_IP_CHARS = frozenset("0123456789abcdefABCDEF:.")
#: Strings that cannot be IP literals: a character no address has, and no ``%scope``.
not_an_ip = st.text(max_size=40).filter(lambda t: "%" not in t and bool(set(t) - _IP_CHARS))


class TestNannyRequestIp:
    def test_nanny_request_ip_defaults_to_loopback(self) -> None:
        """Without ip (an older launcher, or SSH) the kernel binds 127.0.0.1."""
        content = NannyRequest().to_content()
        del content["ip"]
        assert NannyRequest.from_content(content).ip == "127.0.0.1"

    @given(addr=st.ip_addresses())
    def test_nanny_request_ip_round_trips(
        self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address
    ) -> None:
        """Any IPv4 or IPv6 address survives to_content / from_content."""
        request = NannyRequest(ip=str(addr))
        assert NannyRequest.from_content(request.to_content()) == request

    @given(text=not_an_ip)
    def test_nanny_request_ip_not_an_address_refused(self, text: str) -> None:
        """Any string that is not an IP literal (a host name, brackets, junk) is refused,
        naming the field as a JSON pointer and quoting the value."""
        content = {**NannyRequest().to_content(), "ip": text}
        with pytest.raises(RemoteProtocolError, match="/content/ip: expected an IP address") as e:
            NannyRequest.from_content(content)
        assert repr(text) in str(e.value)

    @pytest.mark.parametrize(
        "value", [None, 127001, ["127.0.0.1"], "", "node17", "[::1]", "1.2.3", "127.0.0.256"]
    )
    def test_nanny_request_ip_wrong_type_or_name_refused(self, value: object) -> None:
        """null, a number, a list, "", a host name, a bracketed IPv6 address or a malformed
        IPv4 address is refused."""
        content = {**NannyRequest().to_content(), "ip": value}
        with pytest.raises(RemoteProtocolError, match="/content/ip"):
            NannyRequest.from_content(content)
