"""The five channels of a kernel, in one canonical order."""

from __future__ import annotations

import enum

__all__ = ["Channel"]


class Channel(str, enum.Enum):
    """A kernel channel.

    Iteration order is the canonical order used everywhere in kcf:
    shell, iopub, stdin, control, hb.

    .. versionadded:: 0.1.0
    """

    SHELL = "shell"
    IOPUB = "iopub"
    STDIN = "stdin"
    CONTROL = "control"
    HB = "hb"

    @property
    def port_key(self) -> str:
        """The connection-file field holding this channel's port (``"shell_port"``...)."""
        return f"{self.value}_port"

    @property
    def ipc_index(self) -> int:
        """The small integer jupyter_client uses as this channel's ipc suffix (shell=1...hb=5)."""
        return _IPC_INDEX[self]

    def __str__(self) -> str:
        return self.value


_IPC_INDEX = {
    Channel.SHELL: 1,
    Channel.IOPUB: 2,
    Channel.STDIN: 3,
    Channel.CONTROL: 4,
    Channel.HB: 5,
}
