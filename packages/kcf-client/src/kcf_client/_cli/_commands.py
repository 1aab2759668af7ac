"""The table of ``kcf`` commands: name -> (module in this package, one-line help).

A new command is a new module here with ``add_arguments(parser)`` and ``run(args, out)``
(or ``run(args, out, signals)`` when it holds a process or a tunnel: see ``NEEDS_SIGNALS``),
and one line in ``COMMANDS``. Only the module of the command being run is imported.
"""

from __future__ import annotations

__all__ = ["COMMANDS", "NEEDS_SIGNALS"]

COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("listing", "list connection files with their kernels' liveness"),
    "info": ("info", "show what a connection file says (the key hidden)"),
    "validate": ("validate", "check connection files against the schema"),
    "ping": ("ping", "ping a kernel's heartbeat"),
    "exec": ("execute", "run code in a kernel and print its output"),
    "console": ("console", "attach jupyter-console (or qtconsole) to a kernel"),
    "prune": ("prune", "remove the connection files of provably dead kernels"),
    "start": ("start", "start a kernel and keep it running until Ctrl-C"),
    "stop": ("stop", "end a kernel by its connection file (shutdown, then proof it is gone)"),
    "run": ("run", "start a kernel, find it, run CODE, print the result, shut it down"),
    "tunnel": ("tunnel", "forward a remote kernel's ports over SSH"),
    "kernelspec": (
        "kernelspec",
        "list kernelspecs and the port strategy kcf uses for each; switch Jupyter's "
        "provisioner; install one whose kernels run in Slurm jobs",
    ),
}

#: Commands that start something that must not outlive them: SIGTERM, SIGHUP and SIGINT
#: are handled from the first instant of ``main`` (see ``_lifecycle.StopSignals``).
NEEDS_SIGNALS = frozenset({"start", "run", "tunnel"})  # start --slurm too
