"""Fixtures of the kcf-kernel tests (``runtime`` and ``kernels`` come from the root conftest)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


def _listing(path: Path) -> list[str]:
    if not path.exists():
        return []
    return sorted(
        os.path.relpath(os.path.join(d, n), path) for d, ds, fs in os.walk(path) for n in ds + fs
    )


@pytest.fixture
def listing() -> Callable[[Path], list[str]]:
    """Every entry under a path, relative and sorted (for "nothing left behind" checks)."""
    return _listing


def _request(info: object, msg_type: str, content: dict[str, object], timeout: float = 30.0) -> Any:
    """Send one shell request to a kernel with kcf_spec's Codec and return the reply."""
    import zmq
    from kcf_spec import Channel, Codec, ConnectionInfo

    assert isinstance(info, ConnectionInfo)
    codec = Codec.from_connection(info)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    dealer = ctx.socket(zmq.DEALER)
    dealer.linger = 0
    if info.is_ipv6:
        dealer.ipv6 = True
    try:
        dealer.connect(info.connect_url(Channel.SHELL))
        request = codec.message(msg_type, content)
        deadline = time.monotonic() + timeout
        dealer.send_multipart(codec.serialize(request))
        while time.monotonic() < deadline:
            if dealer.poll(100):
                reply = codec.parse(dealer.recv_multipart())
                if reply.parent_header.get("msg_id") == request.header.msg_id:
                    return reply
        raise TimeoutError(f"no {msg_type} reply from {info!r}")
    finally:
        dealer.close()


@pytest.fixture
def request_kernel() -> Callable[..., Any]:
    """``request_kernel(info, msg_type, content)``: one shell round trip, the reply Message."""
    return _request


@pytest.fixture
def short_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A runtime dir with a short path (ipc socket paths must fit in ``sun_path``)."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="kcf-", dir="/tmp"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)
