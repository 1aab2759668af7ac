"""xeus-python (PyPI), a kernel that ships JEP 66 in the xeus dialect, launched by kcf's
handshake and driven by kcf_client: kernel_info, execute with output, interrupt, shutdown,
and nothing left behind."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from pathlib import Path

import kcf_client
import kcf_kernel
import pytest
import zmq
from kcf_spec import Channel, Codec, dialect_for_kernelspec
from realparts import missing_real_part

XPYTHON_ARGV = [sys.executable, "-m", "xpython_launcher", "-f", "{connection_file}"]


@pytest.fixture
def xpython() -> list[str]:
    """The argv of xeus-python's kernelspec, or fail (CI) / skip when it is not installed."""
    if importlib.util.find_spec("xpython_launcher") is None:
        missing_real_part("xeus-python is not installed (pip install xeus-python)")
    return list(XPYTHON_ARGV)


@pytest.fixture
def xpython_spec(xpython: list[str]) -> kcf_kernel.KernelSpec:
    """xeus-python's own installed kernelspec (``xpython``)."""
    try:
        return kcf_kernel.get_kernel_spec("xpython")
    except kcf_kernel.NoSuchKernelSpec:
        missing_real_part("xeus-python's kernelspec 'xpython' is not installed")


def _wait_for(predicate: object, deadline: float) -> bool:
    assert callable(predicate)
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return True
        threading.Event().wait(0.02)
    return bool(predicate())


class TestXeusPython:
    def test_xeus_python_kernelspec_rule_is_xeus(self, xpython: list[str]) -> None:
        """The dialect rule picks "xeus" from xeus-python's own kernelspec, which declares
        no protocol version."""
        assert dialect_for_kernelspec(xpython, "python", {"debugger": True}, None) == "xeus"

    def test_xeus_python_handshake_info_execute_interrupt_shutdown(
        self, xpython: list[str], runtime: Path
    ) -> None:
        """Launched through the xeus handshake, xeus-python answers kernel_info, runs code
        with output, answers interrupt_request while busy, shuts down, and every file is
        removed."""
        kp = kcf_kernel.launch_handshake(xpython, handshake_dialect="xeus", timeout=60)
        try:
            assert sorted(p.name for p in runtime.iterdir()) == [kp.connection_file.name]
            with kcf_client.connect(kp.connection_file) as kc:
                info = kc.wait_until_ready(timeout=60)
                assert info["implementation"] == "xeus-python"
                out = kc.execute("print('hello from xeus'); 6 * 7", timeout=60)
                assert out.status == "ok"
                assert out.stdout == "hello from xeus\n"
                assert out.result is not None
                assert out.result["text/plain"] == "42"

                busy = runtime / "busy"
                code = (
                    "import pathlib, time\n"
                    f"p = pathlib.Path({str(busy)!r})\n"
                    "p.write_text('x')\n"
                    "while p.exists():\n    time.sleep(0.01)\n"
                )
                results: list[kcf_client.ExecuteResult] = []
                runner = threading.Thread(
                    target=lambda: results.append(kc.execute(code, timeout=120))
                )
                runner.start()
                try:
                    assert _wait_for(busy.exists, 60), "the cell never started"
                    # interrupt_request over control, on a connection of its own (zmq
                    # sockets belong to one thread), while the shell is busy
                    with kcf_client.connect(kp.connection_file) as control:
                        assert control.interrupt(timeout=30)["status"] == "ok"
                finally:
                    busy.unlink(missing_ok=True)  # ends the cell
                    runner.join(120)
                assert not runner.is_alive()
                assert results
                assert results[0].status in ("ok", "error")
                assert kc.execute("1 + 1", timeout=60).result == {"text/plain": "2"}

                assert kc.shutdown(timeout=30)["status"] == "ok"
            assert kp.wait(timeout=60) == 0
        finally:
            kp.close()
        assert list(runtime.iterdir()) == []

    def test_xeus_python_documented_dialect_fails_clearly(
        self, xpython: list[str], runtime: Path
    ) -> None:
        """Handed the documented file (integer registration_port), xeus-python exits; the
        error names the dialect, the exit status and xeus's own complaint."""
        with pytest.raises(kcf_kernel.HandshakeError) as err:
            kcf_kernel.launch_handshake(xpython, handshake_dialect="jupyter", timeout=60)
        assert err.value.dialect == "jupyter"
        assert err.value.returncode not in (None, 0)
        assert "type must be string" in err.value.stderr_tail
        assert list(runtime.iterdir()) == []


def _progress(path: Path) -> int:
    try:
        return int(path.read_text() or -1)
    except (FileNotFoundError, ValueError):
        return -1


class TestXeusPythonByName:
    def test_launch_kernel_by_name_picks_handshake_and_xeus(
        self, xpython_spec: kcf_kernel.KernelSpec, runtime: Path
    ) -> None:
        """``launch_kernel("xpython")`` (and its argv alone) handshakes in the xeus dialect
        with no other argument; kcf_client then runs code with output, and iopub's first
        message (xeus's iopub_welcome, parent_header and metadata JSON null) parses."""
        choice = kcf_kernel.choose_port_strategy(xpython_spec)
        assert (choice.strategy, choice.handshake_dialect) == ("handshake", "xeus")
        kp = kcf_kernel.launch_kernel("xpython", timeout=60)
        try:
            assert (kp.strategy, kp.handshake_dialect, kp.interrupt_mode) == (
                "handshake",
                "xeus",
                "message",
            )
            ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
            try:
                sub = ctx.socket(zmq.SUB)
                sub.linger = 0
                sub.setsockopt(zmq.SUBSCRIBE, b"")
                sub.connect(kp.info.connect_url(Channel.IOPUB))
                assert sub.poll(60_000), "no iopub_welcome from xeus-python"
                welcome = Codec.from_connection(kp.info).parse(sub.recv_multipart())
                assert welcome.msg_type == "iopub_welcome"
                assert (welcome.parent_header, welcome.metadata) == ({}, {})
            finally:
                ctx.destroy(linger=0)
            with kcf_client.connect(kp.connection_file) as kc:
                assert kc.wait_until_ready(timeout=60)["implementation"] == "xeus-python"
                out = kc.execute("print('by name'); 6 * 7", timeout=60)
                assert (out.status, out.stdout, out.result) == (
                    "ok",
                    "by name\n",
                    {"text/plain": "42"},
                )
        finally:
            kp.close()
        assert list(runtime.iterdir()) == []

    def test_launch_kernel_argv_picks_xeus_too(self, xpython: list[str], runtime: Path) -> None:
        """An argv list with ``ports=None`` gets the same choice as the kernelspec."""
        kp = kcf_kernel.launch_kernel(xpython, timeout=60)
        try:
            assert (kp.strategy, kp.handshake_dialect) == ("handshake", "xeus")
            with kcf_client.connect(kp.connection_file) as kc:
                assert kc.wait_until_ready(timeout=60)["status"] == "ok"
        finally:
            kp.close()

    def test_interrupt_keeps_xeus_python_alive_and_cannot_stop_the_cell(
        self, xpython_spec: kcf_kernel.KernelSpec, runtime: Path
    ) -> None:
        """xeus-python 0.19 cannot interrupt a running cell: kcf interrupts it by message
        (its kernelspec declares no interrupt_mode), xeus answers interrupt_reply, the cell
        sleeping 60 s goes on running (xeus's interrupt_request is a no-op,
        jupyter-xeus/xeus#262) and the kernel stays alive to run more code."""
        kp = kcf_kernel.launch_kernel(xpython_spec, timeout=60)
        try:
            assert kp.interrupt_mode == "message"
            progress, stop = runtime / "progress", runtime / "stop"
            code = (
                "import pathlib, time\n"
                f"p, stop = pathlib.Path({str(progress)!r}), pathlib.Path({str(stop)!r})\n"
                "for i in range(1200):  # time.sleep(60) in steps that report progress\n"
                "    p.write_text(str(i))\n"
                "    if stop.exists():\n        break\n"
                "    time.sleep(0.05)\n"
            )
            with kcf_client.connect(kp.connection_file) as kc:
                kc.wait_until_ready(timeout=60)
                results: list[kcf_client.ExecuteResult] = []
                runner = threading.Thread(
                    target=lambda: results.append(kc.execute(code, timeout=180))
                )
                runner.start()
                try:
                    assert _wait_for(lambda: _progress(progress) >= 0, 60), "no cell ran"
                    kp.interrupt(timeout=30)  # raises InterruptTimeout without a reply
                    after = _progress(progress)
                    assert kp.is_alive()
                    # the cell runs on after the interrupt was answered: not interrupted
                    assert _wait_for(lambda: _progress(progress) >= after + 5, 60)
                finally:
                    stop.touch()
                    runner.join(180)
                assert results
                assert results[0].status == "ok"  # it ended because we asked it to
                assert kc.execute("1 + 1", timeout=60).result == {"text/plain": "2"}
        finally:
            kp.close()

    def test_sigint_kills_xeus_python_which_is_why_kcf_sends_a_message(
        self, xpython_spec: kcf_kernel.KernelSpec, runtime: Path
    ) -> None:
        """What jupyter_client does for a kernelspec without interrupt_mode, SIGINT, ends
        xeus-python 0.19 (jupyter-xeus/xeus#272). If this starts failing, xeus handles
        SIGINT now and kcf's choice in interrupt_mode_for should be revisited."""
        kp = kcf_kernel.launch_kernel(xpython_spec, interrupt_mode="signal", timeout=60)
        try:
            with kcf_client.connect(kp.connection_file) as kc:
                kc.wait_until_ready(timeout=60)
            kp.interrupt()
            kp.wait(timeout=60)  # KernelWaitTimeout if it survived
            assert not kp.is_alive()
        finally:
            kp.close()
