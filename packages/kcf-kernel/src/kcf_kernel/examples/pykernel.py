"""A small Python kernel built only on kcf-spec and kcf-kernel.

It binds first (or does the JEP 66 handshake), echoes heartbeats outside the GIL, answers
``kernel_info_request``, ``execute_request`` (Python expressions and statements, with
``print`` output as a stream) and ``shutdown_request``, publishes ``status`` and ``stream``
on iopub, and removes the files it wrote when it exits or is sent SIGTERM.

Run::

    python -m kcf_kernel.examples.pykernel -f kernel.json        # bind-first
    python -m kcf_kernel.examples.pykernel --registration reg.json  # handshake
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import signal
import sys
import traceback
from typing import Any

import zmq
from kcf_spec import PROTOCOL_VERSION, Codec, Message, WireError

import kcf_kernel

LANGUAGE_INFO = {
    "name": "python",
    "version": sys.version.split()[0],
    "mimetype": "text/x-python",
    "file_extension": ".py",
}


def run_cell(code: str, namespace: dict[str, Any]) -> object:
    """Run a cell; like IPython, the value of its last statement if that is an expression
    (``print('hello'); 6*7`` gives 42), else ``None``."""
    tree = ast.parse(code, "<cell>", "exec")
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.Expr):
        tree.body.pop()
        exec(compile(tree, "<cell>", "exec"), namespace)
        expression = ast.Expression(last.value)
        return eval(compile(expression, "<cell>", "eval"), namespace)
    exec(compile(tree, "<cell>", "exec"), namespace)
    return None


class PyKernel:
    """The message loop: one thread, shell and control polled together."""

    def __init__(self, sockets: kcf_kernel.KernelSockets) -> None:
        self.sockets = sockets
        self.codec = Codec.from_connection(sockets.info)
        self.namespace: dict[str, Any] = {"__name__": "__main__"}
        self.execution_count = 0
        self.running = True

    def publish(self, msg_type: str, content: dict[str, Any], parent: Message | None) -> None:
        msg = self.codec.message(msg_type, content, parent=parent)
        self.sockets.iopub.send_multipart(self.codec.serialize(msg))

    def reply(
        self, sock: zmq.Socket[bytes], request: Message, msg_type: str, content: dict[str, Any]
    ) -> None:
        msg = self.codec.message(msg_type, content, parent=request, identities=request.identities)
        sock.send_multipart(self.codec.serialize(msg))

    def serve(self) -> None:
        poller = zmq.Poller()
        poller.register(self.sockets.shell, zmq.POLLIN)
        poller.register(self.sockets.control, zmq.POLLIN)
        self.publish("status", {"execution_state": "starting"}, None)
        while self.running:
            try:
                events = poller.poll(1000)
            except KeyboardInterrupt:  # an interrupt with nothing running: ignore it
                continue
            for sock, _ in events:
                frames = sock.recv_multipart()
                try:
                    request = self.codec.parse(frames)
                except WireError as exc:
                    print(f"pykernel: dropped a message: {exc}", file=sys.stderr)
                    continue
                self.handle(sock, request)

    def handle(self, sock: zmq.Socket[bytes], request: Message) -> None:
        msg_type = request.header.msg_type
        self.publish("status", {"execution_state": "busy"}, request)
        try:
            if msg_type == "kernel_info_request":
                self.reply(sock, request, "kernel_info_reply", self.kernel_info())
            elif msg_type == "execute_request":
                self.reply(sock, request, "execute_reply", self.execute(request))
            elif msg_type == "shutdown_request":
                restart = bool(request.content.get("restart", False))
                self.reply(sock, request, "shutdown_reply", {"status": "ok", "restart": restart})
                self.running = False
            elif msg_type.endswith("_request"):
                reply_type = msg_type[: -len("_request")] + "_reply"
                self.reply(
                    sock,
                    request,
                    reply_type,
                    {
                        "status": "error",
                        "ename": "NotImplemented",
                        "evalue": msg_type,
                        "traceback": [],
                    },
                )
        finally:
            self.publish("status", {"execution_state": "idle"}, request)

    def kernel_info(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "protocol_version": PROTOCOL_VERSION,
            "implementation": "kcf-pykernel",
            "implementation_version": kcf_kernel.__version__,
            "language_info": LANGUAGE_INFO,
            "banner": "kcf example Python kernel",
            "help_links": [],
        }

    def execute(self, request: Message) -> dict[str, Any]:
        code = str(request.content.get("code", ""))
        silent = bool(request.content.get("silent", False))
        if not silent:
            self.execution_count += 1
            self.publish(
                "execute_input", {"code": code, "execution_count": self.execution_count}, request
            )
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                result = run_cell(code, self.namespace)
        except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - user code: report all
            self._flush(out, request)
            tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
            error = {"ename": type(exc).__name__, "evalue": str(exc), "traceback": tb}
            self.publish("error", error, request)
            return {"status": "error", "execution_count": self.execution_count, **error}
        self._flush(out, request)
        if result is not None and not silent:
            self.publish(
                "execute_result",
                {
                    "execution_count": self.execution_count,
                    "data": {"text/plain": repr(result)},
                    "metadata": {},
                },
                request,
            )
        return {"status": "ok", "execution_count": self.execution_count, "user_expressions": {}}

    def _flush(self, out: io.StringIO, request: Message) -> None:
        text = out.getvalue()
        if text:
            self.publish("stream", {"name": "stdout", "text": text}, request)


def _is_registration(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "registration_port" in data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kcf_kernel.examples.pykernel")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("-f", "--connection-file", help="connection file (ports 0 = choose)")
    group.add_argument("--registration", help="JEP 66 registration file (handshake)")
    parser.add_argument(
        "--handshake-dialect",
        choices=["jupyter", "xeus", "kallichore"],
        help="report in this dialect (default: the registration file's; documented: jupyter)",
    )
    args = parser.parse_args(argv)

    # SIGTERM/SIGHUP wait until the handler knows the files: one that arrives while the
    # file is being written is delivered just after, and removes it (POSIX).
    held = {signal.SIGTERM, signal.SIGHUP} if hasattr(signal, "pthread_sigmask") else set()
    if held:
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        if args.registration or _is_registration(args.connection_file):
            sockets = kcf_kernel.handshake_kernel(
                args.registration or args.connection_file, dialect=args.handshake_dialect
            )
        else:
            sockets = kcf_kernel.bind_kernel(args.connection_file)
        kcf_kernel.cleanup_on_signals(sockets.remove_files)
    finally:
        if held:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
    with sockets:
        sockets.start_heartbeat()
        kernel = PyKernel(sockets)
        kernel.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
