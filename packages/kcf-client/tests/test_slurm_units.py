"""kcf_client.slurm without a cluster: options as argv, the registration token, the job
script, scontrol parsing, the registration address."""

from __future__ import annotations

import inspect
import re
import socket
import subprocess
import sys
import threading
import types

import kcf_client.slurm as kcf_client_slurm
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kcf_client.slurm import (
    SlurmCommandError,
    SlurmJobFailed,
    SlurmOptionError,
    SlurmOptions,
    registration_address,
)
from kcf_client.slurm._commands import _fields, run_command
from kcf_client.slurm._register import Callback, Registration, batch_script
from kcf_spec import KcfError

one_line = st.text(min_size=1).filter(lambda s: "\n" not in s)


class TestSlurmOptions:
    def test_options_argv_one_item_per_option(self) -> None:
        """Each option is one --name=value item; extra args follow, unchanged."""
        opts = SlurmOptions(
            partition="gpu",
            time="1:00:00",
            account="proj",
            gres="gpu:1",
            cpus=4,
            memory="8G",
            constraint="a100",
            extra_args=("--qos=debug", "--hold"),
        )
        assert opts.argv() == [
            "--job-name=kcf-kernel",
            "--partition=gpu",
            "--time=1:00:00",
            "--account=proj",
            "--gres=gpu:1",
            "--cpus-per-task=4",
            "--mem=8G",
            "--constraint=a100",
            "--qos=debug",
            "--hold",
        ]

    @given(value=one_line)
    def test_options_value_never_splits(self, value: str) -> None:
        """Any one-line value (spaces, quotes, leading dashes) stays inside its one item."""
        argv = SlurmOptions(partition=value).argv()
        assert argv == ["--job-name=kcf-kernel", f"--partition={value}"]

    @pytest.mark.parametrize(
        ("field", "value"),
        [("partition", ""), ("time", "1\n2"), ("cpus", 0), ("cpus", True), ("cpus", "2")],
    )
    def test_options_bad_value_names_the_option(self, field: str, value: object) -> None:
        """A bad value raises SlurmOptionError naming the option."""
        with pytest.raises(SlurmOptionError, match=f"Slurm option {field}:") as info:
            SlurmOptions(**{field: value})  # type: ignore[arg-type]
        assert info.value.field == field

    def test_options_extra_args_string_refused(self) -> None:
        """extra_args as one string (a shell habit) is refused, not split."""
        with pytest.raises(SlurmOptionError, match="extra_args"):
            SlurmOptions(extra_args="--qos=debug --hold")  # type: ignore[arg-type]


class TestRegistration:
    def test_registration_wrong_token_refused_right_one_accepted(self) -> None:
        """A caller without the token is closed; the job's call with it is accepted."""
        with Registration("127.0.0.1") as reg:
            intruder = socket.create_connection(("127.0.0.1", reg.port))
            intruder.sendall(b"kcf-slurm/2 " + b"x" * len(reg.token) + b" 42 127.0.0.1\n")
            got: list[Callback | None] = []
            t = threading.Thread(target=lambda: got.append(reg.accept(30)))
            t.start()
            assert intruder.recv(1) == b""  # closed by the launcher
            job = socket.create_connection(("127.0.0.1", reg.port))
            job.sendall(reg.hello[:-1] + b" 42.0 10.1.0.17\nlink bytes")
            t.join(30)
            assert got
            assert got[0] is not None
            conn, job_id, address = got[0]
            assert (job_id, address) == ("42.0", "10.1.0.17")
            assert conn.recv(10) == b"link bytes"  # nothing after the line was consumed
            for s in (intruder, job, conn):
                s.close()

    @pytest.mark.parametrize(
        ("tail", "job_id", "address"),
        [
            (b" 7 fd00::2", "7", "fd00::2"),
            (b"  127.0.0.1", "", "127.0.0.1"),  # no job id (a job outside Slurm's env)
            (b" 7 node17", "7", ""),  # a name, not an address
            (b" 7", "7", ""),  # no address (an older script)
            (b" 7 10.1.0.17 more", "7", ""),
        ],
    )
    def test_registration_reads_job_id_and_address(
        self, tail: bytes, job_id: str, address: str
    ) -> None:
        """The job id and the node's address after the token; what is not an IP address
        becomes "" (the launcher then refuses to start the kernel)."""
        with Registration("127.0.0.1") as reg:
            job = socket.create_connection(("127.0.0.1", reg.port))
            job.sendall(reg.hello[:-1] + tail + b"\n")
            called = reg.accept(30)
            assert called is not None
            assert (called.job_id, called.address) == (job_id, address)
            called.conn.close()
            job.close()

    def test_registration_accept_returns_none_at_timeout(self) -> None:
        """No caller: accept returns None by its timeout."""
        with Registration("127.0.0.1") as reg:
            assert reg.accept(0.2) is None

    def test_batch_script_calls_back_and_runs_the_nanny(self, tmp_path: object) -> None:
        """The job script is Python that sends the hello and runs the nanny."""
        with Registration("127.0.0.1") as reg:
            script = batch_script(sys.executable, reg)
            assert script.startswith(f"#!{sys.executable}\n")
            compile(script, "job", "exec")
            child = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
            called = reg.accept(60)
            assert called is not None
            assert called.address == "127.0.0.1"  # its end of the connection
            called.conn.close()  # no hello: the nanny exits (2), having read nothing it trusts
            assert child.wait(60) == 2
            assert child.stderr is not None
            assert b"kcf nanny" in child.stderr.read()


class TestCommands:
    def test_fields_scontrol_line(self) -> None:
        """One scontrol -o line: the first value of each key, no spaces inside values."""
        line = "JobId=7 JobState=PENDING Reason=JobHeldUser ExitCode=0:0 NodeList=(null)"
        assert _fields(line) == {
            "JobId": "7",
            "JobState": "PENDING",
            "Reason": "JobHeldUser",
            "ExitCode": "0:0",
            "NodeList": "(null)",
        }

    def test_run_command_missing_program(self) -> None:
        """A Slurm command that is not installed says so."""
        with pytest.raises(SlurmCommandError, match="not installed") as info:
            run_command(["kcf-no-such-sbatch", "--version"])
        assert info.value.returncode is None

    def test_run_command_failure_carries_stderr(self) -> None:
        """A failing command: exit status and stderr in the error."""
        code = "import sys; sys.stderr.write('sbatch: error: invalid partition'); sys.exit(1)"
        with pytest.raises(SlurmCommandError, match="invalid partition") as info:
            run_command([sys.executable, "-c", code])
        assert info.value.returncode == 1

    def test_run_command_returns_by_its_timeout(self) -> None:
        """A command that hangs is abandoned at the timeout."""
        with pytest.raises(SlurmCommandError, match=r"within 0\.5 s"):
            run_command([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)

    def test_job_failed_message_has_state_reason_and_tail(self) -> None:
        """The failure text carries the state, reason, exit code and output lines."""
        err = SlurmJobFailed(
            "boom",
            job_id="9",
            state="FAILED",
            reason="NonZeroExitCode",
            exit_code="2:0",
            stderr_tail=["Traceback", "ImportError: kcf_kernel"],
        )
        text = str(err)
        for part in ("Slurm job 9", "FAILED", "NonZeroExitCode", "2:0", "ImportError"):
            assert part in text


class TestAddress:
    def test_registration_address_routes_to_loopback(self) -> None:
        """A controller on 127.0.0.1 is reached from 127.0.0.1."""
        assert registration_address("127.0.0.1") == "127.0.0.1"


class TestPublicSurface:
    @pytest.mark.parametrize("name", kcf_client_slurm.__all__)
    def test_slurm_public_item_documents_versionadded(self, name: str) -> None:
        """Each public class and function of kcf_client.slurm says when it was added."""
        obj = getattr(kcf_client_slurm, name)
        if isinstance(obj, types.GenericAlias) or not (
            inspect.isclass(obj) or inspect.isfunction(obj)
        ):
            return  # a type alias (Python 3.10 calls Callable[...] a class)
        assert re.search(r"\.\. versionadded:: 0\.\d+\.\d+", inspect.getdoc(obj) or ""), name

    def test_slurm_errors_are_kcf_errors(self) -> None:
        """Every error of kcf_client.slurm is a KcfError."""
        errors = [
            getattr(kcf_client_slurm, n)
            for n in kcf_client_slurm.__all__
            if inspect.isclass(getattr(kcf_client_slurm, n))
            and issubclass(getattr(kcf_client_slurm, n), BaseException)
        ]
        assert len(errors) == 5
        assert all(issubclass(e, KcfError) for e in errors)
