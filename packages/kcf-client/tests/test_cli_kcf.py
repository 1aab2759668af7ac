"""The kcf command, in-process (main(argv) -> int) and as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kcf_client._cli import main
from kcf_client._cli import parse as _parse

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
