"""The JEP 66 handshake with a real kernel: xeus-python from start to its first kernel_info.

* **handshake (xeus dialect) vs classic**: ours ``launch_handshake`` of xeus-python's own
  kernelspec argv in the xeus dialect (the kernel binds its ports and reports them), then
  one kernel_info round trip with kcf_spec's Codec; theirs jupyter_client's
  ``KernelManager(kernel_name="xpython").start_kernel()`` (xeus-python's installed
  kernelspec; ports chosen by the launcher,
  written to a connection file) + ``client().wait_for_ready()``. ``SPAWNS`` interleaved
  launches; the figure is the median, and the min-max of each side is printed beside it.

Needs xeus-python (``pip install xeus-python``). Run:
``python benchmarks/run.py bench_handshake`` (``--quick``: 2 launches each).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kcf_kernel
import zmq
from _harness import Case
from kcf_spec import Channel, Codec

QUICK = "--quick" in sys.argv
SPAWNS = 2 if QUICK else 7
XPYTHON = [sys.executable, "-m", "xpython_launcher", "-f", "{connection_file}"]
_TMP = Path(tempfile.mkdtemp(prefix="kcf-bench-hs-"))


def _ours() -> float:
    t0 = time.perf_counter()
    kp = kcf_kernel.launch_handshake(
        XPYTHON, handshake_dialect="xeus", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    dealer = ctx.socket(zmq.DEALER)
    dealer.linger = 0
    try:
        codec = Codec.from_connection(kp.info)
        dealer.connect(kp.info.connect_url(Channel.SHELL))
        request = codec.message("kernel_info_request")
        dealer.send_multipart(codec.serialize(request))
        while True:
            if not dealer.poll(60_000):
                raise TimeoutError("no kernel_info_reply")
            reply = codec.parse(dealer.recv_multipart())
            if reply.parent_header.get("msg_id") == request.header.msg_id:
                break
        elapsed = time.perf_counter() - t0
    finally:
        dealer.close()
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


def _figure() -> tuple[float, float, str, bool]:
    ours, theirs = [], []
    for _ in range(SPAWNS):  # interleaved: machine noise hits both alike
        ours.append(_ours())
        theirs.append(_theirs())
    sys.stdout.write(
        f"    spawns: {SPAWNS} each; kcf min-max {min(ours) * 1e3:.1f}-{max(ours) * 1e3:.1f} ms, "
        f"jupyter_client min-max {min(theirs) * 1e3:.1f}-{max(theirs) * 1e3:.1f} ms\n"
    )
    return statistics.median(ours) * 1e3, statistics.median(theirs) * 1e3, "ms", False


def _env() -> None:
    os.environ["JUPYTER_RUNTIME_DIR"] = str(_TMP / "runtime")


def _cleanup() -> None:
    import shutil

    shutil.rmtree(_TMP, ignore_errors=True)


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
