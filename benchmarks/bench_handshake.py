"""The JEP 66 handshake with a real kernel: xeus-python from start to its first kernel_info.

* **handshake (xeus dialect) vs classic**: ours ``launch_handshake`` of xeus-python's own
  kernelspec argv in the xeus dialect (the kernel binds its ports and reports them), then
  ``kcf_client.connect`` and one kernel_info; theirs jupyter_client's
  ``KernelManager(kernel_name="xpython").start_kernel()`` (xeus-python's installed
  kernelspec; ports chosen by the launcher,
  written to a connection file) + ``client().wait_for_ready()``. ``SPAWNS`` interleaved
  launches; the harness prints each side's median and min-max and the ratio of medians.

Needs xeus-python (``pip install xeus-python``). Run:
``python benchmarks/run.py bench_handshake`` (``--quick``: 2 launches each).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kcf_client
import kcf_kernel
from _harness import QUICK, Case, Figure, interleaved, main

SPAWNS = 2 if QUICK else 7
XPYTHON = [sys.executable, "-m", "xpython_launcher", "-f", "{connection_file}"]
_TMP: list[Path] = []  # made by setup, removed by teardown


def _ours() -> float:
    t0 = time.perf_counter()
    kp = kcf_kernel.launch_handshake(
        XPYTHON, handshake_dialect="xeus", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with kcf_client.connect(kp.info) as kc:
            kc.kernel_info(timeout=60)
        elapsed = time.perf_counter() - t0
    finally:
        kp.close()
    return elapsed


def _theirs() -> float:
    from jupyter_client import KernelManager

    t0 = time.perf_counter()
    km = KernelManager(kernel_name="xpython")
    km.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        elapsed = time.perf_counter() - t0
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return elapsed


def _figure() -> Figure:
    ours, theirs = interleaved([_ours, _theirs], SPAWNS)  # machine noise hits both alike
    return Figure([t * 1e3 for t in ours], [t * 1e3 for t in theirs], "ms")


def _env() -> None:
    _TMP.append(Path(tempfile.mkdtemp(prefix="kcf-bench-hs-")))
    os.environ["JUPYTER_RUNTIME_DIR"] = str(_TMP[-1] / "runtime")


def _cleanup() -> None:
    import shutil

    while _TMP:
        shutil.rmtree(_TMP.pop(), ignore_errors=True)


CASES = [
    Case(
        "xeus-python: handshake (xeus dialect) to first kernel_info vs classic "
        "KernelManager start + wait_for_ready (median)",
        setup=_env,
        teardown=_cleanup,
        figure=_figure,
        target="the handshake costs no more than choosing ports in the launcher",
    ),
]

if __name__ == "__main__":
    raise SystemExit(main(CASES))
