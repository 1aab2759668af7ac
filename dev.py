#!/usr/bin/env python3
"""Bootstrap the kcf workflow with nothing but Python: ``python dev.py SESSION [ARGS]``.

Creates ``.venv-dev`` (once) holding nox and uv, then runs ``nox -s SESSION -- ARGS``.
``python dev.py demo`` runs the main job; ``python dev.py test`` the whole test suite on the
Python running dev.py (``--all-pythons``: on every supported CPython found, one after another;
``KCF_TEST_PYTHONS=3.10,3.13``: on those; ``--scale``: also the tests that start many kernels
at once, as CI does); ``python dev.py check`` lint, typecheck and schema;
any other word is a nox session name. Arguments after the session (or after ``--``) go to it:
``python dev.py test -- -x -k listing``.
On a machine with pyenv, every installed CPython 3.10-3.13 is made visible to nox.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv-dev"
ALIASES = {"test": ["tests"], "check": ["lint", "typecheck", "schema"]}
TOOLS = ["nox>=2024.10", "uv>=0.4"]


def _bin(name: str) -> Path:
    sub = "Scripts" if os.name == "nt" else "bin"
    return VENV / sub / (name + (".exe" if os.name == "nt" else ""))


def _ensure_tools() -> None:
    stamp = VENV / ".kcf-tools"
    if stamp.exists() and stamp.read_text() == "\n".join(TOOLS):
        return
    if not _bin("python").exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    subprocess.run(
        [str(_bin("python")), "-m", "pip", "install", "-q", "--disable-pip-version-check", *TOOLS],
        check=True,
    )
    stamp.write_text("\n".join(TOOLS))


def _pyenv_versions() -> str | None:
    try:
        out = subprocess.run(
            ["pyenv", "versions", "--bare"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    wanted = [
        v for v in out.split() if v.split(".")[:2] in (["3", m] for m in ("10", "11", "12", "13"))
    ]
    return ":".join(wanted) or None


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    word, rest = argv[0], argv[1:]
    env = dict(os.environ)
    if word == "test":
        if "--all-pythons" in rest:
            rest = [a for a in rest if a != "--all-pythons"]
            env["KCF_TEST_PYTHONS"] = "all"
        if "--scale" in rest:  # also the tests that start many kernels at once (CI does)
            rest = [a for a in rest if a != "--scale"]
            env["KCF_TEST_SCALE"] = "1"
        # The Python running this script, unless told otherwise (CI: oldest and newest).
        env.setdefault("KCF_TEST_PYTHONS", f"{sys.version_info[0]}.{sys.version_info[1]}")
    if rest[:1] == ["--"]:
        rest = rest[1:]
    _ensure_tools()
    env["PATH"] = f"{_bin('python').parent}{os.pathsep}{env.get('PATH', '')}"
    # pyenv's shim exports PYENV_VERSION (just the running version) to this process: add the
    # other supported versions so that nox can find python3.10 ... python3.13.
    if versions := _pyenv_versions():
        current = [v for v in env.get("PYENV_VERSION", "").split(":") if v]
        env["PYENV_VERSION"] = ":".join(
            current + [v for v in versions.split(":") if v not in current]
        )
    # Interpreters come from this machine, never from a download.
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")
    cmd = [str(_bin("nox")), "-f", str(ROOT / "noxfile.py")]
    cmd += ["-s", *ALIASES.get(word, [word])]
    if rest:
        cmd += ["--", *rest]
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
