"""The kcf workflow. ``python dev.py SESSION`` runs these without installing anything first.

Sessions:
    tests      the whole test suite (every supported Python found; CI: oldest and newest)
    lint       ruff check + ruff format --check
    typecheck  mypy --strict over the three packages
    schema     the conformance vectors through python-jsonschema, jsonschema-rs and ajv
    docs       Sphinx, warnings are errors
    build      sdists and wheels of the three packages; a wheel rebuilt from the sdist
    demo       the main job: start a kernel, find it, connect, execute, print, shut it down
               (``kcf run CODE``)
    bench      the side-by-side benchmarks (ours vs jupyter_client), ratios printed
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PACKAGES = ["packages/kcf-spec", "packages/kcf-kernel", "packages/kcf-client[ssh]"]
ALL_PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
# CI sets KCF_TEST_PYTHONS=3.10,3.13 (oldest and newest); locally every one that exists.
TEST_PYTHONS = [
    v for v in os.environ.get("KCF_TEST_PYTHONS", ",".join(ALL_PYTHONS)).split(",") if v
]
TOOL_PYTHON = os.environ.get("KCF_TOOL_PYTHON", f"{sys.version_info[0]}.{sys.version_info[1]}")

TEST_DEPS = [
    "pytest>=8",
    "pytest-timeout>=2.3",
    "hypothesis>=6.100",
    "jupyter_client>=8.6",
    "ipykernel>=6.29",
    "jupyter-console>=6.6",
    "jsonschema-rs>=0.26",
    "hatchling>=1.26",  # the build test builds kcf-spec's sdist and wheel
    "mfusepy>=3.1",  # the test file system that refuses chmod (FUSE)
    "tomli>=2; python_version < '3.11'",
]

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "schema", "tests"]


def _install_workspace(session: nox.Session, *extra: str) -> None:
    session.install(*[a for p in PACKAGES for a in ("-e", p)], *extra)


def _npm_ci(session: nox.Session) -> None:
    if not (ROOT / "schema/conformance/node_modules/ajv").is_dir():
        args = ["ci", "--prefix", "schema/conformance", "--no-audit", "--no-fund"]
        session.run("npm", *args, external=True)


@nox.session(python=TEST_PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite (pass pytest arguments after ``--``)."""
    _install_workspace(session, *TEST_DEPS)
    if shutil.which("npm"):  # ajv, for the three-engine schema test
        _npm_ci(session)
    session.run("pytest", *session.posargs)


@nox.session(python=TOOL_PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree."""
    session.install("ruff>=0.8")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=TOOL_PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the three packages' sources."""
    _install_workspace(session, "mypy>=1.13", "types-paramiko")
    session.run(
        "mypy",
        "packages/kcf-spec/src/kcf_spec",
        "packages/kcf-kernel/src/kcf_kernel",
        "packages/kcf-client/src/kcf_client",
    )


@nox.session(python=TOOL_PYTHON)
def schema(session: nox.Session) -> None:
    """The same verdict from python-jsonschema, jsonschema-rs and ajv on every vector."""
    if shutil.which("npm") is None:
        session.error("npm is needed for the ajv check (install Node.js)")
    _install_workspace(session, "jsonschema-rs>=0.26")
    session.run(
        "npm", "ci", "--prefix", "schema/conformance", "--no-audit", "--no-fund", external=True
    )
    session.run("python", "schema/conformance/check.py")


@nox.session(python=TOOL_PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation with warnings as errors."""
    _install_workspace(session, "sphinx>=7", "myst-parser>=3", "furo")
    out = ROOT / "docs" / "_build" / "html"
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", str(out))


@nox.session(python=TOOL_PYTHON)
def build(session: nox.Session) -> None:
    """Build every sdist and wheel, then a wheel from the kcf-spec sdist; check the schema."""
    session.install("build>=1.2", "uv")
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for pkg in ("kcf-spec", "kcf-kernel", "kcf-client"):
        session.run(
            "python", "-m", "build", "--installer", "uv", "--outdir", str(dist), f"packages/{pkg}"
        )
    session.run("python", "tools/check_dist.py", str(dist))


@nox.session(python=TOOL_PYTHON)
def demo(session: nox.Session) -> None:
    """The main job, on this machine: start a kernel, reach it, run code, shut it down."""
    _install_workspace(session, "ipykernel>=6.29")
    code = session.posargs or ["import sys; print('hello from', sys.implementation.name); 6 * 7"]
    session.run("kcf", "run", *code)


@nox.session(python=TOOL_PYTHON)
def bench(session: nox.Session) -> None:
    """Run the side-by-side benchmarks (pass filters after ``--``)."""
    _install_workspace(session, *TEST_DEPS, "pexpect")  # jupyter_client's OpenSSH tunnel needs it
    session.run("python", "benchmarks/run.py", *session.posargs)
