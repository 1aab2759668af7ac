"""The launch plan: everything a launch needs, decided before anything starts.

A launch is three parts (see :mod:`._launch`):

* the **plan** (this module): the argv template, environment, working directory, the files
  (connection file, kernel id), the connection to start from (transport, ip or ipc prefix,
  key, scheme) and the options of the launch;
* the **port strategy** (:mod:`._strategies`, :mod:`._handshake_launch`): how the kernel gets
  its ports: ``reserve``, ``kernel`` (the kernel chooses), ``handshake`` or ``given``;
  :func:`default_port_strategy` is the one rule that picks one for a kernel;
* **where it runs** (:mod:`._process`): start the command, signal its group, wait for it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from kcf_spec import ConnectionInfo

from ._bind import NOT_A_PATH
from ._ipc import default_ipc_prefix
from ._kernelspec import KernelSpec
from ._paths import ensure_private_dir
from ._paths import runtime_dir as _runtime_dir
from ._process import Stream, spawn
from ._write import StrPath, new_kernel_id, new_key

__all__ = [
    "PortStrategy",
    "LaunchPlan",
    "make_plan",
    "format_argv",
    "default_port_strategy",
]

#: How :func:`launch_kernel` gets the kernel its ports.
PortStrategy = Literal["reserve", "kernel", "handshake", "given"]


def format_argv(argv: Sequence[str], **values: str | os.PathLike[str]) -> list[str]:
    """Replace ``{name}`` in each argument by ``values[name]`` (plain replacement, so other
    braces in the arguments are left alone).

    .. versionadded:: 0.1.0
    """
    out = []
    for arg in argv:
        for name, value in values.items():
            arg = arg.replace("{" + name + "}", os.fspath(value))
        out.append(arg)
    return out


#: Modules whose kernels bind port 0 themselves and write their real ports to the file.
_CHOOSING_MODULES = frozenset({"ipykernel_launcher", "ipykernel", "kcf_kernel.examples.pykernel"})


def _module(argv: Sequence[str]) -> str | None:
    """The module a ``python -m MODULE ...`` command runs, else ``None``."""
    for i, arg in enumerate(argv[:-1]):
        if arg == "-m":
            return argv[i + 1]
    return None


def default_port_strategy(
    argv: Sequence[str], kernel_spec: KernelSpec | None = None
) -> PortStrategy:
    """The port strategy kcf uses for a kernel when none is asked for.

    * ``"kernel"`` for kernels known to bind port 0 themselves and write their real ports
      back (ipykernel, kcf's example kernel run with ``-f``): nothing can race.
    * ``"handshake"`` for kernels that speak the JEP 66 handshake: the argv names a
      ``{registration_file}``, or the kernelspec declares ``kernel_protocol_version`` 5.5 or
      later and is not ipykernel (ipykernel 7.4's kernel.json says 5.5 but has no handshake:
      it is never sent a registration file).
    * ``"reserve"`` otherwise: the kernel is told its ports, chosen outside the ephemeral range
      and reserved across kcf launchers.

    Args:
        argv: the kernel's command template.
        kernel_spec: what its kernelspec declares, if it has one.

    .. versionadded:: 0.2.0
    """
    module = _module(argv)
    if module in _CHOOSING_MODULES and any("{connection_file}" in a for a in argv):
        return "kernel"
    if any("{registration_file}" in a for a in argv):
        return "handshake"
    if (
        kernel_spec is not None
        and module not in _CHOOSING_MODULES
        and kernel_spec.protocol_at_least(5, 5)
    ):
        return "handshake"
    return "reserve"


@dataclass(frozen=True)
class LaunchPlan:
    """What one launch will do. Made by :func:`make_plan`; read by the strategies."""

    argv: tuple[str, ...]
    connection: ConnectionInfo
    connection_file: Path
    kernel_id: str
    runtime_dir: Path | None
    owns_ipc: bool
    env: Mapping[str, str] | None = None
    cwd: StrPath | None = None
    stdin: Stream = None
    stdout: Stream = None
    stderr: Stream = None
    timeout: float = 60.0
    die_with_launcher: bool = True
    handshake_dialect: str | None = None
    port_range: tuple[int, int] | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def spawn(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        """Start ``argv`` where this plan runs kernels (:func:`._process.spawn`), with the
        plan's environment, working directory, streams and ``die_with_launcher``."""
        return spawn(
            argv,
            env=self.env,
            cwd=self.cwd,
            stdin=self.stdin,
            stdout=self.stdout,
            stderr=self.stderr,
            die_with_launcher=self.die_with_launcher,
        )

    def command(self, **files: Path) -> list[str]:
        """The argv with ``{connection_file}`` (or the given files) and :attr:`extra`
        placeholders filled."""
        values: dict[str, str | os.PathLike[str]] = dict(self.extra)
        values.update(files or {"connection_file": self.connection_file})
        return format_argv(self.argv, **values)


def make_plan(
    argv: Sequence[str],
    *,
    connection: ConnectionInfo | None,
    connection_file: StrPath | None,
    kernel_name: str | None,
    ip: str,
    transport: Literal["tcp", "ipc"],
    runtime_dir: StrPath | None,
    key: bytes | None = None,
    signature_scheme: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: StrPath | None = None,
    stdin: Stream = None,
    stdout: Stream = None,
    stderr: Stream = None,
    timeout: float = 60.0,
    die_with_launcher: bool = True,
    handshake_dialect: str | None = None,
    port_range: tuple[int, int] | None = None,
    extra: Mapping[str, str] | None = None,
) -> LaunchPlan:
    """Decide the files, key and addresses of a launch (creates the runtime dir if needed).

    The other arguments are the :class:`LaunchPlan` fields of the same names.
    """
    kernel_id = new_kernel_id()
    if connection_file is None:
        base = Path(runtime_dir) if runtime_dir is not None else _runtime_dir(create=False)
        ensure_private_dir(base)
        path = base / f"kernel-{kernel_id}.json"
    else:
        path = Path(connection_file).absolute()
        kernel_id = path.stem.removeprefix("kernel-")
    info = connection or ConnectionInfo(
        0, 0, 0, 0, 0, ip=ip, transport=transport, key=key if key is not None else new_key()
    )
    if connection is None and signature_scheme is not None:
        info = info.replace(signature_scheme=signature_scheme)
    if not info.key and connection is None:
        info = info.replace(key=new_key())
    if kernel_name is not None:
        info = info.replace(kernel_name=kernel_name)
    owns_ipc = False
    if info.transport == "ipc":
        if connection is None or info.ip in NOT_A_PATH:
            info = info.replace(ip=default_ipc_prefix(path))
            owns_ipc = True
        info = info.replace(ip=os.path.abspath(info.ip))
    return LaunchPlan(
        argv=tuple(argv),
        connection=info,
        connection_file=path,
        kernel_id=kernel_id,
        runtime_dir=Path(runtime_dir) if runtime_dir is not None else None,
        owns_ipc=owns_ipc,
        env=env,
        cwd=cwd,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        timeout=timeout,
        die_with_launcher=die_with_launcher,
        handshake_dialect=handshake_dialect,
        port_range=port_range,
        extra=dict(extra or {}),
    )
