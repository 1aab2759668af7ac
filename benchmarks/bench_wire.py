"""Wire format throughput: kcf_spec ``serialize`` + ``parse`` vs jupyter_client's ``Session``.

Two cases per message shape, both sides doing the same job on the same content:

* **fresh**: build a new message, serialize it, parse the frames (replay guards on, as a
  kernel or client runs them). Theirs: ``Session.msg`` + ``serialize`` +
  ``deserialize(feed_identities(...))``.
* **fixed**: serialize and parse one prebuilt message over and over (replay guards off on
  both sides, since the same signature comes back each time).

Figures are messages per second (best of several interleaved runs); higher is better.
Target: at least 2x jupyter_client's throughput.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kcf_spec
from _harness import Case, measure
from jupyter_client.session import Session

KEY = b"4f2b8a8e-3f1c-4b7e-9d0a-5c6e7f8a9b0c"
SCHEME = "hmac-sha256"
QUICK = "--quick" in sys.argv  # a smoke run: figures not to be quoted
IDENTS = [b"\x00k\x8bEg"]

SHAPES: dict[str, tuple[str, dict[str, object], list[bytes]]] = {
    "kernel_info_request (empty content)": ("kernel_info_request", {}, []),
    "execute_request (code, unicode)": (
        "execute_request",
        {
            "code": "import numpy as np\nx = np.linspace(0, 1, 100)  # données, λ\nprint(x.sum())\n"
            * 4,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": True,
            "stop_on_error": True,
        },
        [],
    ),
    "comm_msg with 2 x 64 KiB buffers": (
        "comm_msg",
        {"comm_id": "a3f1c2d4e5b6", "data": {"method": "update", "state": {"value": 1.5}}},
        [bytes(range(256)) * 256, b"\x01" * 65536],
    ),
}


def _rate(
    fn: Callable[[], object], runs: int = 5, budget: float = 0.02 if QUICK else 0.2
) -> Callable[[], float]:
    """Best messages/s of ``runs`` timed runs of ``fn`` (one message per call)."""

    def best() -> float:
        number = 1
        while True:  # autorange: enough calls for ~budget seconds
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            if time.perf_counter() - t0 >= budget / 4 or number >= 1_000_000:
                break
            number *= 4
        return 1.0 / min(measure(fn, number) for _ in range(runs))

    return best


def _pair(ours: Callable[[], object], theirs: Callable[[], object]) -> tuple[float, float]:
    # Interleaved: noise hits both alike; best of each.
    o = t = 0.0
    for _ in range(1 if QUICK else 3):
        o = max(o, _rate(ours, runs=2)())
        t = max(t, _rate(theirs, runs=2)())
    return o, t


def _fresh(msg_type: str, content: dict[str, object], buffers: list[bytes]) -> Case:
    codec = kcf_spec.Codec(KEY, SCHEME)
    session = Session(key=KEY, signature_scheme=SCHEME)
    parent = codec.message("execute_request")

    def ours() -> object:
        msg = codec.message(msg_type, content, parent=parent, buffers=buffers, identities=IDENTS)
        return codec.parse(codec.serialize(msg))

    def theirs() -> object:
        msg = session.msg(msg_type, content, parent=parent.header.to_dict())
        msg["buffers"] = buffers
        frames = session.serialize(msg, ident=IDENTS) + buffers
        _idents, rest = session.feed_identities(frames)
        return session.deserialize(rest)

    def figure() -> tuple[float, float, str, bool]:
        return (*_pair(ours, theirs), "msg/s", True)

    return Case(f"build+serialize+parse {msg_type}", figure=figure, target=">= 2x")


def _fixed(name: str, msg_type: str, content: dict[str, object], buffers: list[bytes]) -> Case:
    codec = kcf_spec.Codec(KEY, SCHEME, check_replay=False)
    session = Session(key=KEY, signature_scheme=SCHEME, digest_history_size=0)
    ours_msg = codec.message(msg_type, content, buffers=buffers, identities=IDENTS)
    their_msg = session.msg(msg_type, content)

    def ours() -> kcf_spec.Message:
        return codec.parse(codec.serialize(ours_msg))

    def theirs() -> dict[str, Any]:
        frames = session.serialize(their_msg, ident=IDENTS) + buffers
        _idents, rest = session.feed_identities(frames)
        return session.deserialize(rest)

    # Both sides must agree on the content, or the comparison means nothing.
    assert theirs()["content"] == ours().content

    def figure() -> tuple[float, float, str, bool]:
        return (*_pair(ours, theirs), "msg/s", True)

    return Case(f"serialize+parse {name}", figure=figure, target=">= 2x")


def CASES() -> list[Case]:  # noqa: N802 - the harness' name
    cases = []
    for name, (msg_type, content, buffers) in SHAPES.items():
        cases.append(_fixed(name, msg_type, content, buffers))
    for msg_type, content, buffers in SHAPES.values():
        cases.append(_fresh(msg_type, content, buffers))
    return cases
