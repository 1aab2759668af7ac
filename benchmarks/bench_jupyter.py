"""kcf inside Jupyter: kcf-provisioner vs jupyter_client's local-provisioner.

* Notebooks at once through nbclient (each its own process, sharing one runtime dir):
  failed runs with each provisioner (measured before kcf-provisioner: 1 of 60 failed with
  the default). Goal 0.
* KernelManager start to ready (``start_kernel`` + ``wait_for_ready``), ipykernel, each
  provisioner, interleaved; medians with min-max printed.

Run: ``python benchmarks/run.py bench_jupyter`` (``--quick``: 8 notebooks, 3 starts).
Heavy: the notebook cases start 30 and 60 kernels at once per provisioner.
"""

from __future__ import annotations

import importlib.util
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from _harness import Case

QUICK = "--quick" in sys.argv
SIZES = (8,) if QUICK else (30, 60)
STARTS = 3 if QUICK else 9
ROOT = Path(__file__).resolve().parent.parent


def _notebooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "kcf_bench_notebooks", ROOT / "tests" / "jupyter" / "notebooks.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _failed_runs(n: int, provisioner: str) -> tuple[int, int]:
    """(failed runs, connection files left) for ``n`` notebooks at once."""
    nbmod = _notebooks()
    base = Path(tempfile.mkdtemp(prefix="kcf-bench-nb-"))
    try:
        paths = [nbmod.write_notebook(base / f"nb{i}.ipynb") for i in range(n)]
        runtime = base / "runtime"
        codes = nbmod.run_notebooks(paths, provisioner=provisioner, runtime_dir=runtime)
        left = len(list(runtime.glob("kernel-*.json")))
        return sum(c != 0 for c in codes), left
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _notebook_figure(n: int) -> tuple[float, float, str, bool]:
    ours, ours_left = _failed_runs(n, "kcf-provisioner")
    theirs, theirs_left = _failed_runs(n, "local-provisioner")
    print(f"    files left: kcf {ours_left}, local-provisioner {theirs_left}")
    return ours, theirs, f"failed of {n}", False


def _start_to_ready(provisioner: str) -> float:
    from jupyter_client.manager import KernelManager
    from jupyter_client.provisioning.factory import KernelProvisionerFactory

    KernelProvisionerFactory.instance().default_provisioner_name = provisioner
    km = KernelManager(kernel_name="python3")
    t0 = time.perf_counter()
    km.start_kernel(extra_arguments=["--HistoryManager.enabled=False"])
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        return time.perf_counter() - t0
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _ready_figure() -> tuple[float, float, str, bool]:
    ours, theirs = [], []
    for _ in range(STARTS):  # interleaved: machine noise hits both alike
        ours.append(_start_to_ready("kcf-provisioner"))
        theirs.append(_start_to_ready("local-provisioner"))
    print(
        f"    kcf min-max {min(ours) * 1e3:.0f}-{max(ours) * 1e3:.0f} ms; "
        f"local-provisioner min-max {min(theirs) * 1e3:.0f}-{max(theirs) * 1e3:.0f} ms"
    )
    return statistics.median(ours) * 1e3, statistics.median(theirs) * 1e3, "ms", False


CASES = [
    *[
        Case(
            f"{n} notebooks at once (nbclient): kcf-provisioner vs local-provisioner",
            figure=lambda n=n: _notebook_figure(n),
            target="0 failed",
        )
        for n in SIZES
    ],
    Case(
        f"KernelManager start_kernel + wait_for_ready (median of {STARTS}): "
        "kcf-provisioner vs local-provisioner",
        figure=_ready_figure,
        target="no slower",
    ),
]
