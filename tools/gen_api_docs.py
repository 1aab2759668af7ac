"""Write the API reference pages from each package's ``__all__``.

``python tools/gen_api_docs.py`` rewrites ``docs/api/<package>.md``; ``--check`` exits 1 when a
page is out of date (``tests/test_workspace.py`` runs it), so the documented surface and
``__all__`` cannot drift apart. The prose of each entry comes from its docstring (autodoc).
"""

from __future__ import annotations

import importlib
import inspect
import sys
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API = ROOT / "docs" / "api"
PACKAGES = {
    "kcf_spec": "kcf-spec",
    "kcf_kernel": "kcf-kernel",
    "kcf_client": "kcf-client",
    "kcf_client.asyncio": "kcf-client (asyncio)",
    "kcf_client.tunnel": "kcf-client (SSH tunnels)",
    "kcf_client.remote": "kcf-client (remote kernels over SSH)",
    "kcf_client.compat": "kcf-client (jupyter_client.connect drop-in)",
    "kcf_provisioner": "kcf-provisioner",
    "kcf_client.slurm": "kcf-client (Slurm)",
}


def _directive(module: str, name: str, obj: object, seen: dict[int, str]) -> str:
    target = f"{module}.{name}"
    if (first := seen.get(id(obj))) is not None and not isinstance(obj, (int, float, str)):
        # The same object under a second public name (kcf_client.asyncio.ExecuteResult):
        # one description, and a link to it (two would be duplicate index entries).
        role = "class" if inspect.isclass(obj) else "obj"
        return f"`{name}`: the same as {{py:{role}}}`{first}`."
    seen[id(obj)] = target
    if typing.get_origin(obj) is not None:  # a type alias (Literal[...]): show its value
        return f"```{{autodata}} {target}\n```"
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            return f"```{{autoexception}} {target}\n:show-inheritance:\n```"
        return f"```{{autoclass}} {target}\n:members:\n:show-inheritance:\n```"
    if inspect.isroutine(obj):
        return f"```{{autofunction}} {target}\n```"
    return f"```{{autodata}} {target}\n:no-value:\n```"


def render(module: str, seen: dict[int, str] | None = None) -> str:
    mod = importlib.import_module(module)
    title = PACKAGES[module]
    doc = inspect.getdoc(mod) or ""
    summary = doc.split("\n\n", 1)[0]
    parts = [f"# `{module}` — {title}", "", summary, ""]
    for name in mod.__all__:
        if name.startswith("__"):
            continue
        parts += [_directive(module, name, getattr(mod, name), {} if seen is None else seen), ""]
    return "\n".join(parts).rstrip() + "\n"


def pages() -> dict[Path, str]:
    seen: dict[int, str] = {}
    out = {API / f"{m.replace('.', '_')}.md": render(m, seen) for m in PACKAGES}
    toc = "\n".join(p.stem for p in out)
    out[API / "index.md"] = (
        "# API reference\n\nEvery public name of the three packages, as listed in their "
        f"`__all__`.\n\n```{{toctree}}\n:maxdepth: 1\n\n{toc}\n```\n"
    )
    return out


def main(argv: list[str]) -> int:
    stale = []
    for path, text in pages().items():
        if "--check" in argv:
            if not path.is_file() or path.read_text() != text:
                stale.append(path.relative_to(ROOT).as_posix())
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for s in stale:
        print(f"out of date: {s} (run python tools/gen_api_docs.py)")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
