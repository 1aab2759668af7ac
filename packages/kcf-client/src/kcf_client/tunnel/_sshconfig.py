"""``~/.ssh/config`` resolution for the paramiko backend (OpenSSH reads its own config).

Uses :class:`paramiko.SSHConfig` for ``Host``/``Match`` and token rules, and adds what it
leaves out: ``ProxyJump`` (done by the backend), defaults as OpenSSH fills them, and a
warning for ``Include`` (which paramiko does not read).
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import re
import warnings
from pathlib import Path
from typing import Any

from ._errors import SSHConfigError
from ._spec import ServerSpec

__all__ = ["HostConfig", "IncompleteConfigWarning", "resolve", "default_config_path"]

_DEFAULT_IDENTITIES = ("id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk")
_INCLUDE = re.compile(r"^\s*include(\s|=)", re.IGNORECASE)


class IncompleteConfigWarning(UserWarning):
    """The ssh configuration uses something the paramiko backend cannot read (``Include``).

    .. versionadded:: 0.1.0
    """


@dataclasses.dataclass(frozen=True, slots=True)
class HostConfig:
    """One host as the ssh configuration resolves it."""

    alias: str
    hostname: str
    port: int
    user: str
    identity_files: tuple[Path, ...]
    identities_only: bool
    known_hosts: tuple[Path, ...]
    global_known_hosts: tuple[Path, ...]
    proxy_command: str | None
    proxy_jump: str | None
    password_authentication: bool
    pubkey_authentication: bool

    @property
    def known_name(self) -> str:
        """The name of this host in known_hosts (``host`` or ``[host]:port``)."""
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"


def default_config_path() -> Path | None:
    """``~/.ssh/config`` if it exists."""
    path = Path("~/.ssh/config").expanduser()
    return path if path.is_file() else None


def resolve(
    spec: ServerSpec,
    *,
    config_path: Path | None,
    known_hosts: Path | None = None,
    identity_file: Path | None = None,
) -> HostConfig:
    """Resolve ``spec`` (an alias or ``user@host:port``) through the ssh configuration.

    Values in the spec win over the configuration, as on the ``ssh`` command line.

    Raises:
        SSHConfigError: the configuration cannot be parsed, or has a bad port.
    """
    import paramiko

    path = config_path if config_path is not None else default_config_path()
    data: dict[str, Any] = {}
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
            config = paramiko.SSHConfig.from_text(text)
            data = dict(config.lookup(spec.host))
        except OSError as exc:
            raise SSHConfigError(f"cannot read ssh config {path}: {exc.strerror}") from exc
        except paramiko.ConfigParseError as exc:
            raise SSHConfigError(f"cannot parse ssh config {path}: {exc}") from exc
        if any(_INCLUDE.match(line) for line in text.splitlines()):
            warnings.warn(
                f"{path} uses Include, which the paramiko backend does not read; settings "
                "from included files are ignored (use backend='openssh' to honour them)",
                IncompleteConfigWarning,
                stacklevel=4,
            )
    hostname = str(data.get("hostname", spec.host))
    port_text = str(spec.port if spec.port is not None else data.get("port", 22))
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise SSHConfigError(f"ssh config gives port {port_text!r} for {spec.host!r}")
    user = spec.user or str(data.get("user") or getpass.getuser())
    ids: list[Path] = []
    if identity_file is not None:
        ids.append(Path(identity_file).expanduser())
    ids += [Path(p).expanduser() for p in data.get("identityfile", [])]
    if not ids:
        ids = [Path("~/.ssh").expanduser() / name for name in _DEFAULT_IDENTITIES]
    if known_hosts is not None:
        user_known: tuple[Path, ...] = (Path(known_hosts),)
    else:
        user_known = _paths(
            data.get("userknownhostsfile", "~/.ssh/known_hosts ~/.ssh/known_hosts2")
        )
    global_known = _paths(
        data.get("globalknownhostsfile", "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2")
    )
    jump = data.get("proxyjump")
    command = data.get("proxycommand")
    return HostConfig(
        alias=spec.host,
        hostname=hostname,
        port=int(port_text),
        user=user,
        identity_files=tuple(ids),
        identities_only=_yes(data.get("identitiesonly", "no")),
        known_hosts=user_known,
        global_known_hosts=global_known,
        proxy_command=None if command in (None, "none") else str(command),
        proxy_jump=None if jump in (None, "none") else str(jump),
        password_authentication=_yes(data.get("passwordauthentication", "yes")),
        pubkey_authentication=_yes(data.get("pubkeyauthentication", "yes")),
    )


def _paths(value: object) -> tuple[Path, ...]:
    items = value if isinstance(value, list) else str(value).split()
    return tuple(Path(os.path.expanduser(str(p))) for p in items if str(p).lower() != "none")


def _yes(value: object) -> bool:
    return str(value).lower() in ("yes", "true")
