"""The nanny binds the kernel on the address its launcher asks for (``NannyRequest.ip``).

A real ``python -m kcf_kernel.nanny`` process, its link a socket pair, starts real kernels
(ipykernel, and kcf's example kernel bind-first and by the JEP 66 handshake) on
``127.0.0.2``: Linux routes all of 127.0.0.0/8 to the loopback, so this stands for a
node's own address other than 127.0.0.1 without leaving the machine.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import kcf_client
import pytest
from kcf_kernel import NannyRequest, SocketLink
from kcf_kernel._listen import listening_ports
from kcf_kernel._nanny_link import recv_message, send_hello, send_message
from kcf_spec import Codec, ConnectionInfo, Message

_KEY = b"nanny-address-test-key"
_PYKERNEL = [sys.executable, "-m", "kcf_kernel.examples.pykernel"]
KERNELS = {
    "ipykernel": (None, "auto"),
    "pykernel": ([*_PYKERNEL, "-f", "{connection_file}"], "kernel"),
    "pykernel-handshake": ([*_PYKERNEL, "--registration", "{registration_file}"], "handshake"),
}


@contextmanager
def _nanny() -> Iterator[tuple[SocketLink, subprocess.Popen[bytes]]]:
    """A nanny process whose stdin/stdout is one end of a socket pair; the other end is the
    launcher's link. The nanny is gone when the block ends."""
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen([sys.executable, "-m", "kcf_kernel.nanny"], stdin=theirs, stdout=theirs)
    theirs.close()
    link = SocketLink(ours)
    try:
        send_hello(link, _KEY)
        yield link, proc
    finally:
        link.close()  # a nanny still serving ends its kernel after the grace (0 here)
        try:
            proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)


def _launch(link: SocketLink, request: NannyRequest) -> Message:
    codec = Codec(_KEY)
    send_message(link, codec, "nanny_launch_request", request.to_content())
    reply = recv_message(link, codec)
    assert reply.header.msg_type == "nanny_launch_reply"
    return reply


class TestNannyAddress:
    @pytest.mark.parametrize("kind", sorted(KERNELS))
    def test_nanny_kernel_listens_on_requested_ip(self, kind: str, runtime: Path) -> None:
        """The kernel listens on the requested address only (not on every interface), the
        reply's connection names it, and a client reaches the kernel there."""
        argv, strategy = KERNELS[kind]
        request = NannyRequest(
            argv=tuple(argv) if argv else None,
            strategy=strategy,  # type: ignore[arg-type]
            ip="127.0.0.2",
            grace=0,
            timeout=60,
        )
        with _nanny() as (link, proc):
            reply = _launch(link, request)
            assert reply.content["status"] == "ok", reply.content
            info = ConnectionInfo.from_dict(reply.content["connection"], profile="connect")
            assert info.ip == "127.0.0.2"
            ports = set(info.ports.values())
            assert listening_ports("127.0.0.2", ports) == ports
            assert listening_ports("127.0.0.3", ports) == set()  # bound to no wildcard
            with kcf_client.connect(info) as conn:
                assert conn.wait_until_ready(timeout=60)
                assert conn.execute("6 * 7", timeout=60).result == {"text/plain": "42"}
            send_message(link, Codec(_KEY), "nanny_shutdown_request", {})
            assert recv_message(link, Codec(_KEY)).content == {"status": "ok"}
            assert proc.wait(60) == 0

    def test_nanny_unusable_ip_refused_with_reason(self, runtime: Path) -> None:
        """An address the host does not own: error reply bad_address naming the address,
        no kernel started, the nanny exits 2."""
        addr = "203.0.113.77"  # TEST-NET-3: documentation only
        with socket.socket() as probe:
            try:
                probe.bind((addr, 0))
            except OSError:
                pass
            else:
                pytest.skip(f"{addr} is an address of this machine")
        with _nanny() as (link, proc):
            reply = _launch(link, NannyRequest(ip=addr, timeout=60))
            assert reply.content["status"] == "error"
            assert reply.content["error"] == "bad_address"
            assert f"cannot bind {addr}" in reply.content["message"]
            assert proc.wait(60) == 2
        assert not list(runtime.glob("kernel-*.json"))
