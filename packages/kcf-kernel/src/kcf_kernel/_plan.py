"""The launch plan: everything a launch needs, decided before anything starts.

A launch is three parts (see :mod:`._launch`):

* the **plan** (this module): the argv template, environment, working directory, the files
  (connection file, kernel id), the connection to start from (transport, ip or ipc prefix,
  key, scheme) and the options of the launch;
* the **port strategy** (:mod:`._strategies`, :mod:`._handshake_launch`): how the kernel gets
  its ports: ``reserve``, ``kernel`` (the kernel chooses), ``handshake`` or ``given``;
  :func:`choose_port_strategy` is the one rule that picks one (and the handshake
  dialect) for a kernel, built on :func:`kcf_spec.choose_dialect`;
* **where it runs** (:mod:`._process`): start the command, signal its group, wait for it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

from kcf_spec import DEFAULT_DIALECT, ConnectionInfo, Dialect, choose_dialect

from ._bind import NOT_A_PATH
from ._ipc import default_ipc_prefix
from ._kernelspec import KernelSpec
from ._paths import ensure_private_dir
from ._paths import runtime_dir as _runtime_dir
from ._process import InterruptMode, Stream, spawn
from ._write import StrPath, new_kernel_id, new_key

__all__ = [
    "PortStrategy",
    "PortChoice",
    "InterruptMode",
    "LaunchPlan",
    "make_plan",
    "format_argv",
    "choose_port_strategy",
    "default_port_strategy",
    "handshake_dialect_for",
    "interrupt_mode_for",
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


class PortChoice(NamedTuple):
    """How kcf gives a kernel its ports when none is asked for, and why.

    Attributes:
        strategy: ``"handshake"``, ``"kernel"`` or ``"reserve"``.
        handshake_dialect: the JEP 66 dialect (``"handshake"`` only), else ``None``.
        reason: the rule that decided, in a few words (what ``kcf kernelspec list`` shows).

    .. versionadded:: 0.2.0
    """

    strategy: PortStrategy
    handshake_dialect: Dialect | None
    reason: str


def _split_spec(
    argv: Sequence[str] | KernelSpec, kernel_spec: KernelSpec | None
) -> tuple[Sequence[str], KernelSpec | None]:
    if isinstance(argv, KernelSpec):
        return argv.command(), argv
    return argv, kernel_spec


def choose_port_strategy(
    argv: Sequence[str] | KernelSpec, kernel_spec: KernelSpec | None = None
) -> PortChoice:
    """The port strategy and handshake dialect kcf uses for a kernel when none is asked for.

    One rule, with the handshake decided by :func:`kcf_spec.choose_dialect` (the kernelspec
    rule for JEP 66 dialects), first match wins:

    1. ``"handshake"`` in that dialect when the dialect rule chooses one: xeus-python
       (``"xeus"``), ark (``"kallichore"``), an argv naming ``{registration_file}`` or a
       kernelspec declaring ``kernel_protocol_version`` >= 5.6 (``"jupyter"``), or the
       kernelspec's ``metadata.kcf.handshake_dialect``. ipykernel never (its kernel.json
       declares 5.5 and it has no handshake); 5.5 alone is not enough.
    2. ``"kernel"`` for kernels known to bind port 0 themselves and write their real ports
       back (ipykernel, kcf's example kernel run with ``{connection_file}``): no race.
    3. ``"reserve"`` otherwise: the kernel is told its ports, chosen outside the ephemeral
       range and reserved across kcf launchers.

    Args:
        argv: the kernel's command template, or its :class:`KernelSpec`.
        kernel_spec: what its kernelspec declares, if it has one (when ``argv`` is a
            template).

    Raises:
        ValueError: the kernelspec's metadata names an unknown dialect.

    .. versionadded:: 0.2.0
    """
    template, spec = _split_spec(argv, kernel_spec)
    dialect, why = choose_dialect(
        template,
        spec.language if spec is not None else "",
        spec.metadata if spec is not None else None,
        spec.kernel_protocol_version if spec is not None else None,
    )
    if dialect is not None:
        return PortChoice("handshake", dialect, f"JEP 66 handshake: {why}")
    module = _module(template)
    if module in _CHOOSING_MODULES and any("{connection_file}" in a for a in template):
        return PortChoice("kernel", None, f"{module} binds port 0 and writes its ports back")
    return PortChoice("reserve", None, f"kcf chooses its ports and reserves them: {why}")


def default_port_strategy(
    argv: Sequence[str] | KernelSpec, kernel_spec: KernelSpec | None = None
) -> PortStrategy:
    """The port strategy of :func:`choose_port_strategy` (without dialect and reason).

    Args:
        argv: the kernel's command template, or its :class:`KernelSpec`.
        kernel_spec: what its kernelspec declares, if it has one.

    .. versionadded:: 0.2.0
    """
    return choose_port_strategy(argv, kernel_spec).strategy


def handshake_dialect_for(
    argv: Sequence[str] | KernelSpec, kernel_spec: KernelSpec | None = None
) -> Dialect:
    """The dialect of a handshake asked for without one: the rule's, else the documented
    one (:data:`kcf_spec.DEFAULT_DIALECT`)."""
    return choose_port_strategy(argv, kernel_spec).handshake_dialect or DEFAULT_DIALECT


def interrupt_mode_for(
    argv: Sequence[str] | KernelSpec, kernel_spec: KernelSpec | None = None
) -> InterruptMode:
    """How :meth:`KernelProcess.interrupt` interrupts a kernel.

    1. The kernelspec's ``interrupt_mode`` when it declares one.
    2. ``"message"`` for kernels built on xeus (those the dialect rule gives the ``"xeus"``
       dialect, such as xeus-python): xeus dies on SIGINT (its poll loop throws,
       jupyter-xeus/xeus#272), where ``interrupt_request`` leaves it running.
       jupyter_client signals here (the kernelspec says nothing) and so kills the kernel.
    3. ``"signal"`` otherwise, as jupyter_client does.

    Args:
        argv: the kernel's command template, or its :class:`KernelSpec`.
        kernel_spec: what its kernelspec declares, if it has one.

    .. versionadded:: 0.2.0
    """
    template, spec = _split_spec(argv, kernel_spec)
    if spec is not None and spec.interrupt_mode is not None:
        return spec.interrupt_mode
    try:
        choice = choose_port_strategy(template, spec)
    except ValueError:  # an unknown dialect in the metadata: launching says so
        return "signal"
    return "message" if choice.handshake_dialect == "xeus" else "signal"


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
    interrupt_mode: InterruptMode = "signal"
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
    interrupt_mode: InterruptMode = "signal",
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
        interrupt_mode=interrupt_mode,
        port_range=port_range,
        extra=dict(extra or {}),
    )
