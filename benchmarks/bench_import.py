"""Import cost: ``import kcf_spec`` vs ``import jupyter_client.connect``, in fresh processes.

Two figures, each the median of several fresh interpreter runs, interleaved so machine
noise hits both alike:

* **import only**: the time the ``import`` statement takes inside a fresh process
  (interpreter start-up excluded).
* **whole process**: wall time of ``python -c "import ..."`` from spawn to exit (what a
  CLI user waits for).

Target: ``import kcf_spec`` in under a third of the time of ``import jupyter_client.connect``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Case

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


def _median_ms(measure: object, runs: int = RUNS) -> tuple[float, float]:
    assert callable(measure)
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(2):  # write the bytecode cache and warm the OS file cache, both sides
        measure(OURS)
        measure(THEIRS)
    for _ in range(runs):
        ours.append(measure(OURS))
        theirs.append(measure(THEIRS))
    return statistics.median(ours) * 1e3, statistics.median(theirs) * 1e3


def _figure_import_only() -> tuple[float, float, str, bool]:
    return (*_median_ms(_import_only), "ms", False)


def _figure_whole_process() -> tuple[float, float, str, bool]:
    return (*_median_ms(_whole_process), "ms", False)


CASES = [
    Case(
        f"import {OURS} vs import {THEIRS} (import only, median of {RUNS} fresh processes)",
        figure=_figure_import_only,
        target="< 1/3 of theirs (>= 3x)",
    ),
    Case(
        f"python -c 'import {OURS}' vs 'import {THEIRS}' (whole process, median of {RUNS})",
        figure=_figure_whole_process,
        target="< 1/3 of theirs (>= 3x)",
    ),
]
