"""Removing a kernel's files when it is told to stop by a signal."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType

__all__ = ["cleanup_on_signals"]

_DEFAULT_SIGNALS = tuple(
    s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None
)


def cleanup_on_signals(
    cleanup: Callable[[], object],
    signals: Iterable[int] = _DEFAULT_SIGNALS,
) -> None:
    """On SIGTERM (and SIGHUP), run ``cleanup`` then die of the same signal.

    ipykernel leaves its connection file behind when it is terminated; a kernel that calls
    this (with :meth:`KernelSockets.remove_files`, say) does not. After ``cleanup`` the
    default action is restored and the signal raised again, so the exit status is the
    conventional one (killed by SIGTERM: ``-15`` for :mod:`subprocess`). An exception in
    ``cleanup`` does not stop the exit. A signal that is ignored when this is called (SIGHUP
    under ``nohup``) stays ignored.

    Must be called from the main thread (a rule of :func:`signal.signal`).

    Args:
        cleanup: removes the files; should be quick and must not block.
        signals: the signals to handle.

    Raises:
        ValueError: not called from the main thread.

    .. versionadded:: 0.1.0
    """
    if threading.current_thread() is not threading.main_thread():
        raise ValueError("cleanup_on_signals must be called from the main thread")

    def handler(signum: int, frame: FrameType | None) -> None:
        try:
            cleanup()
        finally:  # even if cleanup() raised: the default action ends us right here
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    for sig in signals:
        if signal.getsignal(sig) is signal.SIG_IGN:  # nohup, or the parent said so: keep it
            continue
        signal.signal(sig, handler)
