"""Kernelspecs: list them, and switch one to ``kcf-provisioner`` and back.

The switch edits ``metadata.kernel_provisioner`` of the kernelspec's ``kernel.json`` and
nothing else, atomically (a temporary file in the same directory, then ``os.replace``; the
file keeps its mode). A provisioner the kernelspec named before is remembered under
``metadata.kcf_previous_provisioner`` and put back by :func:`use_default_provisioner`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kcf_spec import KcfError

from ._provisioner import PROVISIONER_NAME

if TYPE_CHECKING:
    from jupyter_client.kernelspec import KernelSpecManager

__all__ = [
    "KernelSpecEntry",
    "KernelSpecFileError",
    "list_kernelspecs",
    "use_kcf_provisioner",
    "use_default_provisioner",
    "install_ssh_kernelspec",
]

_PREVIOUS = "kcf_previous_provisioner"


class KernelSpecFileError(KcfError, ValueError):
    """A kernelspec is unknown, or its ``kernel.json`` is not what it must be.

    Attributes:
        path: the ``kernel.json`` (or ``None`` for an unknown name).
        pointer: JSON pointer to the offending value (``""``: the whole document).

    .. versionadded:: 0.2.0
    """

    def __init__(self, message: str, *, path: Path | None = None, pointer: str = "") -> None:
        self.path = path
        self.pointer = pointer
        where = f"{path}: at {pointer or '/'}: " if path is not None else ""
        super().__init__(where + message)


@dataclasses.dataclass(frozen=True)
class KernelSpecEntry:
    """One installed kernelspec.

    Attributes:
        name: the kernelspec name (``python3``).
        resource_dir: its directory (holding ``kernel.json``).
        display_name: the name frontends show.
        language: the kernel's language.
        provisioner: ``metadata.kernel_provisioner.provisioner_name``, or ``None`` (the
            default provisioner).
        argv: the command template.

    .. versionadded:: 0.2.0
    """

    name: str
    resource_dir: Path
    display_name: str
    language: str
    provisioner: str | None
    argv: tuple[str, ...]

    @property
    def uses_kcf(self) -> bool:
        """Whether it names ``kcf-provisioner``."""
        return self.provisioner == PROVISIONER_NAME


def _manager(manager: KernelSpecManager | None) -> KernelSpecManager:
    if manager is not None:
        return manager
    from jupyter_client.kernelspec import KernelSpecManager

    return KernelSpecManager()


def list_kernelspecs(manager: KernelSpecManager | None = None) -> list[KernelSpecEntry]:
    """Every kernelspec jupyter_client finds, sorted by name.

    Also those naming a provisioner that is not installed (jupyter_client hides them from
    frontends) and those whose ``kernel.json`` cannot be read (with empty fields), so that
    they can be switched or mended.

    Args:
        manager: the ``KernelSpecManager`` to ask (default: a new one, which searches the
            Jupyter data dirs, ``sys.prefix``, the user's and the system's).

    .. versionadded:: 0.2.0
    """
    out = []
    for name, resource_dir in sorted(_manager(manager).find_kernel_specs().items()):
        try:
            spec = json.loads((Path(resource_dir) / "kernel.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            spec = {}
        spec = spec if isinstance(spec, dict) else {}
        metadata = spec.get("metadata")
        prov = metadata.get("kernel_provisioner") if isinstance(metadata, dict) else None
        prov_name = prov.get("provisioner_name") if isinstance(prov, dict) else None
        argv = spec.get("argv")
        out.append(
            KernelSpecEntry(
                name=name,
                resource_dir=Path(resource_dir),
                display_name=str(spec.get("display_name", name)),
                language=str(spec.get("language", "")),
                provisioner=str(prov_name) if prov_name else None,
                argv=tuple(str(a) for a in argv) if isinstance(argv, list) else (),
            )
        )
    return out


def _kernel_json(name: str, manager: KernelSpecManager | None) -> Path:
    found = _manager(manager).find_kernel_specs()
    if name not in found:
        raise KernelSpecFileError(f"no kernelspec named {name!r}")
    return Path(found[name]) / "kernel.json"


def _read(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The document and its ``metadata`` object (created when absent)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise KernelSpecFileError(f"expected JSON; {exc}", path=path) from None
    if not isinstance(doc, dict):
        raise KernelSpecFileError("expected an object", path=path)
    metadata = doc.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        raise KernelSpecFileError("expected an object", path=path, pointer="/metadata")
    return doc, metadata


def _replace(path: Path, doc: Mapping[str, Any], mode: int | None = None) -> None:
    """Write ``doc`` to ``path`` atomically, keeping the file's mode (``mode`` for a new
    file)."""
    if mode is None:
        mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kernel.json.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            f.write(json.dumps(doc, indent=1) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def use_kcf_provisioner(
    name: str,
    *,
    config: Mapping[str, Any] | None = None,
    manager: KernelSpecManager | None = None,
) -> Path:
    """Make kernelspec ``name`` start with ``kcf-provisioner``; return its ``kernel.json``.

    Args:
        name: the kernelspec.
        config: the provisioner's config (``{"port_strategy": "reserve"}``...).
        manager: the ``KernelSpecManager`` that finds it.

    Raises:
        KernelSpecFileError: no such kernelspec, or its ``kernel.json`` is malformed.
        OSError: the file cannot be replaced (it names the file).

    .. versionadded:: 0.2.0
    """
    path = _kernel_json(name, manager)
    doc, metadata = _read(path)
    wanted = {"provisioner_name": PROVISIONER_NAME, "config": dict(config or {})}
    current = metadata.get("kernel_provisioner")
    if current == wanted:
        return path
    if isinstance(current, dict) and current.get("provisioner_name") != PROVISIONER_NAME:
        metadata[_PREVIOUS] = current
    metadata["kernel_provisioner"] = wanted
    _replace(path, doc)
    return path


def use_default_provisioner(name: str, *, manager: KernelSpecManager | None = None) -> Path:
    """Undo :func:`use_kcf_provisioner`: the provisioner named before comes back (none: the
    default provisioner); return the ``kernel.json``.

    A kernelspec that does not name ``kcf-provisioner`` is left as it is.

    Raises:
        KernelSpecFileError: no such kernelspec, or its ``kernel.json`` is malformed.
        OSError: the file cannot be replaced.

    .. versionadded:: 0.2.0
    """
    path = _kernel_json(name, manager)
    doc, metadata = _read(path)
    current = metadata.get("kernel_provisioner")
    if not isinstance(current, dict) or current.get("provisioner_name") != PROVISIONER_NAME:
        return path
    previous = metadata.pop(_PREVIOUS, None)
    if previous is None:
        del metadata["kernel_provisioner"]
    else:
        metadata["kernel_provisioner"] = previous
    _replace(path, doc)
    return path


_NAME = re.compile(r"^[a-z0-9._-]+$", re.IGNORECASE)  # what jupyter_client accepts


def install_ssh_kernelspec(
    name: str,
    host: str,
    *,
    remote_python: str = "python3",
    argv: Sequence[str] | None = None,
    remote_kernelspec: str | None = None,
    display_name: str | None = None,
    language: str = "python",
    config: Mapping[str, Any] | None = None,
    kernels_dir: str | os.PathLike[str] | None = None,
    replace: bool = False,
) -> Path:
    """Write kernelspec ``name`` whose kernels run on ``host`` (``kcf-ssh-provisioner``);
    return its ``kernel.json``.

    Args:
        name: the kernelspec name (letters, digits, ``.``, ``_``, ``-``).
        host: ``[user@]host[:port]`` or an ``~/.ssh/config`` alias.
        remote_python: the Python on ``host`` that has kcf-kernel (and ipykernel).
        argv: the kernel's command on ``host`` (default: ipykernel with ``remote_python``).
        remote_kernelspec: a kernelspec on ``host`` to start instead of ``argv``.
        display_name: the name frontends show (default ``NAME (HOST)``).
        language: the kernel's language.
        config: more provisioner config: ``grace``, ``launch_timeout``, ``backend``,
            ``ssh_config``, ``known_hosts``, ``identity_file``, ``accept_new``.
        kernels_dir: where to install (default ``<Jupyter data dir>/kernels``).
        replace: overwrite an existing kernelspec of that name.

    Raises:
        KernelSpecFileError: a bad name, an empty host, or both ``argv`` and
            ``remote_kernelspec``.
        FileExistsError: it exists and not ``replace``.

    .. versionadded:: 0.2.0
    """
    from kcf_kernel import jupyter_data_dir

    from ._ssh import SSH_PROVISIONER_NAME

    if not _NAME.match(name) or not name.strip("."):
        raise KernelSpecFileError(f"name {name!r}: expected letters, digits, '.', '_' or '-'")
    if not host:
        raise KernelSpecFileError("host: expected [user@]host[:port], got nothing")
    if argv is not None and remote_kernelspec is not None:
        raise KernelSpecFileError("give argv or remote_kernelspec, not both")
    base = Path(kernels_dir) if kernels_dir is not None else jupyter_data_dir() / "kernels"
    path = base / name / "kernel.json"
    if path.exists() and not replace:
        raise FileExistsError(f"kernelspec {name!r} exists at {path} (replace it explicitly)")
    settings: dict[str, Any] = {"host": host, "remote_python": remote_python, **(config or {})}
    if remote_kernelspec is not None:
        settings["remote_kernelspec"] = remote_kernelspec
    doc = {
        "argv": list(argv)
        if argv is not None
        else [remote_python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": display_name or f"{name} ({host})",
        "language": language,
        "metadata": {
            "kernel_provisioner": {"provisioner_name": SSH_PROVISIONER_NAME, "config": settings}
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace(path, doc, 0o644)
    return path
