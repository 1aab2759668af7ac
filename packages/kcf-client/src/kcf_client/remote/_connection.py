"""What the remote launcher needs of an SSH connection (both backends provide it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from kcf_kernel._nanny_link import Link
from kcf_spec import Channel

__all__ = ["Connection"]


class Connection(Protocol):
    """One SSH connection running a nanny command, and carrying forwards.

    ``link`` is the command's stdin/stdout. :meth:`forward` adds local forwards to the same
    connection (``127.0.0.1:LOCAL`` on this side to ``host:port`` seen from the server).
    """

    @property
    def link(self) -> Link:
        """The nanny command's stdin/stdout."""

    @property
    def backend(self) -> str:
        """``"openssh"`` or ``"paramiko"``."""

    def forward(
        self,
        local: Mapping[Channel, int],
        remote: Mapping[Channel, tuple[str, int]],
        timeout: float,
    ) -> None:
        """Forward each channel's local port; raise ``PortTaken`` if one is taken."""

    def ended(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` for the connection to end; whether it has."""

    def failure(self, python: str) -> BaseException:
        """Why it ended (mapped by :func:`kcf_client.remote._errors.start_failure`)."""

    def close(self) -> None:
        """End the connection, its command and its forwards (idempotent)."""
