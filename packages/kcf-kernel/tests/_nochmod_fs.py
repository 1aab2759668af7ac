"""A test-only FUSE file system that will not give files the mode asked for.

Run as its own process, in the foreground::

    python _nochmod_fs.py BACKING_DIR MOUNTPOINT {ignore,refuse}

It passes every operation through to ``BACKING_DIR`` but behaves like a CIFS/SMB mount or a
WSL ``drvfs`` mount without metadata: every file reports mode 0o644 and every directory 0o755
(whatever was asked at creation), and ``chmod`` either succeeds without effect (``ignore``,
as with the ``noperm``/``quiet`` mount options) or fails with ``EPERM`` (``refuse``).

Needs libfuse (Debian: ``fuse3``) and the ``mfusepy`` bindings. Unmount with
``fusermount3 -u MOUNTPOINT``.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from typing import Any

import mfusepy  # type: ignore[import-untyped,unused-ignore]

FILE_MODE = 0o644
DIR_MODE = 0o755
MODES = ("ignore", "refuse")


class NoChmodFS(mfusepy.Operations):  # type: ignore[misc,unused-ignore]
    """A passthrough to ``root`` with fixed modes and a ``chmod`` that does nothing."""

    use_ns = True

    def __init__(self, root: str, chmod_mode: str) -> None:
        if chmod_mode not in MODES:
            raise ValueError(f"chmod mode must be one of {MODES}, not {chmod_mode!r}")
        self.root = root
        self.chmod_mode = chmod_mode

    def _full(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    # metadata ---------------------------------------------------------------------------

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        st = os.fstat(fh) if fh is not None else os.lstat(self._full(path))
        kind = stat.S_IFMT(st.st_mode)
        if kind == stat.S_IFDIR:
            mode = DIR_MODE
        elif kind == stat.S_IFREG:
            mode = FILE_MODE
        else:
            mode = stat.S_IMODE(st.st_mode)
        return {
            "st_mode": kind | mode,
            "st_nlink": st.st_nlink,
            "st_uid": st.st_uid,
            "st_gid": st.st_gid,
            "st_size": st.st_size,
            "st_atime": st.st_atime_ns,
            "st_mtime": st.st_mtime_ns,
            "st_ctime": st.st_ctime_ns,
        }

    def chmod(self, path: str, mode: int) -> int:
        if self.chmod_mode == "refuse":
            raise mfusepy.FuseOSError(errno.EPERM)
        return 0  # "succeeds" and changes nothing

    def chown(self, path: str, uid: int, gid: int) -> int:
        return 0

    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        if times is None:
            os.utime(self._full(path))
        else:
            os.utime(self._full(path), ns=times)
        return 0

    def access(self, path: str, amode: int) -> int:
        if not os.access(self._full(path), amode):
            raise mfusepy.FuseOSError(errno.EACCES)
        return 0

    def statfs(self, path: str) -> dict[str, int]:
        sv = os.statvfs(self._full(path))
        keys = (
            "f_bsize f_frsize f_blocks f_bfree f_bavail f_files f_ffree f_favail f_flag f_namemax"
        )

        return {k: getattr(sv, k) for k in keys.split()}

    # directories ------------------------------------------------------------------------

    def readdir(self, path: str, fh: int) -> list[str]:
        return [".", "..", *os.listdir(self._full(path))]

    def mkdir(self, path: str, mode: int) -> int:
        os.mkdir(self._full(path), 0o700)  # the mode asked for is not what is reported
        return 0

    def rmdir(self, path: str) -> int:
        os.rmdir(self._full(path))
        return 0

    def rename(self, old: str, new: str) -> int:
        os.rename(self._full(old), self._full(new))
        return 0

    def unlink(self, path: str) -> int:
        os.unlink(self._full(path))
        return 0

    # files ------------------------------------------------------------------------------

    def create(self, path: str, mode: int, fi: Any = None) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        return os.open(self._full(path), flags, 0o600)

    def open(self, path: str, flags: int) -> int:
        return os.open(self._full(path), flags & ~(os.O_CREAT | os.O_EXCL))

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        return os.pread(fh, size, offset)

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        return os.pwrite(fh, data, offset)

    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        if fh is not None:
            os.ftruncate(fh, length)
        else:
            os.truncate(self._full(path), length)
        return 0

    def flush(self, path: str, fh: int) -> int:
        return 0

    def fsync(self, path: str, datasync: int, fh: int) -> int:
        os.fsync(fh)
        return 0

    def fsyncdir(self, path: str, datasync: int, fh: int) -> int:
        return 0

    def release(self, path: str, fh: int) -> int:
        os.close(fh)
        return 0


def main(argv: list[str]) -> int:
    """Mount ``argv = [backing, mountpoint, ignore|refuse]`` in the foreground until unmounted."""
    if len(argv) != 3 or argv[2] not in MODES:
        print(f"usage: {sys.argv[0]} BACKING_DIR MOUNTPOINT {{ignore,refuse}}", file=sys.stderr)
        return 2
    backing, mountpoint, chmod_mode = argv
    mfusepy.FUSE(
        NoChmodFS(os.path.abspath(backing), chmod_mode),
        mountpoint,
        foreground=True,
        nothreads=True,
        # No attribute or entry caching: every stat reaches getattr, as on a network mount.
        attr_timeout=0,
        entry_timeout=0,
        negative_timeout=0,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
