"""Compatibility helpers with the names ipykernel and jupyter_client use.

``get_connection_file`` and ``get_connection_info`` behave like ``ipykernel.connect``'s
functions of the same names, without importing ipykernel or jupyter_client: code that
used them keeps working. New code should use :func:`kcf_client.find_connection_file`
and :meth:`kcf_spec.ConnectionInfo.load`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from ._errors import NotInKernel

__all__ = ["get_connection_file", "get_connection_info"]


def get_connection_file() -> Path:
    """The connection file of the kernel this code runs in.

    Compatibility helper (``ipykernel.connect.get_connection_file``). Works inside an
    IPython kernel (ipykernel) that is already running; nothing is imported to find out.

    Raises:
        NotInKernel: not running inside a kernel.

    .. versionadded:: 0.1.0
    """
    kernelapp = sys.modules.get("ipykernel.kernelapp")
    app_cls = getattr(kernelapp, "IPKernelApp", None)
    if app_cls is None or not app_cls.initialized():
        raise NotInKernel("not running inside a kernel: give the connection file")
    app = app_cls.instance()
    cf = Path(app.connection_file)
    if not cf.is_absolute():
        cf = Path(app.connection_dir) / cf
    return cf


def get_connection_info(
    connection_file: str | os.PathLike[str] | None = None, unpack: bool = False
) -> str | dict[str, Any]:
    """The contents of a connection file: its text, or with ``unpack`` a dict whose
    ``key`` is ``bytes``.

    Compatibility helper (``ipykernel.connect.get_connection_info``). The file may be a
    path, a name or a glob; default, the current kernel's.

    Raises:
        ConnectionFileNotFound: nothing matches.
        NotInKernel: no file given and not running inside a kernel.

    .. versionadded:: 0.1.0
    """
    from ._find import find_connection_file

    cf = (
        get_connection_file()
        if connection_file is None
        else find_connection_file(os.fspath(connection_file))
    )
    text = Path(cf).read_text(encoding="utf-8")
    if not unpack:
        return text
    info: dict[str, Any] = json.loads(text)
    info["key"] = str(info.get("key", "")).encode("utf-8")
    return info
