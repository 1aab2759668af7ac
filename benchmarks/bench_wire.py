"""Wire format throughput: kcf_spec ``serialize`` + ``parse`` vs jupyter_client's ``Session``.

Two cases per message shape, both sides doing the same job on the same content:

* **fresh**: build a new message, serialize it, parse the frames (replay guards on, as a
  kernel or client runs them). Theirs: ``Session.msg`` + ``serialize`` +
  ``deserialize(feed_identities(...))``.
* **fixed**: serialize and parse one prebuilt message over and over (replay guards off on
  both sides, since the same signature comes back each time).

The **floor** of each fixed case is the work no implementation can skip: the JSON encodes of
header, parent header, metadata and content, the HMAC-SHA256 sign, then the verify
(HMAC again + constant-time compare) and the four JSON decodes, done by hand.

Figures are messages per second (median and min-max of interleaved runs); higher is better.
Targets: at least 2x jupyter_client's throughput; within 1.15x of the floor.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kcf_spec
from _harness import QUICK, Case, Figure, interleaved, main, measure
from jupyter_client.session import Session

KEY = b"4f2b8a8e-3f1c-4b7e-9d0a-5c6e7f8a9b0c"
SCHEME = "hmac-sha256"
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


def _rate(fn: Callable[[], object], budget: float = 0.02 if QUICK else 0.1) -> Callable[[], float]:
    """A measuring function: messages/s of one timed run of ``fn`` (one message per call)."""
    number = 1
    while True:  # autorange once: enough calls for ~budget seconds
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - t0 >= budget / 4 or number >= 1_000_000:
            break
        number *= 4
    return lambda: 1.0 / measure(fn, number)


def _figure(*fns: Callable[[], object], floor_name: str = "floor") -> Figure:
    """Interleaved runs of ours, theirs (and the floor): noise hits all alike."""
    samples = interleaved([_rate(f) for f in fns], 3 if QUICK else 9)
    floor = samples[2] if len(samples) > 2 else None
    return Figure(samples[0], samples[1], "msg/s", True, floor, floor_name=floor_name)


def _floor(msg: kcf_spec.Message, buffers: list[bytes]) -> Callable[[], object]:
    """HMAC sign + verify and the JSON encodes/decodes of one message, nothing else."""
    header = msg.header.to_dict()
    parent, metadata, content = dict(msg.parent_header), dict(msg.metadata), dict(msg.content)

    def floor() -> object:
        parts = [
            json.dumps(header).encode(),
            json.dumps(parent).encode(),
            json.dumps(metadata).encode(),
            json.dumps(content).encode(),
        ]
        mac = hmac.new(KEY, digestmod=hashlib.sha256)
        for part in parts:
            mac.update(part)
        frames = [*IDENTS, b"<IDS|MSG>", mac.hexdigest().encode(), *parts, *buffers]
        check = hmac.new(KEY, digestmod=hashlib.sha256)
        for part in frames[3:7]:
            check.update(part)
        if not hmac.compare_digest(check.hexdigest().encode(), frames[2]):
            raise AssertionError("bad signature")
        return [json.loads(part) for part in frames[3:7]]

    return floor


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

    return Case(
        f"build+serialize+parse {msg_type}", figure=lambda: _figure(ours, theirs), target=">= 2x"
    )


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

    floor = _floor(ours_msg, buffers)
    return Case(
        f"serialize+parse {name}",
        figure=lambda: _figure(ours, theirs, floor, floor_name="HMAC+JSON floor"),
        target=">= 2x jupyter_client; <= 1.15x the floor",
    )


def CASES() -> list[Case]:  # noqa: N802 - the harness' name
    cases = []
    for name, (msg_type, content, buffers) in SHAPES.items():
        cases.append(_fixed(name, msg_type, content, buffers))
    for msg_type, content, buffers in SHAPES.values():
        cases.append(_fresh(msg_type, content, buffers))
    return cases


if __name__ == "__main__":
    raise SystemExit(main(CASES))
