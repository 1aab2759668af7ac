"""``kcf_client.compat`` against the seed's documented behaviour and against jupyter_client."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kcf_client import compat
from kcf_spec import ConnectionFileError, ConnectionFileNotFound, ConnectionValueError
from realparts import missing_real_part

PORT_FIELDS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")


def _jc_connect() -> ModuleType:
    try:
        return importlib.import_module("jupyter_client.connect")
    except ImportError:
        missing_real_part("jupyter_client is not installed")


class TestWriteConnectionFile:
    def test_write_defaults_like_seed(self, tmp_path: Path, runtime: Path) -> None:
        """Defaults: five distinct real ports on 127.0.0.1, empty key, the seed's field set."""
        fname, cfg = compat.write_connection_file(str(tmp_path / "k.json"))
        assert fname == str(tmp_path / "k.json")
        assert isinstance(fname, str)
        ports = [cfg[f] for f in PORT_FIELDS]
        assert all(isinstance(p, int) and 0 < p < 65536 for p in ports)
        assert len(set(ports)) == 5
        assert cfg["ip"] == "127.0.0.1"
        assert cfg["key"] == ""
        assert cfg["transport"] == "tcp"
        assert cfg["signature_scheme"] == "hmac-sha256"
        assert cfg["kernel_name"] == ""
        assert json.loads(Path(fname).read_text()) == cfg

    def test_write_same_fields_as_jupyter_client(self, tmp_path: Path, runtime: Path) -> None:
        """The returned dict has exactly jupyter_client's keys and value types."""
        jc = _jc_connect()
        _, ours = compat.write_connection_file(str(tmp_path / "a.json"), key=b"abc")
        _, theirs = jc.write_connection_file(str(tmp_path / "b.json"), key=b"abc")
        assert set(ours) == set(theirs)
        assert {k: type(v) for k, v in ours.items()} == {k: type(v) for k, v in theirs.items()}

    def test_write_no_fname_makes_temp_file(self, runtime: Path) -> None:
        """Without ``fname`` a new temporary ``.json`` file is written (the seed's rule)."""
        fname, _ = compat.write_connection_file()
        try:
            assert fname.endswith(".json")
            assert Path(fname).is_file()
        finally:
            os.remove(fname)

    def test_write_mode_0600(self, tmp_path: Path, runtime: Path) -> None:
        """The file is readable by its owner only."""
        fname, _ = compat.write_connection_file(str(tmp_path / "k.json"), key=b"s")
        assert stat.S_IMODE(os.stat(fname).st_mode) == 0o600

    def test_write_given_ports_kept(self, tmp_path: Path, runtime: Path) -> None:
        """Ports given are written as given; only the zeros are chosen."""
        _, cfg = compat.write_connection_file(
            str(tmp_path / "k.json"), shell_port=40001, hb_port=40005
        )
        assert cfg["shell_port"] == 40001
        assert cfg["hb_port"] == 40005
        assert 40001 not in (cfg["iopub_port"], cfg["stdin_port"], cfg["control_port"])

    def test_write_chosen_ports_are_reserved(self, tmp_path: Path, runtime: Path) -> None:
        """Chosen ports are held in kcf's reservation dir until a kernel binds them."""
        _, cfg = compat.write_connection_file(str(tmp_path / "k.json"))
        held = {int(p.name.split(".")[0]) for p in (runtime / "kcf-ports").iterdir()}
        assert {cfg[f] for f in PORT_FIELDS} <= held

    def test_write_many_never_repeat_a_port(self, tmp_path: Path, runtime: Path) -> None:
        """40 files written back to back (none bound yet) share no port."""
        seen: list[int] = []
        for i in range(40):
            _, cfg = compat.write_connection_file(str(tmp_path / f"k{i}.json"))
            seen += [cfg[f] for f in PORT_FIELDS]
        assert len(seen) == len(set(seen))

    def test_write_ipc_suffixes_skip_existing(self, tmp_path: Path) -> None:
        """ipc: suffixes are the smallest whose socket path does not exist."""
        prefix = str(tmp_path / "kern-ipc")
        Path(f"{prefix}-1").touch()
        Path(f"{prefix}-3").touch()
        _, cfg = compat.write_connection_file(str(tmp_path / "k.json"), transport="ipc", ip=prefix)
        assert sorted(cfg[f] for f in PORT_FIELDS) == [2, 4, 5, 6, 7]

    def test_write_ipc_default_prefix_beside_file(self, tmp_path: Path) -> None:
        """ipc without ``ip``: an absolute prefix beside the file."""
        _, cfg = compat.write_connection_file(str(tmp_path / "k.json"), transport="ipc")
        assert cfg["ip"] == str(tmp_path / "k-ipc")

    def test_write_bad_scheme_refused_naming_field(self, tmp_path: Path, runtime: Path) -> None:
        """A scheme the schema refuses is an error naming ``signature_scheme``; no file."""
        with pytest.raises(ConnectionValueError, match="signature_scheme"):
            compat.write_connection_file(str(tmp_path / "k.json"), signature_scheme="rot13")
        assert not (tmp_path / "k.json").exists()

    @settings(
        max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        key=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
        name=st.text(max_size=20),
    )
    def test_write_roundtrip_read_by_jupyter_client(
        self, tmp_path: Path, runtime: Path, key: str, name: str
    ) -> None:
        """Whatever key and kernel name, jupyter_client reads back what was written."""
        jc = _jc_connect()
        fname, cfg = compat.write_connection_file(
            str(tmp_path / "k.json"), key=key.encode(), kernel_name=name
        )
        mixin = jc.ConnectionFileMixin()
        mixin.load_connection_file(fname)
        assert mixin.session.key == key.encode()
        assert [getattr(mixin, f) for f in PORT_FIELDS] == [cfg[f] for f in PORT_FIELDS]


class TestFind:
    def test_find_newest_by_mtime_not_atime(self, tmp_path: Path) -> None:
        """Among matches the newest by modification time wins, whatever was read last."""
        old, new = tmp_path / "kernel-old.json", tmp_path / "kernel-new.json"
        old.write_text("{}")
        new.write_text("{}")
        os.utime(old, (2_000_000_000, 1_000_000_000))  # read recently, written long ago
        os.utime(new, (1_000_000_000, 1_500_000_000))
        assert compat.find_connection_file(path=str(tmp_path)) == str(new)

    def test_find_substring_and_exact(self, tmp_path: Path) -> None:
        """A bare part matches ``*part*``; an existing name is returned as an absolute str."""
        f = tmp_path / "kernel-abc123.json"
        f.write_text("{}")
        assert compat.find_connection_file("abc", path=[str(tmp_path)]) == str(f)
        assert compat.find_connection_file("kernel-abc123.json", path=str(tmp_path)) == str(f)

    def test_find_missing_is_oserror(self, tmp_path: Path) -> None:
        """Nothing matched: an ``OSError`` (as the seed raises), naming the pattern."""
        with pytest.raises(OSError, match="nothing-here") as err:
            compat.find_connection_file("nothing-here", path=str(tmp_path))
        assert isinstance(err.value, ConnectionFileNotFound)

    def test_find_profile_warns(self, tmp_path: Path) -> None:
        """``profile`` is ignored with a warning, as the seed does."""
        (tmp_path / "kernel-1.json").write_text("{}")
        with pytest.warns(UserWarning, match="no profiles"):
            compat.find_connection_file(path=str(tmp_path), profile="default")


class TestGetConnectionInfo:
    def test_info_text_and_unpacked(self, tmp_path: Path, runtime: Path) -> None:
        """The file's text as is; with ``unpack`` a dict whose key is bytes."""
        fname, _ = compat.write_connection_file(str(tmp_path / "kernel-x.json"), key=b"sekret")
        text = compat.get_connection_info(fname)
        assert text == Path(fname).read_text()
        info = compat.get_connection_info(fname, unpack=True)
        assert isinstance(info, dict)
        assert info["key"] == b"sekret"

    def test_info_invalid_file_refused(self, tmp_path: Path) -> None:
        """A file that is not a connection file is refused, naming the field."""
        bad = tmp_path / "kernel-bad.json"
        bad.write_text(json.dumps({"shell_port": "x"}))
        with pytest.raises(ConnectionFileError, match=r"kernel-bad\.json"):
            compat.get_connection_info(str(bad))

    def test_info_not_in_kernel(self) -> None:
        """No file and not inside a kernel: ``NotInKernel``."""
        from kcf_client import NotInKernel

        with pytest.raises(NotInKernel):
            compat.get_connection_info()

    def test_get_connection_file_from_app(self, tmp_path: Path) -> None:
        """``app`` given: its file, made absolute against its connection dir."""

        class App:
            connection_file = "kernel-7.json"
            connection_dir = str(tmp_path)

        assert compat.get_connection_file(App()) == str(tmp_path / "kernel-7.json")

    def test_top_level_names_still_work(self) -> None:
        """``kcf_client.get_connection_file`` / ``get_connection_info`` are compat's."""
        import kcf_client

        assert kcf_client.get_connection_file is compat.get_connection_file
        assert kcf_client.get_connection_info is compat.get_connection_info


class TestMixin:
    def test_mixin_write_load_cleanup(self, tmp_path: Path, runtime: Path) -> None:
        """Write chooses ports; a second object loads them; cleanup removes our file only."""
        a = compat.ConnectionFileMixin(str(tmp_path / "kernel-m.json"), key=b"k1")
        a.write_connection_file(jupyter_session="nb.ipynb")
        assert all(p > 0 for p in a.ports)
        assert json.loads(Path(a.connection_file).read_text())["jupyter_session"] == "nb.ipynb"
        b = compat.ConnectionFileMixin()
        b.load_connection_file(a.connection_file)
        assert b.get_connection_info() == a.get_connection_info()
        b.cleanup_connection_file()  # b did not write it: nothing happens
        assert Path(a.connection_file).exists()
        a.cleanup_connection_file()
        assert not Path(a.connection_file).exists()

    def test_mixin_cleanup_random_ports(self, tmp_path: Path, runtime: Path) -> None:
        """Chosen ports are forgotten (given ones kept), the file and reservation go."""
        m = compat.ConnectionFileMixin(str(tmp_path / "kernel-r.json"))
        m.shell_port = 40123
        m.write_connection_file()
        m.cleanup_random_ports()
        assert m.shell_port == 40123
        assert m.ports.count(0) == 4
        assert not Path(m.connection_file).exists()
        ports = runtime / "kcf-ports"
        assert not ports.exists() or not any(ports.iterdir())

    def test_mixin_load_bad_port_refused(self) -> None:
        """A port that is not an integer is refused, naming the field."""
        mixin = compat.ConnectionFileMixin()
        with pytest.raises(ConnectionValueError, match="shell_port"):
            mixin.load_connection_info({"shell_port": "five"})
        assert mixin.shell_port == 0  # nothing changed

    def test_mixin_session_true_refused(self) -> None:
        """There is no ``Session`` here: ``session=True`` is a ``ValueError``."""
        with pytest.raises(ValueError, match="Session"):
            compat.ConnectionFileMixin().get_connection_info(session=True)


# -- code written for jupyter_client.connect, run against both modules ------------------------


def _seed_program(connect: Any, workdir: Path) -> dict[str, Any]:
    """Client code as written against ``jupyter_client.connect``: only ``connect`` varies.

    Writes a connection file, starts ipykernel on it, finds and loads it, opens the
    sockets, asks kernel_info on shell and pings the heartbeat.
    """
    import zmq
    from jupyter_client.session import Session

    fname, cfg = connect.write_connection_file(
        str(workdir / "kernel-seed.json"), key=b"a-secret-key", ip="127.0.0.1"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "ipykernel_launcher", "-f", fname, "--HistoryManager.enabled=False"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ctx = zmq.Context()
    try:
        found = connect.find_connection_file("seed", path=[str(workdir)])
        mixin = connect.ConnectionFileMixin()
        mixin.context = ctx
        mixin.load_connection_file(found)
        info = mixin.get_connection_info()
        session = Session(key=info["key"], signature_scheme=info["signature_scheme"])
        shell, hb = mixin.connect_shell(), mixin.connect_hb()
        try:
            reply = None
            deadline = time.monotonic() + 60
            while reply is None and time.monotonic() < deadline:
                session.send(shell, "kernel_info_request")
                if shell.poll(2000):
                    _, reply = session.recv(shell)
            hb.send(b"ping")
            echoed = hb.recv() if hb.poll(30000) else None
        finally:
            shell.close(0)
            hb.close(0)
        return {"found": found, "reply": reply, "echo": echoed, "cfg": cfg}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        ctx.term()
        with contextlib.suppress(FileNotFoundError):
            os.remove(fname)


@pytest.mark.interop
@pytest.mark.timeout(120)
@pytest.mark.parametrize("module", ["jupyter_client.connect", "kcf_client.compat"])
def test_seed_program_runs_unchanged(module: str, tmp_path: Path, runtime: Path) -> None:
    """The same client code works with jupyter_client.connect and after the import swap."""
    _jc_connect()
    out = _seed_program(importlib.import_module(module), tmp_path)
    assert out["found"] == str(tmp_path / "kernel-seed.json")
    assert out["reply"] is not None
    assert out["reply"]["msg_type"] == "kernel_info_reply"
    assert out["echo"] == b"ping"
