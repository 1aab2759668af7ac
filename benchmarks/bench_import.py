"""Import cost: ``import kcf_spec`` vs ``import jupyter_client.connect``, in fresh processes.

Two figures, each the median of several fresh interpreter runs, interleaved so machine
noise hits both alike:

* **import only**: the time the ``import`` statement takes inside a fresh process
  (interpreter start-up excluded).
* **whole process**: wall time of ``python -c "import ..."`` from spawn to exit (what a
  CLI user waits for).

* **the kcf command**: ``kcf --version`` and ``kcf list`` on an empty runtime dir, against
  the process-start floor ``python -c pass`` (there is no jupyter_client command doing the
  same job; the floor is the comparison).

Target: ``import kcf_spec`` in under a third of the time of ``import jupyter_client.connect``;
``kcf --version`` within 2x and ``kcf list`` (empty) within 3x of ``python -c pass``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Case, Figure, main

OURS = "kcf_spec"
THEIRS = "jupyter_client.connect"
RUNS = 3 if "--quick" in sys.argv else 11  # --quick: a smoke run, figures not to be quoted

# Bytecode caching on, in a private cache dir: both sides import from cached bytecode, as an
# installed package does (a PYTHONDONTWRITEBYTECODE environment would otherwise recompile
# kcf's editable sources on every run while jupyter_client's installed .pyc files are used).
_CACHE = tempfile.mkdtemp(prefix="kcf-bench-pyc-")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
_ENV["PYTHONPYCACHEPREFIX"] = _CACHE

_TIMED = "import time; t = time.perf_counter(); import {mod}; print(time.perf_counter() - t)"


def _import_only(module: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _TIMED.format(mod=module)],
        check=True,
        capture_output=True,
        text=True,
        env=_ENV,
    )
    return float(out.stdout.strip())


def _whole_process(module: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", f"import {module}"], check=True, capture_output=True, env=_ENV
    )
    return time.perf_counter() - t0


def _samples_ms(measure: object, runs: int = RUNS) -> tuple[list[float], list[float]]:
    assert callable(measure)
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(2):  # write the bytecode cache and warm the OS file cache, both sides
        measure(OURS)
        measure(THEIRS)
    for _ in range(runs):
        ours.append(measure(OURS) * 1e3)
        theirs.append(measure(THEIRS) * 1e3)
    return ours, theirs


def _process_ms(argv: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env or _ENV)
    return (time.perf_counter() - t0) * 1e3


def _figure_import_only() -> Figure:
    return Figure(*_samples_ms(_import_only), "ms")


def _figure_whole_process() -> Figure:
    ours, theirs = _samples_ms(_whole_process)
    floor = [_process_ms([sys.executable, "-c", "pass"]) for _ in range(RUNS)]
    return Figure(ours, theirs, "ms", floor=floor, floor_name="python -c pass")


def _figure_cli(*args: str) -> Figure:
    """The ``kcf`` script beside this Python (else ``-m kcf_client``) vs ``python -c pass``."""
    runtime = tempfile.mkdtemp(prefix="kcf-bench-empty-")
    try:
        env = {**_ENV, "JUPYTER_RUNTIME_DIR": runtime}
        script = shutil.which("kcf", path=os.path.dirname(sys.executable))
        kcf = [script, *args] if script else [sys.executable, "-m", "kcf_client", *args]
        floor = [sys.executable, "-c", "pass"]
        for _ in range(2):  # bytecode cache and OS file cache warm for both
            _process_ms(kcf, env)
            _process_ms(floor, env)
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(RUNS):
            ours.append(_process_ms(kcf, env))
            theirs.append(_process_ms(floor, env))
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    return Figure(ours, theirs, "ms", theirs_name="python -c pass")


CASES = [
    Case(
        f"import {OURS} vs import {THEIRS} (import only, {RUNS} fresh processes)",
        figure=_figure_import_only,
        target="< 1/3 of theirs (>= 3x)",
    ),
    Case(
        f"python -c 'import {OURS}' vs 'import {THEIRS}' (whole process, {RUNS} runs)",
        figure=_figure_whole_process,
        target="< 1/3 of theirs (>= 3x)",
    ),
    Case(
        "kcf --version vs the process-start floor",
        figure=lambda: _figure_cli("--version"),
        target="<= 2x python -c pass (ratio >= 0.5x)",
    ),
    Case(
        "kcf list (empty runtime dir) vs the process-start floor",
        figure=lambda: _figure_cli("list"),
        target="<= 3x python -c pass (ratio >= 0.33x)",
    ),
]

if __name__ == "__main__":
    raise SystemExit(main(CASES))
