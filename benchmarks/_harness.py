"""A small side-by-side timing harness: ours and jupyter_client's, in one process run.

Each ``bench_*.py`` module in this directory defines ``CASES``: a list of :class:`Case`.
A case gives two zero-argument callables (``ours`` and ``theirs``) doing the same job; the
harness times both the same way (best of ``repeat`` runs of ``number`` calls, interleaved so
that machine noise hits both alike) and prints both figures and their ratio.

``Case.figure`` lets a case report a measured figure other than time (a collision count, a
throughput): it returns ``(ours, theirs, unit, higher_is_better)``.

Run: ``python benchmarks/run.py [NAME-SUBSTRING ...] [--quick]``.
"""

from __future__ import annotations

import dataclasses
import gc
import time
from collections.abc import Callable

__all__ = ["Case", "Result", "measure", "run_case", "format_result"]


@dataclasses.dataclass
class Case:
    """One comparison.

    Attributes:
        name: what is measured, e.g. ``"ConnectionInfo.load vs jupyter_client"``.
        ours: the kcf call (timed), or ``None`` with ``figure`` set.
        theirs: the jupyter_client call doing the same job.
        setup: run once before timing; its return value is ignored.
        teardown: run once after timing.
        number: calls per timed run (``None``: chosen so a run takes ~0.1 s).
        repeat: timed runs; the best is reported.
        figure: for non-time figures, returns ``(ours, theirs, unit, higher_is_better)``.
        target: a human note of the target ratio, printed beside the result.
    """

    name: str
    ours: Callable[[], object] | None = None
    theirs: Callable[[], object] | None = None
    setup: Callable[[], object] | None = None
    teardown: Callable[[], object] | None = None
    number: int | None = None
    repeat: int = 5
    figure: Callable[[], tuple[float, float, str, bool]] | None = None
    target: str = ""


@dataclasses.dataclass
class Result:
    name: str
    ours: float
    theirs: float
    unit: str
    higher_is_better: bool
    target: str

    @property
    def speedup(self) -> float:
        """How many times better ours is (>1 means ours wins)."""
        if self.higher_is_better:
            return self.ours / self.theirs if self.theirs else float("inf")
        return self.theirs / self.ours if self.ours else float("inf")


def _autorange(fn: Callable[[], object], budget: float = 0.1) -> int:
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - t0 >= budget or number >= 1_000_000:
            return number
        number *= 2 if time.perf_counter() - t0 > budget / 10 else 10


def measure(fn: Callable[[], object], number: int) -> float:
    """Seconds per call for one run of ``number`` calls (GC off while timing)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - t0) / number
    finally:
        if enabled:
            gc.enable()


def run_case(case: Case, quick: bool = False) -> Result:
    """Time (or compute) one case and return its result."""
    if case.setup is not None:
        case.setup()
    try:
        if case.figure is not None:
            ours, theirs, unit, higher = case.figure()
            return Result(case.name, ours, theirs, unit, higher, case.target)
        assert case.ours is not None and case.theirs is not None
        number = case.number or max(_autorange(case.ours), _autorange(case.theirs))
        if quick:
            number = max(1, number // 10)
        repeat = 2 if quick else case.repeat
        best_ours = best_theirs = float("inf")
        for _ in range(repeat):  # interleaved: noise hits both alike
            best_ours = min(best_ours, measure(case.ours, number))
            best_theirs = min(best_theirs, measure(case.theirs, number))
        return Result(case.name, best_ours, best_theirs, "s/call", False, case.target)
    finally:
        if case.teardown is not None:
            case.teardown()


def _fmt_seconds(s: float) -> str:
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def format_result(r: Result) -> str:
    """One line: both figures and the ratio (``x faster`` / ``x slower``)."""
    if r.unit == "s/call":
        ours, theirs = _fmt_seconds(r.ours), _fmt_seconds(r.theirs)
    else:
        ours, theirs = f"{r.ours:,.4g} {r.unit}", f"{r.theirs:,.4g} {r.unit}"
    sp = r.speedup
    verdict = f"{sp:.2f}x better" if sp >= 1 else f"{1 / sp:.2f}x worse"
    tail = f"  [target: {r.target}]" if r.target else ""
    return f"{r.name}\n    kcf: {ours:>14}   jupyter_client: {theirs:>14}   ratio: {verdict}{tail}"
