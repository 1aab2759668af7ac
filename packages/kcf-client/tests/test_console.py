"""Console frontends: a real jupyter-console in a pseudo-terminal, and missing programs."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest
from consolepty import evaluate, read_until
from kcf_client import ProgramNotFound, console_argv, launch_console

pytestmark = [pytest.mark.console, pytest.mark.interop]


class TestJupyterConsole:
    @pytest.mark.timeout(400)  # start-up and result under load; the waits inside are deadlines
    def test_console_in_pty_evaluates_1_plus_1(self, ipykernel_file: Path) -> None:
        """jupyter-console attached via launch_console answers `1+1` with 2 in a terminal.

        Under load the console may show the result only after its next prompt (see
        consolepty.evaluate); the deadlines are generous, and none is a fixed wait.
        """
        master, slave = pty.openpty()
        env = dict(os.environ, TERM="dumb")
        proc = launch_console(
            ipykernel_file,
            extra_args=["--simple-prompt"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        try:
            read_until(master, b"In [", 180)
            assert b"2" in evaluate(master, b"1+1", 120)
            os.write(master, b"exit\r")
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)

    def test_console_argv_uses_existing(self, ipykernel_file: Path) -> None:
        """The console command line passes the file with --existing."""
        argv = console_argv(ipykernel_file)
        assert Path(argv[0]).name == "jupyter-console"
        assert argv[1:] == ["--existing", str(ipykernel_file)]

    def test_console_template_substitutes_file(self, tmp_path: Path) -> None:
        """An argv template gets the connection file in place of {connection_file}."""
        argv = console_argv(tmp_path / "k.json", ["python3", "-c", "pass", "{connection_file}"])
        assert argv[-1] == str(tmp_path / "k.json")


class TestMissingProgram:
    def test_missing_program_named(self, tmp_path: Path) -> None:
        """A template whose program is not installed raises ProgramNotFound naming it."""
        with pytest.raises(ProgramNotFound, match="no-such-console-xyz") as err:
            console_argv(tmp_path / "k.json", ["no-such-console-xyz", "{connection_file}"])
        assert err.value.program == "no-such-console-xyz"
        assert isinstance(err.value, FileNotFoundError)

    def test_missing_qtconsole_names_it_with_hint(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """qtconsole missing (empty PATH, a python without it) is named with an install hint."""
        import importlib.util

        if importlib.util.find_spec("qtconsole") is not None:
            pytest.fail("this check needs qtconsole absent from the test environment")
        monkeypatch.setenv("PATH", str(tmp_path))
        with pytest.raises(ProgramNotFound, match=r"jupyter-qtconsole.*pip install qtconsole"):
            console_argv(tmp_path / "k.json", "qtconsole")

    def test_cli_console_missing_program_exit_3(
        self,
        ipykernel_file: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """`kcf console --qt` without qtconsole exits 3 with one line naming the program."""
        from kcf_client._cli import main

        monkeypatch.setenv("PATH", "/nonexistent")
        assert main(["console", str(ipykernel_file), "--qt"]) == 3
        assert "jupyter-qtconsole" in capsys.readouterr().err


def test_console_subprocess_module_has_no_shell() -> None:
    """launch_console starts an argv list (never a shell string)."""
    assert subprocess.list2cmdline(["a b"]) == '"a b"'
