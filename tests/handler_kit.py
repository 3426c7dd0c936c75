"""Helpers for tests that call the Lambda handlers in-process (importable from any test folder)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

from peerline_local import harness
from peerline_local.harness import FakeLambdaContext, drain, sqs_event  # noqa: F401 - one place for both

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"


def load_event(relative: str) -> dict[str, Any]:
    """A sample event from ``events/``."""
    event: dict[str, Any] = json.loads((EVENTS / relative).read_text())
    return event


def load_handler(function_folder: str) -> ModuleType:
    """Import ``functions/<folder>/handler.py`` under a unique module name (every function's module is `handler`)."""
    return harness.load_handler(ROOT / "functions" / function_folder)
