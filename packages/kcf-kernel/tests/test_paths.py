"""The runtime dir is where jupyter_core says it is, under every setting."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import jupyter_core.paths
import kcf_kernel
import pytest
from kcf_kernel import RuntimeDirError

_VARS = ("JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "XDG_DATA_HOME", "JUPYTER_PLATFORM_DIRS")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for var in _VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


SETTINGS = [
    {},
    {"JUPYTER_RUNTIME_DIR": "{tmp}/rt"},
    {"JUPYTER_RUNTIME_DIR": ""},
    {"JUPYTER_DATA_DIR": "{tmp}/data"},
    {"XDG_DATA_HOME": "{tmp}/xdg"},
    {"XDG_DATA_HOME": "{tmp}/xdg", "JUPYTER_DATA_DIR": "{tmp}/data"},
    {"JUPYTER_PLATFORM_DIRS": "1"},
    {"JUPYTER_PLATFORM_DIRS": "1", "XDG_DATA_HOME": "{tmp}/xdg"},
    {"JUPYTER_PLATFORM_DIRS": "0", "XDG_DATA_HOME": "{tmp}/xdg"},
    {"JUPYTER_PLATFORM_DIRS": "off"},
    {"JUPYTER_PLATFORM_DIRS": "yes", "JUPYTER_DATA_DIR": "{tmp}/data"},
    {"JUPYTER_PLATFORM_DIRS": "1", "JUPYTER_RUNTIME_DIR": "{tmp}/rt"},
]


class TestRuntimeDir:
    @pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: ",".join(s) or "defaults")
    def test_runtime_dir_matches_jupyter_core(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path, setting: dict[str, str]
    ) -> None:
        """runtime_dir() equals jupyter_core.paths.jupyter_runtime_dir() for each setting."""
        for name, value in setting.items():
            clean_env.setenv(name, value.format(tmp=tmp_path))
        ours = kcf_kernel.runtime_dir(create=False)
        assert str(ours) == jupyter_core.paths.jupyter_runtime_dir()

    def test_runtime_dir_symlinked_home_matches_jupyter_core(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A home reached through a symlink resolves as jupyter_core resolves it."""
        real = tmp_path / "real-home"
        real.mkdir()
        (tmp_path / "link-home").symlink_to(real)
        clean_env.setenv("HOME", str(tmp_path / "link-home"))
        assert str(kcf_kernel.runtime_dir(create=False)) == jupyter_core.paths.jupyter_runtime_dir()

    def test_runtime_dir_created_0700(self, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """A missing runtime dir is created with mode 0700 exactly, even under a lax umask."""
        clean_env.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "a" / "b" / "runtime"))
        old = os.umask(0o000)
        try:
            path = kcf_kernel.runtime_dir()
        finally:
            os.umask(old)
        assert stat.S_IMODE(path.stat().st_mode) == 0o700

    def test_runtime_dir_existing_left_alone(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """An existing directory keeps its mode (it may be shared on purpose)."""
        shared = tmp_path / "shared"
        shared.mkdir(mode=0o755)
        os.chmod(shared, 0o755)  # noqa: S103 - a shared dir on purpose
        clean_env.setenv("JUPYTER_RUNTIME_DIR", str(shared))
        kcf_kernel.runtime_dir()
        assert stat.S_IMODE(shared.stat().st_mode) == 0o755

    def test_runtime_dir_create_false_does_not_create(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """create=False resolves the path without creating it."""
        clean_env.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "nope"))
        assert not kcf_kernel.runtime_dir(create=False).exists()

    def test_runtime_dir_is_a_file_raises(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A runtime dir path that is a file is a RuntimeDirError naming it."""
        blocker = tmp_path / "file"
        blocker.write_text("x")
        clean_env.setenv("JUPYTER_RUNTIME_DIR", str(blocker))
        with pytest.raises(RuntimeDirError, match="not a directory") as info:
            kcf_kernel.runtime_dir()
        assert info.value.path == str(blocker)

    def test_runtime_dir_parent_is_a_file_raises(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A runtime dir below a regular file cannot be created: RuntimeDirError (an OSError)."""
        blocker = tmp_path / "file"
        blocker.write_text("x")
        clean_env.setenv("JUPYTER_RUNTIME_DIR", str(blocker / "runtime"))
        with pytest.raises(OSError, match="cannot be created"):
            kcf_kernel.runtime_dir()


def _nobody() -> int:
    import pwd

    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.fail("the test needs the user 'nobody' (every Linux and macOS has one)")


def _theirs(tmp_path: Path) -> Path:
    """A 0700 directory owned by another user (``nobody``)."""
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, _nobody(), -1)
    return theirs


@pytest.fixture
def strict_env(clean_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in ("KCF_ALLOW_INSECURE_RUNTIME_DIR", "JUPYTER_ALLOW_INSECURE_WRITES"):
        clean_env.delenv(var, raising=False)
    return clean_env


class TestRuntimeDirTrust:
    """A runtime dir someone else can write is refused, as OpenSSH's StrictModes does."""

    @pytest.mark.parametrize("create", [True, False])
    def test_other_users_dir_refused(
        self, strict_env: pytest.MonkeyPatch, tmp_path: Path, create: bool
    ) -> None:
        """A dir owned by another user (nobody) is refused by writers and by readers
        (``create=False`` is what the client's default dir uses), saying whose it is."""
        theirs = _theirs(tmp_path)
        strict_env.setenv("JUPYTER_RUNTIME_DIR", str(theirs))
        with pytest.raises(RuntimeDirError, match="owned by uid") as err:
            kcf_kernel.runtime_dir(create=create)
        assert "KCF_ALLOW_INSECURE_RUNTIME_DIR" in str(err.value)

    def test_symlink_to_other_users_dir_refused(
        self, strict_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A symlink to another user's dir is judged by the dir it leads to."""
        theirs = _theirs(tmp_path)
        link = tmp_path / "runtime"
        link.symlink_to(theirs)
        strict_env.setenv("JUPYTER_RUNTIME_DIR", str(link))
        with pytest.raises(RuntimeDirError, match="owned by uid"):
            kcf_kernel.runtime_dir()

    def test_world_writable_dir_refused(
        self, strict_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A dir of mode 0777 is refused, naming the mode and both escape hatches."""
        open_dir = tmp_path / "open"
        open_dir.mkdir()
        os.chmod(open_dir, 0o777)  # noqa: S103 - the insecure dir under test
        strict_env.setenv("JUPYTER_RUNTIME_DIR", str(open_dir))
        with pytest.raises(RuntimeDirError, match="writable by others") as err:
            kcf_kernel.runtime_dir()
        assert "0777" in str(err.value)
        assert "JUPYTER_ALLOW_INSECURE_WRITES" in str(err.value)

    def test_writer_refuses_untrusted_dir(
        self, strict_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """write_connection_file into another user's dir is refused, nothing written."""
        from kcf_spec import ConnectionInfo

        theirs = _theirs(tmp_path)
        info = ConnectionInfo(1, 2, 3, 4, 5, key=b"k")
        with pytest.raises(RuntimeDirError):
            kcf_kernel.write_connection_file(info, runtime_dir=theirs)
        assert os.listdir(theirs) == []

    def test_escape_hatch_warns(self, strict_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """KCF_ALLOW_INSECURE_RUNTIME_DIR uses the dir, with a warning saying why."""
        theirs = _theirs(tmp_path)
        strict_env.setenv("JUPYTER_RUNTIME_DIR", str(theirs))
        strict_env.setenv("KCF_ALLOW_INSECURE_RUNTIME_DIR", "1")
        with pytest.warns(kcf_kernel.InsecureWriteWarning, match="owned by uid"):
            assert kcf_kernel.runtime_dir() == theirs

    def test_jupyter_hatch_covers_modes_not_owners(
        self, strict_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """JUPYTER_ALLOW_INSECURE_WRITES (a file system without modes) accepts one's own
        0777 dir but not another user's."""
        strict_env.setenv("JUPYTER_ALLOW_INSECURE_WRITES", "1")
        open_dir = tmp_path / "open"
        open_dir.mkdir()
        os.chmod(open_dir, 0o777)  # noqa: S103 - the insecure dir under test
        strict_env.setenv("JUPYTER_RUNTIME_DIR", str(open_dir))
        with pytest.warns(kcf_kernel.InsecureWriteWarning):
            kcf_kernel.runtime_dir()
        os.chown(open_dir, _nobody(), -1)
        with pytest.raises(RuntimeDirError, match="owned by uid"):
            kcf_kernel.runtime_dir()

    def test_own_0755_dir_accepted(self, strict_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """One's own dir that others may read but not write is used without complaint."""
        mine = tmp_path / "mine"
        mine.mkdir()
        os.chmod(mine, 0o755)  # noqa: S103 - readable, not writable, by others
        strict_env.setenv("JUPYTER_RUNTIME_DIR", str(mine))
        assert kcf_kernel.runtime_dir() == mine
