"""kcf_client.asyncio: the same names, awaited, against a real ipykernel."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from kcf_client import KernelTimeout
from kcf_client.asyncio import KernelConnection, connect
from kcf_spec import Channel

pytestmark = pytest.mark.interop


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


class TestAsyncKernelConnection:
    def test_async_talks_to_ipykernel(self, ipykernel_file: Path) -> None:
        """wait_until_ready, kernel_info, ping, execute work with asyncio."""

        async def go() -> Any:
            async with connect(ipykernel_file) as kc:
                await kc.wait_until_ready(30)
                info = await kc.kernel_info()
                rtt = await kc.ping(2.0)
                r = await kc.execute("import sys; print('o'); print('e', file=sys.stderr); 2+3")
                return info, rtt, r

        info, rtt, r = run(go())
        assert info["implementation"] == "ipython"
        assert rtt > 0
        assert (r.stdout, r.stderr, r.text) == ("o\n", "e\n", "5")

    def test_async_ping_negative_timeout_does_not_wait_forever(self, h: Any) -> None:
        """ping with a negative timeout to a silent kernel raises KernelTimeout, never hangs."""

        async def go() -> None:
            async with KernelConnection(h.dead_info()) as kc:
                await asyncio.wait_for(kc.ping(-1.0), 10)

        with pytest.raises(KernelTimeout) as err:
            run(go())
        assert err.value.channel is Channel.HB

    def test_async_concurrent_executes_get_their_own_output(self, ipykernel_file: Path) -> None:
        """Two executes awaited together each collect only their own output."""

        async def go() -> Any:
            async with connect(ipykernel_file) as kc:
                return await asyncio.gather(
                    kc.execute("print('first')"), kc.execute("print('second')")
                )

        a, b = run(go())
        assert (a.stdout, b.stdout) == ("first\n", "second\n")

    def test_async_timeout_names_channel(self, tmp_path: Path, h: Any) -> None:
        """No kernel: KernelTimeout naming the file and the shell channel."""
        f = h.write(tmp_path / "kernel-none.json", h.dead_info())

        async def go() -> None:
            async with connect(f) as kc:
                await kc.wait_until_ready(0.3)

        with pytest.raises(KernelTimeout) as err:
            run(go())
        assert err.value.channel is Channel.SHELL
        assert str(f) in str(err.value)

    def test_async_shutdown_stops_kernel(self, tmp_path: Path, h: Any) -> None:
        """shutdown over control ends an ipykernel started by kcf's caller."""
        km = h.start_ipykernel(tmp_path / "kernel-abye.json")
        try:

            async def go() -> Any:
                async with connect(km.connection_file) as kc:
                    await kc.wait_until_ready(60)
                    return await kc.shutdown()

            assert run(go())["status"] == "ok"
            assert km.provisioner.process.wait(timeout=30) is not None
        finally:
            h.stop_ipykernel(km)

    def test_async_connect_close_loop(self, ipykernel_file: Path) -> None:
        """100 async connect/ping/close cycles raise nothing."""

        async def go() -> None:
            for _ in range(100):
                async with connect(ipykernel_file) as kc:
                    await kc.is_alive(0.5)

        run(go())

    def test_async_same_names_as_blocking(self) -> None:
        """The asyncio class offers every public method of the blocking one."""
        import kcf_client

        def names(cls: type) -> set[str]:
            return {n for n in dir(cls) if not n.startswith("_")}

        assert names(kcf_client.KernelConnection) - {"socket"} <= names(KernelConnection)


class TestAsyncNeverBlocksTheLoop:
    def test_async_loop_ticks_during_dead_kernel_diagnosis(
        self, tmp_path: Path, h: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """While a dead kernel is diagnosed (a blocking port probe), other tasks keep running.

        The probe is made to block until a concurrent task has ticked 5 times: were it run
        on the event loop, the ticker could never tick and the probe would give up.
        """
        import threading

        import kcf_client._link_async as link
        from kcf_client import KernelDied

        ticked = threading.Event()
        real = link.ports_closed

        def slow_probe(info: Any) -> bool:
            ticked.wait(30)
            return real(info)

        monkeypatch.setattr(link, "ports_closed", slow_probe)
        f = h.write(tmp_path / "kernel-dead.json", h.dead_info())
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1
                if ticks == 5:
                    ticked.set()

        async def go() -> BaseException:
            t = asyncio.get_running_loop().create_task(ticker())
            try:
                async with connect(f) as kc:
                    try:
                        await kc.kernel_info(timeout=60)
                    except KernelDied as exc:
                        return exc
                    raise AssertionError("no KernelDied")
            finally:
                t.cancel()

        err = run(go())
        assert ticked.is_set()
        assert "refuses connections" in str(err)

    def test_async_plain_client_to_curve_kernel_returns_by_timeout(self, h: Any) -> None:
        """asyncio: a request the CURVE kernel never accepts ends with KernelTimeout."""
        import zmq

        pub, sec = zmq.curve_keypair()
        info = h.dead_info().replace(curve_publickey=pub.decode(), curve_secretkey=sec.decode())
        server = h.TinyKernel(info)

        async def go() -> None:
            plain = info.replace(curve_publickey=None, curve_secretkey=None)
            async with KernelConnection(plain) as kc:
                for _ in range(3):
                    with pytest.raises(KernelTimeout):
                        await kc.kernel_info(timeout=0.5)

        try:
            run(go())
        finally:
            server.close()
