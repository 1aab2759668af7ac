"""SIGTERM and SIGHUP as Ctrl-C, for the ``python -m kcf_client.remote`` / ``.slurm`` seams
when they run outside ``kcf`` (whose ``_cli._lifecycle.StopSignals`` does this inside)."""

from __future__ import annotations

import signal
import threading
from types import FrameType

__all__ = ["raise_on_stop_signals"]


def raise_on_stop_signals() -> None:
    """SIGTERM and SIGHUP raise ``KeyboardInterrupt`` (once: the clean-up is not cut short)."""
    fired = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if fired.is_set():
            return
        fired.set()
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
