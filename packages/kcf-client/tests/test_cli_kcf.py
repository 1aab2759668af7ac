"""The kcf command, in-process (main(argv) -> int) and as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from kcf_client._cli import main
from kcf_client._cli import parse as _parse
from kcf_spec import Channel

pytestmark = pytest.mark.interop


def kcf(*args: str, env: dict[str, str] | None = None, timeout: float = 90) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "kcf_client", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


class TestCliInProcess:
    def test_cli_list_json_live_and_bad(
        self, runtime_dir: Path, ipykernel_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """list --json shows the live kernel and the bad file with a reason."""
        shutil.copy(ipykernel_file, runtime_dir / "kernel-live.json")
        (runtime_dir / "kernel-bad.json").write_text("garbage")
        assert main(["list", "--json"]) == 0
        doc = {Path(e["path"]).name: e for e in json.loads(capsys.readouterr().out)}
        assert doc["kernel-live.json"]["state"] == "alive"
        assert doc["kernel-bad.json"]["state"] == "invalid"
        assert doc["kernel-bad.json"]["reason"]

    def test_cli_validate_invalid_exit_1_with_pointer(
        self, tmp_path: Path, ipykernel_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """validate exits 1 when any file is invalid and names the JSON pointer."""
        bad = tmp_path / "bad.json"
        data = json.loads(ipykernel_file.read_text())
        data["shell_port"] = "x"
        bad.write_text(json.dumps(data))
        assert main(["validate", str(ipykernel_file), str(bad), "--json"]) == 1
        good, wrong = json.loads(capsys.readouterr().out)
        assert good["valid"] is True
        assert wrong["valid"] is False
        assert wrong["pointer"] == "/shell_port"

    def test_cli_exec_prints_result(
        self, ipykernel_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """exec runs code and prints stdout then the result."""
        assert main(["exec", str(ipykernel_file), "print('hi'); 40+2"]) == 0
        assert capsys.readouterr().out == "hi\n42\n"

    def test_cli_exec_error_exit_1(
        self, ipykernel_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Code that raises exits 1 and prints the exception on stderr."""
        assert main(["exec", str(ipykernel_file), "1/0"]) == 1
        assert "ZeroDivisionError" in capsys.readouterr().err

    def test_cli_ping_dead_exit_4(
        self, tmp_path: Path, h: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """ping of a silent kernel exits 4 with one error line naming the file."""
        f = h.write(tmp_path / "kernel-dead.json", h.dead_info())
        assert main(["ping", str(f), "--timeout", "0.2"]) == 4
        err = capsys.readouterr().err
        assert err.startswith("kcf: error: ")
        assert err.count("\n") == 1
        assert str(f) in err

    def test_cli_not_found_exit_3(
        self, runtime_dir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A FILE that matches nothing exits 3 and names the directories searched."""
        assert main(["info", "no-such-kernel"]) == 3
        assert str(runtime_dir) in capsys.readouterr().err

    def test_cli_usage_exit_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Bad arguments exit 2 with one line."""
        assert main(["ping"]) == 2
        assert capsys.readouterr().err.startswith("kcf: error: ")

    @pytest.mark.parametrize(
        "argv",
        [
            ["ping", "F", "--count", "0"],
            ["ping", "F", "--timeout", "-1"],
            ["ping", "F", "--timeout", "inf"],
            ["exec", "F", "1", "--timeout", "0"],
            ["list", "--timeout", "nan"],
            ["prune", "--grace", "-5", "--dry-run"],
        ],
    )
    def test_cli_bad_number_is_usage_exit_2(
        self, argv: list[str], runtime_dir: Path, h: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A count below 1, a timeout not above 0 or a negative grace is a one-line usage error."""
        f = h.write(runtime_dir / "kernel-dead.json", h.dead_info())
        assert main([str(f) if a == "F" else a for a in argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("kcf: error: ")
        assert err.count("\n") == 1
        assert f.exists()

    def test_cli_info_hides_key(
        self, ipykernel_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """info shows the file's data without the key."""
        key = json.loads(ipykernel_file.read_text())["key"]
        assert main(["info", str(ipykernel_file), "--json"]) == 0
        out = capsys.readouterr().out
        assert key not in out
        assert json.loads(out)["connection"]["key"] == "<hidden>"

    def test_cli_prune_dry_run(
        self, runtime_dir: Path, h: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """prune --dry-run names the dead file and keeps it."""
        f = h.write(runtime_dir / "kernel-dead.json", h.dead_info())
        assert main(["prune", "--dry-run", "--grace", "0", "--timeout", "0.2"]) == 0
        assert f"would remove {f}" in capsys.readouterr().out
        assert f.exists()

    def test_cli_tunnel_missing_is_one_line(
        self,
        ipykernel_file: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Without kcf_client.tunnel, --ssh fails with one clear line, exit 5."""
        monkeypatch.setitem(sys.modules, "kcf_client.tunnel", None)
        assert main(["ping", str(ipykernel_file), "--ssh", "host"]) == 5
        err = capsys.readouterr().err
        assert "SSH tunnels are not available" in err
        assert err.count("\n") == 1


class TestCliSubprocess:
    def test_cli_subprocess_run_main_job(self, runtime_dir: Path) -> None:
        """`kcf run` starts a kernel, finds it, runs code, prints, shuts it down."""
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime_dir))
        p = kcf("run", "print('hello'); 6*7", env=env)
        assert p.returncode == 0, p.stderr
        assert p.stdout == "hello\n42\n"
        assert list(runtime_dir.glob("kernel-*.json")) == []

    def test_cli_subprocess_error_has_no_traceback(self, tmp_path: Path) -> None:
        """A failing command prints one line, no traceback; --debug shows it."""
        (tmp_path / "kernel-x.json").write_text("{")
        p = kcf("ping", str(tmp_path / "kernel-x.json"))
        assert p.returncode == 1
        assert p.stderr.count("\n") == 1
        assert "Traceback" not in p.stderr
        p = kcf("ping", str(tmp_path / "kernel-x.json"), "--debug")
        assert "Traceback" in p.stderr

    def test_cli_subprocess_help_lists_exit_codes(self) -> None:
        """kcf --help documents the exit codes."""
        p = kcf("--help")
        assert p.returncode == 0
        assert "exit codes" in p.stdout
        assert "130" in p.stdout


class TestCliParse:
    def test_parse_console_file_then_dashdash_args(self) -> None:
        """``kcf console FILE -- ARGS`` gives FILE to kcf and ARGS to the console."""
        args = _parse(["console", "kernel-1.json", "--", "--simple-prompt", "--x=1"])
        assert args.file == "kernel-1.json"
        assert args.extra == ["--simple-prompt", "--x=1"]

    def test_parse_start_argv_after_dashdash(self) -> None:
        """``kcf start -- ARGV`` passes ARGV (options included) as the kernel command."""
        args = _parse(
            ["start", "--kernel", "example", "--", "python", "-m", "k", "-f", "{connection_file}"]
        )
        assert args.kernel == "example"
        assert args.argv == ["python", "-m", "k", "-f", "{connection_file}"]

    def test_parse_dashdash_refused_where_nothing_takes_it(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A command without a program to start refuses arguments after ``--`` (exit 2)."""
        assert main(["ping", "kernel-1.json", "--", "x"]) == 2
        assert "takes no arguments after '--'" in capsys.readouterr().err


class TestCliIssue9:
    def test_cli_list_closed_pipe_is_quiet_success(self, runtime_dir: Path) -> None:
        """`kcf list | head -1`: a reader that closed the pipe ends kcf quietly, exit 0."""
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before kcf writes a byte
        try:
            p = subprocess.run(
                [sys.executable, "-m", "kcf_client", "list", "--no-check"],
                stdout=write_end,
                stderr=subprocess.PIPE,
                text=True,
                timeout=90,
                env=dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime_dir)),
            )
        finally:
            os.close(write_end)
        assert p.returncode == 0
        assert p.stderr == ""

    def test_cli_ping_json_dead_prints_json(
        self, tmp_path: Path, h: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """ping --json on a silent kernel prints a JSON verdict (alive: false), exit 4."""
        f = h.write(tmp_path / "kernel-dead.json", h.dead_info())
        assert main(["ping", str(f), "--timeout", "0.2", "--json"]) == 4
        captured = capsys.readouterr()
        doc = json.loads(captured.out)
        assert doc["alive"] is False
        assert doc["path"] == str(f)
        assert captured.err == ""

    def test_cli_json_error_is_json_on_stdout(
        self, runtime_dir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With --json an error is one JSON document on stdout, nothing on stderr."""
        assert main(["info", "no-such-kernel", "--json"]) == 3
        captured = capsys.readouterr()
        err = json.loads(captured.out)["error"]
        assert err["exit_code"] == 3
        assert str(runtime_dir) in err["message"]
        assert captured.err == ""

    def test_cli_exec_error_shows_traceback_without_colours(
        self, ipykernel_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """exec shows the kernel's whole traceback (not only the last line); no ANSI off a tty."""
        assert main(["exec", str(ipykernel_file), "def f():\n    return 1/0\nf()"]) == 1
        err = capsys.readouterr().err
        assert "ZeroDivisionError" in err
        assert "return 1/0" in err  # a frame of the traceback, not only its last line
        assert "\x1b[" not in err

    def test_cli_exec_timeout_interrupts_the_code(
        self, ipykernel_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Code still running at --timeout is interrupted, and kcf says so (exit 4)."""
        code = "import time\nfor _ in range(600): time.sleep(0.1)"
        assert main(["exec", str(ipykernel_file), code, "--timeout", "1"]) == 4
        assert "interrupted it" in capsys.readouterr().err
        # Not interrupted, the kernel would be busy for a minute and this would time out.
        assert main(["exec", str(ipykernel_file), "6*7", "--timeout", "30"]) == 0
        assert capsys.readouterr().out == "42\n"

    def test_cli_list_empty_says_where(
        self, runtime_dir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """list with nothing found names the pattern and the directory it looked in."""
        assert main(["list"]) == 0
        out = capsys.readouterr().out
        assert "no connection files" in out
        assert str(runtime_dir) in out
        assert "kernel-*.json" in out

    def test_cli_info_show_key_text(
        self, ipykernel_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """info --show-key prints the key in text mode too."""
        key = json.loads(ipykernel_file.read_text())["key"]
        assert main(["info", str(ipykernel_file), "--show-key"]) == 0
        assert f"key:       {key}" in capsys.readouterr().out

    def test_cli_console_validates_file_first(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """console refuses an invalid FILE with our error (pointer), before any console runs."""
        bad = tmp_path / "kernel-bad.json"
        bad.write_text('{"shell_port": "x"}')
        monkeypatch.setenv("PATH", str(tmp_path))  # no console to start: it must not get there
        assert main(["console", str(bad)]) == 1
        err = capsys.readouterr().err
        assert str(bad) in err
        assert "jupyter-console" not in err

    @pytest.mark.parametrize(("code", "text"), [(-15, "killed by SIGTERM"), (3, "code 3")])
    def test_exit_status_text_names_signal(self, code: int, text: str) -> None:
        """A negative exit status is told as the signal that killed the process."""
        from kcf_client._cli._output import exit_status_text

        assert text in exit_status_text(code)


def _kernel_pids(marker: str) -> set[int]:
    """Processes whose command line holds ``marker`` (kernels started with our runtime dir)."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            status = (proc / "status").read_text()
        except OSError:
            continue
        if marker.encode() in cmdline and "State:\tZ" not in status:
            found.add(int(proc.name))
    return found


def _wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} not seen within {timeout}s"
        time.sleep(0.01)  # polling an event with a deadline, not a fixed wait


class TestCliStartSignals:
    @pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
    @pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP", "SIGINT"])
    @pytest.mark.parametrize("stage", ["at-once", "file-written", "kernel-spawned", "ready"])
    def test_cli_start_signal_leaves_nothing(self, tmp_path: Path, sig: str, stage: str) -> None:
        """A stop signal at any moment of `kcf start` leaves no kernel process and no file."""
        rt = tmp_path / "rt"
        rt.mkdir(mode=0o700)
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(rt))
        proc = subprocess.Popen(
            [sys.executable, "-m", "kcf_client", "start", "--kernel", "example"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        try:
            if stage == "file-written":
                _wait_for(lambda: any(rt.glob("kernel-*.json")), 60, "a connection file")
            elif stage == "kernel-spawned":
                _wait_for(lambda: _kernel_pids(str(rt)), 60, "a kernel process")
            elif stage == "ready":
                assert proc.stdout is not None
                assert proc.stdout.readline().startswith(str(rt).encode())
            proc.send_signal(getattr(signal, sig))
            proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        _wait_for(lambda: not _kernel_pids(str(rt)), 30, "the kernel's end")
        assert list(rt.glob("kernel-*.json")) == []
        if stage == "ready":
            assert proc.returncode == 0  # the way to stop a running `kcf start`

    def test_cli_run_signal_while_code_runs_leaves_nothing(self, tmp_path: Path) -> None:
        """SIGTERM while `kcf run`'s code runs ends kcf (128 + 15) with no kernel, no file."""
        rt = tmp_path / "rt"
        rt.mkdir(mode=0o700)
        marker = tmp_path / "running"
        code = f"open({str(marker)!r}, 'w').close()\nimport time\ntime.sleep(600)"
        proc = subprocess.Popen(
            [sys.executable, "-m", "kcf_client", "run", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=dict(os.environ, JUPYTER_RUNTIME_DIR=str(rt)),
        )
        try:
            _wait_for(marker.exists, 90, "the code running")
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 128 + signal.SIGTERM, err
        _wait_for(lambda: not _kernel_pids(str(rt)), 30, "the kernel's end")
        assert list(rt.glob("kernel-*.json")) == []


class TestCliStop:
    def test_cli_stop_ends_kernel_and_removes_file(
        self, runtime_dir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`kcf stop FILE` shuts the kernel down, proves it gone, removes its file."""
        import kcf_kernel

        kernel = kcf_kernel.launch_kernel(
            kcf_kernel.ipykernel_argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        with kernel:
            from kcf_client import connect

            with connect(kernel.connection_file) as kc:
                kc.wait_until_ready(60)
            assert main(["stop", str(kernel.connection_file), "--timeout", "60"]) == 0
            assert "kernel stopped" in capsys.readouterr().out
            assert kernel.popen.wait(timeout=30) == 0  # it exited by itself, cleanly
            assert not kernel.connection_file.exists()

    def test_cli_stop_dead_kernel_file_removed(
        self, runtime_dir: Path, h: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """stop on a file whose kernel is already gone removes the file (exit 0)."""
        f = h.write(runtime_dir / "kernel-dead.json", h.dead_info())
        assert main(["stop", str(f), "--timeout", "5", "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["gone"] is True
        assert doc["file_removed"] is True
        assert not f.exists()

    def test_cli_stop_unproven_death_keeps_file(
        self, runtime_dir: Path, h: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A silent heartbeat with a port still open is not proof of death: file kept, exit 1."""
        import socket

        with socket.create_server(("127.0.0.1", 0)) as taken:
            info = h.dead_info().replace(ports={Channel.SHELL: taken.getsockname()[1]})
            f = h.write(runtime_dir / "kernel-unsure.json", info)
            assert main(["stop", str(f), "--timeout", "2"]) == 1
        assert "not provably gone" in capsys.readouterr().err
        assert f.exists()


class TestCliValidatePortability:
    def test_cli_validate_bom_warns_naming_readers(
        self, tmp_path: Path, h: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A UTF-8 BOM is valid for kcf but warned about, naming the readers that refuse it;
        warnings alone exit 0."""
        f = tmp_path / "kernel-bom.json"
        f.write_bytes(b"\xef\xbb\xbf" + h.dead_info().dumps().encode())
        f.chmod(0o600)
        assert main(["validate", str(f)]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"{f}: ok\n")
        assert "warning: " in out
        assert "byte order mark" in out
        assert "jupyter_client" in out
        assert "serde_json" in out

    def test_cli_validate_duplicate_name_json_hides_key(
        self, tmp_path: Path, h: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--json gives each portability warning's code, message and failing readers, and
        never the repeated value (it may be the key)."""
        info = h.dead_info()
        text = info.dumps()
        f = tmp_path / "kernel-dup.json"
        f.write_text(text.replace("{", '{"key": "first-secret-value", ', 1))
        f.chmod(0o600)
        assert main(["validate", "--json", str(f)]) == 0
        out = capsys.readouterr().out
        (verdict,) = json.loads(out)
        assert verdict["valid"] is True
        (warning,) = verdict["portability"]
        assert warning["code"] == "duplicate-name"
        assert any("serde_json" in r for r in warning["readers"])
        assert any('"key"' in w for w in verdict["warnings"])
        assert "first-secret-value" not in out
        assert info.key.decode() not in out

    def test_cli_validate_strict_fails_on_warnings(
        self, tmp_path: Path, h: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--strict makes a warning a failure (exit 1); a clean file still exits 0."""
        bom = tmp_path / "kernel-bom.json"
        bom.write_bytes(b"\xef\xbb\xbf" + h.dead_info().dumps().encode())
        bom.chmod(0o600)
        clean = h.write(tmp_path / "kernel-clean.json", h.dead_info())
        assert main(["validate", "--strict", str(clean)]) == 0
        assert main(["validate", "--strict", str(clean), str(bom)]) == 1
        assert "byte order mark" in capsys.readouterr().out

    def test_cli_validate_help_documents_strict(self, capsys: pytest.CaptureFixture[str]) -> None:
        """validate --help says that warnings alone exit 0 unless --strict."""
        with pytest.raises(SystemExit):
            main(["validate", "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert "--strict" in out
        assert "warnings alone exit 0 unless --strict" in out


class TestCliPruneLitter:
    def test_cli_prune_reports_temp_files_and_port_locks(
        self, runtime_dir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """prune says which abandoned temporary files and free port locks it removed, in
        text and in --json."""
        gone = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        temp = runtime_dir / f".kernel-a.json.{int(gone.stdout)}.0a1b2c3d4e5f.tmp"
        temp.write_text('{"key": "secret"}')
        os.utime(temp, (1000, 1000))
        locks = runtime_dir / "kcf-ports"
        locks.mkdir(mode=0o700)
        lock = locks / "1.lock"
        lock.write_text('{"pid": 1, "port": 1}')
        assert main(["prune", "--dry-run", "--grace", "0", "--confirm", "0"]) == 0
        out = capsys.readouterr().out
        assert f"would remove {temp} (temporary file of a killed writer)" in out
        assert f"would remove {lock} (free port lock)" in out
        assert temp.exists()
        assert lock.exists()
        assert main(["prune", "--json", "--grace", "0", "--confirm", "0"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["removed_temp_files"] == [str(temp)]
        assert doc["removed_port_locks"] == [str(lock)]
        assert not temp.exists()
        assert not lock.exists()

    @pytest.mark.parametrize(("given", "expected"), [(["--confirm", "0.5"], 0.5), ([], None)])
    def test_cli_prune_confirm_reaches_prune(
        self,
        given: list[str],
        expected: float | None,
        runtime_dir: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """--confirm SECONDS is what prune gets; without it, prune's DEFAULT_CONFIRM (also
        the default --help states)."""
        import kcf_client._listing as listing

        real = listing.prune
        seen: list[float] = []

        def spy(*a: Any, **kw: Any) -> Any:
            seen.append(kw["confirm"])
            return real(*a, **kw)

        monkeypatch.setattr(listing, "prune", spy)
        assert main(["prune", "--dry-run", *given]) == 0
        assert seen == [listing.DEFAULT_CONFIRM if expected is None else expected]
        capsys.readouterr()
        with pytest.raises(SystemExit):
            main(["prune", "--help"])
        help_text = " ".join(capsys.readouterr().out.split())
        assert f"(default {listing.DEFAULT_CONFIRM:g};" in help_text


class TestCliChoice:
    def test_cli_several_matches_say_which(
        self, runtime_dir: Path, h: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """info NAME with several matches says how many and which was chosen, on stderr."""
        old = h.write(runtime_dir / "kernel-abc-1.json", h.dead_info())
        new = h.write(runtime_dir / "kernel-abc-2.json", h.dead_info())
        os.utime(old, (1000, 1000))
        assert main(["info", "abc"]) == 0
        cap = capsys.readouterr()
        assert f"file:      {new}" in cap.out
        assert cap.err == f"kcf: note: 2 files match 'abc'; chose {new} (newest)\n"

    def test_cli_kernel_json_preferred_says_why(
        self, runtime_dir: Path, h: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A newer non-kernel-*.json match loses to kernel-*NAME*.json, and the note says why."""
        chosen = h.write(runtime_dir / "kernel-abc.json", h.dead_info())
        h.write(runtime_dir / "abc-notes.json", h.dead_info())
        os.utime(chosen, (1000, 1000))
        assert main(["info", "abc"]) == 0
        err = capsys.readouterr().err
        assert err.startswith(f"kcf: note: 2 files match 'abc'; chose {chosen} (")
        assert "kernel-*abc*.json" in err

    def test_cli_single_match_and_json_have_no_note(
        self, runtime_dir: Path, h: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """One match gives no note; under --json stderr stays empty even with several."""
        h.write(runtime_dir / "kernel-abc-1.json", h.dead_info())
        assert main(["info", "abc"]) == 0
        assert capsys.readouterr().err == ""
        h.write(runtime_dir / "kernel-abc-2.json", h.dead_info())
        assert main(["info", "--json", "abc"]) == 0
        assert capsys.readouterr().err == ""

    @pytest.mark.parametrize("argv", [["info", ""], ["ping", ""], ["exec", "", "1"], ["stop", ""]])
    def test_cli_empty_name_is_usage_error(
        self,
        argv: list[str],
        runtime_dir: Path,
        h: Any,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """An empty FILE (it would match every file) is a one-line usage error, exit 2."""
        h.write(runtime_dir / "kernel-x.json", h.dead_info())
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("kcf: error: an empty connection file name")
        assert err.count("\n") == 1


def _kernelspec(root: Path, name: str, doc: dict[str, Any] | str) -> Path:
    """Write ``root/kernels/NAME/kernel.json`` (a document, or raw text)."""
    d = root / "kernels" / name
    d.mkdir(parents=True)
    (d / "kernel.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return d


EXAMPLE_ARGV = [sys.executable, "-m", "kcf_kernel.examples.pykernel", "-f", "{connection_file}"]


@pytest.fixture
def kernelspecs(tmp_path: Path, runtime_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private $JUPYTER_PATH holding kernelspecs of kcf's example kernel, one per way of
    getting its ports, and a broken one."""
    root = tmp_path / "jupyter-path"
    example = {"argv": EXAMPLE_ARGV, "display_name": "Example", "language": "python"}
    _kernelspec(root, "kcf-example", example)
    _kernelspec(
        root,
        "kcf-example-hs",
        {**example, "argv": [*EXAMPLE_ARGV[:3], "--registration", "{registration_file}"]},
    )
    _kernelspec(
        root,
        "plain",
        {"argv": ["my-kernel", "{connection_file}"], "language": "lisp"},
    )
    _kernelspec(
        root,
        "kcf-example-xeus",
        {
            **example,
            "argv": [*EXAMPLE_ARGV, "--handshake-dialect", "xeus"],
            "metadata": {"kcf": {"handshake_dialect": "xeus"}},
        },
    )
    _kernelspec(
        root,
        "xpy",
        {"argv": ["python", "-m", "xpython_launcher", "-f", "{connection_file}"]},
    )
    _kernelspec(
        root,
        "proto56",
        {"argv": ["k56", "{connection_file}"], "kernel_protocol_version": "5.6"},
    )
    _kernelspec(root, "broken", '{"argv": "not a list"}')
    monkeypatch.setenv("JUPYTER_PATH", str(root))
    return root


class TestCliKernelspec:
    def test_cli_kernelspec_list_says_strategy_and_why(
        self, kernelspecs: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """kernelspec list gives each kernelspec's language, protocol version and the port
        strategy kcf would use with the reason; a broken kernel.json is a row naming it."""
        assert main(["kernelspec", "list", "--json"]) == 0
        rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
        assert rows["kcf-example"]["strategy"] == "kernel"
        assert "binds port 0" in rows["kcf-example"]["why"]
        assert rows["kcf-example-hs"]["strategy"] == "handshake"
        assert "{registration_file}" in rows["kcf-example-hs"]["why"]
        assert rows["plain"]["strategy"] == "reserve"
        assert rows["plain"]["language"] == "lisp"
        assert "reserves" in rows["plain"]["why"]
        assert (rows["kcf-example-xeus"]["strategy"], rows["kcf-example-xeus"]["dialect"]) == (
            "handshake",
            "xeus",
        )
        assert "metadata" in rows["kcf-example-xeus"]["why"]
        assert (rows["xpy"]["strategy"], rows["xpy"]["dialect"]) == ("handshake", "xeus")
        assert "xpython_launcher" in rows["xpy"]["why"]
        assert (rows["proto56"]["strategy"], rows["proto56"]["dialect"]) == (
            "handshake",
            "jupyter",
        )
        assert "5.6" in rows["proto56"]["why"]
        assert rows["kcf-example"]["dialect"] is None
        assert rows["broken"]["strategy"] is None
        assert "/argv" in rows["broken"]["error"]
        assert main(["kernelspec", "list"]) == 0
        text = capsys.readouterr().out
        assert text.splitlines()[0].split() == [
            "NAME",
            "LANGUAGE",
            "PROTOCOL",
            "PROVISIONER",
            "PORTS",
            "WHY",
        ]
        assert any(ln.split()[:2] == ["broken", "-"] for ln in text.splitlines())

    @pytest.mark.parametrize("action", ["use-kcf", "restore"])
    def test_cli_kernelspec_switch_without_provisioner_says_install(
        self,
        action: str,
        kernelspecs: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """use-kcf / restore without kcf-provisioner: one line with the install hint, exit 3."""
        monkeypatch.setitem(sys.modules, "kcf_provisioner", None)
        assert main(["kernelspec", action, "kcf-example"]) == 3
        err = capsys.readouterr().err
        assert "needs kcf-provisioner" in err
        assert "pip install" in err
        assert err.count("\n") == 1

    @pytest.mark.parametrize(
        ("argv", "strategy"),
        [
            (["kcf-example"], "kernel"),
            (["kcf-example-hs"], "handshake"),
            (["--kernel", "kcf-example", "--ports", "reserve"], "reserve"),
            (["kcf-example", "--ports", "handshake"], "handshake"),
            (["kcf-example-xeus"], "handshake"),
        ],
    )
    def test_cli_start_kernelspec_outlive_then_stop(
        self,
        argv: list[str],
        strategy: str,
        kernelspecs: Path,
        runtime_dir: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """start KERNELSPEC (or --kernel) starts it with kcf's strategy or --ports; with
        --outlive it returns with the kernel running, and stop ends it."""
        assert main(["start", "--json", "--outlive", *argv]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["ports"] == strategy
        assert doc["outlives"] is True
        path = Path(doc["path"])
        try:
            assert path.parent == runtime_dir
            name = next(a for a in argv if a.startswith("kcf-example"))
            assert json.loads(path.read_text())["kernel_name"] == name
            assert main(["exec", str(path), "6*7"]) == 0
            assert capsys.readouterr().out == "42\n"
        finally:
            assert main(["stop", str(path)]) == 0
        assert not path.exists()

    def test_cli_run_kernel_port_range(
        self, kernelspecs: Path, runtime_dir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """run --kernel KERNELSPEC --ports reserve --port-range: the kernel's ports lie in the
        range; nothing is left behind."""
        code = (
            "import json, sys; f = sys.argv[sys.argv.index('-f') + 1]; "
            "sorted(json.load(open(f))[k] for k in json.load(open(f)) if k.endswith('_port'))"
        )
        argv = ["run", "--kernel", "kcf-example", "--ports", "reserve"]
        assert main([*argv, "--port-range", "21000-21099", code]) == 0
        ports = eval(capsys.readouterr().out)  # noqa: S307 - a list of ints we printed
        assert len(ports) == 5
        assert all(21000 <= p <= 21099 for p in ports)
        assert sorted(p.name for p in runtime_dir.iterdir()) in ([], ["kcf-ports"])

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["start", "--port-range", "5-3"], "LOW <= HIGH"),
            (["start", "--port-range", "x"], "LOW-HIGH"),
            (["start", "a", "--kernel", "b"], "two kernels named"),
            (["start", "kcf-example", "--", "python", "{connection_file}"], "not both"),
            (["run", "--ports", "bind", "1"], "invalid choice"),
        ],
    )
    def test_cli_kernel_options_usage_errors(
        self, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A bad --port-range, two kernels named, or a kernel and an argv: usage, exit 2."""
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("kcf: error: ")
        assert message in err
        assert err.count("\n") == 1

    def test_cli_start_unknown_kernelspec_not_found(
        self, kernelspecs: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An unknown kernelspec name exits 3 and names where it looked."""
        assert main(["start", "no-such-spec"]) == 3
        err = capsys.readouterr().err
        assert "no-such-spec" in err
        assert str(kernelspecs) in err

    def test_cli_start_outlive_survives_kcf(
        self, kernelspecs: Path, runtime_dir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A kernel started with --outlive still answers after the kcf process has exited."""
        env = dict(os.environ)
        p = kcf("--json", "start", "kcf-example", "--outlive", env=env)
        assert p.returncode == 0, p.stderr
        path = Path(json.loads(p.stdout)["path"])
        try:
            assert main(["ping", str(path), "--timeout", "10"]) == 0
        finally:
            assert main(["stop", str(path)]) == 0
        assert not path.exists()


class TestCliXeusPython:
    def test_cli_start_xpython_through_the_handshake(
        self, runtime_dir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`kcf start xpython` (xeus-python from PyPI, its own kernelspec) starts it through
        the JEP 66 handshake in the xeus dialect with no other flag; exec and stop work."""
        import importlib.util

        import kcf_kernel

        if importlib.util.find_spec("xpython_launcher") is None:
            from realparts import missing_real_part

            missing_real_part("xeus-python is not installed (pip install xeus-python)")
        assert "xpython" in kcf_kernel.find_kernel_specs()
        assert main(["kernelspec", "list", "--json"]) == 0
        row = next(r for r in json.loads(capsys.readouterr().out) if r["name"] == "xpython")
        assert (row["strategy"], row["dialect"]) == ("handshake", "xeus")
        assert main(["start", "xpython", "--outlive", "--json", "--timeout", "60"]) == 0
        doc = json.loads(capsys.readouterr().out)
        path = Path(doc["path"])
        try:
            assert doc["ports"] == "handshake"
            assert main(["exec", str(path), "print('from xeus'); 6*7", "--timeout", "60"]) == 0
            assert capsys.readouterr().out == "from xeus\n42\n"
        finally:
            assert main(["stop", str(path), "--timeout", "30"]) == 0
        assert not path.exists()
        assert [p.name for p in runtime_dir.iterdir() if p.name != "kcf-ports"] == []
