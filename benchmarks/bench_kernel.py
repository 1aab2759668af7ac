"""Kernel side: writing files, port collisions under concurrent launches, time to first reply.

* **write_connection_file**: one file with given ports (the same job on both sides: no port
  choice), ours atomic (temp file + ``os.replace``) vs jupyter_client's ``secure_write``.
* **concurrent launches**: ``N`` launcher processes start together, ``ROUNDS`` times each;
  every launch hands ports to a child that binds them (tiny zmq child: five ROUTER sockets,
  held ``HOLD`` s). Figure: kernels that hit EADDRINUSE. Theirs: jupyter_client's
  ``write_connection_file`` port choice (bind port 0, close, hope). Ours: strategy 3
  (``launch_kernel(ports="reserve")``), strategy 1 (the child binds port 0 and writes the
  file, ``ports="kernel"``) and strategy 2 (the JEP 66 handshake). Target: 0.
* **concurrent launches, xeus-python** (issue 10): the same ``N`` launchers x ``ROUNDS``,
  each launch a real xeus-python (PyPI). Ours: ``launch_kernel(argv)`` with no strategy
  given (the one rule picks the JEP 66 handshake, xeus dialect: xeus binds its own ports
  and reports them); a kernel counts once it has reported. Theirs: the classic way,
  jupyter_client's ``write_connection_file`` port choice handed to xeus-python
  (``ports="given"``); a kernel counts once all five ports listen. Each kernel is held
  ``HOLD`` s, then stopped.
* **spawn to first kernel_info**: a real ipykernel; ours ``launch_kernel`` + one kernel_info
  round trip with kcf_spec's Codec; theirs ``KernelManager.start_kernel()`` +
  ``client().wait_for_ready()``. Median of ``SPAWNS`` interleaved launches.

* **concurrent launches under churn** (issue 14): the same 40 launchers x 10 rounds while
  another process does what programs do all day on 127.0.0.1: listens on ports the system
  picks (bind to port 0) and opens outgoing connections, about 1,500 sockets held at a time,
  the oldest closed as new ones open (bounded: it stops when the case ends or after 30 min).
  Reserve, kernel-chooses, handshake and jupyter_client side by side.

Run: ``python benchmarks/bench_kernel.py [FILTER]`` (``--quick``: 8 launchers x 2 rounds).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from collections.abc import Iterator

import kcf_kernel
import zmq
from _harness import Case, Figure, main
from jupyter_client.connect import write_connection_file as jc_write_connection_file
from kcf_spec import Channel, Codec, ConnectionInfo

QUICK = "--quick" in sys.argv
N, ROUNDS, HOLD = (8, 2, "0.5") if QUICK else (40, 10, "1.0")
SPAWNS = 2 if QUICK else 7
KEY = b"4f2b8a8e-3f1c-4b7e-9d0a-5c6e7f8a9b0c"

_TMP = Path(tempfile.mkdtemp(prefix="kcf-bench-"))
atexit.register(shutil.rmtree, _TMP, True)  # no leftovers, whatever ran


# -- write_connection_file -----------------------------------------------------------------

_INFO = ConnectionInfo(50001, 50002, 50003, 50004, 50005, key=KEY, kernel_name="python3")


def _ours_write() -> None:
    kcf_kernel.write_connection_file(_INFO, _TMP / "ours.json")


def _theirs_write_to(fname: str) -> None:
    jc_write_connection_file(
        fname,
        shell_port=50001,
        iopub_port=50002,
        stdin_port=50003,
        control_port=50004,
        hb_port=50005,
        ip="127.0.0.1",
        key=KEY,
        kernel_name="python3",
    )


def _theirs_write() -> None:
    _theirs_write_to(str(_TMP / "theirs.json"))


_COUNTER = iter(range(10**9))


def _ours_write_new() -> None:
    kcf_kernel.write_connection_file(_INFO, _TMP / "new" / f"kernel-o{next(_COUNTER)}.json")


def _theirs_write_new() -> None:
    _theirs_write_to(str(_TMP / "new" / f"kernel-t{next(_COUNTER)}.json"))


def _new_dir() -> None:
    (_TMP / "new").mkdir(exist_ok=True)


def _clear_new_dir() -> None:
    for p in (_TMP / "new").iterdir():
        p.unlink()


# -- concurrent launches -------------------------------------------------------------------

# Exit 3 = EADDRINUSE, 4 = another bind error, 5 = handshake failed.
_CHILD_GIVEN = textwrap.dedent(
    """
    import json, sys, time, zmq
    info = json.load(open(sys.argv[1]))
    ctx = zmq.Context()
    socks = []
    try:
        for ch in ("shell", "iopub", "stdin", "control", "hb"):
            s = ctx.socket(zmq.ROUTER)
            s.linger = 0
            s.bind("tcp://127.0.0.1:%d" % info[ch + "_port"])
            socks.append(s)
    except zmq.ZMQError as e:
        sys.exit(3 if e.errno == zmq.EADDRINUSE else 4)
    time.sleep(float(sys.argv[2]))
    """
)
_CHILD_KCF = textwrap.dedent(
    """
    import errno, sys, time, kcf_kernel
    try:
        if sys.argv[3] == "handshake":
            ks = kcf_kernel.handshake_kernel(sys.argv[1], timeout=60)
        else:
            ks = kcf_kernel.bind_kernel(sys.argv[1])
    except kcf_kernel.BindError as e:
        sys.exit(3 if "in use" in e.reason else 4)
    except kcf_kernel.HandshakeError:
        sys.exit(5)
    time.sleep(float(sys.argv[2]))
    ks.close()
    """
)
_LAUNCHER = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    strategy, start_at, rounds = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    hold = sys.argv[4]
    given, kcf_child = sys.argv[5], sys.argv[6]
    runtime = os.environ["JUPYTER_RUNTIME_DIR"]
    xeus = [sys.executable, "-m", "xpython_launcher", "-f", "{connection_file}"]
    if strategy in ("jupyter_client", "xeus-classic"):
        from jupyter_client.connect import write_connection_file
    if strategy != "jupyter_client":
        import kcf_kernel
        from kcf_spec import ConnectionInfo, KcfError
    while time.time() < start_at:
        time.sleep(0.002)
    codes = []
    for i in range(rounds):
        if strategy == "jupyter_client":
            fname = os.path.join(runtime, "kernel-%d-%d.json" % (os.getpid(), i))
            write_connection_file(fname, ip="127.0.0.1", key=b"k")
            p = subprocess.Popen([sys.executable, "-c", given, fname, hold])
            codes.append(p.wait())
            os.unlink(fname)
        elif strategy in ("xeus", "xeus-classic"):
            log = os.path.join(runtime, "xeus-%d-%d.log" % (os.getpid(), i))
            try:
                with open(log, "wb") as err:
                    if strategy == "xeus":  # the rule: handshake, xeus dialect
                        kp = kcf_kernel.launch_kernel(
                            xeus, timeout=120, stdout=subprocess.DEVNULL, stderr=err
                        )
                        bound = True
                    else:  # jupyter_client's port choice, handed to the kernel
                        fname = os.path.join(runtime, "jc-%d-%d.json" % (os.getpid(), i))
                        write_connection_file(fname, ip="127.0.0.1", key=b"k")
                        with open(fname, "rb") as f:
                            chosen = ConnectionInfo.from_dict(json.load(f))
                        os.unlink(fname)
                        kp = kcf_kernel.launch_kernel(
                            xeus, connection=chosen, ports="given", timeout=120,
                            stdout=subprocess.DEVNULL, stderr=err,
                        )
                        bound = kp.wait_bound(120)
                    with kp:
                        if bound:
                            time.sleep(float(hold))
                        codes.append(0 if bound and kp.is_alive() else 7)
            except KcfError as e:
                print(e, file=sys.stderr)
                codes.append(7)
            with open(log, "rb") as f:
                if codes[-1] and b"in use" in f.read():
                    codes[-1] = 3
            os.unlink(log)
        else:
            child = given if strategy == "reserve" else kcf_child
            argv = [sys.executable, "-c", child, "{connection_file}", hold, strategy]
            try:
                with kcf_kernel.launch_kernel(argv, ports=strategy, timeout=120) as kp:
                    codes.append(kp.wait(120))
            except KcfError as e:
                print(e, file=sys.stderr)
                codes.append(getattr(e, "returncode", None) or 6)
    print(json.dumps(codes))
    """
)


def _collisions(strategy: str) -> tuple[int, int]:
    """(kernels that hit EADDRINUSE, kernels that failed otherwise) for one strategy."""
    runtime = Path(tempfile.mkdtemp(prefix="rt-", dir=_TMP))
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)}
    start_at = time.time() + 2.0 + N * 0.05
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _LAUNCHER,
                strategy,
                str(start_at),
                str(ROUNDS),
                HOLD,
                _CHILD_GIVEN,
                _CHILD_KCF,
            ],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(N)
    ]
    codes: list[int] = []
    for p in procs:
        out, _ = p.communicate()
        codes += json.loads(out)
    in_use = sum(1 for c in codes if c == 3)
    other = sum(1 for c in codes if c not in (0, 3))
    print(
        f"    [{strategy}: {N} launchers x {ROUNDS} rounds = {len(codes)} kernels, "
        f"{in_use} EADDRINUSE, {other} other failures]",
        flush=True,
    )
    return in_use, other


def _collision_figure(strategy: str, anchor: str = "jupyter_client") -> Figure:
    theirs, _ = _collisions(anchor)
    ours, other = _collisions(strategy)
    # Higher is better: kernels that bound their ports, out of N * ROUNDS.
    total = N * ROUNDS
    return Figure([float(total - ours - other)], [float(total - theirs)], "kernels bound", True)


# The background churn: bind-to-0 listeners and outgoing connections on 127.0.0.1, about
# HELD sockets open at a time (oldest closed first), until stdin closes or LIMIT seconds.
_CHURN = textwrap.dedent(
    """
    import collections, resource, select, socket, sys, time
    held, limit = int(sys.argv[1]), float(sys.argv[2])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 3 * held + 100)), hard))
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4096)
    server.setblocking(False)
    target = server.getsockname()
    socks = collections.deque()
    end = time.monotonic() + limit
    made = 0
    print("ready", flush=True)
    while time.monotonic() < end:
        if select.select([sys.stdin], [], [], 0)[0]:
            break  # the benchmark closed our stdin: stop
        for _ in range(50):
            s = socket.socket()
            try:
                if made % 2:
                    s.bind(("127.0.0.1", 0))
                    s.listen(1)
                else:
                    s.connect(target)  # an outgoing connection: an ephemeral source port
                    try:
                        socks.append(server.accept()[0])
                    except BlockingIOError:
                        pass
            except OSError:
                s.close()
                continue
            socks.append(s)
            made += 1
        while len(socks) > held:
            socks.popleft().close()
        time.sleep(0.01)
    for s in socks:
        s.close()
    print(made, flush=True)
    """
)


@contextlib.contextmanager
def _churn(held: int = 1500, limit: float = 1800.0) -> Iterator[None]:
    """Run the background churn for the duration of the block (bounded by ``limit``)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHURN, str(held), str(limit)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the churn process did not start")
        yield
    finally:
        proc.stdin.close()
        try:
            made = proc.stdout.read().strip()
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            made = "?"
        print(f"    [churn: {made} sockets opened in all, ~{held} held at a time]", flush=True)


def _churn_figure() -> Figure:
    """All four port choices under the same churn; failures side by side."""
    total = N * ROUNDS
    bound: dict[str, float] = {}
    with _churn():
        for strategy in ("jupyter_client", "reserve", "kernel", "handshake"):
            in_use, other = _collisions(strategy)
            bound[strategy] = float(total - in_use - other)
    print(
        "    failures of "
        + str(total)
        + ": "
        + ", ".join(f"{k} {total - v:.0f}" for k, v in bound.items()),
        flush=True,
    )
    return Figure([bound["reserve"]], [bound["jupyter_client"]], "kernels bound", True)


# -- spawn to first kernel_info -------------------------------------------------------------


def _ours_first_reply(ports: str) -> float:
    t0 = time.perf_counter()
    kp = kcf_kernel.launch_kernel(
        kcf_kernel.ipykernel_argv(),
        ports=ports,  # type: ignore[arg-type]
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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


def _theirs_first_reply() -> float:
    from jupyter_client import KernelManager

    t0 = time.perf_counter()
    km = KernelManager()
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


def _first_reply_figure(ports: str) -> Figure:
    ours, theirs = [], []
    for _ in range(SPAWNS):  # interleaved: machine noise hits both alike
        ours.append(_ours_first_reply(ports) * 1e3)
        theirs.append(_theirs_first_reply() * 1e3)
    return Figure(ours, theirs, "ms")


def _env() -> None:
    os.environ["JUPYTER_RUNTIME_DIR"] = str(_TMP / "runtime")


CASES = [
    Case(
        "write_connection_file, new file (given ports) vs jupyter_client",
        ours=_ours_write_new,
        theirs=_theirs_write_new,
        setup=_new_dir,
        teardown=_clear_new_dir,
        number=500,
        target="no slower",
    ),
    Case(
        "write_connection_file, rewrite same path (given ports) vs jupyter_client",
        ours=_ours_write,
        theirs=_theirs_write,
        target="no slower (ours is atomic, theirs deletes then writes)",
    ),
    Case(
        f"concurrent launches, strategy 3 reserve ({N}x{ROUNDS}) vs jupyter_client port choice",
        figure=lambda: _collision_figure("reserve"),
        target="all kernels bound (0 EADDRINUSE)",
    ),
    Case(
        f"concurrent launches, strategy 1 bind-first ({N}x{ROUNDS}) vs jupyter_client",
        figure=lambda: _collision_figure("kernel"),
        target="all kernels bound (0 EADDRINUSE)",
    ),
    Case(
        f"concurrent launches, strategy 2 handshake ({N}x{ROUNDS}) vs jupyter_client",
        figure=lambda: _collision_figure("handshake"),
        target="all kernels bound (0 EADDRINUSE)",
    ),
    Case(
        f"concurrent launches, xeus-python by the rule (handshake, xeus dialect; {N}x{ROUNDS}) "
        "vs xeus-python given jupyter_client's ports",
        figure=lambda: _collision_figure("xeus", "xeus-classic"),
        target="all kernels bound (0 EADDRINUSE)",
    ),
    Case(
        f"concurrent launches under churn ({N}x{ROUNDS}): reserve / kernel / handshake / "
        "jupyter_client",
        figure=_churn_figure,
        target="0 failures for every kcf strategy",
    ),
    Case(
        "ipykernel spawn -> first kernel_info (reserve) vs KernelManager + wait_for_ready",
        setup=_env,
        figure=lambda: _first_reply_figure("reserve"),
        target="faster",
    ),
    Case(
        "ipykernel spawn -> first kernel_info (bind-first) vs KernelManager + wait_for_ready",
        setup=_env,
        figure=lambda: _first_reply_figure("kernel"),
        target="faster",
    ),
]

if __name__ == "__main__":
    raise SystemExit(main(CASES))
