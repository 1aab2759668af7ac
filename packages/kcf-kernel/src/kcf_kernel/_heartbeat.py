"""A ready-made echo heartbeat that runs in libzmq, outside the GIL-bound Python loop."""

from __future__ import annotations

import contextlib
import secrets
import threading
from types import TracebackType

import zmq

from ._errors import map_zmq_error

__all__ = ["Heartbeat"]


class Heartbeat:
    """Echo every message received on the heartbeat socket back to its sender.

    The echo is a ``zmq.proxy_steerable`` from the socket to itself, running in a daemon
    thread: pyzmq releases the GIL for the whole proxy, so a busy Python kernel still answers
    heartbeats. :meth:`stop` sends ``TERMINATE`` on an inproc control socket and joins the
    thread; the heartbeat socket is then usable (and closable) by its owner again.

    Args:
        socket: the bound heartbeat socket (``REP`` or ``ROUTER``). While the heartbeat runs
            the socket belongs to its thread: do not use it elsewhere.

    Example:
        >>> with Heartbeat(sockets.hb):   # doctest: +SKIP
        ...     serve_forever()

    .. versionadded:: 0.1.0
    """

    def __init__(self, socket: zmq.Socket[bytes]) -> None:
        self._socket = socket
        self._context: zmq.Context[zmq.Socket[bytes]] = socket.context
        self._thread: threading.Thread | None = None
        self._control: zmq.Socket[bytes] | None = None

    @property
    def running(self) -> bool:
        """``True`` between :meth:`start` and :meth:`stop`."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Heartbeat:
        """Start echoing (idempotent). Returns ``self``.

        Raises:
            KernelSocketError: the control sockets cannot be made (context terminated...).
        """
        if self._thread is not None:
            return self
        endpoint = f"inproc://kcf-heartbeat-{secrets.token_hex(8)}"
        control: zmq.Socket[bytes] | None = None
        try:
            control = self._context.socket(zmq.PAIR)
            control.linger = 0
            control.bind(endpoint)
            receiver: zmq.Socket[bytes] = self._context.socket(zmq.PAIR)
            receiver.linger = 0
            receiver.connect(endpoint)
        except zmq.ZMQError as exc:
            if control is not None:
                control.close(linger=0)
            raise map_zmq_error(exc, "start the heartbeat") from exc
        self._control = control
        self._thread = threading.Thread(
            target=self._run, args=(receiver,), name="kcf-heartbeat", daemon=True
        )
        self._thread.start()
        return self

    def _run(self, control: zmq.Socket[bytes]) -> None:
        try:
            zmq.proxy_steerable(self._socket, self._socket, None, control)
        except zmq.ZMQError:  # the context was terminated, or the socket closed under us:
            pass  # either way the echo is over, which is what its owner asked for
        finally:
            control.close(linger=0)

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop echoing and join the thread (idempotent)."""
        thread, control = self._thread, self._control
        self._thread = self._control = None
        if thread is None or control is None:
            return
        if thread.is_alive():
            # A terminated context has already ended the proxy.
            with contextlib.suppress(zmq.ZMQError):
                control.send(b"TERMINATE")
            thread.join(timeout)
        control.close(linger=0)

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
