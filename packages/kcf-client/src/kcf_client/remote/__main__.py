"""``python -m kcf_client.remote``: start a kernel on another host (see :mod:`._cli`)."""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
