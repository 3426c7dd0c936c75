"""Where the project is (servers bind their own ports: see ``peerline_local.loopback``)."""

from __future__ import annotations

from pathlib import Path


def project_root() -> Path:
    """The folder holding ``template.yaml`` (the repository root)."""
    for folder in [Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents]:
        if (folder / "template.yaml").is_file():
            return folder
    raise FileNotFoundError("template.yaml not found: run from the Peerline repository")

