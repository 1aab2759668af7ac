"""``python -m kcf_client.slurm``: start a kernel in a Slurm job (see :mod:`._cli`)."""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
