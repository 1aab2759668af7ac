"""kcf-client: find, list and prune connection files; connect to kernels and talk to them.

The blocking API lives here; :mod:`kcf_client.asyncio` has the same names for asyncio.
Every name is imported on first use, so ``import kcf_client`` (and ``kcf --version``)
stays cheap.
"""

from __future__ import annotations

from kcf_spec._lazy import attach

# Not `from typing import TYPE_CHECKING`: typing costs milliseconds at every `kcf` start
# (type checkers treat any name TYPE_CHECKING as true).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from ._blocking import KernelConnection, connect
    from ._console import connect_qtconsole, console_argv, launch_console
    from ._errors import (
        ChannelError,
        ClientError,
        ConnectionClosed,
        ExecutionError,
        KernelDied,
        KernelTimeout,
        MalformedReply,
        NotInKernel,
        ProgramNotFound,
    )
    from ._find import (
        default_runtime_dir,
        default_search_path,
        find_connection_file,
        find_connection_files,
    )
    from ._listing import (
        DEFAULT_CONFIRM,
        DEFAULT_GRACE,
        DEFAULT_PATTERN,
        KernelEntry,
        KernelState,
        PruneResult,
        list_kernels,
        prune,
    )
    from ._results import ErrorInfo, ExecuteResult
    from ._stop import StopResult, stop_kernel
    from .compat import get_connection_file, get_connection_info

__version__ = "0.1.0"

__all__ = [
    # finding
    "find_connection_file",
    "find_connection_files",
    "default_runtime_dir",
    "default_search_path",
    # listing and pruning
    "list_kernels",
    "prune",
    "KernelEntry",
    "KernelState",
    "PruneResult",
    "DEFAULT_PATTERN",
    "DEFAULT_GRACE",
    "DEFAULT_CONFIRM",
    # connecting and talking
    "connect",
    "KernelConnection",
    "ExecuteResult",
    "ErrorInfo",
    # stopping
    "stop_kernel",
    "StopResult",
    # consoles
    "launch_console",
    "console_argv",
    "connect_qtconsole",
    # compatibility with jupyter_client / ipykernel names
    "get_connection_file",
    "get_connection_info",
    # errors
    "ClientError",
    "KernelTimeout",
    "KernelDied",
    "ChannelError",
    "ConnectionClosed",
    "MalformedReply",
    "ExecutionError",
    "ProgramNotFound",
    "NotInKernel",
    "__version__",
]

_LAZY = {
    "find_connection_file": "_find",
    "find_connection_files": "_find",
    "default_runtime_dir": "_find",
    "default_search_path": "_find",
    "ClientError": "_errors",
    "KernelTimeout": "_errors",
    "KernelDied": "_errors",
    "ChannelError": "_errors",
    "ConnectionClosed": "_errors",
    "ExecutionError": "_errors",
    "MalformedReply": "_errors",
    "ProgramNotFound": "_errors",
    "NotInKernel": "_errors",
    "stop_kernel": "_stop",
    "StopResult": "_stop",
    "connect": "_blocking",
    "KernelConnection": "_blocking",
    "ExecuteResult": "_results",
    "ErrorInfo": "_results",
    "list_kernels": "_listing",
    "prune": "_listing",
    "KernelEntry": "_listing",
    "KernelState": "_listing",
    "PruneResult": "_listing",
    "DEFAULT_PATTERN": "_listing",
    "DEFAULT_GRACE": "_listing",
    "DEFAULT_CONFIRM": "_listing",
    "launch_console": "_console",
    "console_argv": "_console",
    "connect_qtconsole": "_console",
    "get_connection_file": "compat",
    "get_connection_info": "compat",
}


__getattr__, __dir__ = attach(__name__, _LAZY, __all__)
