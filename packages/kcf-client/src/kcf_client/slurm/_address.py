"""Which of this machine's addresses the compute nodes can reach: the one that routes to the
Slurm controller."""

from __future__ import annotations

import re
import socket

from ._commands import run_command
from ._errors import SlurmError

__all__ = ["controller_address", "registration_address"]

_HOST = re.compile(r"^SlurmctldHost\[0\]\s*=\s*(\S+)\s*$", re.MULTILINE)


def controller_address(*, timeout: float = 30.0) -> str:
    """The address of the Slurm controller, from ``scontrol show config``.

    ``SlurmctldHost=name(addr)`` gives ``addr``; a bare name is resolved.

    Raises:
        SlurmError: no controller in the configuration, or its name does not resolve.
        SlurmCommandError: ``scontrol`` failed.

    .. versionadded:: 0.2.0
    """
    match = _HOST.search(run_command(["scontrol", "show", "config"], timeout=timeout))
    if match is None:
        raise SlurmError("scontrol show config names no SlurmctldHost")
    name, _, addr = match.group(1).partition("(")
    host = addr.rstrip(")") or name
    try:
        return str(socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)[0][4][0])
    except socket.gaierror as exc:
        raise SlurmError(f"the Slurm controller {host!r} does not resolve: {exc}") from exc


def registration_address(controller: str | None = None, *, timeout: float = 30.0) -> str:
    """This machine's address on the interface that routes to the controller.

    Nothing is sent: a UDP socket is connected (which only picks a route) and asked for its
    own address. On a one-node cluster whose controller is ``127.0.0.1`` this is
    ``127.0.0.1``.

    Args:
        controller: the controller's address (default: :func:`controller_address`).
        timeout: seconds for ``scontrol``.

    .. versionadded:: 0.2.0
    """
    target = controller if controller is not None else controller_address(timeout=timeout)
    family = socket.AF_INET6 if ":" in target else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((target, 9))
        except OSError as exc:
            raise SlurmError(f"no route to the Slurm controller {target}: {exc}") from exc
        return str(probe.getsockname()[0])
