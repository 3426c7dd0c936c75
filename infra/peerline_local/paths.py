"""Where the project is, and free loopback ports for what it runs."""

from __future__ import annotations

import socket
from pathlib import Path


def project_root() -> Path:
    """The folder holding ``template.yaml`` (the repository root)."""
    for folder in [Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents]:
        if (folder / "template.yaml").is_file():
            return folder
    raise FileNotFoundError("template.yaml not found: run from the Peerline repository")


def free_port(preferred: int = 0) -> int:
    """``preferred`` if it is free on loopback (0 = any free port)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
