"""The seed's connection API (``jupyter_client.connect``), as a drop-in over kcf.

Code written against ``jupyter_client.connect`` (or IPython's ``kernel.connect`` before it)
works after changing only the import::

    from kcf_client.compat import write_connection_file, find_connection_file

Same names, signatures and return types; every call goes through kcf's own machinery
(cross-process port reservations, atomic 0600 writes, the schema, the deterministic finder,
:func:`kcf_client.tunnel.open_tunnel`). Where kcf deliberately differs, the function says so:

* ``write_connection_file`` reserves the ports it chooses across kcf processes (no
  bind-close-hope race) and writes atomically with mode 0600; a bad value is refused with a
  :class:`kcf_spec.ConnectionValueError` naming the field.
* ``find_connection_file`` picks the newest match by *modification* time (the seed used access
  time, which any reader changes).
* ``get_connection_info`` and ``load_connection_file`` validate the file.
* Nothing prompts: ``tunnel_to_kernel`` never asks for a password on the terminal.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kcf_spec import Channel, ConnectionInfo

from ._errors import NotInKernel

if TYPE_CHECKING:
    import subprocess

    import zmq
    from kcf_kernel import PortReservation

    from .tunnel import Tunnel

__all__ = [
    "write_connection_file",
    "get_connection_file",
    "find_connection_file",
    "get_connection_info",
    "connect_qtconsole",
    "tunnel_to_kernel",
    "TunnelPorts",
    "ConnectionFileMixin",
]

#: Seconds a reservation made by :func:`write_connection_file` is held at most when the
#: kernel never binds the ports (it is released as soon as every port listens).
RESERVATION_TIMEOUT = 120.0

# The seed's field order for the five ports (its ``port_names``).
_SEED_PORTS = ("shell_port", "stdin_port", "iopub_port", "hb_port", "control_port")


def _loopback() -> str:
    return "127.0.0.1"


def _ipc_suffixes(prefix: str, wanted: int, taken: set[int]) -> list[int]:
    """The ``wanted`` smallest suffixes whose socket file ``<prefix>-<n>`` does not exist."""
    out: list[int] = []
    n = 1
    while len(out) < wanted:
        if n not in taken and not os.path.exists(f"{prefix}-{n}"):
            out.append(n)
        n += 1
    return out


def _write(
    fname: str | None,
    ports: Mapping[Channel, int],
    *,
    ip: str,
    key: bytes,
    transport: str,
    signature_scheme: str,
    kernel_name: str,
    curve: tuple[str, str] | None = None,
) -> tuple[str, ConnectionInfo, PortReservation | None]:
    """Choose the missing ports (reserved, or free ipc suffixes), validate and write."""
    from kcf_kernel import default_ipc_prefix, reserve_ports
    from kcf_kernel import write_connection_file as write_file

    if not fname:
        fd, fname = tempfile.mkstemp(".json")  # the seed's default: a fresh temp file
        os.close(fd)
    chosen = {c: (p if p > 0 else 0) for c, p in ports.items()}
    zeros = [c for c in Channel if chosen[c] == 0]
    reservation: PortReservation | None = None
    if transport == "ipc":
        ip = ip or default_ipc_prefix(fname)
        suffixes = _ipc_suffixes(ip, len(zeros), set(chosen.values()))
        chosen.update(zip(zeros, suffixes, strict=True))
    else:
        ip = ip or _loopback()
        if zeros:
            reservation = reserve_ports(len(zeros), ip=ip)
            chosen.update(zip(zeros, reservation.ports, strict=True))
    try:
        info = ConnectionInfo.from_ports(
            chosen,
            ip=ip,
            transport=transport,
            key=key,
            signature_scheme=signature_scheme,
            kernel_name=kernel_name,
            curve_publickey=curve[0] if curve else None,
            curve_secretkey=curve[1] if curve else None,
        )
        path = write_file(info, fname)
    except BaseException:
        if reservation is not None:
            reservation.release()
        raise
    return os.fspath(path), info, reservation


def _seed_dict(info: ConnectionInfo) -> dict[str, Any]:
    """The dict the seed returns: the file's fields, ``key`` as text, no ``None`` fields."""
    return {k: v for k, v in info.to_dict().items() if v is not None}


def write_connection_file(
    fname: str | None = None,
    shell_port: int = 0,
    iopub_port: int = 0,
    stdin_port: int = 0,
    hb_port: int = 0,
    control_port: int = 0,
    ip: str = "",
    key: bytes = b"",
    transport: str = "tcp",
    signature_scheme: str = "hmac-sha256",
    kernel_name: str = "",
) -> tuple[str, dict[str, Any]]:
    """Write a connection file, choosing every port given as 0; return ``(fname, cfg)``.

    As ``jupyter_client.connect.write_connection_file``. Differences, on purpose: tcp
    ports are *reserved* across kcf processes (:func:`kcf_kernel.reserve_ports`) and the
    reservation is released in the background once the kernel listens on them (or after
    :data:`RESERVATION_TIMEOUT` s), so two launchers never hand out the same port; ipc
    suffixes are the smallest whose socket file does not exist, with the default prefix
    beside the file (``<dir>/<stem>-ipc``, absolute) instead of ``127.0.0.1``; the file is
    written atomically with mode 0600 and validated first.

    Args:
        fname: the file (default: a new temporary ``.json`` file, as the seed does).
        shell_port: the shell port (0: choose one); likewise the next four.
        iopub_port: the iopub port.
        stdin_port: the stdin port.
        hb_port: the heartbeat port.
        control_port: the control port.
        ip: the address (default ``127.0.0.1``), or the ipc path prefix.
        key: the HMAC key (empty: messages are not signed).
        transport: ``"tcp"`` or ``"ipc"``.
        signature_scheme: ``"hmac-<hash>"``.
        kernel_name: recorded in the file.

    Returns:
        The path written and the connection dict (``key`` as text, as in the file).

    Raises:
        kcf_spec.ConnectionValueError: a value the connection-file schema refuses (named).
        kcf_kernel.PortAllocationError: no free ports could be reserved.
        kcf_kernel.WriteError: the file cannot be written.

    .. versionadded:: 0.2.0
    """
    ports = {
        Channel.SHELL: shell_port,
        Channel.IOPUB: iopub_port,
        Channel.STDIN: stdin_port,
        Channel.CONTROL: control_port,
        Channel.HB: hb_port,
    }
    path, info, reservation = _write(
        fname,
        ports,
        ip=ip,
        key=key,
        transport=transport,
        signature_scheme=signature_scheme,
        kernel_name=kernel_name,
    )
    if reservation is not None:
        reservation.release_when_bound(timeout=RESERVATION_TIMEOUT)
    return path, _seed_dict(info)


def get_connection_file(app: Any = None) -> str:
    """The connection file of the kernel this code runs in (absolute path).

    As ``ipykernel.connect.get_connection_file``: ``app`` is the kernel application
    (default: the running ``IPKernelApp``, looked up without importing ipykernel).

    Raises:
        NotInKernel: no ``app`` and not running inside a kernel.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Takes ``app`` and returns a ``str``, as the seed does.
    """
    if app is None:
        kernelapp = sys.modules.get("ipykernel.kernelapp")
        app_cls = getattr(kernelapp, "IPKernelApp", None)
        if app_cls is None or not app_cls.initialized():
            raise NotInKernel("not running inside a kernel: give the connection file")
        app = app_cls.instance()
    cf = Path(app.connection_file)
    if not cf.is_absolute():
        cf = Path(app.connection_dir) / cf
    return str(cf)


def _no_profiles(profile: str | None) -> None:
    if profile is not None:
        warnings.warn(
            f"Jupyter has no profiles. profile={profile} has been ignored.",
            stacklevel=3,
        )


def find_connection_file(
    filename: str = "kernel-*.json",
    path: str | list[str] | None = None,
    profile: str | None = None,
) -> str:
    """Find a connection file by path, name, part of a name or glob; return its absolute path.

    As ``jupyter_client.connect.find_connection_file``, through
    :func:`kcf_client.find_connection_file`. Difference, on purpose: among several matches
    the newest by *modification* time wins (the seed took access time, which every reader
    of a file changes, so the answer depended on who looked last); ties go by path.

    Args:
        filename: the file, or a glob (a bare part ``abc`` means ``*abc*``).
        path: the directories to search (default: the current one, then the runtime dir).
        profile: ignored with a warning (Jupyter has no profiles), as the seed does.

    Raises:
        kcf_spec.ConnectionFileNotFound: nothing matched (an ``OSError``, as the seed's).

    .. versionadded:: 0.2.0
    """
    from ._find import find_connection_file as find

    _no_profiles(profile)
    return str(find(filename, path))


def get_connection_info(
    connection_file: str | os.PathLike[str] | None = None,
    unpack: bool = False,
    profile: str | None = None,
) -> str | dict[str, Any]:
    """The contents of a connection file: its JSON text, or with ``unpack`` a dict whose
    ``key`` is ``bytes``.

    As ``ipykernel.connect.get_connection_info``. ``connection_file`` is a path, a name or
    a glob (default: the current kernel's). Difference, on purpose: the file is validated.

    Raises:
        kcf_spec.ConnectionFileNotFound: nothing matches.
        kcf_spec.ConnectionFileError: the file is not a valid connection file.
        NotInKernel: no file given and not running inside a kernel.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Validates the file; takes ``profile`` (ignored with a warning).
    """
    _no_profiles(profile)
    cf = (
        get_connection_file()
        if connection_file is None
        else find_connection_file(os.fspath(connection_file))
    )
    text = Path(cf).read_text(encoding="utf-8")
    info = ConnectionInfo.loads(text, path=cf)
    if not unpack:
        return text
    out: dict[str, Any] = json.loads(text)
    out["key"] = info.key
    return out


def connect_qtconsole(
    connection_file: str | None = None,
    argv: Sequence[str] | None = None,
    profile: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start a Qt console attached to a kernel; return its ``Popen``.

    As ``ipykernel.connect.connect_qtconsole``, through
    :func:`kcf_client.connect_qtconsole`: ``connection_file`` is found as by
    :func:`find_connection_file` (default: the current kernel's).

    Raises:
        ProgramNotFound: qtconsole is not installed.
        NotInKernel: no file given and not running inside a kernel.

    .. versionadded:: 0.2.0
    """
    from ._console import connect_qtconsole as launch

    _no_profiles(profile)
    cf = get_connection_file() if connection_file is None else find_connection_file(connection_file)
    return launch(cf, argv)


class TunnelPorts(tuple[int, int, int, int]):
    """The local ``(shell, iopub, stdin, hb)`` ports of a tunnel: a plain 4-tuple that also
    holds the tunnel open.

    The tunnel stays open until :meth:`close` or the end of the process.

    Attributes:
        tunnel: the open :class:`kcf_client.tunnel.Tunnel` (all five channels).

    .. versionadded:: 0.2.0
    """

    tunnel: Tunnel

    @property
    def control(self) -> int:
        """The local control port (the seed's 4-tuple has none; jupyter_client 7+ returns it
        fifth)."""
        return self.tunnel.local.control_port

    def close(self) -> None:
        """Close the tunnel (idempotent)."""
        _forget(self.tunnel)
        self.tunnel.close()


_open_tunnels: list[Tunnel] = []
_tunnels_lock = threading.Lock()
_atexit_registered = False


def _close_all() -> None:
    with _tunnels_lock:
        tunnels, _open_tunnels[:] = list(_open_tunnels), []
    for tunnel in tunnels:
        tunnel.close()


def _forget(tunnel: Tunnel) -> None:
    with _tunnels_lock:
        if tunnel in _open_tunnels:
            _open_tunnels.remove(tunnel)


def _as_info(info: str | os.PathLike[str] | Mapping[str, Any]) -> ConnectionInfo:
    if isinstance(info, (str, os.PathLike)):
        return ConnectionInfo.load(info)
    data = dict(info)
    if isinstance(data.get("key"), bytes):
        data["key"] = data["key"].decode("utf-8")
    return ConnectionInfo.from_dict(data)


def tunnel_to_kernel(
    connection_info: str | Mapping[str, Any],
    sshserver: str,
    sshkey: str | None = None,
    **options: Any,
) -> TunnelPorts:
    """Tunnel a kernel's channels through ``sshserver``; return the local
    ``(shell, iopub, stdin, hb)`` ports.

    As the seed's ``tunnel_to_kernel``, over :func:`kcf_client.tunnel.open_tunnel`: one SSH
    connection carries all five channels (the control port is :attr:`TunnelPorts.control`),
    and stays open until :meth:`TunnelPorts.close` or the end of the process. Differences,
    on purpose: nothing is asked on the terminal (the seed prompted for a password when key
    authentication failed: use :func:`~kcf_client.tunnel.open_tunnel` with a
    ``password_callback``), and an unknown host key is refused rather than accepted.

    Args:
        connection_info: a connection dict (``key`` as text or bytes) or a file's path.
        sshserver: ``[user@]host[:port]`` or a ``~/.ssh/config`` alias.
        sshkey: a private key file to try first.
        options: kcf's extension: keyword arguments of
            :func:`~kcf_client.tunnel.open_tunnel` (``backend``, ``ssh_config``,
            ``known_hosts``, ``password_callback``, ``timeout``...).

    Raises:
        kcf_client.tunnel.TunnelError: the tunnel cannot be opened (its subclasses say why).
        kcf_spec.ConnectionFileError: the connection file is invalid.
        kcf_spec.ConnectionValueError: the connection dict is invalid.

    .. versionadded:: 0.2.0
    """
    from .tunnel import open_tunnel

    info = _as_info(connection_info)
    tunnel = open_tunnel(info, sshserver, identity_file=sshkey, **options)
    global _atexit_registered
    with _tunnels_lock:
        if not _atexit_registered:
            atexit.register(_close_all)
            _atexit_registered = True
        _open_tunnels.append(tunnel)
    local = tunnel.local
    ports = TunnelPorts((local.shell_port, local.iopub_port, local.stdin_port, local.hb_port))
    ports.tunnel = tunnel
    return ports


class ConnectionFileMixin:
    """The state and file handling of the seed's ``ConnectionFileMixin``, as a plain class.

    No traitlets and no ``Session``: the attributes are plain (``key`` is ``bytes``,
    ``signature_scheme`` a string) and the methods have the seed's names and behaviour.
    Sockets from ``connect_*`` belong to the caller (close them); they are made from
    :attr:`context` (default: the process's shared ``zmq.Context.instance()``).

    Differences, on purpose: files are written by :func:`write_connection_file` (reserved
    ports, atomic, 0600) and read with validation; :meth:`cleanup_connection_file` removes
    the file only if it still holds this object's key (never someone else's file);
    :meth:`cleanup_random_ports` also releases the port reservation.

    Args:
        connection_file: the file (``""``: a temporary file on first write).
        transport: ``"tcp"`` or ``"ipc"``.
        ip: the address or ipc prefix (``""``: ``127.0.0.1``, or beside the file for ipc).
        key: the HMAC key.
        signature_scheme: ``"hmac-<hash>"``.
        kernel_name: recorded in the file.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self,
        connection_file: str = "",
        *,
        transport: str = "tcp",
        ip: str = "",
        key: bytes = b"",
        signature_scheme: str = "hmac-sha256",
        kernel_name: str = "",
        context: zmq.Context[Any] | None = None,
    ) -> None:
        self.connection_file = connection_file
        self.transport = transport
        self.ip = ip
        self.key = key
        self.signature_scheme = signature_scheme
        self.kernel_name = kernel_name
        self.shell_port = 0
        self.iopub_port = 0
        self.stdin_port = 0
        self.hb_port = 0
        self.control_port = 0
        self.curve_publickey: bytes | None = None
        self.curve_secretkey: bytes | None = None
        self._context = context
        self._connection_file_written = False
        self._random_port_names: list[str] | None = None
        self._reservation: PortReservation | None = None
        self._curve: tuple[bytes, bytes] | None = None

    # -- state ----------------------------------------------------------------------------

    @property
    def context(self) -> zmq.Context[Any]:
        """The ZeroMQ context sockets are made from."""
        if self._context is None:
            import zmq

            self._context = zmq.Context.instance()
        return self._context

    @context.setter
    def context(self, value: zmq.Context[Any]) -> None:
        self._context = value

    @property
    def ports(self) -> list[int]:
        """The five ports in the seed's order (shell, stdin, iopub, hb, control)."""
        return [getattr(self, name) for name in _SEED_PORTS]

    def _ports(self) -> dict[Channel, int]:
        return {c: getattr(self, c.port_key) for c in Channel}

    def _info(self) -> ConnectionInfo:
        """The current state as a validated :class:`ConnectionInfo` (ports may be 0)."""
        curve = self.curve_publickey, self.curve_secretkey
        return ConnectionInfo.from_ports(
            self._ports(),
            ip=self.ip or (_loopback() if self.transport == "tcp" else "kernel-ipc"),
            transport=self.transport,
            key=self.key,
            signature_scheme=self.signature_scheme,
            kernel_name=self.kernel_name,
            curve_publickey=curve[0].decode("ascii") if curve[0] and curve[1] else None,
            curve_secretkey=curve[1].decode("ascii") if curve[0] and curve[1] else None,
        )

    def get_connection_info(self, session: bool = False) -> dict[str, Any]:
        """The connection as the seed's dict (``key`` as ``bytes``).

        Args:
            session: must be ``False``: there is no ``Session`` object here.

        Raises:
            ValueError: ``session=True``.
        """
        if session:
            raise ValueError("session=True needs jupyter_client's Session; kcf has none")
        info: dict[str, Any] = {
            "transport": self.transport,
            "ip": self.ip,
            "shell_port": self.shell_port,
            "iopub_port": self.iopub_port,
            "stdin_port": self.stdin_port,
            "hb_port": self.hb_port,
            "control_port": self.control_port,
            "signature_scheme": self.signature_scheme,
            "key": self.key,
        }
        if self.curve_publickey is not None and self.curve_secretkey is not None:
            info["curve_publickey"] = self.curve_publickey.decode("ascii")
            info["curve_secretkey"] = self.curve_secretkey.decode("ascii")
        return info

    # -- files ----------------------------------------------------------------------------

    def _record_random_port_names(self) -> None:
        if self.transport != "tcp" or self._random_port_names is not None:
            return
        self._random_port_names = [n for n in _SEED_PORTS if getattr(self, n) <= 0]

    def write_connection_file(self, **kwargs: Any) -> None:
        """Write the connection file (choosing missing ports) unless already written.

        Extra keyword arguments (``jupyter_session``...) are written as extra fields.
        """
        if self._connection_file_written and os.path.exists(self.connection_file):
            return
        curve = None
        if self.curve_publickey is not None and self.curve_secretkey is not None:
            curve = (self.curve_publickey.decode("ascii"), self.curve_secretkey.decode("ascii"))
        path, info, reservation = _write(
            self.connection_file,
            self._ports(),
            ip=self.ip,
            key=self.key,
            transport=self.transport,
            signature_scheme=self.signature_scheme,
            kernel_name=self.kernel_name,
            curve=curve,
        )
        if kwargs:
            from kcf_kernel import write_connection_file as write_file

            info = info.replace(extras={**info.extras, **kwargs})
            write_file(info, path)
        if reservation is not None:
            if self._reservation is not None:
                self._reservation.release()
            self._reservation = reservation
            reservation.release_when_bound(timeout=RESERVATION_TIMEOUT)
        self.connection_file = path
        self.ip = info.ip
        self._record_random_port_names()
        for channel, port in info.ports.items():
            setattr(self, channel.port_key, port)
        self._connection_file_written = True

    def load_connection_file(self, connection_file: str | None = None) -> None:
        """Load a connection file (default :attr:`connection_file`), validated.

        Raises:
            kcf_spec.ConnectionFileError: the file is not a valid connection file.
            OSError: it cannot be read.
        """
        path = self.connection_file if connection_file is None else connection_file
        info = ConnectionInfo.load(path, profile="launch")
        data = info.to_dict()
        data["key"] = info.key
        self.load_connection_info(data)

    def load_connection_info(self, info: Mapping[str, Any]) -> None:
        """Load a connection dict; a port already set (not 0) is kept, as in the seed.

        Raises:
            kcf_spec.ConnectionValueError: the result is not a valid connection (nothing is
                changed then).
        """
        before = dict(vars(self))
        try:
            self._load(info)
            self._info()  # strict: refuse what the schema refuses, naming the field
        except BaseException:
            vars(self).update(before)
            raise

    def _load(self, info: Mapping[str, Any]) -> None:
        self.transport = info.get("transport", self.transport)
        self.ip = info.get("ip", self.ip)
        self._record_random_port_names()
        for name in _SEED_PORTS:
            if getattr(self, name) == 0 and name in info:
                setattr(self, name, info[name])
        if "key" in info:
            key = info["key"]
            self.key = key if isinstance(key, bytes) else str(key).encode("utf-8")
        if "signature_scheme" in info:
            self.signature_scheme = info["signature_scheme"]
        if "curve_publickey" in info and "curve_secretkey" in info:
            pub, sec = info["curve_publickey"], info["curve_secretkey"]
            self.curve_publickey = pub.encode("ascii") if isinstance(pub, str) else pub
            self.curve_secretkey = sec.encode("ascii") if isinstance(sec, str) else sec

    def cleanup_connection_file(self) -> None:
        """Remove the connection file if this object wrote it and it still holds our key
        (for ipc, the socket files too)."""
        if not self._connection_file_written:
            return
        from kcf_kernel import remove_connection_file

        self._connection_file_written = False
        remove_connection_file(self.connection_file, self._info())

    def cleanup_ipc_files(self) -> None:
        """Remove the ipc socket files of the five channels (only sockets are removed)."""
        if self.transport != "ipc":
            return
        from kcf_kernel import remove_ipc_sockets

        remove_ipc_sockets(self._info())

    def cleanup_random_ports(self) -> None:
        """Forget the ports that were chosen, release their reservation and remove the file
        (tcp only, as in the seed)."""
        if self._reservation is not None:
            self._reservation.release()
            self._reservation = None
        if not self._random_port_names:
            return
        for name in self._random_port_names:
            setattr(self, name, 0)
        self.cleanup_connection_file()

    # -- sockets --------------------------------------------------------------------------

    def _connect(self, channel: Channel, identity: bytes | None) -> zmq.Socket[Any]:
        from ._sockets import open_client_socket

        info = self._info()
        if self._curve is None and info.curve_publickey is not None:
            import zmq

            self._curve = zmq.curve_keypair()  # one client keypair for all our sockets
        sock: zmq.Socket[Any] = open_client_socket(
            self.context,
            info,
            channel,
            kernel=self.connection_file or info.connect_url(Channel.SHELL),
            identity=identity,
            curve_keypair=self._curve,
        )
        sock.linger = 1000  # the seed's: a short linger so exit never hangs
        return sock

    def connect_shell(self, identity: bytes | None = None) -> zmq.Socket[Any]:
        """A DEALER socket connected to the shell channel (the caller closes it)."""
        return self._connect(Channel.SHELL, identity)

    def connect_iopub(self, identity: bytes | None = None) -> zmq.Socket[Any]:
        """A SUB socket connected to iopub, subscribed to everything."""
        return self._connect(Channel.IOPUB, identity)

    def connect_stdin(self, identity: bytes | None = None) -> zmq.Socket[Any]:
        """A DEALER socket connected to the stdin channel."""
        return self._connect(Channel.STDIN, identity)

    def connect_control(self, identity: bytes | None = None) -> zmq.Socket[Any]:
        """A DEALER socket connected to the control channel."""
        return self._connect(Channel.CONTROL, identity)

    def connect_hb(self, identity: bytes | None = None) -> zmq.Socket[Any]:
        """A REQ socket connected to the heartbeat."""
        return self._connect(Channel.HB, identity)
