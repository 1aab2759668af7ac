"""The monorepo's promises: one version, exact sibling pins, typed packages, documented API."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "kcf-spec": "kcf_spec",
    "kcf-kernel": "kcf_kernel",
    "kcf-client": "kcf_client",
    "kcf-provisioner": "kcf_provisioner",
}


def _project(dist: str) -> dict[str, object]:
    with open(ROOT / "packages" / dist / "pyproject.toml", "rb") as f:
        return dict(tomllib.load(f)["project"])


def _root_version() -> str:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return str(tomllib.load(f)["project"]["version"])


class TestVersions:
    def test_versions_one_for_all(self) -> None:
        """Every distribution, every ``__version__`` and the docs carry the workspace version."""
        version = _root_version()
        for dist, module in PACKAGES.items():
            assert _project(dist)["version"] == version, dist
            assert importlib.import_module(module).__version__ == version, module
        conf = (ROOT / "docs" / "conf.py").read_text()
        assert f'release = version = "{version}"' in conf

    @pytest.mark.parametrize("dist", list(PACKAGES))
    def test_versions_sibling_pins_exact(self, dist: str) -> None:
        """A package requires its siblings at exactly the shared version."""
        version = _root_version()
        deps = [str(d) for d in _project(dist).get("dependencies", [])]  # type: ignore[attr-defined]
        for dep in deps:
            name = re.split(r"[=<>!~ \[;]", dep, maxsplit=1)[0]
            if name in PACKAGES:
                assert dep == f"{name}=={version}", f"{dist}: {dep}"

    def test_versions_changelog_has_release(self) -> None:
        """The changelog has a section for the current version."""
        assert f"## [{_root_version()}]" in (ROOT / "CHANGELOG.md").read_text()


class TestLayout:
    @pytest.mark.parametrize(("dist", "module"), list(PACKAGES.items()))
    def test_layout_package_is_typed_and_documented(self, dist: str, module: str) -> None:
        """Each package ships ``py.typed``, a README and a public ``__all__`` that resolves."""
        base = ROOT / "packages" / dist
        assert (base / "src" / module / "py.typed").is_file()
        assert (base / "README.md").is_file()
        mod = importlib.import_module(module)
        assert mod.__all__, module
        missing = [name for name in mod.__all__ if not hasattr(mod, name)]
        assert not missing, f"{module}.__all__ names what it does not define: {missing}"


class TestDocs:
    def test_docs_api_pages_match_all(self) -> None:
        """The API reference lists exactly each package's ``__all__`` (regenerate on change)."""
        sys.path.insert(0, str(ROOT / "tools"))
        try:
            import gen_api_docs
        finally:
            sys.path.pop(0)
        stale = [
            path.relative_to(ROOT).as_posix()
            for path, text in gen_api_docs.pages().items()
            if not path.is_file() or path.read_text() != text
        ]
        assert not stale, f"run python tools/gen_api_docs.py: {stale}"


class TestBuiltDocsCheck:
    """tools/check_docs_html.py, which the docs session runs on the built pages."""

    @staticmethod
    def _checker() -> Any:
        sys.path.insert(0, str(ROOT / "tools"))
        try:
            import check_docs_html
        finally:
            sys.path.pop(0)
        return check_docs_html

    def _build(self, tmp_path: Path, body: str) -> list[str]:
        api = tmp_path / "src"
        api.mkdir()
        (api / "mod.md").write_text("```{autofunction} kcf_spec.validate\n```\n")
        build = tmp_path / "html"
        (build / "api").mkdir(parents=True)
        (build / "api" / "mod.html").write_text(
            f"<html><body><article>{body}</article></body></html>"
        )
        (build / "genindex.html").write_text("<p>validate() (function in kcf_spec)</p>")
        return list(self._checker().check(build, api))

    def test_check_docs_html_raw_directive_text_fails(self, tmp_path: Path) -> None:
        """A page showing autodoc's reST output as text (what MyST did) is reported."""
        problems = self._build(
            tmp_path,
            "<p>.. py:function:: validate(data)</p><p>:module: kcf_spec</p>"
            "<p>:param data: the document.</p>",
        )
        assert len([p for p in problems if "raw directive text" in p]) == 3, problems
        assert any("kcf_spec.validate has no rendered entry" in p for p in problems), problems

    def test_check_docs_html_rendered_page_passes(self, tmp_path: Path) -> None:
        """A rendered entry (an id for the name, a field list) passes; code blocks may show
        directives."""
        problems = self._build(
            tmp_path,
            '<dl><dt id="kcf_spec.validate">validate(data)</dt><dd><dl class="field-list">'
            "<dt>Parameters:</dt><dd>data - the document.</dd></dl></dd></dl>"
            "<pre>```{autofunction} kcf_spec.validate\n```</pre>",
        )
        assert problems == []
