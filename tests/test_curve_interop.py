"""CURVE end to end: a connection file with curve keys, bound by kcf_kernel, reached by
kcf_client (and refused to a client that does not know the kernel's public key)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import kcf_client
import kcf_kernel
import pytest
import zmq
from kcf_spec import Channel, Codec, ConnectionInfo

pytestmark = pytest.mark.interop


def _curve_info() -> ConnectionInfo:
    public, secret = zmq.curve_keypair()
    return ConnectionInfo(
        0,
        0,
        0,
        0,
        0,
        key=kcf_kernel.new_key(),
        curve_publickey=public.decode("ascii"),
        curve_secretkey=secret.decode("ascii"),
    )


@pytest.fixture
def curve_kernel(runtime: Path) -> Iterator[kcf_kernel.KernelSockets]:
    """Five CURVE server sockets bound first, the file written, the heartbeat echoing."""
    if not zmq.has("curve"):
        pytest.fail("this libzmq has no CURVE support")
    path = kcf_kernel.runtime_dir() / "kernel-curve.json"  # creates the runtime dir, 0700
    with (
        kcf_kernel.bind_kernel(_curve_info(), connection_file=path) as ks,
        ks.start_heartbeat(),
    ):
        yield ks


class TestCurve:
    def test_curve_file_round_trips_both_keys(self, curve_kernel: kcf_kernel.KernelSockets) -> None:
        """The written file carries both curve keys and loads back equal."""
        assert curve_kernel.connection_file is not None
        loaded = ConnectionInfo.load(curve_kernel.connection_file)
        assert loaded == curve_kernel.info
        assert loaded.curve_publickey is not None
        assert loaded.curve_secretkey is not None

    def test_curve_client_pings_and_is_answered_on_shell(
        self, curve_kernel: kcf_kernel.KernelSockets
    ) -> None:
        """kcf_client, given the file, pings the heartbeat and gets a shell reply over CURVE."""
        assert curve_kernel.connection_file is not None
        with kcf_client.connect(curve_kernel.connection_file) as kc:
            assert kc.ping(timeout=10) >= 0
            request = kc.send(Channel.SHELL, "kernel_info_request", {})
            assert curve_kernel.shell.poll(10_000)
            codec = Codec.from_connection(curve_kernel.info)
            got = codec.parse(curve_kernel.shell.recv_multipart())
            assert got.msg_id == request.msg_id
            assert got.msg_type == "kernel_info_request"

    def test_curve_client_without_server_key_is_not_answered(
        self, curve_kernel: kcf_kernel.KernelSockets
    ) -> None:
        """A client that does not know the kernel's public key gets no heartbeat answer."""
        plain = curve_kernel.info.replace(curve_publickey=None, curve_secretkey=None)
        with kcf_client.connect(plain) as kc, pytest.raises(kcf_client.KernelTimeout) as err:
            kc.ping(timeout=1)
        assert err.value.channel is Channel.HB
