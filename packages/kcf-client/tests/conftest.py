"""Fixtures for kcf-client tests: real ipykernels, a private runtime dir, a tiny zmq kernel."""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from kcf_spec import Channel, Codec, ConnectionInfo, WireError, is_ipv6_host


@pytest.fixture
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, empty Jupyter runtime dir for the test (JUPYTER_RUNTIME_DIR)."""
    d = tmp_path / "runtime"
    d.mkdir(mode=0o700)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(d))
    return d


def start_ipykernel(connection_file: Path, **kw: Any) -> Any:
    """Start a real ipykernel with jupyter_client's KernelManager, writing ``connection_file``."""
    from jupyter_client import KernelManager

    km = KernelManager(connection_file=str(connection_file), **kw)
    km.start_kernel(stdout=open(os.devnull, "w"), stderr=open(os.devnull, "w"))  # noqa: SIM115
    return km


def stop_ipykernel(km: Any) -> None:
    """Stop a kernel started by :func:`start_ipykernel`, whatever state it is in."""
    try:
        if km.is_alive():
            km.shutdown_kernel(now=True)
    finally:
        km.cleanup_resources()


@pytest.fixture(scope="module")
def ipykernel_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One ipykernel started by jupyter_client for the module; yields its connection file."""
    d = tmp_path_factory.mktemp("ipk")
    km = start_ipykernel(d / "kernel-ipk.json")
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    kc.stop_channels()
    yield Path(km.connection_file)
    stop_ipykernel(km)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on at the moment (for files of dead kernels)."""
    fam = socket.AF_INET6 if is_ipv6_host(host) else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def dead_info(**kw: Any) -> ConnectionInfo:
    """A connection info whose five ports nobody listens on (five distinct ports)."""
    host = kw.get("ip", "127.0.0.1")
    fam = socket.AF_INET6 if is_ipv6_host(host) else socket.AF_INET
    held = [socket.socket(fam, socket.SOCK_STREAM) for _ in Channel]
    try:
        for s in held:
            s.bind((host, 0))
        ports = {c: int(s.getsockname()[1]) for c, s in zip(Channel, held, strict=True)}
    finally:
        for s in held:
            s.close()
    return ConnectionInfo.from_ports(ports, key=secrets.token_hex(16).encode(), **kw)


def write(path: Path, info: ConnectionInfo) -> Path:
    """Write ``info`` to ``path`` (0600)."""
    path.write_text(info.dumps())
    path.chmod(0o600)
    return path


class TinyKernel:
    """A minimal real ZeroMQ kernel: heartbeat echo, kernel_info and shutdown replies.

    Binds where ``info`` says (tcp IPv4/IPv6 or ipc), with CURVE when ``info`` has keys.
    Used where ipykernel cannot go (IPv6, CURVE servers).
    """

    def __init__(self, info: ConnectionInfo) -> None:
        self.info = info
        self.codec = Codec.from_connection(info)
        self.ctx = zmq.Context()
        self.socks: dict[Channel, zmq.Socket[bytes]] = {}
        try:
            self._bind()
        except BaseException:
            for s in self.socks.values():
                s.close(0)
            self.ctx.term()
            raise
        self.requests: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _bind(self) -> None:
        info = self.info
        kinds = {
            Channel.SHELL: zmq.ROUTER,
            Channel.CONTROL: zmq.ROUTER,
            Channel.STDIN: zmq.ROUTER,
            Channel.IOPUB: zmq.PUB,
            Channel.HB: zmq.REP,
        }
        for ch, kind in kinds.items():
            s = self.ctx.socket(kind)
            s.linger = 0
            if info.is_ipv6:
                s.ipv6 = True
            if info.curve_secretkey is not None:
                s.curve_server = True
                s.curve_secretkey = info.curve_secretkey.encode()
                s.curve_publickey = (info.curve_publickey or "").encode()
            self.socks[ch] = s
            s.bind(info.url(ch))

    def _serve(self) -> None:
        poller = zmq.Poller()
        for ch in (Channel.SHELL, Channel.CONTROL, Channel.HB):
            poller.register(self.socks[ch], zmq.POLLIN)
        by = {s: ch for ch, s in self.socks.items()}
        while not self._stop.is_set():
            for s, _ in poller.poll(50):
                frames = s.recv_multipart()
                ch = by[s]
                if ch is Channel.HB:
                    s.send_multipart(frames)
                    continue
                try:
                    msg = self.codec.parse(frames)
                except WireError:
                    continue
                self.requests.append(msg.msg_type)
                rtype = msg.msg_type.replace("_request", "_reply")
                content: dict[str, Any] = {"status": "ok"}
                if msg.msg_type == "kernel_info_request":
                    content.update(implementation="tiny", protocol_version="5.3")
                reply = self.codec.message(rtype, content, parent=msg, identities=msg.identities)
                s.send_multipart(self.codec.serialize(reply))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for s in self.socks.values():
            s.close(0)
        self.ctx.term()


@pytest.fixture
def tiny_kernel() -> Iterator[Any]:
    """A factory for :class:`TinyKernel` servers, all closed after the test."""
    made: list[TinyKernel] = []

    def make(info: ConnectionInfo) -> TinyKernel:
        k = TinyKernel(info)
        made.append(k)
        return k

    yield make
    for k in made:
        k.close()


def python() -> str:
    """The interpreter running the tests."""
    return sys.executable


def dump(path: Path, data: object) -> Path:
    """Write arbitrary JSON to ``path``."""
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="session")
def h() -> Any:
    """The helpers of this conftest (test modules cannot import it by name)."""
    return sys.modules[__name__]
