"""``kcf kernelspec``: list kernelspecs with the port strategy kcf would use, switch one
to kcf's Jupyter provisioner (``use-kcf``) and back (``restore``), and install one whose
kernels run in Slurm jobs (``install --slurm NAME``) or on another host over SSH
(``install --ssh HOST NAME``)."""

from __future__ import annotations

import argparse
import importlib
import os
from types import ModuleType
from typing import TypedDict

from ._args import Parser, add_output_options
from ._output import NOT_FOUND, OK, USAGE, CliError, Out, table

__all__ = ["add_arguments", "run"]

#: The distribution that holds the Jupyter provisioner, and the module it installs.
_PROVISIONER_DIST, _PROVISIONER_MODULE = "kcf-provisioner", "kcf_provisioner"


class _Row(TypedDict):
    name: str
    path: str
    language: str | None
    display_name: str | None
    protocol_version: str | None
    provisioner: str | None
    strategy: str | None
    dialect: str | None
    why: str | None
    error: str | None


def add_arguments(p: Parser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    sub.required = True
    listing = sub.add_parser(
        "list",
        help="kernelspecs: name, language, protocol version, provisioner, and the port "
        "strategy kcf would use (and why)",
    )
    add_output_options(listing)
    for action, text in (
        ("use-kcf", "make Jupyter start kernelspec NAME with kcf's provisioner"),
        ("restore", "give kernelspec NAME back the provisioner it had before use-kcf"),
    ):
        sp = sub.add_parser(
            action, help=text, description=f"{text} (needs {_PROVISIONER_DIST} installed)"
        )
        sp.add_argument("name", metavar="NAME")
        add_output_options(sp)
    _add_install(sub)


def _add_install(sub: argparse._SubParsersAction[Parser]) -> None:
    """``install (--slurm | --ssh HOST) NAME [options] [-- ARGV]``."""
    text = (
        "install kernelspec NAME whose kernels run in Slurm jobs (--slurm, "
        "kcf-slurm-provisioner) or on HOST over SSH (--ssh HOST, kcf-ssh-provisioner)"
    )
    ip = sub.add_parser("install", help=text, description=text)
    ip.usage = (
        "kcf kernelspec install (--slurm | --ssh [USER@]HOST[:PORT]) NAME [options] [-- ARGV...]"
    )
    ip.add_argument("name", metavar="NAME")
    where = ip.add_mutually_exclusive_group(required=True)
    where.add_argument("--slurm", action="store_true", help="its kernels run in Slurm jobs")
    where.add_argument(
        "--ssh", default=None, metavar="[USER@]HOST[:PORT]", help="its kernels run on HOST"
    )
    ip.add_argument(
        "--remote-kernelspec",
        default=None,
        metavar="KERNELSPEC",
        help="with --ssh: start this kernelspec of the host (default: ipykernel, or '-- ARGV')",
    )
    ip.add_argument("--display-name", default=None, help="the name frontends show")
    ip.add_argument("--replace", action="store_true", help="overwrite an existing kernelspec")
    ip.add_argument(
        "--kernels-dir", default=None, metavar="DIR", help="default: <Jupyter data dir>/kernels"
    )
    from kcf_client.remote._cli import add_options as add_ssh_options
    from kcf_client.slurm._cli import add_options

    add_options(ip)
    add_ssh_options(ip)
    add_output_options(ip)
    # ARGV: everything after '--', the kernel's command on the nodes / the host (default:
    # ipykernel).
    ip.set_defaults(argv=[])


def run(args: argparse.Namespace, out: Out) -> int:
    if args.action == "list":
        return _list(out)
    if args.action == "install":
        return _install(args, out)
    return _switch(args.action, args.name, out)


def _provisioner(action: str) -> ModuleType:
    """The kcf_provisioner module, or a one-line error saying how to install it."""
    try:
        return importlib.import_module(_PROVISIONER_MODULE)
    except ImportError as exc:
        raise CliError(
            f"'kcf kernelspec {action}' needs {_PROVISIONER_DIST}, which is not installed "
            f"({exc}); install it: pip install {_PROVISIONER_DIST} (from kcf's source: "
            f"pip install packages/{_PROVISIONER_DIST})",
            NOT_FOUND,
        ) from None


def _install_ssh(args: argparse.Namespace, out: Out) -> int:
    provisioner = _provisioner("install --ssh")
    config: dict[str, object] = {
        "grace": args.grace,
        "backend": args.ssh_backend,
        "accept_new": args.accept_new,
    }
    for key, value in (
        ("ssh_config", args.ssh_config),
        ("known_hosts", args.known_hosts),
        ("identity_file", args.ssh_identity),
    ):
        if value is not None:
            config[key] = os.path.abspath(os.path.expanduser(value))
    try:
        path = provisioner.install_ssh_kernelspec(
            args.name,
            args.ssh,
            remote_python=args.remote_python,
            argv=args.argv or None,
            remote_kernelspec=args.remote_kernelspec,
            display_name=args.display_name,
            config=config,
            kernels_dir=args.kernels_dir,
            replace=args.replace,
        )
    except FileExistsError as exc:
        raise CliError(f"{exc}: pass --replace", USAGE) from None
    out.emit(
        {"name": args.name, "kernel_json": str(path), "action": "install", "host": args.ssh},
        f"{args.name}: installed, its kernels run on {args.ssh} ({path})",
    )
    return OK


def _install(args: argparse.Namespace, out: Out) -> int:
    if args.ssh is not None:
        return _install_ssh(args, out)
    if args.remote_kernelspec is not None:
        raise CliError("kernelspec install: --remote-kernelspec is for --ssh", USAGE)
    from kcf_client.slurm import install_slurm_kernelspec

    try:
        path = install_slurm_kernelspec(
            args.name,
            slurm_args=args.slurm_arg,
            argv=args.argv or None,
            python=args.slurm_python,
            display_name=args.display_name,
            use_srun=args.slurm_srun,
            registration_ip=args.slurm_registration_ip,
            start_timeout=args.slurm_timeout,
            grace=args.slurm_grace,
            kernels_dir=args.kernels_dir,
            replace=args.replace,
        )
    except FileExistsError as exc:
        raise CliError(f"{exc}: pass --replace") from exc
    out.emit(
        {"name": args.name, "kernel_json": str(path), "action": "install"},
        f"{args.name}: installed, its kernels run in Slurm jobs ({path})",
    )
    return OK


def _row(name: str, path: str) -> _Row:
    from kcf_kernel import KernelSpecError, get_kernel_spec

    from ._strategy import choose

    try:
        spec = get_kernel_spec(name)
    except KernelSpecError as exc:
        return {
            "name": name,
            "path": path,
            "language": None,
            "display_name": None,
            "protocol_version": None,
            "provisioner": None,
            "strategy": None,
            "dialect": None,
            "why": None,
            "error": str(exc),
        }
    choice = choose(spec)
    prov = spec.metadata.get("kernel_provisioner")
    prov_name = prov.get("provisioner_name") if isinstance(prov, dict) else None
    return {
        "name": name,
        "path": path,
        "language": spec.language,
        "display_name": spec.display_name,
        "protocol_version": spec.kernel_protocol_version,
        "provisioner": prov_name if isinstance(prov_name, str) else None,
        "strategy": choice.strategy,
        "dialect": choice.dialect,
        "why": choice.why,
        "error": None,
    }


def _list(out: Out) -> int:
    from kcf_kernel import find_kernel_specs, kernel_spec_dirs

    rows = [_row(name, str(path)) for name, path in sorted(find_kernel_specs().items())]

    def text() -> str:
        if not rows:
            where = ", ".join(map(str, kernel_spec_dirs()))
            return f"no kernelspecs (looked in {where})"
        lines = [["NAME", "LANGUAGE", "PROTOCOL", "PROVISIONER", "PORTS", "WHY"]]
        for r in rows:
            if r["error"] is not None:
                lines.append([r["name"], "-", "-", "-", "invalid", r["error"]])
                continue
            ports = str(r["strategy"]) + (f" ({r['dialect']})" if r["dialect"] else "")
            lines.append(
                [
                    r["name"],
                    r["language"] or "-",
                    r["protocol_version"] or "-",
                    r["provisioner"] or "default",
                    ports,
                    str(r["why"]),
                ]
            )
        return table(lines)

    out.emit(rows, text)
    return OK


def _switch(action: str, name: str, out: Out) -> int:
    provisioner = _provisioner(action)
    if action == "use-kcf":
        path = provisioner.use_kcf_provisioner(name)
        what = "now starts with kcf's provisioner"
    else:
        path = provisioner.use_default_provisioner(name)
        what = "has its previous provisioner back"
    out.emit({"name": name, "kernel_json": str(path), "action": action}, f"{name}: {what} ({path})")
    return OK
