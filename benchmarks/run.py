"""Run the side-by-side benchmarks: ``python benchmarks/run.py [FILTER ...] [--quick]``.

Every ``bench_*.py`` beside this file contributes its ``CASES``. A FILTER keeps the cases
whose module or name contains it. ``--quick`` runs each case briefly (a smoke run, as the
test suite does to keep the benchmarks working; its figures are not to be quoted).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _harness import Case, format_result, run_case  # noqa: E402


def _load(path: Path) -> list[Case]:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cases = module.CASES
    return list(cases() if callable(cases) else cases)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    filters = [a for a in argv if not a.startswith("--")]
    for path in sorted(HERE.glob("bench_*.py")):
        cases = _load(path)
        for case in cases:
            label = f"{path.stem}: {case.name}"
            if filters and not any(f in label for f in filters):
                continue
            print(
                format_result(run_case(case, quick=quick)).replace(case.name, label, 1), flush=True
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
