"""The blocking driver is generated from the asyncio one: the two never drift apart."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import kcf_client
import kcf_client.asyncio

_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "unasync.py"


def _unasync() -> object:
    spec = importlib.util.spec_from_file_location("kcf_unasync", _SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestUnasync:
    def test_unasync_blocking_is_generated_from_asyncio(self) -> None:
        """_blocking.py is exactly what scripts/unasync.py makes of asyncio.py."""
        u = _unasync()
        want = u.generate(u.SOURCE.read_text(encoding="utf-8"))  # type: ignore[attr-defined]
        have = u.TARGET.read_text(encoding="utf-8")  # type: ignore[attr-defined]
        assert have == want, "run packages/kcf-client/scripts/unasync.py"

    def test_unasync_same_public_signatures(self) -> None:
        """Each public method has the same parameters in both layers."""
        sync, aio = kcf_client.KernelConnection, kcf_client.asyncio.KernelConnection
        for name in ("kernel_info", "execute", "wait_until_ready", "ping", "request", "send"):
            a = inspect.signature(getattr(sync, name)).parameters
            b = inspect.signature(getattr(aio, name)).parameters
            assert list(a) == list(b), name
