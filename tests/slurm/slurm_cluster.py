"""A private one-node Slurm cluster on this machine, without pytest.

Used by ``conftest.py`` beside this file (a session fixture) and by
``benchmarks/bench_slurm.py``. Everything lives in one temp dir: ``slurm.conf`` (this host as
controller and only node, ``ProctrackType=proctrack/linuxproc``, ``TaskPlugin=task/none``,
``SelectType=select/cons_tres``, CPUs from ``nproc``, ports no other cluster uses), a fresh
munge key and a private ``munged`` socket, the controller's state and the node's spool. The
three daemons run in the foreground as our children (munged as user ``munge``, slurmctld and
slurmd as root), so :meth:`SlurmCluster.stop` ends exactly them.

A missing Slurm, munge or root raises :class:`SlurmUnavailable`; the fixture turns it into a
skip or, with ``KCF_REQUIRE_REAL_PARTS=1``, a failure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "srun", "squeue", "scancel", "scontrol", "sinfo")
PARTITION = "kcf"
#: Jobs that may share one CPU (kernels are mostly idle; the concurrency test starts 8).
OVERSUBSCRIBE = 8


class SlurmUnavailable(RuntimeError):
    """Slurm or munge is not installed here, we are not root, or the cluster did not start."""


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it holds; raise :class:`TimeoutError` naming ``what``."""
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        tick.wait(0.1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _which(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        raise SlurmUnavailable(
            f"{name} is not installed (apt-get install slurmctld slurmd slurm-client munge)"
        )
    return found


@dataclasses.dataclass
class SlurmCluster:
    """A running private cluster; :attr:`env` points Slurm's commands at it."""

    root: Path
    conf: Path
    node: str
    cpus: int
    partition: str
    munge_socket: Path
    procs: dict[str, subprocess.Popen[bytes]]

    @property
    def env(self) -> dict[str, str]:
        """``os.environ`` plus ``SLURM_CONF`` (what every client command needs)."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, argv: Sequence[str], timeout: float = 60) -> str:
        """Run a Slurm client command against this cluster; its stdout."""
        out = subprocess.run(
            list(argv), env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if out.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({out.returncode}): {out.stderr.strip()}")
        return out.stdout

    def job_ids(self) -> list[str]:
        """The ids of the jobs the controller still has pending or running."""
        return self.run(["squeue", "-h", "-o", "%i"]).split()

    def node_state(self) -> str:
        return self.run(["sinfo", "-h", "-n", self.node, "-o", "%T"]).strip()

    def log(self, daemon: str) -> str:
        path = self.root / f"{daemon}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def cancel_all(self, timeout: float = 60) -> None:
        """scancel every job and wait until the queue is empty."""
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.run(["scancel", "--full", "--partition", self.partition])
        wait_for(lambda: not self.job_ids(), timeout, "the queue to drain after scancel")

    def stop(self) -> None:
        """Cancel every job, then end slurmd, slurmctld and munged; remove the temp dir."""
        if self.procs.get("slurmctld") is not None and self.procs["slurmctld"].poll() is None:
            with contextlib.suppress(RuntimeError, TimeoutError, subprocess.TimeoutExpired):
                self.cancel_all(timeout=30)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.pop(name, None)
            if proc is None:
                continue
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=30)
        # slurmd forks slurmstepd per job, slurmctld a slurmscriptd: they end with their
        # parents; make sure nothing of ours outlived them.
        _kill_leftovers(str(self.conf))
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def exported(cluster: SlurmCluster) -> Iterator[SlurmCluster]:
    """``SLURM_CONF`` in ``os.environ`` for the block (for library calls and children)."""
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    try:
        yield cluster
    finally:
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


def _kill_leftovers(marker: str) -> None:
    """SIGKILL processes whose command line names our slurm.conf (by pid, ours only)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


def _conf(root: Path, node: str, cpus: int, ports: tuple[int, int], munge_sock: Path) -> str:
    ctld_port, d_port = ports
    lines = {
        "ClusterName": "kcftest",
        "SlurmctldHost": f"{node}(127.0.0.1)",
        "SlurmUser": "root",
        "SlurmdUser": "root",
        "AuthType": "auth/munge",
        "AuthInfo": f"socket={munge_sock}",
        "CredType": "cred/munge",
        "SlurmctldPort": str(ctld_port),
        "SlurmdPort": str(d_port),
        "StateSaveLocation": str(root / "state"),
        "SlurmdSpoolDir": str(root / "spool"),
        "SlurmctldPidFile": str(root / "slurmctld.pid"),
        "SlurmdPidFile": str(root / "slurmd.pid"),
        "SlurmctldLogFile": str(root / "slurmctld.log"),
        "SlurmdLogFile": str(root / "slurmd.log"),
        "ProctrackType": "proctrack/linuxproc",
        "TaskPlugin": "task/none",
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_CPU",
        "JobAcctGatherType": "jobacct_gather/none",
        "AccountingStorageType": "accounting_storage/none",
        "MpiDefault": "none",
        "ReturnToService": "2",
        "InactiveLimit": "0",
        "KillWait": "5",
        "MinJobAge": "300",
        "SchedulerParameters": "sched_interval=2",
    }
    text = "".join(f"{k}={v}\n" for k, v in lines.items())
    text += f"NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN\n"
    text += (
        f"PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP "
        f"OverSubscribe=FORCE:{OVERSUBSCRIBE}\n"
    )
    return text


def _start_munged(root: Path) -> tuple[subprocess.Popen[bytes], Path]:
    try:
        munge = pwd.getpwnam("munge")
    except KeyError:
        raise SlurmUnavailable("there is no user munge (apt-get install munge)") from None
    mdir = root / "munge"
    mdir.mkdir(mode=0o711)
    os.chown(mdir, munge.pw_uid, munge.pw_gid)
    os.chmod(mdir, 0o711)  # noqa: S103 - munged wants its socket directory searchable by all
    key = mdir / "munge.key"
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(1024))
    os.chown(key, munge.pw_uid, munge.pw_gid)
    sock = mdir / "munge.socket"
    log = open(root / "munged.log", "wb")  # noqa: SIM115 - the child keeps it
    with log:
        proc = subprocess.Popen(
            [
                _which("munged"),
                "--foreground",
                f"--socket={sock}",
                f"--key-file={key}",
                f"--pid-file={mdir / 'munged.pid'}",
                f"--seed-file={mdir / 'munged.seed'}",
            ],
            user=munge.pw_uid,
            group=munge.pw_gid,
            extra_groups=[],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return proc, sock


def start_cluster(timeout: float = 90) -> SlurmCluster:
    """Start munged, slurmctld and slurmd; return once ``sinfo`` shows the node idle.

    Raises:
        SlurmUnavailable: not root, something not installed, or the cluster did not come up
            within ``timeout`` (the daemons' logs are in the message).
    """
    if os.geteuid() != 0:
        raise SlurmUnavailable("the Slurm daemons must be started as root")
    for name in (*DAEMONS, *CLIENTS):
        _which(name)
    root = Path(tempfile.mkdtemp(prefix="kcf-slurm-"))
    os.chmod(root, 0o711)  # noqa: S103 - munged (user munge) must reach its directory
    for sub in ("state", "spool"):
        (root / sub).mkdir(mode=0o700)
    node = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    cluster = SlurmCluster(
        root=root,
        conf=root / "slurm.conf",
        node=node,
        cpus=cpus,
        partition=PARTITION,
        munge_socket=root / "munge" / "munge.socket",
        procs={},
    )
    try:
        munged, sock = _start_munged(root)
        cluster.procs["munged"] = munged
        wait_for(lambda: sock.exists() or munged.poll() is not None, timeout, "munged's socket")
        if munged.poll() is not None:
            raise SlurmUnavailable(f"munged exited: {_read(root / 'munged.log')}")
        cluster.conf.write_text(_conf(root, node, cpus, (_free_port(), _free_port()), sock))
        for name, argv in (
            ("slurmctld", [_which("slurmctld"), "-D", "-i", "-f", str(cluster.conf)]),
            ("slurmd", [_which("slurmd"), "-D", "-N", node, "-f", str(cluster.conf)]),
        ):
            with open(root / f"{name}.out", "wb") as out:
                cluster.procs[name] = subprocess.Popen(
                    argv,
                    env=cluster.env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )

        def idle() -> bool:
            for name, proc in cluster.procs.items():
                if proc.poll() is not None:
                    raise SlurmUnavailable(f"{name} exited: {_read(root / f'{name}.out')}")
            try:
                return cluster.node_state() == "idle"
            except (RuntimeError, subprocess.TimeoutExpired):
                return False

        try:
            wait_for(idle, timeout, f"node {node} idle in sinfo")
        except TimeoutError as exc:
            raise SlurmUnavailable(
                f"{exc}\nslurmctld: {cluster.log('slurmctld')[-2000:]}"
                f"\nslurmd: {cluster.log('slurmd')[-2000:]}"
            ) from exc
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-2000:]
    except OSError:
        return "(no log)"


def interrupted_sleep(conn: Any, interrupt: Callable[[], object], tmp: Path) -> Any:
    """Run a 60 s sleep on ``conn`` (a kcf KernelConnection), call ``interrupt`` once it
    runs (a marker file says so), and return the execute result."""
    marker = tmp / "sleeping"
    code = f"import time; open({str(marker)!r}, 'w').close(); time.sleep(60)"
    done: list[Any] = []
    runner = threading.Thread(target=lambda: done.append(conn.execute(code)))
    runner.start()
    wait_for(marker.exists, 60, "the sleep to start")
    interrupt()
    runner.join(60)
    assert done, "the interrupted execute did not return"
    return done[0]
