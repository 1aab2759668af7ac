"""A small side-by-side timing harness: ours, jupyter_client's and the physical floor.

Each ``bench_*.py`` module in this directory defines ``CASES`` (a list of :class:`Case`, or
a function returning one) and ends with ``raise SystemExit(main(CASES))`` so that it runs
alone: ``python benchmarks/bench_wire.py [FILTER ...] [--quick]``. ``run.py`` runs every
module, each in its own process (one module's failure never stops the others).

A case gives zero-argument callables doing the same job: ``ours``, ``theirs`` (the
jupyter_client counterpart) and optionally ``floor`` (the physical limit: the work no
implementation can skip, e.g. HMAC + JSON alone). The harness times them the same way
(``repeat`` runs of ``number`` calls, interleaved so that machine noise hits all alike) and
prints, for each, the **median** and the min-max of the runs, then the ratios of medians.

``Case.figure`` lets a case report a measured figure other than a timed call (a collision
count, a throughput, a whole-process time): it returns a :class:`Figure` (samples per side).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import statistics
import sys
import time
from collections.abc import Callable, Sequence

__all__ = ["Case", "Figure", "Result", "measure", "run_case", "format_result", "main"]

QUICK = "--quick" in sys.argv  # a smoke run: figures not to be quoted


@dataclasses.dataclass
class Figure:
    """Samples of one measured figure for each side (lists, one value per run)."""

    ours: list[float]
    theirs: list[float]
    unit: str
    higher_is_better: bool = False
    floor: list[float] | None = None
    #: how the "theirs" column is labelled (default ``jupyter_client``)
    theirs_name: str = "jupyter_client"
    floor_name: str = "floor"


@dataclasses.dataclass
class Case:
    """One comparison.

    Attributes:
        name: what is measured, e.g. ``"ConnectionInfo.load vs jupyter_client"``.
        ours: the kcf call (timed), or ``None`` with ``figure`` set.
        theirs: the jupyter_client call doing the same job.
        floor: the physical floor of the job (optional), timed like the others.
        floor_name: what the floor is, printed beside its figure.
        setup: run once before timing; its return value is ignored.
        teardown: run once after timing.
        number: calls per timed run (``None``: chosen so a run takes ~0.1 s).
        repeat: timed runs; the median and min-max are reported.
        figure: for non-time figures, returns a :class:`Figure`.
        target: a human note of the target ratio, printed beside the result.
    """

    name: str
    ours: Callable[[], object] | None = None
    theirs: Callable[[], object] | None = None
    floor: Callable[[], object] | None = None
    floor_name: str = "floor"
    setup: Callable[[], object] | None = None
    teardown: Callable[[], object] | None = None
    number: int | None = None
    repeat: int = 7
    figure: Callable[[], Figure] | None = None
    target: str = ""


@dataclasses.dataclass
class Result:
    name: str
    figure: Figure
    target: str

    def ratio(self, other: list[float] | None) -> float | None:
        """How many times better ours is than ``other`` (>1: ours wins), medians."""
        if not other:
            return None
        ours, theirs = statistics.median(self.figure.ours), statistics.median(other)
        if self.figure.higher_is_better:
            return ours / theirs if theirs else float("inf")
        return theirs / ours if ours else float("inf")


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


def interleaved(fns: Sequence[Callable[[], float]], runs: int) -> list[list[float]]:
    """``runs`` samples of each measuring function, taken in turn (noise hits all alike)."""
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for samples, fn in zip(out, fns, strict=True):
            samples.append(fn())
    return out


def run_case(case: Case, quick: bool = QUICK) -> Result:
    """Time (or compute) one case and return its result."""
    if case.setup is not None:
        case.setup()
    try:
        if case.figure is not None:
            return Result(case.name, case.figure(), case.target)
        assert case.ours is not None and case.theirs is not None
        fns = [case.ours, case.theirs] + ([case.floor] if case.floor is not None else [])
        number = case.number or max(_autorange(f) for f in fns)
        if quick:
            number = max(1, number // 10)
        repeat = 3 if quick else case.repeat
        samples = interleaved([lambda f=f: measure(f, number) for f in fns], repeat)
        floor = samples[2] if case.floor is not None else None
        figure = Figure(samples[0], samples[1], "s/call", False, floor, floor_name=case.floor_name)
        return Result(case.name, figure, case.target)
    finally:
        if case.teardown is not None:
            case.teardown()


def _fmt(value: float, unit: str) -> str:
    if unit in ("s/call", "s"):
        s = value
        if s < 1e-6:
            return f"{s * 1e9:.0f} ns"
        if s < 1e-3:
            return f"{s * 1e6:.1f} us"
        if s < 1:
            return f"{s * 1e3:.2f} ms"
        return f"{s:.2f} s"
    return f"{value:,.0f} {unit}" if abs(value) >= 1000 else f"{value:,.4g} {unit}"


def _column(samples: list[float], unit: str) -> str:
    med = _fmt(statistics.median(samples), unit)
    if len(samples) == 1:
        return med
    return f"{med} (min-max {_fmt(min(samples), unit)} - {_fmt(max(samples), unit)})"


def _verdict(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.2f}x better" if ratio >= 1 else f"{1 / ratio:.2f}x worse"


def format_result(r: Result) -> str:
    """Medians with min-max per side, then the ratios of medians (to theirs, to the floor)."""
    f = r.figure
    lines = [r.name + (f"  [target: {r.target}]" if r.target else "")]
    lines.append(f"    kcf:              {_column(f.ours, f.unit)}")
    lines.append(f"    {f.theirs_name + ':':<17} {_column(f.theirs, f.unit)}")
    if f.floor:
        lines.append(f"    {f.floor_name + ':':<17} {_column(f.floor, f.unit)}")
    ratios = f"    medians: kcf vs {f.theirs_name} {_verdict(r.ratio(f.theirs))}"
    if f.floor:
        # How far above the floor kcf is: 1.00x means at the floor.
        to_floor = r.ratio(f.floor)
        above = f"{1 / to_floor:.2f}x the floor" if to_floor else "-"
        ratios += f"; kcf vs {f.floor_name}: {above}"
    lines.append(ratios)
    return "\n".join(lines)


def main(
    cases: Sequence[Case] | Callable[[], Sequence[Case]], argv: list[str] | None = None
) -> int:
    """Run the cases of one module: ``python bench_x.py [FILTER ...] [--quick] [--list]``."""
    parser = argparse.ArgumentParser(
        description="Run these benchmark cases (ours, jupyter_client, the floor; medians)."
    )
    parser.add_argument(
        "filters", nargs="*", metavar="FILTER", help="keep cases whose name contains one"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run (figures not to be quoted)"
    )
    parser.add_argument("--list", action="store_true", help="list the case names, run nothing")
    parser.add_argument("--module", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    chosen = [
        c
        for c in (cases() if callable(cases) else cases)
        if not args.filters or any(f in f"{args.module}: {c.name}" for f in args.filters)
    ]
    for case in chosen:
        label = f"{args.module}: {case.name}" if args.module else case.name
        if args.list:
            print(label)
            continue
        result = run_case(case, quick=args.quick)
        result.name = label
        print(format_result(result), flush=True)
    return 0
