"""Writing onto a file system that will not keep modes (CIFS, WSL drvfs), for real, over FUSE.

The file system is ``_nochmod_fs.py``, mounted in its own process over a temporary backing
directory: every file reports 0o644 and every directory 0o755, and ``chmod`` is either
ignored (succeeds without effect) or refused (``EPERM``). Each test runs against both.

Needs ``/dev/fuse``, libfuse with ``fusermount3`` (Debian: ``fuse3``) and ``mfusepy``; when
they are missing the tests fail under ``KCF_REQUIRE_REAL_PARTS=1`` and skip elsewhere.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import kcf_kernel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kcf_kernel import InsecureWriteError, InsecureWriteWarning, RuntimeDirError
from kcf_spec import ConnectionInfo

_FS_SCRIPT = Path(__file__).with_name("_nochmod_fs.py")
_MOUNT_TIMEOUT = 10.0
_FALSE_WORDS = ("no", "n", "false", "off", "0", "0.0")  # jupyter_core's


@dataclass(frozen=True)
class NoChmodMount:
    """A mounted ``_nochmod_fs``: ``path`` is the mount point, ``backing`` what it shows."""

    path: Path
    backing: Path
    chmod: str  # "ignore" or "refuse"

    def listing(self) -> list[str]:
        """The names in the mount's top directory, as the backing directory holds them."""
        return sorted(os.listdir(self.backing))


def _unmount(path: Path) -> None:
    for argv in (["fusermount3", "-u", str(path)], ["umount", str(path)]):
        if shutil.which(argv[0]) is None or not os.path.ismount(path):
            continue
        subprocess.run(argv, capture_output=True, timeout=5, check=False)
    if os.path.ismount(path) and shutil.which("umount"):  # still busy: detach it lazily
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=5, check=False)


def _mount(
    tmp_path: Path, chmod: str, missing_real_part: Callable[[str], NoReturn]
) -> tuple[NoChmodMount, subprocess.Popen[bytes]]:
    if not sys.platform.startswith("linux"):
        missing_real_part("the FUSE file system test runs on Linux only")
    if not os.path.exists("/dev/fuse"):
        missing_real_part("/dev/fuse is missing (no FUSE support in this kernel or container)")
    if shutil.which("fusermount3") is None:
        missing_real_part("fusermount3 is not installed (Debian package fuse3)")
    backing, mountpoint = tmp_path / "backing", tmp_path / "mnt"
    backing.mkdir()
    mountpoint.mkdir()
    log = tmp_path / "fuse.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(_FS_SCRIPT), str(backing), str(mountpoint), chmod],
            stdin=subprocess.DEVNULL,
            # libfuse 3, to match fusermount3 (mfusepy prefers libfuse 2 when both exist).
            env={"FUSE_LIBRARY_NAME": "fuse3", **os.environ},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + _MOUNT_TIMEOUT
    while not os.path.ismount(mountpoint):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait(timeout=5)
            text = log.read_text(errors="replace").strip().splitlines()
            missing_real_part(
                "cannot mount the test FUSE file system (needs mfusepy and libfuse3): "
                + (text[-1] if text else f"exit status {proc.returncode}")
            )
        time.sleep(0.02)
    return NoChmodMount(mountpoint, backing, chmod), proc


@pytest.fixture(params=["ignore", "refuse"])
def nochmod(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    missing_real_part: Callable[[str], NoReturn],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[NoChmodMount]:
    """A fresh mount of ``_nochmod_fs`` (chmod ignored, then refused), unmounted afterwards."""
    monkeypatch.delenv("JUPYTER_ALLOW_INSECURE_WRITES", raising=False)
    mount, proc = _mount(tmp_path, request.param, missing_real_part)
    try:
        yield mount
    finally:
        try:
            _unmount(mount.path)
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _info() -> ConnectionInfo:
    return ConnectionInfo(5000, 5001, 5002, 5003, 5004, key=kcf_kernel.new_key())


def _what_it_did(mount: NoChmodMount) -> str:
    if mount.chmod == "refuse":
        return "refused chmod 0o600 (Operation not permitted)"
    return "accepted chmod 0o600 without effect"


class TestWriteConnectionFileNoChmod:
    def test_write_connection_file_mode_refused_raises_clear_error(
        self, nochmod: NoChmodMount
    ) -> None:
        """The error names the file, says what the file system did and names the escape hatch."""
        target = nochmod.path / "kernel-1.json"
        with pytest.raises(InsecureWriteError) as caught:
            kcf_kernel.write_connection_file(_info(), target)
        err = caught.value
        message = str(err)
        assert err.path == str(target)
        assert err.filename == str(target)
        assert str(target) in message
        assert _what_it_did(nochmod) in message
        assert "the mode is 0o644" in message
        assert "JUPYTER_ALLOW_INSECURE_WRITES=1" in message
        assert err.mode == 0o644
        assert isinstance(err, PermissionError)  # what callers of os.chmod-like code catch
        assert (err.chmod_error is None) == (nochmod.chmod == "ignore")

    def test_write_connection_file_mode_refused_leaves_nothing(self, nochmod: NoChmodMount) -> None:
        """After the refusal the directory holds no temporary, partial or final file."""
        with pytest.raises(InsecureWriteError):
            kcf_kernel.write_connection_file(_info(), nochmod.path / "kernel-1.json")
        assert nochmod.listing() == []
        assert os.listdir(nochmod.path) == []

    def test_write_connection_file_mode_refused_keeps_existing_file(
        self, nochmod: NoChmodMount
    ) -> None:
        """A file already at the path is left byte for byte as it was."""
        old = _info().dumps().encode()
        (nochmod.backing / "kernel-1.json").write_bytes(old)
        with pytest.raises(InsecureWriteError):
            kcf_kernel.write_connection_file(_info(), nochmod.path / "kernel-1.json")
        assert (nochmod.path / "kernel-1.json").read_bytes() == old
        assert nochmod.listing() == ["kernel-1.json"]

    @pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes"])
    def test_write_connection_file_insecure_allowed_writes_with_warning(
        self, nochmod: NoChmodMount, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        """With the escape hatch set the file is written, valid, and a warning says why."""
        monkeypatch.setenv("JUPYTER_ALLOW_INSECURE_WRITES", value)
        info = _info()
        target = nochmod.path / "kernel-1.json"
        with pytest.warns(InsecureWriteWarning) as record:
            written = kcf_kernel.write_connection_file(info, target)
        assert written == target
        assert len(record) == 1
        text = str(record[0].message)
        assert str(target) in text
        assert _what_it_did(nochmod) in text
        assert "JUPYTER_ALLOW_INSECURE_WRITES" in text
        assert ConnectionInfo.load(target) == info
        assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
        assert nochmod.listing() == ["kernel-1.json"]

    @pytest.mark.parametrize("value", [*_FALSE_WORDS, "FALSE", "Off"])
    def test_write_connection_file_insecure_false_word_still_refuses(
        self, nochmod: NoChmodMount, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        """The escape hatch set to a false word (as jupyter_core reads them) does not open."""
        monkeypatch.setenv("JUPYTER_ALLOW_INSECURE_WRITES", value)
        with pytest.raises(InsecureWriteError):
            kcf_kernel.write_connection_file(_info(), nochmod.path / "kernel-1.json")
        assert nochmod.listing() == []

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        value=st.one_of(
            st.sampled_from(_FALSE_WORDS).map(str.upper),
            st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=6),
        )
    )
    def test_write_private_file_any_flag_value_writes_or_leaves_nothing(
        self, nochmod: NoChmodMount, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        """For any value of the flag: a refusal leaves nothing, else the full file and a warning."""
        monkeypatch.setenv("JUPYTER_ALLOW_INSECURE_WRITES", value)
        target = nochmod.path / "data.json"
        data = b'{"key": "' + kcf_kernel.new_key() + b'"}'
        try:
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always")
                kcf_kernel.write_private_file(target, data)
        except InsecureWriteError:
            assert value.lower() in _FALSE_WORDS
            assert nochmod.listing() == []
        else:
            assert value.lower() not in _FALSE_WORDS
            assert [w.category for w in record] == [InsecureWriteWarning]
            assert target.read_bytes() == data
            assert nochmod.listing() == ["data.json"]
            target.unlink()


class TestWarningPointsAtCaller:
    @pytest.mark.parametrize("writer", ["write_private_file", "write_connection_file"])
    def test_insecure_write_warning_names_the_callers_line(
        self, nochmod: NoChmodMount, monkeypatch: pytest.MonkeyPatch, writer: str
    ) -> None:
        """The InsecureWriteWarning is attributed to the line that called the public
        function (it pointed one frame above that for ``write_private_file``)."""
        monkeypatch.setenv("JUPYTER_ALLOW_INSECURE_WRITES", "1")
        target = nochmod.path / "kernel-1.json"
        if writer == "write_private_file":
            with pytest.warns(InsecureWriteWarning) as record:
                kcf_kernel.write_private_file(target, b"{}")
        else:
            with pytest.warns(InsecureWriteWarning) as record:
                kcf_kernel.write_connection_file(_info(), target)
        assert len(record) == 1
        assert record[0].filename == __file__


class TestRuntimeDirNoChmod:
    def test_runtime_dir_new_dir_not_private_raises_and_is_removed(
        self, nochmod: NoChmodMount, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A runtime dir the file system will not make 0700 is removed again, with a clear error."""
        path = nochmod.path / "runtime"
        monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(path))
        with pytest.raises(RuntimeDirError) as caught:
            kcf_kernel.runtime_dir()
        message = str(caught.value)
        assert caught.value.path == str(path)
        assert str(path) in message
        what = _what_it_did(nochmod).replace("0o600", "0o700")
        assert what in message
        assert "the mode is 0o755" in message
        assert "JUPYTER_ALLOW_INSECURE_WRITES=1" in message
        assert not path.exists()
        assert nochmod.listing() == []

    def test_runtime_dir_insecure_allowed_kept_with_warning(
        self, nochmod: NoChmodMount, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With the escape hatch set the new runtime dir is kept and a warning says why."""
        path = nochmod.path / "runtime"
        monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(path))
        monkeypatch.setenv("JUPYTER_ALLOW_INSECURE_WRITES", "1")
        with pytest.warns(InsecureWriteWarning, match="runtime directory") as record:
            assert kcf_kernel.runtime_dir() == path
        assert len(record) == 1
        assert str(path) in str(record[0].message)
        assert path.is_dir()

    def test_runtime_dir_existing_dir_left_as_is(
        self, nochmod: NoChmodMount, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An existing runtime dir is used as it is (it may be shared on purpose), silently."""
        path = nochmod.path / "runtime"
        (nochmod.backing / "runtime").mkdir()
        monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(path))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert kcf_kernel.runtime_dir() == path
        assert nochmod.listing() == ["runtime"]

    def test_write_connection_file_default_path_fails_at_runtime_dir(
        self, nochmod: NoChmodMount
    ) -> None:
        """Writing to the default name fails on the runtime dir first and leaves no directory."""
        path = nochmod.path / "runtime"
        with pytest.raises(RuntimeDirError, match="JUPYTER_ALLOW_INSECURE_WRITES"):
            kcf_kernel.write_connection_file(_info(), runtime_dir=path)
        assert nochmod.listing() == []

    def test_write_connection_file_default_path_insecure_allowed_writes(
        self, nochmod: NoChmodMount, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With the escape hatch set: the dir and the file are made, each with a warning."""
        monkeypatch.setenv("JUPYTER_ALLOW_INSECURE_WRITES", "true")
        path = nochmod.path / "runtime"
        info = _info()
        with pytest.warns(InsecureWriteWarning) as record:
            written = kcf_kernel.write_connection_file(info, runtime_dir=path)
        assert len(record) == 2
        assert "runtime directory" in str(record[0].message)
        assert str(written) in str(record[1].message)
        assert written.parent == path
        assert written.name.startswith("kernel-")
        assert ConnectionInfo.load(written) == info
        assert sorted(os.listdir(path)) == [written.name]
