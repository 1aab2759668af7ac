"""The ``kcf`` command: find, inspect, check, talk to, start, stop and tidy kernels.

One module per command (see ``_commands.COMMANDS``), the entry point in ``_main``, shared
output and errors in ``_output``, shared options in ``_args``, the kernel lifecycle and the
stop signals in ``_lifecycle``. Only this package prints.
"""

from __future__ import annotations

from ._main import main, parse
from ._output import EXIT_CODES

__all__ = ["main", "parse", "EXIT_CODES"]
