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
