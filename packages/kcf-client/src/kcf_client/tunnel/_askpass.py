"""``SSH_ASKPASS`` helper run by ssh: asks the parent process over a Unix socket.

Run as a script (``python -I _askpass.py PROMPT``) by ssh; standard library only. The
parent's answer comes back over the socket named by ``KCF_ASKPASS_SOCKET`` (in a 0700
directory), never through argv or the environment. Reply ``+secret`` means answer,
anything else means the callback declined: exit 1 so ssh gives up this prompt.
"""

from __future__ import annotations

import os
import socket
import sys


def main(argv: list[str]) -> int:
    """Ask the parent for the answer to ``argv[1]``; print it for ssh."""
    path = os.environ.get("KCF_ASKPASS_SOCKET", "")
    prompt = argv[1] if len(argv) > 1 else ""
    if not path:
        return 1
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        s.sendall(prompt.encode("utf-8"))
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
    reply = b"".join(chunks)
    if not reply.startswith(b"+"):
        return 1
    sys.stdout.buffer.write(reply[1:] + b"\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
