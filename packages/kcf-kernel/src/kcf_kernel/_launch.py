"""Launching a kernel: the public entry point of the launch design.

A launch is three parts, each in its own module:

* the **plan** (:mod:`._plan`): argv template, environment, working directory, files,
  transport and address, options; :func:`choose_port_strategy` picks the strategy and
  the handshake dialect, :func:`interrupt_mode_for` how to interrupt;
* the **port strategy**: ``reserve`` / ``kernel`` / ``given`` (:mod:`._strategies`) and
  ``handshake`` (:mod:`._handshake_launch`); each takes a plan and returns a
  :class:`KernelProcess`;
* **where it runs** (:mod:`._process`): start the command in its own process group, signal
  the group, stop and reap it. Everything that touches the process goes through it.

Later parts plug in at those seams: a provisioner or remote launcher is a new strategy (a
function from a plan to a handle) or a new "where it runs" module (an SSH nanny, a Slurm
job) offering :func:`spawn`'s verbs; neither copies the launching done here.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Literal

from kcf_spec import DEFAULT_DIALECT, ConnectionInfo

from ._handshake_launch import start_handshake
from ._kernelspec import KernelSpec, get_kernel_spec
from ._plan import (
    PortChoice,
    PortStrategy,
    choose_port_strategy,
    default_port_strategy,
    format_argv,
    interrupt_mode_for,
    make_plan,
)
from ._process import InterruptMode, KernelProcess, Stream
from ._strategies import start_with_file
from ._write import StrPath

__all__ = [
    "KernelProcess",
    "launch_kernel",
    "ipykernel_argv",
    "example_kernel_argv",
    "format_argv",
    "PortStrategy",
    "PortChoice",
    "InterruptMode",
    "choose_port_strategy",
    "default_port_strategy",
    "interrupt_mode_for",
]


def ipykernel_argv() -> list[str]:
    """``[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]``.

    .. versionadded:: 0.1.0
    """
    return [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


def example_kernel_argv(handshake: bool = False) -> list[str]:
    """The argv of kcf's example kernel (``kcf_kernel.examples.pykernel``).

    Args:
        handshake: take a registration file (``--registration {registration_file}``) and
            report the ports (JEP 66) instead of reading a connection file.

    .. versionadded:: 0.1.0
    """
    base = [sys.executable, "-m", "kcf_kernel.examples.pykernel"]
    if handshake:
        return [*base, "--registration", "{registration_file}"]
    return [*base, "-f", "{connection_file}"]


def launch_kernel(
    argv: Sequence[str] | str | KernelSpec,
    *,
    connection: ConnectionInfo | None = None,
    connection_file: StrPath | None = None,
    env: Mapping[str, str] | None = None,
    cwd: StrPath | None = None,
    ports: PortStrategy | None = None,
    kernel_name: str | None = None,
    ip: str = "127.0.0.1",
    transport: Literal["tcp", "ipc"] = "tcp",
    runtime_dir: StrPath | None = None,
    timeout: float = 60.0,
    stdin: Stream = None,
    stdout: Stream = None,
    stderr: Stream = None,
    die_with_launcher: bool = True,
    handshake_dialect: str | None = None,
    interrupt_mode: InterruptMode | None = None,
    port_range: tuple[int, int] | None = None,
) -> KernelProcess:
    """Start a kernel from an argv template and return its :class:`KernelProcess`.

    ``argv`` is a command template, or the name of a kernelspec (``"python3"``, see
    :func:`get_kernel_spec`) or a :class:`KernelSpec`: its argv, its env (under ``env``) and
    its name (as ``kernel_name``) are used. ``{connection_file}`` in the argv is replaced by
    the path of the connection file (and a kernelspec's ``{resource_dir}`` and ``{prefix}``
    as jupyter_client does). How the kernel gets its ports (``ports``; by default
    :func:`choose_port_strategy` decides, with the handshake dialect: ``"handshake"`` for
    kernels that speak JEP 66 (xeus-python in the ``"xeus"`` dialect), ``"kernel"`` for
    ipykernel and kcf's example kernel, ``"reserve"`` for the others):

    * ``"reserve"`` (strategy 3, any kernel): ports are chosen outside the system's ephemeral
      range and reserved across processes (:func:`reserve_ports`), written to the file, and
      released in the background once the kernel listens on them. Concurrent kcf launchers
      never hand out the same port.
    * ``"kernel"`` (strategy 1 done by the kernel): the file is written with ports ``0``
      ("choose"); the kernel binds port 0 and rewrites the file with its real ports (ipykernel
      and kcf's example kernel do); this call waits for that (``timeout``). No race at all.
    * ``"handshake"`` (strategy 2, JEP 66): see :func:`launch_handshake`; ``argv`` takes
      ``{registration_file}`` (or ``{connection_file}``, which then names the registration
      file).
    * ``"given"``: ``connection`` has every port; nothing is chosen.

    Ports already set in ``connection`` are kept, and so are its key, scheme and extra
    fields; with ``"handshake"`` only its key, scheme, transport and (tcp) ip are used (the
    kernel chooses every port). With ``transport="ipc"`` the socket paths are absolute, beside the
    connection file (``<dir>/kernel-<id>-ipc-<n>``) and checked against the platform limit.

    Args:
        argv: the command template.
        connection: a starting connection (default: a new key, ``ip``, ``transport``).
        connection_file: where to write (default ``<runtime dir>/kernel-<id>.json``).
        env: variables added to this process's environment for the kernel.
        cwd: the kernel's working directory.
        ports: the port strategy (above); ``None``: :func:`choose_port_strategy`'s.
        kernel_name: recorded as ``kernel_name`` in the file.
        ip: the address (tcp) when ``connection`` is not given.
        transport: ``"tcp"`` or ``"ipc"`` when ``connection`` is not given.
        runtime_dir: the directory of the default file and of reservations.
        timeout: seconds to wait for ``"kernel"`` and ``"handshake"`` reports.
        stdin: the kernel's stdin (default: ``/dev/null``).
        stdout: the kernel's stdout (default: inherited).
        stderr: the kernel's stderr (default: inherited).
        die_with_launcher: end the kernel when this process dies, however it dies (Linux:
            a parent-death signal; ipykernel everywhere: ``JPY_PARENT_PID``). ``False`` for a
            kernel meant to outlive its launcher.
        handshake_dialect: the JEP 66 dialect for ``"handshake"``; ``None``:
            :func:`choose_port_strategy`'s for this kernel, else the documented
            ``"jupyter"``.
        interrupt_mode: how :meth:`KernelProcess.interrupt` interrupts (``"signal"`` or
            ``"message"``); ``None``: :func:`interrupt_mode_for` this kernel.
        port_range: ``(low, high)`` that ``"reserve"`` chooses from (default
            ``$KCF_PORT_RANGE``, else :data:`DEFAULT_PORT_RANGE`).

    Raises:
        LaunchError: the program cannot be started, or died before it was ready.
        LaunchTimeout: (``"kernel"``) the kernel did not write its ports in time.
        HandshakeTimeout: (``"handshake"``) no port report in time.
        PortAllocationError: ports cannot be reserved.
        ValueError: an unknown ``ports`` or handshake dialect (argument or kernelspec
            metadata); ``"given"`` with a port 0; ``"handshake"`` with
            CURVE keys (the handshake cannot pass them to the kernel).
        SocketPathTooLong: an ipc path is too long.
        WriteError: the connection file cannot be written.
        NoSuchKernelSpec: ``argv`` names no kernelspec.
        KernelSpecError: the named kernelspec is not valid.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       A kernelspec name; ``ports`` and ``handshake_dialect`` default to
       :func:`choose_port_strategy`'s; ``die_with_launcher``, ``handshake_dialect``,
       ``interrupt_mode``, ``port_range``.
    """
    spec: KernelSpec | None
    template: Sequence[str]
    if isinstance(argv, KernelSpec):
        spec, template = argv, argv.command()
    elif isinstance(argv, str):
        spec = get_kernel_spec(argv)
        template = spec.command()
    else:
        spec, template = None, argv
    extra: dict[str, str] = {}
    if spec is not None:
        extra = spec.format_values()
        env = {**spec.env, **(env or {})}
        kernel_name = spec.name if kernel_name is None else kernel_name
    choice: PortChoice = choose_port_strategy(template, spec)
    strategy = ports if ports is not None else choice.strategy
    if strategy == "handshake" and handshake_dialect is None:
        handshake_dialect = choice.handshake_dialect or DEFAULT_DIALECT
    if interrupt_mode is None:
        interrupt_mode = interrupt_mode_for(template, spec)
    if strategy not in ("reserve", "kernel", "given", "handshake"):
        raise ValueError(f"unknown port strategy {strategy!r}")
    if strategy == "handshake" and connection is not None and connection.curve_secretkey:
        # The kernel half binds from the registration file, which carries no CURVE keys:
        # going on would give a kernel without the encryption the caller asked for.
        raise ValueError("ports='handshake' cannot carry CURVE keys; use 'reserve' or 'kernel'")
    plan = make_plan(
        template,
        connection=connection,
        connection_file=connection_file,
        kernel_name=kernel_name,
        ip=ip,
        transport=transport,
        runtime_dir=runtime_dir,
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
        extra=extra,
    )
    if strategy == "handshake":
        return start_handshake(plan)
    return start_with_file(plan, strategy)
