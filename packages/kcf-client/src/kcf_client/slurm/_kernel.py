"""``start_slurm_kernel`` and the :class:`SlurmKernel` handle.

Start: the launcher binds its registration socket (:mod:`._register`), submits a job whose
script calls it back and runs ``python -m kcf_kernel.nanny`` (``sbatch``, or ``srun``
inside an existing allocation), and watches the job (state and pending reason reported as
they change) until the node calls back, the job ends (an error with Slurm's state, reason,
exit code and the job's last output lines) or the start timeout runs out (the job is
cancelled). Over the link it sends the hello and a signed ``nanny_launch_request`` asking the
nanny to bind the address the node reported (its end of the link: the address of its
interface that routes to the launcher, see :mod:`._register`), reads the kernel's real ports
and key, and writes the connection file with that address as ``ip`` (``slurm_job_id`` and
``slurm_node`` as extra fields). Every failure path and :meth:`SlurmKernel.close` run
``scancel``; a launcher that dies closes the link, and the nanny ends the kernel (and so the
job) after its grace period.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal

from kcf_kernel import new_kernel_id, remove_connection_file, runtime_dir, write_connection_file
from kcf_kernel._nanny import (
    DEFAULT_GRACE,
    NannyRequest,
    _tail,  # the last lines of a log, as the nanny reports them
)
from kcf_kernel._nanny_link import LinkClosed, SocketLink, recv_message, send_hello, send_message
from kcf_spec import Codec, ConnectionInfo, Message, RemoteProtocolError, SignatureError

from ._address import registration_address
from ._commands import JobStatus, cancel_job, job_status, submit_batch
from ._errors import (
    SlurmCommandError,
    SlurmError,
    SlurmJobFailed,
    SlurmOptionError,
    SlurmStartTimeout,
)
from ._options import SlurmOptions
from ._register import Callback, Registration, batch_script

__all__ = ["SlurmKernel", "start_slurm_kernel", "StatusCallback"]

log = logging.getLogger("kcf_client.slurm")

#: Called with each new (state, reason) of the job while the launcher waits for it.
StatusCallback = Callable[[JobStatus], None]
Signal = Literal["interrupt", "terminate", "kill"]


class SlurmKernel:
    """A kernel running in a Slurm job, managed by the nanny in that job.

    Use it as a context manager or call :meth:`close`.

    Attributes:
        job_id: the Slurm job id (``JOBID`` or, under ``srun``, ``JOBID.STEP`` once known).
        node: the node the job runs on.
        info: the kernel's connection info (the node's address, the real ports, its key).
        connection_file: the connection file written for frontends.
        pid: the kernel's process id on the node.
        log_file: the job's output file (removed by :meth:`close`).

    .. versionadded:: 0.2.0
    """

    def __init__(self, *, key: bytes, log_file: Path, grace: float) -> None:
        self.job_id = ""
        self.node = ""
        self.pid = 0
        self.info: ConnectionInfo | None = None
        self.connection_file = Path()
        self.log_file = log_file
        self.grace = grace
        self._key = key
        self._codec = Codec(key)
        self._link: SocketLink | None = None
        self._srun: subprocess.Popen[bytes] | None = None
        self._replies: queue.Queue[Message] = queue.Queue()
        self._ended = threading.Event()
        self._exit_status: int | None = None
        self._closed = False
        self._file_written = False
        self._request_lock = threading.Lock()

    # -- starting -------------------------------------------------------------------------------

    def _wait_for_node(
        self,
        registration: Registration,
        timeout: float,
        poll: float,
        on_status: StatusCallback | None,
    ) -> Callback:
        """Watch the job until its script calls back; report each new state and reason."""
        deadline = time.monotonic() + timeout
        last: JobStatus | None = None
        while True:
            try:
                status = self._status()
            except SlurmCommandError as exc:  # a busy controller: look again, within the deadline
                log.warning("Slurm job %s: %s", self.job_id, exc)
                status = last if last is not None else JobStatus(self.job_id, "UNKNOWN")
            if last is None or (status.state, status.reason) != (last.state, last.reason):
                log.info("%s", status)
                if on_status is not None:
                    on_status(status)
                last = status
            if status.finished:
                raise SlurmJobFailed(
                    "the job ended before its kernel called back",
                    job_id=self.job_id,
                    state=status.state,
                    reason=status.reason,
                    exit_code=status.exit_code,
                    stderr_tail=_tail(self.log_file),
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise SlurmStartTimeout(
                    timeout=timeout, job_id=self.job_id, state=status.state, reason=status.reason
                )
            called = registration.accept(min(poll, left))
            if called is not None:
                if self._srun is not None and called.job_id:
                    self.job_id = called.job_id  # srun's job (and step), known only now
                self.node = status.node
                return called

    def _status(self) -> JobStatus:
        if self._srun is not None:
            code = self._srun.poll()
            if code is None:
                return JobStatus(self.job_id, "STARTING")
            return JobStatus(self.job_id, "FAILED", "srun exited", f"{code}:0")
        return job_status(self.job_id)

    def _launch(self, called: Callback, request: NannyRequest, timeout: float) -> None:
        conn = called.conn
        link = SocketLink(conn)
        self._link = link
        if not called.address:  # the job runs on; close() cancels it
            raise SlurmJobFailed(
                "the job called back without a usable address for its kernel",
                job_id=self.job_id,
            )
        request = dataclasses.replace(request, ip=called.address)
        conn.settimeout(timeout + request.timeout)
        try:
            send_hello(link, self._key)
            send_message(link, self._codec, "nanny_launch_request", request.to_content())
            reply = recv_message(link, self._codec)
        except (LinkClosed, RemoteProtocolError, SignatureError) as exc:
            raise self._failure(f"the nanny did not answer the launch request ({exc})") from exc
        conn.settimeout(None)
        content = reply.content
        if reply.header.msg_type != "nanny_launch_reply":
            raise RemoteProtocolError(
                f"nanny: expected nanny_launch_reply, got {reply.header.msg_type}"
            )
        if content.get("status") != "ok":
            tail = [str(x) for x in content.get("stderr_tail") or []]
            raise self._failure(str(content.get("message", "the kernel did not start")), tail)
        try:
            remote = ConnectionInfo.from_dict(content["connection"], profile="connect")
        except (KeyError, TypeError) as exc:
            raise RemoteProtocolError(
                "nanny: nanny_launch_reply without /content/connection"
            ) from exc
        self.pid = int(content.get("pid", 0))
        host = str(content.get("hostname", ""))
        self.node = self.node or host
        if remote.transport != "tcp" or remote.ip != request.ip:  # the job runs on
            raise SlurmJobFailed(
                f"the kernel on node {host} listens on {remote.transport}://{remote.ip}, not on "
                f"{request.ip} as asked (is kcf-kernel on the node older than the launcher?)",
                job_id=self.job_id,
            )
        extras = {**remote.extras, "slurm_job_id": self.job_id, "slurm_node": self.node}
        self.info = remote.replace(extras=extras)
        threading.Thread(
            target=self._read, args=(link,), daemon=True, name="kcf-slurm-read"
        ).start()

    def _failure(self, message: str, tail: Sequence[str] = ()) -> SlurmJobFailed:
        """The error for a kernel that failed on the node, with Slurm's view of the job once
        it has ended (a few seconds at most: the nanny exits when its kernel could not start)."""
        status = JobStatus(self.job_id, "")
        if self._srun is None:
            with contextlib.suppress(SlurmError):
                deadline = time.monotonic() + 15
                status = job_status(self.job_id)
                while not status.finished and time.monotonic() < deadline:
                    self._ended.wait(0.2)
                    status = job_status(self.job_id)
        else:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self._srun.wait(15)
                status = JobStatus(self.job_id, "FAILED", "", f"{code}:0")
        return SlurmJobFailed(
            message,
            job_id=self.job_id,
            state=status.state,
            reason=status.reason,
            exit_code=status.exit_code,
            stderr_tail=list(tail) or _tail(self.log_file),
        )

    # -- following the link ---------------------------------------------------------------------

    def _read(self, link: SocketLink) -> None:
        try:
            while True:
                msg = recv_message(link, self._codec)
                if msg.header.msg_type == "nanny_kernel_exited":
                    status = msg.content.get("exit_status")
                    self._exit_status = status if isinstance(status, int) else None
                    log.info("Slurm job %s: the kernel exited (%s)", self.job_id, status)
                    self._ended.set()
                else:
                    self._replies.put(msg)
        except (LinkClosed, RemoteProtocolError, SignatureError):
            pass
        self._ended.set()

    def _request(self, msg_type: str, content: Mapping[str, object], timeout: float) -> Message:
        link = self._link
        if link is None or self._ended.is_set():
            raise SlurmError(f"Slurm job {self.job_id}: the kernel is gone")
        with self._request_lock:
            while not self._replies.empty():
                self._replies.get_nowait()
            try:
                send_message(link, self._codec, msg_type, dict(content))
                return self._replies.get(timeout=timeout)
            except (LinkClosed, queue.Empty):
                raise SlurmError(
                    f"Slurm job {self.job_id}: no answer to {msg_type} within {timeout:g} s"
                ) from None

    # -- public surface -------------------------------------------------------------------------

    @property
    def exit_status(self) -> int | None:
        """The kernel's exit status once it ended by itself, else ``None``."""
        return self._exit_status

    def is_alive(self) -> bool:
        """``True`` while the kernel runs and its nanny is connected."""
        return not self._closed and self._link is not None and not self._ended.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the kernel is gone; whether it is, after ``timeout``."""
        return self._ended.wait(timeout)

    def signal(self, name: Signal, timeout: float = 10.0) -> None:
        """Send ``interrupt`` (SIGINT), ``terminate`` (SIGTERM) or ``kill`` (SIGKILL) to the
        kernel's process group on the node, through the nanny.

        Raises:
            SlurmError: the kernel is gone, or the nanny did not answer within ``timeout``.
        """
        reply = self._request("nanny_signal_request", {"signal": name}, timeout)
        if reply.content.get("status") != "ok":
            raise SlurmError(f"Slurm job {self.job_id}: {reply.content.get('message')}")

    def interrupt(self, timeout: float = 10.0) -> None:
        """Interrupt the running code (SIGINT to the kernel's process group)."""
        self.signal("interrupt", timeout)

    def terminate(self, timeout: float = 10.0) -> None:
        """Ask the kernel to stop (SIGTERM)."""
        self.signal("terminate", timeout)

    def kill(self, timeout: float = 10.0) -> None:
        """Kill the kernel's process group (SIGKILL)."""
        self.signal("kill", timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Shut the kernel down through the nanny, end the job (``scancel``), remove the
        connection file and the job's output file. Idempotent; returns within about
        ``2 * timeout``."""
        if self._closed:
            return
        if self.is_alive():
            with contextlib.suppress(SlurmError):
                self._request("nanny_shutdown_request", {}, timeout)
        self._closed = True
        if self._link is not None:
            self._link.close()
        self._end_job(timeout)
        if self._file_written and self.info is not None:
            remove_connection_file(self.connection_file, self.info)
            self._file_written = False
        with contextlib.suppress(FileNotFoundError):
            self.log_file.unlink()
        self._ended.set()

    def _end_job(self, timeout: float) -> None:
        if self._srun is not None:
            if self._srun.poll() is None:
                self._srun.terminate()  # srun passes it to the step's tasks
                try:
                    self._srun.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._srun.kill()
                    self._srun.wait(timeout)
        elif self.job_id:
            cancel_job(self.job_id, timeout=timeout)

    def __enter__(self) -> SlurmKernel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "alive" if self.is_alive() else "gone"
        return (
            f"<SlurmKernel job {self.job_id} on {self.node or '?'} {state} {self.connection_file}>"
        )


def start_slurm_kernel(
    *,
    options: SlurmOptions | None = None,
    kernelspec: str | None = None,
    argv: Sequence[str] | None = None,
    strategy: Literal["auto", "kernel", "handshake", "reserve"] = "auto",
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    python: str = sys.executable,
    use_srun: bool = False,
    registration_ip: str | None = None,
    timeout: float = 300.0,
    kernel_timeout: float = 60.0,
    grace: float = DEFAULT_GRACE,
    poll_interval: float = 0.5,
    on_status: StatusCallback | None = None,
    connection_file: str | os.PathLike[str] | None = None,
    log_dir: str | os.PathLike[str] | None = None,
) -> SlurmKernel:
    """Start a kernel in a Slurm job and return its handle once the kernel is ready.

    Args:
        options: the job's Slurm options (partition, time, account, gres, cpus, memory,
            constraint, extra arguments).
        kernelspec: a kernelspec name on the node.
        argv: the kernel's argv template instead (``{connection_file}`` placeholders).
            Neither: ipykernel with ``python``.
        strategy: how the kernel gets its ports on the node (see :mod:`kcf_kernel.nanny`).
        env: variables added to the kernel's environment.
        cwd: the kernel's working directory on the node.
        python: the Python on the nodes that has kcf-kernel (and the kernel).
        use_srun: run the nanny with ``srun`` (a step of the current allocation inside
            ``salloc`` or a batch job; elsewhere srun makes its own) instead of submitting a
            batch job with ``sbatch``. The launcher must then live as long as the kernel.
        registration_ip: the address the node calls back (default: this host's address on
            the interface that routes to the Slurm controller). The kernel listens on the
            node's end of that call, the node's address on the route back to this host.
        timeout: seconds from submission until the kernel is ready (queue time included);
            then the job is cancelled and :class:`SlurmStartTimeout` raised.
        kernel_timeout: seconds the nanny waits for the kernel's ports on the node.
        grace: seconds the kernel outlives a lost launcher before the nanny ends it.
        poll_interval: seconds between looks at the job's state while it waits.
        on_status: called with each new state / pending reason (also logged on the
            ``kcf_client.slurm`` logger).
        connection_file: where to write the connection file (default: the runtime dir,
            ``kernel-<id>-slurm.json``).
        log_dir: the directory of the job's output file, which the launcher reads when a
            start fails; it must be reachable from the nodes under the same path (default:
            the runtime dir, in the home directory on most clusters).

    Raises:
        SlurmOptionError: ``python`` or the options are not usable.
        SlurmCommandError: ``sbatch`` / ``scontrol`` failed (not installed, rejected options).
        SlurmJobFailed: the job ended or the kernel failed on the node (Slurm's state, reason
            and exit code, and the last lines of the output).
        SlurmStartTimeout: not ready within ``timeout``; the job was cancelled.

    .. versionadded:: 0.2.0
    """
    if argv is not None and kernelspec is not None:
        raise SlurmOptionError("argv", list(argv), "argv or kernelspec, not both")
    if not python or any(c.isspace() for c in python):
        raise SlurmOptionError("python", python, "a path without white space (a #! line)")
    options = options if options is not None else SlurmOptions()
    logs = Path(log_dir) if log_dir is not None else runtime_dir()
    logs.mkdir(mode=0o700, parents=True, exist_ok=True)
    kernel = SlurmKernel(
        key=secrets.token_hex(32).encode("ascii"),
        log_file=logs / f"kcf-slurm-{secrets.token_hex(6)}.log",
        grace=grace,
    )
    request = NannyRequest(
        argv=tuple(argv) if argv is not None else None,
        kernelspec=kernelspec,
        strategy=strategy,
        env=dict(env or {}),
        cwd=cwd,
        grace=grace,
        timeout=kernel_timeout,
    )
    address = registration_ip if registration_ip is not None else registration_address()
    try:
        with Registration(address) as registration:
            script = batch_script(python, registration)
            output = [f"--output={kernel.log_file}", "--open-mode=append"]
            if use_srun:
                kernel._srun = _run_srun(options, output, python, script, kernel.log_file)
                kernel.job_id = os.environ.get("SLURM_JOB_ID", "srun")
            else:
                kernel.job_id = submit_batch([*options.argv(), *output], script)
            log.info("Slurm job %s: submitted", kernel.job_id)
            called = kernel._wait_for_node(registration, timeout, poll_interval, on_status)
        kernel._launch(called, request, kernel_timeout)
        assert kernel.info is not None
        path = (
            Path(connection_file)
            if connection_file is not None
            else runtime_dir() / f"kernel-{new_kernel_id()}-slurm.json"
        )
        kernel.connection_file = write_connection_file(kernel.info, path)
        kernel._file_written = True
    except BaseException:
        kernel.close(timeout=10)
        raise
    log.info(
        "Slurm job %s: kernel ready on %s (%s)", kernel.job_id, kernel.node, kernel.connection_file
    )
    return kernel


def _run_srun(
    options: SlurmOptions, output: list[str], python: str, script: str, log_file: Path
) -> subprocess.Popen[bytes]:
    """``srun``: one task running the script's code (a step of the current allocation, or
    of one srun makes)."""
    code = script.split("\n", 1)[1]  # the script without its #! line
    argv = ["srun", "--nodes=1", "--ntasks=1", *options.argv(), *output, "--", python, "-c", code]
    with open(log_file, "ab") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
