"""The values ``execute`` returns: :class:`ExecuteResult` and :class:`ErrorInfo`.

Kept apart from ``_core`` and loaded on the first ``execute``: they are dataclasses, and
``dataclasses`` (with the ``inspect`` it imports) would otherwise cost every process that only
connects and asks for ``kernel_info`` about 8 ms.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._errors import ExecutionError

if TYPE_CHECKING:
    from kcf_spec import Message

__all__ = ["ErrorInfo", "ExecuteResult"]


@dataclasses.dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An exception reported by the kernel.

    .. versionadded:: 0.1.0
    """

    ename: str
    evalue: str
    traceback: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ExecuteResult:
    """What running code produced: the reply and the iopub output that belongs to it.

    Attributes:
        status: the reply's status: ``"ok"``, ``"error"`` or ``"aborted"``.
        execution_count: the kernel's execution counter, when it gave one.
        stdout: everything written to the ``stdout`` stream, joined.
        stderr: everything written to the ``stderr`` stream, joined.
        result: the ``execute_result`` MIME bundle (``{"text/plain": "2"}``), or ``None``.
        displays: the ``display_data`` MIME bundles, in order.
        error: the exception raised, or ``None``.
        reply: the ``execute_reply`` message.
        outputs: every iopub message for this request, in order of arrival.
        kernel: the kernel's name (its connection file), for errors.

    .. versionadded:: 0.1.0
    """

    status: str
    execution_count: int | None
    stdout: str
    stderr: str
    result: Mapping[str, Any] | None
    displays: tuple[Mapping[str, Any], ...]
    error: ErrorInfo | None
    reply: Message
    outputs: tuple[Message, ...]
    kernel: str = ""

    @property
    def ok(self) -> bool:
        """``True`` when the status is ``"ok"``."""
        return self.status == "ok"

    @property
    def text(self) -> str | None:
        """The ``text/plain`` form of the result, or ``None`` without a result."""
        if self.result is None:
            return None
        value = self.result.get("text/plain")
        return value if isinstance(value, str) else None

    def raise_for_error(self) -> ExecuteResult:
        """Return ``self``, or raise :class:`ExecutionError` when the code failed."""
        if self.status == "ok":
            return self
        err = self.error or ErrorInfo(self.status, "", ())
        raise ExecutionError(
            kernel=self.kernel, ename=err.ename, evalue=err.evalue, traceback=err.traceback
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "status": self.status,
            "execution_count": self.execution_count,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "result": dict(self.result) if self.result is not None else None,
            "displays": [dict(d) for d in self.displays],
            "error": dataclasses.asdict(self.error) if self.error is not None else None,
        }
