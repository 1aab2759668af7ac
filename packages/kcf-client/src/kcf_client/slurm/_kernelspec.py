"""``kcf kernelspec install --slurm NAME``: a kernelspec whose kernels run in Slurm jobs."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from kcf_kernel import jupyter_data_dir, write_private_file

from ._errors import SlurmError, SlurmOptionError

__all__ = ["install_slurm_kernelspec"]

_NAME = re.compile(r"^[a-z0-9._-]+$", re.IGNORECASE)  # what jupyter_client accepts (not ..)


class _Exists(SlurmError, FileExistsError):
    """The kernelspec exists (pass ``replace=True``)."""


def install_slurm_kernelspec(
    name: str,
    *,
    slurm_args: Sequence[str] = (),
    argv: Sequence[str] | None = None,
    python: str = sys.executable,
    display_name: str | None = None,
    language: str = "python",
    use_srun: bool = False,
    registration_ip: str | None = None,
    start_timeout: float = 300.0,
    grace: float = 60.0,
    kernels_dir: str | os.PathLike[str] | None = None,
    replace: bool = False,
) -> Path:
    """Write a kernelspec that starts its kernels with ``kcf-slurm-provisioner`` (from the
    kcf-provisioner distribution, which Jupyter's host must have installed).

    Args:
        name: the kernelspec name (letters, digits, ``.``, ``_``, ``-``).
        slurm_args: sbatch/srun arguments, one per item (``["--partition=gpu"]``).
        argv: the kernel's argv on the node (default: ipykernel with ``python``).
        python: the Python on the nodes (runs the nanny, and ipykernel by default).
        display_name: the name frontends show (default: ``NAME (Slurm)``).
        language: the kernel's language.
        use_srun: run kernels with srun instead of sbatch.
        registration_ip: the address nodes call back (default: found at start).
        start_timeout: seconds from submission to a ready kernel.
        grace: seconds a kernel outlives a lost launcher.
        kernels_dir: where to install (default: ``<Jupyter data dir>/kernels``).
        replace: overwrite an existing kernelspec of that name.

    Returns:
        The kernelspec's ``kernel.json``.

    Raises:
        SlurmOptionError: a bad name or Slurm argument list.
        FileExistsError: (a :class:`SlurmError`) the kernelspec exists and not ``replace``.

    .. versionadded:: 0.2.0
    """
    if not _NAME.match(name) or not name.strip("."):
        raise SlurmOptionError("name", name, "letters, digits, '.', '_' or '-'")
    args: object = slurm_args
    if not isinstance(args, (list, tuple)) or not all(isinstance(a, str) for a in args):
        raise SlurmOptionError("slurm_args", slurm_args, "a sequence of argv items (strings)")
    base = Path(kernels_dir) if kernels_dir is not None else jupyter_data_dir() / "kernels"
    target = base / name
    if (target / "kernel.json").exists() and not replace:
        raise _Exists(f"kernelspec {name!r} exists at {target} (replace it explicitly)")
    config: dict[str, object] = {
        "slurm_args": list(slurm_args),
        "python": python,
        "use_srun": use_srun,
        "start_timeout": start_timeout,
        "grace": grace,
    }
    if registration_ip is not None:
        config["registration_ip"] = registration_ip
    spec = {
        "argv": list(argv)
        if argv is not None
        else [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": display_name or f"{name} (Slurm)",
        "language": language,
        "metadata": {
            "kernel_provisioner": {"provisioner_name": "kcf-slurm-provisioner", "config": config}
        },
    }
    target.mkdir(parents=True, exist_ok=True)
    return write_private_file(target / "kernel.json", (json.dumps(spec, indent=1) + "\n").encode())
