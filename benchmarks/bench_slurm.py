"""Kernels through Slurm: submission to the first ``kernel_info`` reply, side by side.

On a private one-node cluster started here (``tests/slurm/slurm_cluster.py``, as in the
tests; needs root, Slurm and munge):

- ours: :func:`kcf_client.slurm.start_slurm_kernel` (``sbatch``, the nanny calls back, the
  kernel chooses its ports on the node), then connect and ``kernel_info``; and the same with
  ``use_srun=True`` (the nanny as an ``srun`` step: no batch scheduling pass);
- the manual way: a connection file pre-written on the launcher with jupyter_client (ports
  chosen there: the race), ``srun python -m ipykernel_launcher -f FILE``, then a
  ``BlockingKernelClient`` sends ``kernel_info`` at once and waits for the reply;
- floor: ``srun true`` (the scheduler's own round trip for one step).

Runs are interleaved (ours, manual, floor, ours, ...) so load hits all alike.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import QUICK, Case, Figure, main

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3 if QUICK else 9


def _load_cluster_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "kcf_slurm_cluster", ROOT / "tests/slurm/slurm_cluster.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _ours(use_srun: bool = False) -> float:
    import kcf_client
    from kcf_client.slurm import start_slurm_kernel

    t0 = time.perf_counter()
    kernel = start_slurm_kernel(timeout=120, grace=5, use_srun=use_srun)
    try:
        with kcf_client.connect(kernel.connection_file) as conn:
            conn.wait_until_ready(timeout=60)
            took = time.perf_counter() - t0
    finally:
        kernel.close()
    return took


def _manual(tmp: Path) -> float:
    from jupyter_client import BlockingKernelClient
    from jupyter_client.connect import write_connection_file

    t0 = time.perf_counter()
    fname, _ = write_connection_file(str(tmp / f"kernel-{time.monotonic_ns()}.json"))
    srun = subprocess.Popen(
        ["srun", "--quiet", sys.executable, "-m", "ipykernel_launcher", "-f", fname],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = BlockingKernelClient(connection_file=fname)
    client.load_connection_file()
    client.start_channels()
    try:
        # Sent before the kernel binds, it waits in ZeroMQ's queue (wait_for_ready would
        # give up: no heartbeat yet means "died" to it).
        msg_id = client.kernel_info()
        while client.get_shell_msg(timeout=60)["parent_header"].get("msg_id") != msg_id:
            pass
        took = time.perf_counter() - t0
    finally:
        client.stop_channels()
        srun.terminate()
        srun.wait(30)
        Path(fname).unlink(missing_ok=True)
    return took


def _floor() -> float:
    t0 = time.perf_counter()
    subprocess.run(["srun", "--quiet", "true"], check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _figure(use_srun: bool) -> Figure:
    module = _load_cluster_module()
    cluster = module.start_cluster()
    ours: list[float] = []
    theirs: list[float] = []
    floor: list[float] = []
    try:
        with module.exported(cluster), tempfile.TemporaryDirectory(prefix="kcf-bench-") as tmp:
            os.environ["JUPYTER_RUNTIME_DIR"] = tmp
            for _ in range(RUNS):
                ours.append(_ours(use_srun) * 1e3)
                theirs.append(_manual(Path(tmp)) * 1e3)
                floor.append(_floor() * 1e3)
                cluster.cancel_all()
    finally:
        cluster.stop()
    return Figure(
        ours=ours,
        theirs=theirs,
        unit="ms",
        floor=floor,
        theirs_name="srun ipykernel_launcher -f",
        floor_name="srun true",
    )


def CASES() -> list[Case]:  # noqa: N802 - the harness's name
    return [
        Case(name="Slurm sbatch: submit to first kernel_info", figure=lambda: _figure(False)),
        Case(name="Slurm srun: start to first kernel_info", figure=lambda: _figure(True)),
    ]


if __name__ == "__main__":
    raise SystemExit(main(CASES))
