"""kcf-provisioner: kcf inside Jupyter.

A jupyter_client kernel provisioner (``kcf-provisioner``) that starts kernels through
kcf's launch design, one that runs each kernel in a Slurm job (``kcf-slurm-provisioner``),
one that starts each kernel on another host over SSH (``kcf-ssh-provisioner``), and helpers
to list kernelspecs, switch one to it and back, and install one for a remote host.
jupyter_client is this distribution's dependency only: ``kcf_spec``, ``kcf_kernel`` and
``kcf_client`` never import it.
"""

from __future__ import annotations

from ._kernelspecs import (
    KernelSpecEntry,
    KernelSpecFileError,
    install_ssh_kernelspec,
    list_kernelspecs,
    use_default_provisioner,
    use_kcf_provisioner,
)
from ._provisioner import PROVISIONER_NAME, KcfProvisioner
from ._slurm import SLURM_PROVISIONER_NAME, SlurmProvisioner
from ._ssh import SSH_PROVISIONER_NAME, SSHProvisioner
from ._strategy import STRATEGIES, choose_strategy

__version__ = "0.1.0"

__all__ = [
    # the provisioner
    "KcfProvisioner",
    "PROVISIONER_NAME",
    "SlurmProvisioner",
    "SLURM_PROVISIONER_NAME",
    "SSHProvisioner",
    "SSH_PROVISIONER_NAME",
    "choose_strategy",
    "STRATEGIES",
    # kernelspecs
    "list_kernelspecs",
    "use_kcf_provisioner",
    "use_default_provisioner",
    "install_ssh_kernelspec",
    "KernelSpecEntry",
    "KernelSpecFileError",
    "__version__",
]
