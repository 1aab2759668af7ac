"""Remote kernels over SSH: start a kernel on another host, get a local connection file.

::

    from kcf_client.remote import start_remote_kernel

    with start_remote_kernel("me@gpu-box", remote_python="/opt/py/bin/python") as k:
        print(k.connection_file)      # for `jupyter console --existing FILE`, kcf exec...
        k.interrupt()                 # SIGINT to the remote kernel's process group

The remote host needs ``pip install kcf-kernel`` and the kernel. See ``docs/remote.md``.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from ._errors import ConnectionLost, RemoteKernelError, RemoteLaunchFailed, RemoteSetupError
from ._kernel import RemoteKernel, start_remote_kernel

__all__ = [
    "start_remote_kernel",
    "RemoteKernel",
    "RemoteKernelError",
    "RemoteSetupError",
    "RemoteLaunchFailed",
    "ConnectionLost",
]
