"""``python -m kcf_kernel.nanny``: the remote nanny's entry point.

See :func:`kcf_kernel.run_nanny`.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import sys

from ._nanny import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
