"""The values ``execute`` returns: :class:`ExecuteResult` and :class:`ErrorInfo`.

Kept apart from ``_core`` and loaded on the first ``execute``: they are dataclasses, and
``dataclasses`` (with the ``inspect`` it imports) would otherwise cost every process that only
connects and asks for ``kernel_info`` about 8 ms.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kcf_spec import Channel

from ._errors import ExecutionError, MalformedReply

if TYPE_CHECKING:
    from kcf_spec import Message

__all__ = ["ErrorInfo", "ExecuteResult", "fold_execute"]


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


_KINDS: dict[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


class _Shape:
    """Reads fields of one message, raising :class:`MalformedReply` on a wrong type."""

    __slots__ = ("channel", "kernel", "msg")

    def __init__(self, msg: Message, channel: Channel, kernel: str) -> None:
        self.msg = msg
        self.channel = channel
        self.kernel = kernel

    def bad(self, key: str, expected: str, value: object) -> MalformedReply:
        return MalformedReply(
            kernel=self.kernel,
            channel=self.channel,
            msg_type=self.msg.msg_type,
            pointer=f"/content/{key}",
            expected=expected,
            got=_KINDS.get(type(value), type(value).__name__),
        )

    def text(self, key: str, default: str = "") -> str:
        value = self.msg.content.get(key, default)
        if not isinstance(value, str):
            raise self.bad(key, "a string", value)
        return value

    def bundle(self, key: str) -> Mapping[str, Any]:
        value = self.msg.content.get(key, {})
        if not isinstance(value, Mapping):
            raise self.bad(key, "an object (a MIME bundle)", value)
        return value

    def lines(self, key: str) -> tuple[str, ...]:
        value = self.msg.content.get(key, ())
        if (
            isinstance(value, str)
            or not isinstance(value, Sequence)
            or not all(isinstance(x, str) for x in value)
        ):
            raise self.bad(key, "an array of strings", value)
        return tuple(value)

    def count(self, key: str) -> int | None:
        value = self.msg.content.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.bad(key, "an integer or null", value)
        return value

    def error(self) -> ErrorInfo:
        return ErrorInfo(self.text("ename"), self.text("evalue"), self.lines("traceback"))


def fold_execute(reply: Message, outputs: Sequence[Message], kernel: str) -> ExecuteResult:
    """Fold an ``execute_reply`` and the iopub messages of its request into a result.

    Raises:
        MalformedReply: a field has the wrong type (the kernel sent garbage).
    """
    out: list[str] = []
    err: list[str] = []
    result: Mapping[str, Any] | None = None
    displays: list[Mapping[str, Any]] = []
    error: ErrorInfo | None = None
    for m in outputs:
        t = m.msg_type
        if t == "stream":
            f = _Shape(m, Channel.IOPUB, kernel)
            (err if f.text("name", "stdout") == "stderr" else out).append(f.text("text"))
        elif t == "execute_result":
            result = _Shape(m, Channel.IOPUB, kernel).bundle("data")
        elif t == "display_data":
            displays.append(_Shape(m, Channel.IOPUB, kernel).bundle("data"))
        elif t == "error":
            error = _Shape(m, Channel.IOPUB, kernel).error()
    r = _Shape(reply, Channel.SHELL, kernel)
    status = r.text("status", "error")
    if error is None and status == "error":
        error = r.error()
    return ExecuteResult(
        status=status,
        execution_count=r.count("execution_count"),
        stdout="".join(out),
        stderr="".join(err),
        result=result,
        displays=tuple(displays),
        error=error,
        reply=reply,
        outputs=tuple(outputs),
        kernel=kernel,
    )
