"""Interrupting a kernel by message: one ``interrupt_request`` on its control channel.

For kernels whose kernelspec says ``interrupt_mode: "message"`` (and kernels built on xeus,
which die on SIGINT: see :func:`._plan.interrupt_mode_for`). A DEALER and
:class:`kcf_spec.Codec` are all it takes; kcf_kernel needs no client for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import zmq
from kcf_spec import Channel, Codec, ConnectionInfo, WireError

from ._errors import map_zmq_error

__all__ = ["send_interrupt_request"]


def send_interrupt_request(
    info: ConnectionInfo, timeout: float, *, alive: Callable[[], bool]
) -> Mapping[str, Any] | None:
    """Send ``interrupt_request`` on ``info``'s control channel and wait for the reply.

    Args:
        info: the kernel's connection (key, scheme, control endpoint, CURVE key).
        timeout: seconds to wait for ``interrupt_reply``.
        alive: whether the kernel still runs (checked while waiting).

    Returns:
        The reply's content, or ``None`` when the kernel exited before answering (nothing
        is left to interrupt) or no reply came within ``timeout``.

    Raises:
        KernelSocketError: the socket could not be made or used.
    """
    codec = Codec.from_connection(info)
    request = codec.message("interrupt_request")
    deadline = time.monotonic() + timeout
    try:
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    except zmq.ZMQError as exc:
        raise map_zmq_error(exc, "create a context for interrupt_request") from exc
    try:
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        if info.is_ipv6:
            sock.ipv6 = True
        if info.curve_publickey is not None:
            sock.curve_serverkey = info.curve_publickey.encode("ascii")
            sock.curve_publickey, sock.curve_secretkey = zmq.curve_keypair()
        sock.connect(info.connect_url(Channel.CONTROL))
        sock.send_multipart(codec.serialize(request))
        while alive():
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not sock.poll(int(min(left, 0.05) * 1000) + 1):
                continue
            try:
                reply = codec.parse(sock.recv_multipart())
            except WireError:  # not a message for us (a wrong key times out, as here)
                continue
            if reply.parent_msg_id == request.msg_id:
                return reply.content
        return None
    except zmq.ZMQError as exc:
        raise map_zmq_error(exc, "send interrupt_request on the control channel") from exc
    finally:
        ctx.destroy(linger=0)
