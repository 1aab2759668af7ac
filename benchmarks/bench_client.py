"""kcf_client vs jupyter_client: import, find, fresh process, round trip, ready-check.

Floors printed beside jupyter_client: ``python -c pass`` (fresh process), a hand-written
``os.scandir`` + ``stat`` loop (find among 10,000 files), a hand-written DEALER + ``Codec``
loop against the same kernel (steady round trip). ``kcf list`` over 1,000 and 10,000 stale
files (dead kernels' files: ports closed) is timed as a whole process; 10,000 must not crash.

Targets (issues 4, 9): import and fresh-process time at most half of jupyter_client's, find
at least 2x faster and within 1.1x of the listing floor, exact-name find no slower than
jupyter_client, steady round trip within 1.05x of the DEALER floor, ``kcf list`` over 1,000
stale files in 0.3 s.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import QUICK, Case, Figure, main

PY = sys.executable
_state: dict[str, Any] = {}


def _env() -> dict[str, str]:
    """The environment of a timed subprocess: bytecode written and read, for both sides.

    With ``PYTHONDONTWRITEBYTECODE`` set (as in some CI images) a module whose cached
    bytecode is stale is compiled again in every run; which side pays for that would
    depend on what was edited last. A private ``PYTHONPYCACHEPREFIX``, filled by one
    untimed warm-up run, gives both sides the same warm cache.
    """
    if "pycache" not in _state:
        d = tempfile.mkdtemp(prefix="kcf-bench-pycache-")
        atexit.register(shutil.rmtree, d, True)
        fresh = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        fresh["PYTHONPYCACHEPREFIX"] = d
        _state["pycache"] = fresh
    env: dict[str, str] = _state["pycache"]
    return env


def _process_samples(code: str, runs: int = 3 if QUICK else 9) -> list[float]:
    """Wall times (ms) of ``python -c code``, after one untimed warm-up."""
    env = _env()
    subprocess.run([PY, "-c", code], check=True, capture_output=True, env=env)  # warm-up
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([PY, "-c", code], check=True, capture_output=True, env=env)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def _kernel() -> str:
    if "cf" not in _state:
        from jupyter_client import KernelManager

        km = KernelManager()
        km.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        kc.stop_channels()
        _state["km"] = km
        _state["cf"] = km.connection_file

        def stop() -> None:
            km.shutdown_kernel(now=True)
            km.cleanup_resources()

        atexit.register(stop)
    return str(_state["cf"])


def _import_figure() -> Figure:
    ours = _process_samples("import kcf_client")
    theirs = _process_samples("import jupyter_client")
    floor = _process_samples("pass")
    return Figure(ours, theirs, "ms", floor=floor, floor_name="python -c pass")


def _fresh_figure() -> Figure:
    cf = _kernel()
    ours = _process_samples(
        f"import kcf_client\nwith kcf_client.connect({cf!r}) as kc: kc.kernel_info()\n"
    )
    theirs = _process_samples(
        "from jupyter_client import BlockingKernelClient\n"
        "kc = BlockingKernelClient()\n"
        f"kc.load_connection_file({cf!r})\n"
        "kc.start_channels()\n"
        "kc.kernel_info(reply=True, timeout=10)\n"
        "kc.stop_channels()\n"
    )
    floor = _process_samples("pass")
    return Figure(ours, theirs, "ms", floor=floor, floor_name="python -c pass")


def _find_setup() -> None:
    d = tempfile.mkdtemp(prefix="kcf-bench-find-")
    for i in range(10_000):
        p = os.path.join(d, f"kernel-{i:05d}.json")
        with open(p, "w") as f:
            f.write("{}")
        # Distinct times (jupyter_client goes by atime, kcf by mtime): one newest file,
        # so both sides return the same answer (checked below).
        os.utime(p, (1_700_000_000 + i, 1_700_000_000 + i))
    _state["find_dir"] = d
    atexit.register(shutil.rmtree, d, True)
    for ours, theirs in ((_find_ours, _find_theirs), (_find_part_ours, _find_part_theirs)):
        assert str(ours()) == str(theirs()), "the two sides must find the same file"


def _find_ready() -> None:
    if "find_dir" not in _state:
        _find_setup()


def _find_part_ours() -> object:
    from kcf_client import find_connection_file

    return find_connection_file("04242", path=_state["find_dir"])


def _find_part_theirs() -> object:
    from jupyter_client import find_connection_file

    return find_connection_file("04242", path=[_state["find_dir"]])


def _find_exact_ours() -> object:
    from kcf_client import find_connection_file

    return find_connection_file("kernel-04242.json", path=_state["find_dir"])


def _find_exact_theirs() -> object:
    from jupyter_client import find_connection_file

    return find_connection_file("kernel-04242.json", path=[_state["find_dir"]])


def _find_ours() -> object:
    from kcf_client import find_connection_file

    return find_connection_file("kernel-*.json", path=_state["find_dir"])


def _find_theirs() -> object:
    from jupyter_client import find_connection_file

    return find_connection_file("kernel-*.json", path=[_state["find_dir"]])


def _find_floor() -> object:
    """The newest of the matching files by hand: one listing, one stat per file."""
    best: tuple[int, str] | None = None
    with os.scandir(_state["find_dir"]) as it:
        for entry in it:
            name = entry.name
            if name.startswith("kernel-") and name.endswith(".json"):
                key = (entry.stat().st_mtime_ns, name)
                if best is None or key > best:
                    best = key
    return best


def _exact_floor() -> object:
    """An exact name: one stat, nothing more."""
    return os.stat(os.path.join(_state["find_dir"], "kernel-04242.json"))


def _rtt_floor_setup() -> None:
    """A hand-written DEALER + Codec client on the same kernel's shell channel."""
    import zmq
    from kcf_spec import Channel, Codec, ConnectionInfo

    info = ConnectionInfo.load(_kernel())
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.linger = 0
    dealer.connect(info.connect_url(Channel.SHELL))
    _state["floor"] = (ctx, dealer, Codec.from_connection(info))


def _rtt_floor() -> object:
    _ctx, dealer, codec = _state["floor"]
    request = codec.message("kernel_info_request")
    dealer.send_multipart(codec.serialize(request))
    while True:
        if not dealer.poll(10_000):
            raise TimeoutError("no kernel_info_reply")
        reply = codec.parse(dealer.recv_multipart())
        if reply.parent_header.get("msg_id") == request.header.msg_id:
            return reply


def _rtt_setup() -> None:
    import kcf_client
    from jupyter_client import BlockingKernelClient

    cf = _kernel()
    ours = kcf_client.connect(cf)
    ours.wait_until_ready(30)
    theirs = BlockingKernelClient()
    theirs.load_connection_file(cf)
    theirs.start_channels()
    theirs.wait_for_ready(timeout=30)
    _state["ours_kc"], _state["theirs_kc"] = ours, theirs
    _rtt_floor_setup()
    _rtt_floor()  # connected and answered once, as the two clients are


def _rtt_teardown() -> None:
    _state.pop("ours_kc").close()
    _state.pop("theirs_kc").stop_channels()
    ctx, dealer, _codec = _state.pop("floor")
    dealer.close()
    ctx.term()


def _stale_dir(n: int) -> str:
    """``n`` connection files of dead kernels (valid files, ports nobody listens on)."""
    from kcf_spec import ConnectionInfo

    d = tempfile.mkdtemp(prefix=f"kcf-bench-stale{n}-")
    atexit.register(shutil.rmtree, d, True)
    ports = []
    import socket

    for _ in range(5):  # ports that were free a moment ago: nothing listens on them
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    text = json.dumps(ConnectionInfo(*ports, key=b"k" * 32).to_dict())
    for i in range(n):
        p = os.path.join(d, f"kernel-stale-{i:05d}.json")
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(p, 0o600)
    os.chmod(d, 0o700)
    return d


def _kcf_argv() -> list[str]:
    script = shutil.which("kcf", path=os.path.dirname(PY))
    return [script] if script else [PY, "-m", "kcf_client"]


def _list_stale_figure(n: int, runs: int) -> Figure:
    d = _stale_dir(n)
    env = {**_env(), "JUPYTER_RUNTIME_DIR": d}
    argv = [*_kcf_argv(), "list"]
    times: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        times.append(time.perf_counter() - t0)
        if done.returncode != 0 or "Traceback" in done.stderr:
            tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            print(f"    kcf list over {n:,} stale files FAILED: exit {done.returncode}: {tail}")
            break
    floor = _process_samples("pass", runs=len(times))
    return Figure(times, [f / 1e3 for f in floor], "s", theirs_name="python -c pass")


def _ready_ours() -> object:
    import kcf_client

    with kcf_client.connect(_kernel()) as kc:
        return kc.wait_until_ready(30)


def _ready_theirs() -> object:
    from jupyter_client import BlockingKernelClient

    kc = BlockingKernelClient()
    kc.load_connection_file(_kernel())
    kc.start_channels()
    kc.wait_for_ready(timeout=30)
    kc.stop_channels()
    return kc


def CASES() -> list[Case]:  # noqa: N802 - the harness's name
    return [
        Case(
            "import time (fresh python -c 'import ...')",
            figure=_import_figure,
            target="<= 0.5x jupyter_client",
        ),
        Case(
            "find_connection_file among 10,000 files, all matching",
            ours=_find_ours,
            theirs=_find_theirs,
            floor=_find_floor,
            floor_name="scandir+stat",
            setup=_find_setup,
            repeat=5,
            target=">= 2x faster; <= 1.1x the listing floor",
        ),
        Case(
            "find by part of a name among 10,000 files ('04242': one match)",
            ours=_find_part_ours,
            theirs=_find_part_theirs,
            setup=_find_ready,
            target=">= 2x faster",
        ),
        Case(
            "find by exact file name among 10,000 files (no listing)",
            ours=_find_exact_ours,
            theirs=_find_exact_theirs,
            floor=_exact_floor,
            floor_name="one os.stat",
            setup=_find_ready,
            target=">= 1x jupyter_client",
        ),
        Case(
            "fresh process: import + connect + kernel_info + exit",
            figure=_fresh_figure,
            target="<= 0.5x jupyter_client",
        ),
        Case(
            "steady kernel_info round trip",
            ours=lambda: _state["ours_kc"].kernel_info(),
            theirs=lambda: _state["theirs_kc"].kernel_info(reply=True, timeout=10),
            floor=_rtt_floor,
            floor_name="DEALER+Codec",
            setup=_rtt_setup,
            teardown=_rtt_teardown,
            target="no slower; <= 1.05x the DEALER+Codec floor",
        ),
        Case(
            "ready-check on a running kernel (connect + wait ready + close)",
            ours=_ready_ours,
            theirs=_ready_theirs,
            number=3,
            repeat=3,
        ),
        Case(
            "kcf list, 1,000 stale files (whole process)",
            figure=lambda: _list_stale_figure(1_000, 3 if QUICK else 7),
            target="<= 0.3 s",
        ),
        Case(
            "kcf list, 10,000 stale files (whole process; must not crash)",
            figure=lambda: _list_stale_figure(10_000, 1 if QUICK else 3),
        ),
    ]


if __name__ == "__main__":
    raise SystemExit(main(CASES))
