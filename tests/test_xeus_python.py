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
from kcf_spec import dialect_for_kernelspec
from realparts import missing_real_part

XPYTHON_ARGV = [sys.executable, "-m", "xpython_launcher", "-f", "{connection_file}"]


@pytest.fixture
def xpython() -> list[str]:
    """The argv of xeus-python's kernelspec, or fail (CI) / skip when it is not installed."""
    if importlib.util.find_spec("xpython_launcher") is None:
        missing_real_part("xeus-python is not installed (pip install xeus-python)")
    return list(XPYTHON_ARGV)


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
