"""Importing a kcf package costs next to nothing: every public name is loaded on first use
(PEP 562), and the ``kcf`` command imports only what the command at hand needs."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGES = ("kcf_spec", "kcf_kernel", "kcf_client")


def _modules_after(
    code: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> set[str]:
    """The modules loaded in a fresh interpreter once ``code`` has run."""
    probe = f"{code}\nimport sys\nloaded = sorted(sys.modules)\nprint(' '.join(loaded))"
    p = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
        check=True,
    )
    return set(p.stdout.splitlines()[-1].split())


class TestLazyPackages:
    @pytest.mark.parametrize("package", PACKAGES)
    def test_lazy_import_loads_no_submodule(self, package: str) -> None:
        """``import PACKAGE`` loads none of its submodules (but kcf_spec's lazy loader), nor
        zmq, json or jsonschema."""
        loaded = _modules_after(f"import {package}")
        kcf = sorted(m for m in loaded if m.startswith("kcf_") and "." in m)
        assert kcf == ["kcf_spec._lazy"]
        assert not {"zmq", "json", "jsonschema", "dataclasses"} & loaded

    @pytest.mark.parametrize("package", PACKAGES)
    def test_lazy_names_all_resolve_and_dir_lists_them(self, package: str) -> None:
        """Every name of ``__all__`` resolves and ``dir()`` lists it; an unknown name is an
        AttributeError naming the module."""
        mod = importlib.import_module(package)
        assert set(mod.__all__) <= set(dir(mod))
        for name in mod.__all__:
            assert getattr(mod, name) is not None, name
        with pytest.raises(AttributeError, match=package):
            mod.no_such_name  # noqa: B018

    def test_lazy_from_import_gives_the_defining_object(self) -> None:
        """``from kcf_kernel import X`` is the object its module defines (no copies)."""
        from kcf_kernel import launch_kernel
        from kcf_spec import ConnectionInfo

        assert launch_kernel is importlib.import_module("kcf_kernel._launch").launch_kernel
        assert ConnectionInfo is importlib.import_module("kcf_spec._connection").ConnectionInfo


class TestLazyCli:
    def test_lazy_cli_version_imports_no_package_code(self) -> None:
        """``kcf --version`` loads no kcf_spec or kcf_kernel code, nor argparse."""
        loaded = _modules_after("from kcf_client._cli import main\nassert main(['--version']) == 0")
        assert not {"kcf_kernel", "argparse", "zmq"} & loaded
        assert sorted(m for m in loaded if m.startswith("kcf_spec.")) == ["kcf_spec._lazy"]

    def test_lazy_cli_list_empty_dir_imports_no_zmq(self, tmp_path: Path) -> None:
        """``kcf list`` on an empty directory imports no zmq, sockets, JSON, dataclasses,
        inspect, typing or shutil, nor the entry, reader and liveness modules; with a file to
        ping, it does (so the check above can fail)."""
        runtime = tmp_path / "runtime"
        runtime.mkdir(mode=0o700)
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime))
        code = "from kcf_client._cli import main\nmain(['list', '--timeout', '0.1'])"
        loaded = _modules_after(code, env=env, cwd=tmp_path)
        heavy = {"zmq", "socket", "json", "dataclasses", "inspect", "typing", "shutil"}
        assert not heavy & loaded
        assert not {"kcf_spec._connection", "kcf_client._entry", "kcf_client._liveness"} & loaded
        from kcf_spec import Channel, ConnectionInfo

        info = ConnectionInfo.from_ports(dict.fromkeys(Channel, 1), key=b"k")
        (runtime / "kernel-x.json").write_text(info.dumps())
        (runtime / "kernel-x.json").chmod(0o600)
        assert {"zmq", "socket", "json", "dataclasses"} <= _modules_after(
            code, env=env, cwd=tmp_path
        )
