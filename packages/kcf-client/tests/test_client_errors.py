"""Only KcfError subclasses escape kcf_client, even when ZeroMQ itself breaks."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kcf_client
import kcf_client.asyncio as kca
import pytest
import zmq
from kcf_spec import Channel, KcfError

pytestmark = pytest.mark.interop

#: Every public blocking entry point that talks, given a connection.
_METHODS: dict[str, Callable[[Any], Any]] = {
    "kernel_info": lambda kc: kc.kernel_info(timeout=2),
    "execute": lambda kc: kc.execute("1", timeout=2),
    "wait_until_ready": lambda kc: kc.wait_until_ready(2),
    "ping": lambda kc: kc.ping(1),
    "is_alive": lambda kc: kc.is_alive(1),
    "shutdown": lambda kc: kc.shutdown(timeout=2),
    "interrupt": lambda kc: kc.interrupt(timeout=2),
    "request": lambda kc: kc.request(Channel.SHELL, "comm_info_request", {}, timeout=2),
    "send": lambda kc: kc.send(Channel.SHELL, "comm_info_request", {}),
    "socket": lambda kc: kc.socket(Channel.HB),
}


def _only_ours(call: Callable[[], Any]) -> None:
    """Run ``call``; anything it raises must be a KcfError."""
    try:
        call()
    except KcfError:
        pass
    except Exception as exc:  # noqa: BLE001 - the point of the test: nothing else escapes
        pytest.fail(f"{type(exc).__module__}.{type(exc).__name__} escaped: {exc}")


class _NoSockets(zmq.Context):  # type: ignore[type-arg]
    def socket(self, *a: Any, **kw: Any) -> Any:
        raise zmq.ZMQError(errno.EMFILE)


class TestZmqBroken:
    @pytest.mark.parametrize("name", sorted(_METHODS))
    def test_errors_context_destroyed_under_blocking_method(
        self, name: str, tiny_kernel: Any, h: Any
    ) -> None:
        """The context is destroyed under an open connection: each method raises ours."""
        info = h.dead_info()
        tiny_kernel(info)
        ctx: zmq.Context[Any] = zmq.Context()
        kc = kcf_client.KernelConnection(info, context=ctx)
        try:
            ctx.destroy(linger=0)
            _only_ours(lambda: _METHODS[name](kc))
        finally:
            _only_ours(kc.close)

    @pytest.mark.parametrize("name", sorted(set(_METHODS) - {"socket"}))
    def test_errors_context_destroyed_under_async_method(
        self, name: str, tiny_kernel: Any, h: Any
    ) -> None:
        """asyncio: the same, awaited."""
        info = h.dead_info()
        tiny_kernel(info)

        async def go() -> None:
            import zmq.asyncio

            ctx = zmq.asyncio.Context()
            kc = kca.KernelConnection(info, context=ctx)
            try:
                ctx.destroy(linger=0)
                try:
                    result = _METHODS[name](kc)
                    if asyncio.iscoroutine(result):
                        await asyncio.wait_for(result, 30)
                except KcfError:
                    pass
            finally:
                await kc.aclose()

        _only_ours(lambda: asyncio.run(go()))

    def test_errors_connect_without_sockets(self, tmp_path: Path, h: Any) -> None:
        """connect with a context that cannot make sockets (EMFILE) raises ChannelError."""
        f = h.write(tmp_path / "kernel-x.json", h.dead_info())
        with pytest.raises(kcf_client.ChannelError, match="create the socket"):
            kcf_client.connect(f, context=_NoSockets())
        with pytest.raises(kcf_client.ChannelError):
            kca.connect(f, context=_NoSockets())  # type: ignore[arg-type]

    def test_errors_connect_terminated_context(self, tmp_path: Path, h: Any) -> None:
        """connect with a terminated context raises ours."""
        f = h.write(tmp_path / "kernel-x.json", h.dead_info())
        ctx: zmq.Context[Any] = zmq.Context()
        ctx.term()
        _only_ours(lambda: kcf_client.connect(f, context=ctx))

    @pytest.mark.parametrize("entry", ["list_kernels", "prune"])
    def test_errors_listing_without_sockets(
        self, entry: str, tmp_path: Path, h: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """list_kernels / prune with ZeroMQ unable to make sockets raise only ours."""
        h.write(tmp_path / "kernel-x.json", h.dead_info())
        monkeypatch.setattr(zmq, "Context", _NoSockets)
        fn = getattr(kcf_client, entry)
        _only_ours(lambda: fn(tmp_path))
