"""Host address rules: IPv6 test, where a bind-all address connects, brackets in endpoints."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kcf_spec import Channel, ConnectionInfo, connect_host, format_host, is_ipv6_host

ip_addresses = st.ip_addresses().map(str)
host_names = st.from_regex(r"\A[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}\Z")


class TestIsIpv6Host:
    @given(ip_addresses)
    def test_is_ipv6_host_matches_parsed_version(self, ip: str) -> None:
        """Every IPv4 and IPv6 literal is classified as :mod:`ipaddress` parses it."""
        assert is_ipv6_host(ip) == (ipaddress.ip_address(ip).version == 6)

    @pytest.mark.parametrize("host", ["[::1]", "fe80::1%eth0", "::"])
    def test_is_ipv6_host_bracketed_and_scoped(self, host: str) -> None:
        """Bracketed and zone-scoped IPv6 literals count as IPv6."""
        assert is_ipv6_host(host)

    @given(host_names)
    def test_is_ipv6_host_names_are_not(self, name: str) -> None:
        """A host name is never taken for IPv6."""
        assert not is_ipv6_host(name)


class TestConnectHost:
    @pytest.mark.parametrize(
        ("ip", "expected"),
        [
            ("0.0.0.0", "127.0.0.1"),
            ("*", "127.0.0.1"),
            ("", "127.0.0.1"),
            ("::", "::1"),
            ("[::]", "::1"),
        ],
    )
    def test_connect_host_bind_all_is_loopback_of_its_family(self, ip: str, expected: str) -> None:
        """Each bind-all spelling connects to the loopback address of the same family."""
        assert connect_host(ip) == expected

    @given(ip_addresses.filter(lambda ip: not ipaddress.ip_address(ip).is_unspecified))
    def test_connect_host_specific_address_unchanged(self, ip: str) -> None:
        """A specific address is connected to as it is; brackets around IPv6 are removed."""
        assert connect_host(ip) == ip
        if is_ipv6_host(ip):
            assert connect_host(f"[{ip}]") == ip

    @given(host_names)
    def test_connect_host_names_unchanged(self, name: str) -> None:
        """A host name is never resolved or rewritten."""
        assert connect_host(name) == name


class TestFormatHost:
    @given(ip_addresses)
    def test_format_host_brackets_ipv6_once(self, ip: str) -> None:
        """IPv6 literals get one pair of brackets (also when already bracketed), IPv4 none."""
        expected = f"[{ip}]" if ipaddress.ip_address(ip).version == 6 else ip
        assert format_host(ip) == expected
        assert format_host(format_host(ip)) == expected


class TestConnectionInfoUsesThem:
    @pytest.mark.parametrize(
        ("ip", "url"),
        [
            ("0.0.0.0", "tcp://127.0.0.1:5"),
            ("*", "tcp://127.0.0.1:5"),
            ("::", "tcp://[::1]:5"),
            ("::1", "tcp://[::1]:5"),
            ("10.1.2.3", "tcp://10.1.2.3:5"),
        ],
    )
    def test_connect_url_maps_wildcard_and_brackets(self, ip: str, url: str) -> None:
        """``connect_url`` is ``connect_host`` then ``format_host``."""
        info = ConnectionInfo(1, 2, 3, 4, 5, ip=ip)
        assert info.connect_url(Channel.HB) == url
        assert info.is_ipv6 == is_ipv6_host(ip)

    def test_url_keeps_wildcard_for_binding(self) -> None:
        """``url`` (for binding) keeps the bind-all address, in brackets for IPv6."""
        assert ConnectionInfo(1, 2, 3, 4, 5, ip="::").url(Channel.HB) == "tcp://[::]:5"

    def test_ipc_is_never_ipv6_or_mapped(self) -> None:
        """An ipc prefix with a colon is a path: not IPv6, not mapped."""
        info = ConnectionInfo(1, 2, 3, 4, 5, ip="/tmp/a:b", transport="ipc")
        assert not info.is_ipv6
        assert info.connect_url(Channel.HB) == "ipc:///tmp/a:b-5"
