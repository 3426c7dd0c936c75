"""Helpers for tests that call the Lambda handlers in-process (importable from any test folder)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"


def load_event(relative: str) -> dict[str, Any]:
    """A sample event from ``events/``."""
    event: dict[str, Any] = json.loads((EVENTS / relative).read_text())
    return event


_loaded_handlers: dict[str, ModuleType] = {}


def load_handler(function_folder: str) -> ModuleType:
    """Import ``functions/<folder>/handler.py`` under a unique module name (every function's module is `handler`)."""
    if function_folder not in _loaded_handlers:
        path = ROOT / "functions" / function_folder / "handler.py"
        spec = importlib.util.spec_from_file_location(f"handler_{function_folder}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        _loaded_handlers[function_folder] = module
    return _loaded_handlers[function_folder]


class FakeLambdaContext:
    function_name = "test-function"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
