"""Writing connection files: atomic, 0600, clear errors, nothing partial left behind."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import kcf_kernel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kcf_kernel import WriteError
from kcf_spec import Channel, ConnectionInfo, ConnectionValueError


def _drop_dac_override() -> None:
    """In a child about to exec: remove the capabilities that let root ignore file modes."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2
    for cap in (cap_dac_override, cap_dac_read_search):
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _info(port: int = 5000, key: bytes = b"k") -> ConnectionInfo:
    return ConnectionInfo(port, port + 1, port + 2, port + 3, port + 4, key=key)


class TestNewKey:
    def test_new_key_is_uuid_shaped_ascii(self) -> None:
        """new_key() gives the ASCII text of a random version-4 UUID, as jupyter_client."""
        key = kcf_kernel.new_key()
        assert uuid.UUID(key.decode("ascii")).version == 4

    def test_new_key_differs_each_call(self) -> None:
        """Two keys are never equal (128 random bits)."""
        assert len({kcf_kernel.new_key() for _ in range(200)}) == 200

    def test_new_kernel_id_is_uuid(self) -> None:
        """new_kernel_id() is a UUID string, different each call."""
        a, b = kcf_kernel.new_kernel_id(), kcf_kernel.new_kernel_id()
        assert a != b
        assert str(uuid.UUID(a)) == a


class TestWriteConnectionFile:
    def test_write_default_name_in_runtime_dir(self, runtime: Path) -> None:
        """Without a path the file is <runtime>/kernel-<uuid>.json; the dir is created 0700."""
        path = kcf_kernel.write_connection_file(_info())
        assert path.parent == runtime
        assert path.name.startswith("kernel-")
        assert path.suffix == ".json"
        uuid.UUID(path.stem.removeprefix("kernel-"))
        assert stat.S_IMODE(runtime.stat().st_mode) == 0o700

    def test_write_mode_0600_under_lax_umask(self, tmp_path: Path) -> None:
        """The file has mode 0600 even when the umask would allow more."""
        old = os.umask(0)
        try:
            path = kcf_kernel.write_connection_file(_info(), tmp_path / "k.json")
        finally:
            os.umask(old)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_write_validates_and_loads_back(self, tmp_path: Path) -> None:
        """The written file validates against the connect profile and loads back equal."""
        info = _info().replace(kernel_name="python3", extras={"jupyter_session": "s"})
        path = kcf_kernel.write_connection_file(info, tmp_path / "k.json")
        assert ConnectionInfo.load(path, profile="connect") == info

    def test_write_replaces_existing_file(
        self, tmp_path: Path, listing: Callable[[Path], list[str]]
    ) -> None:
        """Writing over a file replaces it whole and leaves no temporary file."""
        target = tmp_path / "k.json"
        kcf_kernel.write_connection_file(_info(5000), target)
        kcf_kernel.write_connection_file(_info(6000), target)
        assert ConnectionInfo.load(target).shell_port == 6000
        assert listing(tmp_path) == ["k.json"]

    def test_write_port_zero_refused_for_clients(
        self, tmp_path: Path, listing: Callable[[Path], list[str]]
    ) -> None:
        """A port 0 cannot go into a file for clients; the error is about the argument (a
        ConnectionValueError), names the field and the launch profile that allows 0."""
        info = _info().replace(ports={Channel.HB: 0})
        with pytest.raises(ConnectionValueError) as err:
            kcf_kernel.write_connection_file(info, tmp_path / "k.json")
        assert err.value.field == "info.hb_port"
        assert "profile='launch'" in str(err.value)
        assert listing(tmp_path) == []

    def test_write_port_zero_allowed_for_launch_profile(self, tmp_path: Path) -> None:
        """profile='launch' writes a file handed to a kernel, with 0 meaning choose."""
        info = ConnectionInfo(0, 0, 0, 0, 0, key=b"k")
        path = kcf_kernel.write_connection_file(info, tmp_path / "k.json", profile="launch")
        assert ConnectionInfo.load(path, profile="launch") == info

    def test_write_missing_directory_raises(
        self, tmp_path: Path, listing: Callable[[Path], list[str]]
    ) -> None:
        """A missing directory is a WriteError naming it; nothing is created."""
        with pytest.raises(WriteError, match="does not exist") as err:
            kcf_kernel.write_connection_file(_info(), tmp_path / "nope" / "k.json")
        assert err.value.path == str(tmp_path / "nope" / "k.json")
        assert listing(tmp_path) == []

    def test_write_parent_is_a_file_raises(
        self, tmp_path: Path, listing: Callable[[Path], list[str]]
    ) -> None:
        """A "directory" that is a regular file is a WriteError saying so."""
        (tmp_path / "f").write_text("x")
        with pytest.raises(WriteError, match="not a directory"):
            kcf_kernel.write_connection_file(_info(), tmp_path / "f" / "k.json")
        assert listing(tmp_path) == ["f"]

    def test_write_path_is_a_directory_raises(
        self, tmp_path: Path, listing: Callable[[Path], list[str]]
    ) -> None:
        """A target that is a directory is refused; the directory and its parent are unchanged."""
        (tmp_path / "k.json").mkdir()
        with pytest.raises(WriteError, match="is a directory"):
            kcf_kernel.write_connection_file(_info(), tmp_path / "k.json")
        assert listing(tmp_path) == ["k.json"]

    def test_write_unwritable_directory_raises(self) -> None:
        """A directory the user cannot write to gives a clear WriteError and no partial file.

        As root the child drops CAP_DAC_OVERRIDE first (root ignores modes otherwise): the
        refusal comes from the kernel, not from a simulation.
        """
        top = Path(tempfile.mkdtemp(prefix="kcf-unwritable-"))
        try:
            os.chmod(top, 0o755)  # noqa: S103 - the child user must reach it
            locked = top / "locked"
            locked.mkdir()
            os.chmod(locked, 0o555)  # noqa: S103 - read-only on purpose
            script = textwrap.dedent(
                f"""
                import kcf_kernel, kcf_spec
                info = kcf_spec.ConnectionInfo(1, 2, 3, 4, 5, key=b"k")
                try:
                    kcf_kernel.write_connection_file(info, {str(locked / "k.json")!r})
                except kcf_kernel.WriteError as exc:
                    print("ERR", exc.errno, exc)
                """
            )
            out = subprocess.run(
                [sys.executable, "-c", script],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
                cwd=top,
                preexec_fn=_drop_dac_override if os.geteuid() == 0 else None,
            ).stdout
            assert out.startswith("ERR 13 ")
            assert "not writable" in out
            assert str(locked) in out
            assert os.listdir(locked) == []
        finally:
            os.chmod(top / "locked", 0o700)
            for p in sorted(top.rglob("*"), reverse=True):
                p.rmdir() if p.is_dir() else p.unlink()
            top.rmdir()

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        ports=st.lists(st.integers(1, 65535), min_size=5, max_size=5),
        key=st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
        ip=st.sampled_from(["127.0.0.1", "0.0.0.0", "::1", "localhost", "10.1.2.3"]),
        scheme=st.sampled_from(["hmac-sha256", "hmac-sha512", "hmac-md5"]),
        extras=st.dictionaries(
            st.text("abcdefgh_", min_size=1, max_size=8).map(lambda s: "x_" + s),
            st.one_of(st.integers(), st.text(max_size=10), st.booleans(), st.none()),
            max_size=3,
        ),
    )
    def test_write_round_trip_property(
        self,
        tmp_path: Path,
        ports: list[int],
        key: str,
        ip: str,
        scheme: str,
        extras: dict[str, object],
    ) -> None:
        """Any valid connection written is read back equal, with mode 0600."""
        info = ConnectionInfo.from_ports(
            dict(zip(Channel, ports, strict=True)),
            ip=ip,
            key=key.encode("utf-8"),
            signature_scheme=scheme,
            extras=extras,
        )
        path = kcf_kernel.write_connection_file(info, tmp_path / "k.json")
        assert ConnectionInfo.load(path) == info
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


_READER = textwrap.dedent(
    """
    import json, os, sys
    from kcf_spec import ConnectionInfo
    target, stop = sys.argv[1], sys.argv[2]
    reads = bad = missing = 0
    seen = set()
    while not os.path.exists(stop):
        try:
            with open(target, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            missing += 1
            continue
        reads += 1
        try:
            seen.add(ConnectionInfo.loads(data).shell_port)
        except Exception:
            bad += 1
    print(json.dumps({"reads": reads, "bad": bad, "missing": missing, "seen": sorted(seen)}))
    """
)


class TestAtomicity:
    def test_write_concurrent_reader_never_sees_partial_file(self, tmp_path: Path) -> None:
        """A reader process looping while the file is rewritten 3000 times never sees a
        missing, partial or invalid file, and does see both versions."""
        target = tmp_path / "kernel-x.json"
        stop = tmp_path / "stop"
        big = {f"x_pad{i}": "p" * 200 for i in range(20)}  # several KB: a torn write would show
        a = _info(5000).replace(extras=big)
        b = _info(6000).replace(extras=big)
        kcf_kernel.write_connection_file(a, target)
        reader = subprocess.Popen(
            [sys.executable, "-c", _READER, str(target), str(stop)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            for i in range(3000):
                kcf_kernel.write_connection_file(b if i % 2 else a, target)
        finally:
            stop.touch()
            out, _ = reader.communicate(timeout=60)
        result = json.loads(out)
        assert result["reads"] > 0
        assert result["bad"] == 0
        assert result["missing"] == 0
        assert result["seen"] == [5000, 6000]


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(proc.stdout)


def _plant_temp(
    directory: Path, pid: int, *, age: float = 3600.0, name: str = "kernel-1.json"
) -> Path:
    tmp = directory / f".{name}.{pid}.{uuid.uuid4().hex[:12]}.tmp"
    tmp.write_text('{"key": "left-behind"}')
    old = tmp.stat().st_mtime - age
    os.utime(tmp, (old, old))
    return tmp


class TestTempLitter:
    """Temp files of writers killed mid-write name their writer and are cleaned up."""

    def test_temp_name_identifies_the_writer(self, tmp_path: Path) -> None:
        """A write's temporary file is ``.<name>.<pid>.<12 hex>.tmp`` (seen by a writer
        killed right after creating it)."""
        code = textwrap.dedent(
            f"""
            import os, kcf_kernel._write as w
            real_write = os.write
            def die(fd, data):
                os.kill(os.getpid(), 9)
            os.write = die
            w.write_private_file({str(tmp_path / "kernel-1.json")!r}, b"{{}}")
            """
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
        assert proc.returncode == -9
        (left,) = os.listdir(tmp_path)
        prefix, pid, rand, suffix = left.rsplit(".", 3)
        assert (prefix, suffix) == (".kernel-1.json", "tmp")
        assert int(pid) > 0
        assert len(rand) == 12

    def test_next_writer_removes_abandoned_temp(self, tmp_path: Path) -> None:
        """A dead writer's old temp file is removed by the next write in the directory."""
        tmp = _plant_temp(tmp_path, _dead_pid())
        kcf_kernel.write_connection_file(_info(), tmp_path / "kernel-2.json")
        assert sorted(os.listdir(tmp_path)) == ["kernel-2.json"]
        assert not tmp.exists()

    def test_live_writer_or_recent_temp_kept(self, tmp_path: Path) -> None:
        """A temp of a live process, a recent one of a dead process, and names that do not
        follow the rule are all kept."""
        live = _plant_temp(tmp_path, os.getppid())
        recent = _plant_temp(tmp_path, _dead_pid(), age=0.0)
        other = tmp_path / ".kernel-1.json.notapid.tmp"
        other.write_text("x")
        old = other.stat().st_mtime - 3600
        os.utime(other, (old, old))
        assert kcf_kernel.remove_abandoned_temp_files(tmp_path) == []
        assert live.exists()
        assert recent.exists()
        assert other.exists()

    def test_other_users_temp_kept(self, tmp_path: Path) -> None:
        """A temp file owned by another user is never removed."""
        import pwd

        tmp = _plant_temp(tmp_path, _dead_pid())
        os.chown(tmp, pwd.getpwnam("nobody").pw_uid, -1)
        assert kcf_kernel.remove_abandoned_temp_files(tmp_path) == []
        assert tmp.exists()

    def test_remove_returns_what_it_removed(self, tmp_path: Path) -> None:
        """The public helper (used by ``kcf prune`` too) returns the removed paths."""
        tmp = _plant_temp(tmp_path, _dead_pid())
        assert kcf_kernel.remove_abandoned_temp_files(tmp_path) == [tmp]


class TestRemove:
    def test_remove_own_file(self, tmp_path: Path) -> None:
        """remove_connection_file with the info we wrote removes the file."""
        info = _info(key=kcf_kernel.new_key())
        path = kcf_kernel.write_connection_file(info, tmp_path / "k.json")
        assert kcf_kernel.remove_connection_file(path, info) is True
        assert not path.exists()

    def test_remove_leaves_file_with_other_key(self, tmp_path: Path) -> None:
        """A file rewritten by someone else (another key) is never removed."""
        ours = _info(key=b"ours")
        path = kcf_kernel.write_connection_file(ours, tmp_path / "k.json")
        kcf_kernel.write_connection_file(_info(key=b"theirs"), path)
        assert kcf_kernel.remove_connection_file(path, ours) is False
        assert ConnectionInfo.load(path).key == b"theirs"

    def test_remove_missing_file_is_quiet(self, tmp_path: Path) -> None:
        """Removing a file that is gone returns False without error."""
        assert kcf_kernel.remove_connection_file(tmp_path / "gone.json", _info()) is False

    def test_remove_ipc_sockets_only_sockets(
        self, tmp_path: Path, listing: Callable[[Path], list[str]]
    ) -> None:
        """ipc clean-up removes socket files at the endpoints and never a regular file."""
        import socket

        prefix = str(tmp_path / "kernel-ipc")
        info = ConnectionInfo(1, 2, 3, 4, 5, ip=prefix, transport="ipc", key=b"k")
        socks = []
        for n in (1, 2, 3, 4):
            s = socket.socket(socket.AF_UNIX)
            s.bind(f"{prefix}-{n}")
            socks.append(s)
        Path(f"{prefix}-5").write_text("not a socket")
        path = kcf_kernel.write_connection_file(info, tmp_path / "k.json")
        for s in socks:
            s.close()
        kcf_kernel.remove_connection_file(path, info)
        assert listing(tmp_path) == ["kernel-ipc-5"]
