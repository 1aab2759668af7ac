"""kcf-kernel: the kernel side of Jupyter connection files.

Runtime dir, atomic 0600 writing, three race-free ways to give a kernel its ports
(bind-first, the JEP 66 handshake, cross-process reservations outside the ephemeral range),
an echo heartbeat that runs outside the GIL, kernelspecs, launching and cleaning up kernel
processes (see :mod:`kcf_kernel._launch` for the launch design: plan, port strategy, where
it runs).
"""

from __future__ import annotations

from kcf_spec._lazy import attach

# Every public name is imported on first use (PEP 562), so that importing the package
# costs next to nothing; type checkers and documentation tools see the imports below.
# Not `from typing import TYPE_CHECKING`: typing costs milliseconds at every start
# (type checkers treat any name TYPE_CHECKING as true).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from ._bind import SOCKET_TYPES, KernelSockets, bind_kernel
    from ._candidates import (
        DEFAULT_PORT_RANGE,
        PORT_RANGE_ENV,
        ephemeral_port_range,
        parse_port_range,
    )
    from ._errors import (
        BindError,
        HandshakeError,
        HandshakeTimeout,
        InsecureWriteError,
        InterruptTimeout,
        KernelSocketError,
        KernelSpecError,
        KernelWaitTimeout,
        LaunchError,
        LaunchTimeout,
        NoSuchKernelSpec,
        PortAllocationError,
        RuntimeDirError,
        SocketPathTooLong,
        WriteError,
    )
    from ._handshake import (
        handshake_kernel,
        report_ports,
        write_registration_file,
    )
    from ._handshake_launch import launch_handshake
    from ._heartbeat import Heartbeat
    from ._ipc import check_ipc_paths, default_ipc_prefix, ipc_socket_paths, max_ipc_path_length
    from ._kernelspec import KernelSpec, find_kernel_specs, get_kernel_spec, kernel_spec_dirs
    from ._launch import (
        InterruptMode,
        KernelProcess,
        PortChoice,
        PortStrategy,
        choose_port_strategy,
        default_port_strategy,
        example_kernel_argv,
        format_argv,
        interrupt_mode_for,
        ipykernel_argv,
        launch_kernel,
    )
    from ._nanny import NannyRequest, relay_attach, run_nanny
    from ._nanny_link import Link, LinkClosed, SocketLink, StreamLink
    from ._paths import jupyter_data_dir, runtime_dir
    from ._reserve import PortReservation, port_is_listening, reserve_ports
    from ._signals import cleanup_on_signals
    from ._write import (
        TEMP_GRACE_SECONDS,
        InsecureWriteWarning,
        default_connection_file,
        new_kernel_id,
        new_key,
        remove_abandoned_temp_files,
        remove_connection_file,
        remove_ipc_sockets,
        write_connection_file,
        write_private_file,
    )

__version__ = "0.1.0"

__all__ = [
    # paths
    "runtime_dir",
    "jupyter_data_dir",
    "default_connection_file",
    # writing
    "new_key",
    "new_kernel_id",
    "write_connection_file",
    "write_private_file",
    "remove_connection_file",
    "remove_ipc_sockets",
    "remove_abandoned_temp_files",
    "TEMP_GRACE_SECONDS",
    "InsecureWriteWarning",
    # ipc
    "max_ipc_path_length",
    "default_ipc_prefix",
    "ipc_socket_paths",
    "check_ipc_paths",
    # strategy 1: bind-first
    "KernelSockets",
    "bind_kernel",
    "SOCKET_TYPES",
    "Heartbeat",
    "cleanup_on_signals",
    # strategy 2: handshake
    "launch_handshake",
    "handshake_kernel",
    "report_ports",
    "write_registration_file",
    # strategy 3: reservations
    "reserve_ports",
    "PortReservation",
    "port_is_listening",
    "ephemeral_port_range",
    "DEFAULT_PORT_RANGE",
    "PORT_RANGE_ENV",
    "parse_port_range",
    # launching
    "launch_kernel",
    "KernelProcess",
    "PortStrategy",
    "format_argv",
    "ipykernel_argv",
    "example_kernel_argv",
    "PortChoice",
    "choose_port_strategy",
    "default_port_strategy",
    "InterruptMode",
    "interrupt_mode_for",
    # kernelspecs
    "KernelSpec",
    "find_kernel_specs",
    "get_kernel_spec",
    "kernel_spec_dirs",
    # the remote nanny
    "run_nanny",
    "relay_attach",
    "NannyRequest",
    "Link",
    "StreamLink",
    "SocketLink",
    "LinkClosed",
    # errors
    "RuntimeDirError",
    "WriteError",
    "InsecureWriteError",
    "PortAllocationError",
    "BindError",
    "SocketPathTooLong",
    "LaunchError",
    "LaunchTimeout",
    "KernelWaitTimeout",
    "InterruptTimeout",
    "HandshakeError",
    "HandshakeTimeout",
    "KernelSocketError",
    "KernelSpecError",
    "NoSuchKernelSpec",
    "__version__",
]

#: Each public name and the module that defines it.
_LAZY = {
    "runtime_dir": "_paths",
    "jupyter_data_dir": "_paths",
    "default_connection_file": "_write",
    "new_key": "_write",
    "new_kernel_id": "_write",
    "write_connection_file": "_write",
    "write_private_file": "_write",
    "remove_connection_file": "_write",
    "remove_ipc_sockets": "_write",
    "remove_abandoned_temp_files": "_write",
    "TEMP_GRACE_SECONDS": "_write",
    "InsecureWriteWarning": "_write",
    "max_ipc_path_length": "_ipc",
    "default_ipc_prefix": "_ipc",
    "ipc_socket_paths": "_ipc",
    "check_ipc_paths": "_ipc",
    "KernelSockets": "_bind",
    "bind_kernel": "_bind",
    "SOCKET_TYPES": "_bind",
    "Heartbeat": "_heartbeat",
    "cleanup_on_signals": "_signals",
    "launch_handshake": "_handshake_launch",
    "handshake_kernel": "_handshake",
    "report_ports": "_handshake",
    "write_registration_file": "_handshake",
    "reserve_ports": "_reserve",
    "PortReservation": "_reserve",
    "port_is_listening": "_reserve",
    "ephemeral_port_range": "_candidates",
    "DEFAULT_PORT_RANGE": "_candidates",
    "PORT_RANGE_ENV": "_candidates",
    "parse_port_range": "_candidates",
    "launch_kernel": "_launch",
    "KernelProcess": "_launch",
    "PortStrategy": "_launch",
    "format_argv": "_launch",
    "ipykernel_argv": "_launch",
    "example_kernel_argv": "_launch",
    "default_port_strategy": "_launch",
    "PortChoice": "_launch",
    "choose_port_strategy": "_launch",
    "InterruptMode": "_launch",
    "interrupt_mode_for": "_launch",
    "KernelSpec": "_kernelspec",
    "find_kernel_specs": "_kernelspec",
    "get_kernel_spec": "_kernelspec",
    "kernel_spec_dirs": "_kernelspec",
    "run_nanny": "_nanny",
    "relay_attach": "_nanny",
    "NannyRequest": "_nanny",
    "Link": "_nanny_link",
    "StreamLink": "_nanny_link",
    "SocketLink": "_nanny_link",
    "LinkClosed": "_nanny_link",
    "RuntimeDirError": "_errors",
    "WriteError": "_errors",
    "InsecureWriteError": "_errors",
    "PortAllocationError": "_errors",
    "BindError": "_errors",
    "SocketPathTooLong": "_errors",
    "LaunchError": "_errors",
    "LaunchTimeout": "_errors",
    "KernelWaitTimeout": "_errors",
    "InterruptTimeout": "_errors",
    "HandshakeError": "_errors",
    "HandshakeTimeout": "_errors",
    "KernelSocketError": "_errors",
    "KernelSpecError": "_errors",
    "NoSuchKernelSpec": "_errors",
}


__getattr__, __dir__ = attach(__name__, _LAZY, __all__)
