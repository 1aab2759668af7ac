"""The kcf workflow. ``python dev.py SESSION`` runs these without installing anything first.

Sessions:
    tests      the whole test suite on one Python: the one running ``dev.py`` (or nox);
               ``KCF_TEST_PYTHONS=3.10,3.13`` picks others, ``KCF_TEST_PYTHONS=all`` (what
               ``python dev.py test --all-pythons`` sets) every supported one; CI runs the
               oldest and newest
    lint       ruff check + ruff format --check
    typecheck  mypy --strict over the three packages
    schema     the conformance vectors through python-jsonschema, jsonschema-rs and ajv
    docs       Sphinx, warnings are errors
    build      sdists and wheels of the three packages; a wheel rebuilt from the sdist
    demo       the main job: start a kernel, find it, connect, execute, print, shut it down
               (``kcf run CODE``)
    bench      the side-by-side benchmarks (ours vs jupyter_client and the physical floor)

Dependencies are listed once, as PEP 735 dependency groups in the root ``pyproject.toml``
(``test``, ``docs``, ``lint``, ``typecheck``, ``bench``); hatch reads the same groups.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PACKAGES = [
    "packages/kcf-spec",
    "packages/kcf-kernel",
    "packages/kcf-client[ssh]",
    "packages/kcf-provisioner",
]
ALL_PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
TOOL_PYTHON = os.environ.get("KCF_TOOL_PYTHON", f"{sys.version_info[0]}.{sys.version_info[1]}")
# One Python by default (the current one); KCF_TEST_PYTHONS=all, or a list such as
# 3.10,3.13 (CI: oldest and newest), for more.
_WANTED = os.environ.get("KCF_TEST_PYTHONS", "").strip()
TEST_PYTHONS = (
    ALL_PYTHONS
    if _WANTED == "all"
    else [v.strip() for v in _WANTED.split(",") if v.strip()] or [TOOL_PYTHON]
)
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")


def _group(name: str) -> list[str]:
    """The requirements of one dependency group of the root pyproject.toml (PEP 735)."""
    return list(nox.project.dependency_groups(PYPROJECT, name))


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
    _install_workspace(session, *_group("test"))
    if shutil.which("npm"):  # ajv, for the three-engine schema test
        _npm_ci(session)
    # The tests that start many kernels at once take minutes here: CI runs them
    # (KCF_TEST_SCALE=1, or `python dev.py test --scale`); a later -m in posargs wins.
    scale = [] if os.environ.get("KCF_TEST_SCALE") == "1" else ["-m", "not scale"]
    session.run("pytest", *scale, *session.posargs)


@nox.session(python=TOOL_PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree."""
    session.install(*_group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=TOOL_PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the three packages' sources."""
    _install_workspace(session, *_group("typecheck"))
    session.run(
        "mypy",
        "packages/kcf-spec/src/kcf_spec",
        "packages/kcf-kernel/src/kcf_kernel",
        "packages/kcf-client/src/kcf_client",
        "packages/kcf-provisioner/src/kcf_provisioner",
    )


@nox.session(python=TOOL_PYTHON)
def schema(session: nox.Session) -> None:
    """The same verdict from python-jsonschema, jsonschema-rs and ajv on every vector."""
    if shutil.which("npm") is None:
        session.error("npm is needed for the ajv check (install Node.js)")
    _install_workspace(session, *_group("schema"))
    session.run(
        "npm", "ci", "--prefix", "schema/conformance", "--no-audit", "--no-fund", external=True
    )
    session.run("python", "schema/conformance/check.py")


@nox.session(python=TOOL_PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation with warnings as errors."""
    _install_workspace(session, *_group("docs"))
    out = ROOT / "docs" / "_build" / "html"
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", str(out))
    # Sphinx succeeds even when directives reach readers as text: read the pages.
    session.run("python", "tools/check_docs_html.py", str(out))


@nox.session(python=TOOL_PYTHON)
def build(session: nox.Session) -> None:
    """Build every sdist and wheel, then a wheel from the kcf-spec sdist; check the schema."""
    session.install("build>=1.2", "uv")
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for pkg in ("kcf-spec", "kcf-kernel", "kcf-client", "kcf-provisioner"):
        session.run(
            "python", "-m", "build", "--installer", "uv", "--outdir", str(dist), f"packages/{pkg}"
        )
    session.run("python", "tools/check_dist.py", str(dist))


@nox.session(python=TOOL_PYTHON)
def demo(session: nox.Session) -> None:
    """The main job, on this machine: start a kernel, reach it, run code, shut it down."""
    _install_workspace(session, *_group("demo"))
    code = session.posargs or ["import sys; print('hello from', sys.implementation.name); 6 * 7"]
    session.run("kcf", "run", *code)


@nox.session(python=TOOL_PYTHON)
def bench(session: nox.Session) -> None:
    """Run the side-by-side benchmarks (pass filters after ``--``)."""
    _install_workspace(session, *_group("bench"))
    session.run("python", "benchmarks/run.py", *session.posargs)
