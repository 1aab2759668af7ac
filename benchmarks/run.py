"""Run the side-by-side benchmarks: ``python benchmarks/run.py [FILTER ...] [--quick] [--list]``.

Every ``bench_*.py`` beside this file is run in its own process (``python bench_x.py``, which
also works alone), so that one module's failure or missing dependency never stops the
others; failures are listed at the end and make the exit status 1. A FILTER keeps the cases
whose ``module: name`` contains it (``bench_wire``, ``round trip``...). ``--quick`` runs each
case briefly (a smoke run; its figures are not to be quoted). Each case prints kcf,
jupyter_client and, where measured, the physical floor: medians, min-max, ratios of medians.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument(
        "filters", nargs="*", metavar="FILTER", help="keep cases whose 'module: name' contains one"
    )
    parser.add_argument("--quick", action="store_true", help="short smoke run, not for quoting")
    parser.add_argument("--list", action="store_true", help="list the cases, run nothing")
    args = parser.parse_args(argv)
    failed: list[str] = []
    for path in sorted(HERE.glob("bench_*.py")):
        cmd = [sys.executable, str(path), "--module", path.stem, *args.filters]
        cmd += ["--quick"] if args.quick else []
        cmd += ["--list"] if args.list else []
        t0 = time.monotonic()
        code = subprocess.run(cmd, check=False).returncode
        if code != 0:
            failed.append(f"{path.name} (exit {code} after {time.monotonic() - t0:.0f} s)")
    for name in failed:
        print(f"FAILED: {name}; the other modules ran", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
