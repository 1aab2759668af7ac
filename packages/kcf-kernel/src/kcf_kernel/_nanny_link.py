"""The nanny's link: signed kcf messages over any reliable byte stream.

The nanny (:mod:`kcf_kernel._nanny`) and its launcher talk over a *link*: a byte stream
that carries frames. Over SSH the link is the nanny's stdin/stdout; on re-attach it is a
Unix socket relayed by ``python -m kcf_kernel.nanny --attach ID``; a scheduler (Slurm) can
carry the same bytes over TCP. The nanny never cares which.

Framing (all integers unsigned, big-endian):

* a *record* is ``u32 length`` then that many bytes;
* a *message* is ``u16 count`` then ``count`` records: the frames of
  :meth:`kcf_spec.Codec.serialize` (delimiter, HMAC signature, header, parent, metadata,
  content);
* the very first message on a fresh (not re-attached) link is the *hello*: one frame
  ``b"kcf-nanny/1 " + key``, the launcher's session key (from :mod:`secrets`) sent in the
  clear over the stream, never on a command line. Everything after it is signed.

Records are capped (:data:`MAX_RECORD`) so a confused peer (a shell banner, a login
message) is an error, not a 4 GiB allocation.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
from collections.abc import Callable
from typing import IO, Protocol

from kcf_spec import Codec, KcfError, Message, RemoteProtocolError

__all__ = [
    "Link",
    "StreamLink",
    "SocketLink",
    "LinkClosed",
    "HELLO_PREFIX",
    "MAX_RECORD",
    "send_message",
    "recv_message",
]

#: The first frame of a fresh link: this prefix, then the session key.
HELLO_PREFIX = b"kcf-nanny/1 "
#: The largest record accepted (bytes).
MAX_RECORD = 16 * 1024 * 1024
_MAX_FRAMES = 64


class LinkClosed(KcfError, EOFError):
    """The link's stream ended (the peer closed it or went away).

    .. versionadded:: 0.2.0
    """


class Link(Protocol):
    """A reliable, ordered byte stream (what the nanny protocol needs of its transport).

    .. versionadded:: 0.2.0
    """

    def read_exact(self, n: int) -> bytes:
        """Exactly ``n`` bytes; raise :class:`LinkClosed` at end of stream."""

    def write(self, data: bytes) -> None:
        """Write all of ``data``; raise :class:`LinkClosed` if the peer is gone."""

    def close(self) -> None:
        """Close both directions (idempotent)."""


class StreamLink:
    """A link over two binary files (the nanny's stdin/stdout, or ssh's pipes).

    .. versionadded:: 0.2.0
    """

    def __init__(self, rfile: IO[bytes], wfile: IO[bytes]) -> None:
        self._r = rfile
        self._w = wfile
        self._wlock = threading.Lock()
        self._closed = False

    def read_exact(self, n: int) -> bytes:
        return _read_exact(self._r.read, n, (OSError, ValueError))  # ValueError: closed file

    def write(self, data: bytes) -> None:
        with self._wlock:
            try:
                self._w.write(data)
                self._w.flush()
            except (OSError, ValueError) as exc:
                raise LinkClosed(str(exc)) from exc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for f in (self._w, self._r):
            with contextlib.suppress(OSError, ValueError):
                f.close()


class SocketLink:
    """A link over a connected stream socket (Unix or TCP).

    .. versionadded:: 0.2.0
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._wlock = threading.Lock()
        self._closed = False

    def read_exact(self, n: int) -> bytes:
        return _read_exact(self._sock.recv, n, (OSError,))

    def write(self, data: bytes) -> None:
        with self._wlock:
            try:
                self._sock.sendall(data)
            except OSError as exc:
                raise LinkClosed(str(exc)) from exc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


def _read_exact(
    read: Callable[[int], bytes | None], n: int, errors: tuple[type[Exception], ...]
) -> bytes:
    """Exactly ``n`` bytes from ``read``; :class:`LinkClosed` at the end or on ``errors``."""
    buf = bytearray()
    while len(buf) < n:
        try:
            chunk = read(n - len(buf))
        except errors as exc:
            raise LinkClosed(str(exc)) from exc
        if not chunk:
            raise LinkClosed("end of stream")
        buf += chunk
    return bytes(buf)


def encode_frames(frames: list[bytes]) -> bytes:
    """One message on the wire: the frame count, then each frame as a record."""
    out = [struct.pack(">H", len(frames))]
    for frame in frames:
        out.append(struct.pack(">I", len(frame)))
        out.append(frame)
    return b"".join(out)


def read_frames(link: Link) -> list[bytes]:
    """The frames of the next message on ``link``.

    Raises:
        LinkClosed: the stream ended.
        RemoteProtocolError: a count or length out of bounds (not our protocol).
    """
    (count,) = struct.unpack(">H", link.read_exact(2))
    if not 0 < count <= _MAX_FRAMES:
        raise RemoteProtocolError(f"nanny link: {count} frames in a message (not kcf-nanny/1)")
    frames = []
    for _ in range(count):
        (size,) = struct.unpack(">I", link.read_exact(4))
        if size > MAX_RECORD:
            raise RemoteProtocolError(f"nanny link: a {size}-byte frame (limit {MAX_RECORD})")
        frames.append(link.read_exact(size))
    return frames


def send_message(link: Link, codec: Codec, msg_type: str, content: dict[str, object]) -> None:
    """Sign ``content`` as a ``msg_type`` message and write it to ``link``."""
    link.write(encode_frames(codec.serialize(codec.message(msg_type, content))))


def recv_message(link: Link, codec: Codec) -> Message:
    """Read, verify and decode the next message.

    Raises:
        LinkClosed: the stream ended.
        RemoteProtocolError: bad framing or a malformed message.
        SignatureError: not signed with the session key.
    """
    return codec.parse(read_frames(link))


def send_hello(link: Link, key: bytes) -> None:
    """Start a fresh link: hand the nanny the session key."""
    link.write(encode_frames([HELLO_PREFIX + key]))


def read_hello(link: Link) -> bytes:
    """The session key from a fresh link's first message.

    Raises:
        RemoteProtocolError: the first message is not a hello.
    """
    frames = read_frames(link)
    if len(frames) != 1 or not frames[0].startswith(HELLO_PREFIX):
        raise RemoteProtocolError("nanny link: the first message is not a kcf-nanny/1 hello")
    key = frames[0][len(HELLO_PREFIX) :]
    if len(key) < 16:
        raise RemoteProtocolError("nanny link: the session key is shorter than 16 bytes")
    return key


def stdio_link() -> StreamLink:
    """The nanny's stdin/stdout as a link (unbuffered binary)."""
    return StreamLink(
        os.fdopen(os.dup(0), "rb", buffering=0), os.fdopen(os.dup(1), "wb", buffering=0)
    )
