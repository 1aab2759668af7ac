"""Generate the blocking driver ``_blocking.py`` from the asyncio one, ``asyncio.py``.

One source of truth for every public request method: the asyncio layer is written by
hand and the blocking layer is derived from it by fixed, explicit rewrites (as httpcore
does with unasync). Run ``python packages/kcf-client/scripts/unasync.py`` after editing
``asyncio.py``; ``--check`` exits 1 when ``_blocking.py`` is not what it would generate
(a test runs that check).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "kcf_client"
SOURCE = SRC / "asyncio.py"
TARGET = SRC / "_blocking.py"

DOCSTRING = '''"""The blocking API: every call blocks until its answer or its timeout.

GENERATED from ``asyncio.py`` by ``packages/kcf-client/scripts/unasync.py``: do not edit
by hand; edit ``asyncio.py`` and run the script (a test fails when the two drift apart).
The I/O primitives it calls (a poller, non-blocking sends, the port probe) are in
``_link_sync.py``; everything that does not wait is in ``_core.py`` and ``_link.py``.
"""'''

#: Whole lines: the asyncio layer re-exports the result types; the blocking one loads
#: them on the first ``execute`` (``dataclasses`` is costly to import).
LINES = [
    ("import zmq.asyncio\n", ""),
    ("from ._results import ErrorInfo, ExecuteResult\n", ""),
    (
        "    from ._core import Steps\n",
        "    from ._core import Steps\n    from ._results import ExecuteResult\n",
    ),
    (
        '__all__ = ["KernelConnection", "connect", "ExecuteResult", "ErrorInfo"]\n',
        '__all__ = ["KernelConnection", "connect"]\n',
    ),
]

#: Words, in order.
WORDS = [
    (r"\basync def ", "def "),
    (r"\basync with ", "with "),
    (r"\bawait ", ""),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\baclose\b", "close"),
    (r"\bzmq\.asyncio\.Context\(\)", "zmq.Context()"),
    (r"\bzmq\.asyncio\.Context\b", "zmq.Context[Any]"),
    (r"\b_link_async\b", "_link_sync"),
    (r"\bAsyncLink\b", "SyncLink"),
]


def generate(source: str) -> str:
    """The blocking module for the asyncio module ``source``."""
    if not source.startswith('"""'):
        raise ValueError("asyncio.py must start with its docstring")
    end = source.index('"""', 3) + 3
    text = DOCSTRING + source[end:]
    for old, new in LINES:
        if old not in text:
            raise ValueError(f"asyncio.py no longer has the line {old!r}: update unasync.py")
        text = text.replace(old, new)
    for pattern, new in WORDS:
        text = re.sub(pattern, new, text)
    return text


def main(argv: list[str]) -> int:
    want = generate(SOURCE.read_text(encoding="utf-8"))
    if "--check" in argv:
        have = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if have != want:
            sys.stderr.write(f"{TARGET} is out of date: run {Path(__file__).name}\n")
            return 1
        return 0
    TARGET.write_text(want, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
