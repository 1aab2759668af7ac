"""Kernelspecs: find ``<name>/kernel.json`` where jupyter_client's KernelSpecManager finds it.

Search order (the first directory holding a name wins; names are compared in lower case):

1. each entry of ``$JUPYTER_PATH``, then, as ``jupyter_core.paths.jupyter_path`` orders them,
2. the user data dir (:func:`jupyter_data_dir`) and the user site's ``share/jupyter``,
3. the environment, ``sys.prefix/share/jupyter`` (before the user dirs inside a virtualenv or
   with ``JUPYTER_PREFER_ENV_PATH`` set),
4. the system dirs: ``/usr/local/share/jupyter`` and ``/usr/share/jupyter`` (POSIX),
   ``%PROGRAMDATA%\\jupyter`` with ``JUPYTER_USE_PROGRAMDATA`` (Windows),

each with ``kernels/`` appended. When no ``python3`` is found and ipykernel is installed,
``python3`` is ipykernel's own spec for this Python, as jupyter_client does. jupyter_client
is never imported.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import site
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ._errors import KernelSpecError, NoSuchKernelSpec
from ._paths import env_flag, jupyter_data_dir

__all__ = ["KernelSpec", "kernel_spec_dirs", "find_kernel_specs", "get_kernel_spec"]

#: The kernelspec jupyter_client makes up from ipykernel when none is installed.
NATIVE_KERNEL_NAME = "python3"
_VALID_NAME = re.compile(r"^[a-z0-9._-]+$", re.IGNORECASE)

JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


@dataclass(frozen=True)
class KernelSpec:
    """A kernelspec: what ``kernel.json`` says, and where it was found.

    Attributes:
        name: the kernelspec name (lower case, the directory name).
        argv: the command template (``{connection_file}``, ``{resource_dir}``...).
        display_name: the name shown to users.
        language: the kernel's language.
        env: variables set for the kernel.
        metadata: free-form metadata (``debugger``, ``supported_encryption``...).
        interrupt_mode: ``"signal"`` (SIGINT) or ``"message"`` (``interrupt_request``), or
            ``None`` when kernel.json does not say (jupyter_client then signals; kcf's
            rule is :func:`interrupt_mode_for`).
        kernel_protocol_version: the declared protocol version, or ``None``.
        resource_dir: the kernelspec directory.

    .. versionadded:: 0.2.0
    """

    name: str
    argv: tuple[str, ...]
    display_name: str
    language: str
    resource_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, JsonValue] = field(default_factory=dict)
    interrupt_mode: Literal["signal", "message"] | None = None
    kernel_protocol_version: str | None = None

    def protocol_at_least(self, major: int, minor: int) -> bool:
        """Whether :attr:`kernel_protocol_version` is at least ``major.minor``."""
        if self.kernel_protocol_version is None:
            return False
        parts = re.findall(r"\d+", self.kernel_protocol_version)[:2]
        if not parts:
            return False
        version = (int(parts[0]), int(parts[1]) if len(parts) > 1 else 0)
        return version >= (major, minor)

    def command(self) -> tuple[str, ...]:
        """:attr:`argv` to run here: a bare ``python``, ``python3`` or ``python3.X`` is this
        interpreter (``sys.executable``), as jupyter_client runs it."""
        bare = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info)}
        if self.argv and self.argv[0] in bare:
            return (sys.executable, *self.argv[1:])
        return self.argv

    def format_values(self) -> dict[str, str]:
        """The placeholders jupyter_client fills besides ``{connection_file}``."""
        return {"resource_dir": str(self.resource_dir), "prefix": sys.prefix}

    @classmethod
    def from_dict(cls, name: str, data: object, resource_dir: Path) -> KernelSpec:
        """Check a ``kernel.json`` document and make a :class:`KernelSpec`.

        Raises:
            KernelSpecError: a field is missing or of the wrong type (names the pointer).
        """
        path = resource_dir / "kernel.json"
        if not isinstance(data, dict):
            raise KernelSpecError(path, "", f"expected a JSON object, got {type(data).__name__}")
        argv = data.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise KernelSpecError(path, "/argv", "expected a non-empty array of strings")
        strings: dict[str, str] = {}
        for key, default in (("display_name", name), ("language", "")):
            value = data.get(key, default)
            if not isinstance(value, str):
                raise KernelSpecError(path, f"/{key}", "expected a string")
            strings[key] = value
        env = data.get("env", {})
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            raise KernelSpecError(path, "/env", "expected an object of strings")
        metadata = data.get("metadata", {})
        if not isinstance(metadata, dict):
            raise KernelSpecError(path, "/metadata", "expected an object")
        mode = data.get("interrupt_mode")
        if mode not in (None, "signal", "message"):
            raise KernelSpecError(path, "/interrupt_mode", "expected 'signal' or 'message'")
        version = data.get("kernel_protocol_version")
        if version is not None and not isinstance(version, str):
            raise KernelSpecError(path, "/kernel_protocol_version", "expected a string")
        return cls(
            name=name,
            argv=tuple(argv),
            display_name=strings["display_name"],
            language=strings["language"],
            resource_dir=resource_dir,
            env=dict(env),
            metadata=dict(metadata),
            interrupt_mode="message" if mode == "message" else "signal" if mode else None,
            kernel_protocol_version=version,
        )

    @classmethod
    def load(cls, resource_dir: Path, name: str | None = None) -> KernelSpec:
        """Read ``<resource_dir>/kernel.json``.

        Raises:
            KernelSpecError: it cannot be read or is not a valid kernelspec.
        """
        path = resource_dir / "kernel.json"
        try:
            with open(path, "rb") as f:
                raw = f.read(1 << 20)
            data = json.loads(raw)
        except OSError as exc:
            raise KernelSpecError(path, "", f"cannot read: {exc.strerror}") from exc
        except ValueError as exc:
            raise KernelSpecError(path, "", f"not JSON: {exc}") from exc
        return cls.from_dict(name or resource_dir.name.lower(), data, resource_dir)


def _prefer_env() -> bool:
    if "JUPYTER_PREFER_ENV_PATH" in os.environ:
        return env_flag("JUPYTER_PREFER_ENV_PATH")
    return sys.prefix != sys.base_prefix or (
        "CONDA_PREFIX" in os.environ
        and sys.prefix.startswith(os.environ["CONDA_PREFIX"])
        and os.environ.get("CONDA_DEFAULT_ENV", "base") != "base"
    )


def _system_dirs() -> list[Path]:
    if os.name == "nt":  # pragma: no cover - Windows
        programdata = os.environ.get("PROGRAMDATA")
        if programdata and env_flag("JUPYTER_USE_PROGRAMDATA"):
            return [Path(programdata, "jupyter")]
        return [Path(sys.prefix, "share", "jupyter")]
    return [Path("/usr/local/share/jupyter"), Path("/usr/share/jupyter")]


def kernel_spec_dirs() -> list[Path]:
    """The ``kernels`` directories searched, highest priority first (module docstring).

    .. versionadded:: 0.2.0
    """
    dirs: list[Path] = []
    for entry in os.environ.get("JUPYTER_PATH", "").split(os.pathsep):
        if entry:
            dirs.append(Path(entry.rstrip(os.sep)))
    user = [jupyter_data_dir()]
    if site.ENABLE_USER_SITE and site.getuserbase():
        user_share = Path(site.getuserbase(), "share", "jupyter")
        if user_share not in user:
            user.append(user_share)
    system = _system_dirs()
    env = [p for p in [Path(sys.prefix, "share", "jupyter")] if p not in system] or system
    dirs += [*env, *user] if _prefer_env() else [*user, *env]
    dirs += [p for p in system if p not in dirs]
    return [d / "kernels" for d in dirs]


def _native_spec() -> KernelSpec | None:
    """ipykernel's ``python3`` spec for this Python, as ipykernel builds it (no kernel.json)."""
    spec = importlib.util.find_spec("ipykernel")
    if spec is None or not spec.submodule_search_locations:
        return None
    resources = Path(next(iter(spec.submodule_search_locations)), "resources")
    return KernelSpec(
        name=NATIVE_KERNEL_NAME,
        argv=(sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"),
        display_name=f"Python {sys.version_info[0]} (ipykernel)",
        language="python",
        resource_dir=resources,
        metadata={"debugger": True, "supported_encryption": ["curve"]},
        kernel_protocol_version="5.5",
    )


def find_kernel_specs() -> dict[str, Path]:
    """Every kernelspec name and its directory (the first directory holding a name wins);
    ``python3`` is ipykernel's own when none is installed and ipykernel is importable.

    .. versionadded:: 0.2.0
    """
    found: dict[str, Path] = {}
    for directory in kernel_spec_dirs():
        try:
            entries = sorted(os.listdir(directory))
        except OSError:
            continue
        for entry in entries:
            path = directory / entry
            name = entry.lower()
            if name in found or not _VALID_NAME.match(name):
                continue
            if (path / "kernel.json").is_file():
                found[name] = path
    if NATIVE_KERNEL_NAME not in found:
        native = _native_spec()
        if native is not None:
            found[NATIVE_KERNEL_NAME] = native.resource_dir
    return found


def get_kernel_spec(name: str) -> KernelSpec:
    """The kernelspec called ``name`` (case-insensitive).

    Raises:
        NoSuchKernelSpec: no kernelspec has that name (names the directories searched).
        KernelSpecError: its ``kernel.json`` is not valid (names the file and field).

    .. versionadded:: 0.2.0
    """
    key = name.lower()
    path = find_kernel_specs().get(key)
    if path is None:
        raise NoSuchKernelSpec(name, kernel_spec_dirs())
    if key == NATIVE_KERNEL_NAME:
        native = _native_spec()
        if native is not None and path == native.resource_dir:
            return native  # ipykernel's resources dir: its spec is built for this Python
    return KernelSpec.load(path, key)
