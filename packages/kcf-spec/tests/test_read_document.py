"""``read_document``: every load path reads through it, bounded and never blocking.

The hostile files are real: a FIFO with no writer, ``/dev/zero``, ``/dev/urandom``, a
directory, a file over the cap, a file owned by another user (``nobody``; tests run as root).
Each of these hung the reader, filled its memory or was trusted before.
"""

from __future__ import annotations

import json
import os
import pwd
import threading
from pathlib import Path

import pytest
from kcf_spec import (
    MAX_DOCUMENT_SIZE,
    ConnectionFileError,
    ConnectionFileNotFound,
    ConnectionInfo,
    RegistrationInfo,
    ownership_problem,
    read_document,
)

GOOD = {
    "shell_port": 5001,
    "iopub_port": 5002,
    "stdin_port": 5003,
    "control_port": 5004,
    "hb_port": 5005,
    "ip": "127.0.0.1",
    "transport": "tcp",
    "key": "a-secret-key-0123",
    "signature_scheme": "hmac-sha256",
}
LOADERS = [
    pytest.param(read_document, id="read_document"),
    pytest.param(ConnectionInfo.load, id="ConnectionInfo.load"),
    pytest.param(RegistrationInfo.load, id="RegistrationInfo.load"),
]
_DEADLINE = 60.0  # generous: a reader that blocks is caught, a slow machine is not


def _in_thread(fn: object, path: Path) -> BaseException | object:
    """Run ``fn(path)`` in a daemon thread; fail the test if it has not returned by the
    deadline (the old reader blocked forever on a FIFO)."""
    out: list[BaseException | object] = []

    def run() -> None:
        try:
            out.append(fn(path))  # type: ignore[operator]
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            out.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(_DEADLINE)
    assert not t.is_alive(), f"reading {path} did not return within {_DEADLINE} s"
    return out[0]


def _nobody() -> int:
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.fail("the test needs the user 'nobody' (every Linux and macOS has one)")


class TestNotARegularFile:
    @pytest.mark.parametrize("load", LOADERS)
    def test_fifo_refused_without_blocking(self, tmp_path: Path, load: object) -> None:
        """A FIFO with no writer is refused at once, named as a FIFO."""
        fifo = tmp_path / "kernel-1.json"
        os.mkfifo(fifo)
        err = _in_thread(load, fifo)
        assert isinstance(err, ConnectionFileError)
        assert "FIFO" in str(err)
        assert str(fifo) in str(err)

    @pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
    @pytest.mark.parametrize("load", LOADERS)
    def test_devices_refused(self, device: str, load: object) -> None:
        """A character device is refused before a byte is read (no MemoryError, no hang)."""
        if not os.path.exists(device):
            pytest.fail(f"{device} is missing on this machine")
        err = _in_thread(load, Path(device))
        assert isinstance(err, ConnectionFileError)
        assert "character device" in str(err)

    def test_symlink_to_device_refused(self, tmp_path: Path) -> None:
        """What was opened is checked, not what the name looked like: a symlink to
        ``/dev/zero`` is a device."""
        link = tmp_path / "kernel-1.json"
        link.symlink_to("/dev/zero")
        err = _in_thread(read_document, link)
        assert isinstance(err, ConnectionFileError)
        assert "character device" in str(err)

    def test_directory_refused(self, tmp_path: Path) -> None:
        """A directory is named as one."""
        with pytest.raises(ConnectionFileError, match="it is a directory"):
            read_document(tmp_path)

    def test_missing_file_is_not_found(self, tmp_path: Path) -> None:
        """A missing file is ConnectionFileNotFound (a FileNotFoundError), as before."""
        with pytest.raises(ConnectionFileNotFound):
            read_document(tmp_path / "nope.json")


class TestSize:
    def test_over_the_cap_refused(self, tmp_path: Path) -> None:
        """A file over 1 MiB is refused by its size, which the message gives."""
        big = tmp_path / "kernel-1.json"
        big.write_bytes(b" " * (MAX_DOCUMENT_SIZE + 1))
        with pytest.raises(ConnectionFileError, match="too large") as err:
            ConnectionInfo.load(big)
        assert str(MAX_DOCUMENT_SIZE + 1) in str(err.value)

    def test_at_the_cap_read(self, tmp_path: Path) -> None:
        """A file of exactly the cap is read (the cap is inclusive)."""
        doc = json.dumps(GOOD).encode()
        path = tmp_path / "kernel-1.json"
        path.write_bytes(doc + b" " * (MAX_DOCUMENT_SIZE - len(doc)))
        assert ConnectionInfo.load(path).shell_port == 5001

    def test_custom_cap(self, tmp_path: Path) -> None:
        """``max_size`` lowers the cap."""
        path = tmp_path / "k.json"
        path.write_bytes(b"x" * 11)
        assert read_document(path, max_size=11) == b"x" * 11
        with pytest.raises(ConnectionFileError, match="too large"):
            read_document(path, max_size=10)

    def test_symlinked_regular_file_followed(self, tmp_path: Path) -> None:
        """A symlink to a real connection file is legitimate and is read."""
        real = tmp_path / "real.json"
        real.write_text(json.dumps(GOOD))
        link = tmp_path / "kernel-1.json"
        link.symlink_to(real)
        assert ConnectionInfo.load(link).hb_port == 5005


class TestOwnership:
    def test_other_users_file_refused_when_checked(self, tmp_path: Path) -> None:
        """With ``check_owner`` a file owned by another user is refused, saying whose."""
        path = tmp_path / "kernel-1.json"
        path.write_text(json.dumps(GOOD))
        os.chown(path, _nobody(), -1)
        assert read_document(path)  # a path the user names is theirs to trust
        with pytest.raises(ConnectionFileError, match="owned by uid") as err:
            read_document(path, check_owner=True)
        assert str(path) in str(err.value)

    def test_writable_by_others_refused_when_checked(self, tmp_path: Path) -> None:
        """With ``check_owner`` a file others may write is refused, giving the mode."""
        path = tmp_path / "kernel-1.json"
        path.write_text(json.dumps(GOOD))
        path.chmod(0o666)
        with pytest.raises(ConnectionFileError, match="writable by others"):
            read_document(path, check_owner=True)

    def test_own_private_file_passes(self, tmp_path: Path) -> None:
        """One's own 0600 file passes the check."""
        path = tmp_path / "kernel-1.json"
        path.write_text(json.dumps(GOOD))
        path.chmod(0o600)
        assert ownership_problem(path.stat()) is None
        assert read_document(path, check_owner=True) == path.read_bytes()


class TestNoKeyInMessages:
    @pytest.mark.parametrize(
        ("doc", "words"),
        [
            ([{"key": "TOPSECRETKEYVALUE"}], "a JSON array of 1 item"),
            ([GOOD | {"key": "TOPSECRETKEYVALUE"}, 2], "a JSON array of 2 items"),
            ("TOPSECRETKEYVALUE", "a JSON string of length 17"),
        ],
    )
    def test_non_object_document_described_by_type(
        self, tmp_path: Path, doc: object, words: str
    ) -> None:
        """A document that is not an object is described by its type, never echoed."""
        path = tmp_path / "kernel-1.json"
        path.write_text(json.dumps(doc))
        with pytest.raises(ConnectionFileError) as err:
            ConnectionInfo.load(path)
        assert "TOPSECRETKEYVALUE" not in str(err.value)
        assert words in str(err.value)

    def test_nested_container_described_by_type(self) -> None:
        """An object in a field's place is described by its size, not shown."""
        with pytest.raises(ConnectionFileError) as err:
            ConnectionInfo.from_dict(GOOD | {"ip": {"key": "TOPSECRETKEYVALUE"}})
        assert "TOPSECRETKEYVALUE" not in str(err.value)
        assert "a JSON object with 1 member" in str(err.value)


class TestWording:
    def test_an_int(self) -> None:
        """The article agrees with the type: "an int"."""
        with pytest.raises(ConnectionFileError, match="got an int"):
            ConnectionInfo.from_dict(GOOD | {"key": 12345})

    def test_port_zero_names_the_launch_profile(self) -> None:
        """Port 0 in a file for clients says that 0 is for the launch profile."""
        with pytest.raises(ConnectionFileError, match="launch profile"):
            ConnectionInfo.from_dict(GOOD | {"hb_port": 0})
