"""Check the built HTML documentation: no raw directive text, every API name rendered.

``python tools/check_docs_html.py [BUILD_DIR]`` (default ``docs/_build/html``; run by the
``docs`` nox session after Sphinx). Sphinx reports success even when a directive is shown to
readers as text (an autodoc directive inside a MyST fence writes reStructuredText that is
then parsed as Markdown). Exits 1, naming page and line, when:

* the readable text of a page (outside ``<pre>`` code blocks) holds directive markup:
  ``.. py:``, ``.. auto``, ``:param``, ``:returns:``, ``{autofunction}``, ``{eval-rst}``...;
* a name documented on an API page (``docs/api/*.md``) has no rendered entry (no element
  with ``id="NAME"``), or the general index is empty.
"""

from __future__ import annotations

import html
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API_SOURCES = ROOT / "docs" / "api"

#: Markup that must never reach a reader: reST directives and fields, MyST directive names.
RAW = re.compile(
    r"^\s*\.\. [a-z:-]+::"  # .. py:function::, .. autoclass::, .. versionadded::
    r"|^\s*:(?:param|type|returns?|rtype|raises?|module|canonical|members|show-inheritance"
    r"|no-value|no-index|noindex)\b[^:\n]*:"
    r"|\{(?:auto[a-z]+|eval-rst|py:[a-z]+)\}",
    re.MULTILINE,
)
_DIRECTIVE_TARGET = re.compile(r"^(?:`{3,}|:{3,})\{auto[a-z]+\}\s+(\S+)", re.MULTILINE)


class _Text(HTMLParser):
    """The readable text of a page's article; code (blocks and inline ``literals``, where
    prose quotes markup on purpose) and scripts left out."""

    SKIP = frozenset({"pre", "code", "script", "style", "textarea"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.ids: set[str] = set()
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        for key, value in attrs:
            if key == "id" and value:
                self.ids.add(value)
        if tag in ("p", "div", "dt", "dd", "li", "br", "tr", "h1", "h2", "h3", "h4"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return html.unescape("".join(self.parts))


def read_page(path: Path) -> _Text:
    """Parse one built page."""
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def raw_markup(text: str) -> list[tuple[int, str]]:
    """(line number, line) of each line of ``text`` that holds directive markup."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if RAW.search(line):
            found.append((number, line.strip()))
    return found


def check(build: Path, api_sources: Path = API_SOURCES) -> list[str]:
    """Every problem found in the built documentation under ``build``, one line each."""
    problems: list[str] = []
    pages = sorted(build.rglob("*.html"))
    if not pages:
        return [f"{build}: no HTML pages (was the documentation built?)"]
    for page in pages:
        if page.parent.name == "_modules" or "_modules" in page.parts:
            continue  # highlighted source code (viewcode), not prose
        rel = page.relative_to(build).as_posix()
        parsed = read_page(page)
        for number, line in raw_markup(parsed.text):
            problems.append(
                f"{rel}: raw directive text shown to readers (text line {number}): {line[:100]}"
            )
    for source in sorted(api_sources.glob("*.md")):
        page = build / "api" / f"{source.stem}.html"
        names = _DIRECTIVE_TARGET.findall(source.read_text(encoding="utf-8"))
        if not names:
            continue
        if not page.is_file():
            problems.append(
                f"{page.relative_to(build).as_posix()}: not built (source {source.name})"
            )
            continue
        ids = read_page(page).ids
        problems += [
            f"api/{page.name}: {name} has no rendered entry (no id={name!r})"
            for name in names
            if name not in ids
        ]
    index = build / "genindex.html"
    if not index.is_file() or not re.search(
        r"\((?:class|function|exception) in kcf_", read_page(index).text
    ):
        problems.append("genindex.html: the general index lists no kcf class or function")
    return problems


def main(argv: list[str]) -> int:
    build = Path(argv[0]) if argv else ROOT / "docs" / "_build" / "html"
    problems = check(build)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in the built documentation under {build}")
        return 1
    print(f"built documentation OK: {build}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
