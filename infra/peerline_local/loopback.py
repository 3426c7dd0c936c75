"""Loopback servers that bind the port they serve on and report it.

Nothing here picks a free port, closes it and binds it later: another process (a second local line, a test run
beside ``make dev``) could take it in between. A server binds port 0 (the OS picks) or a preferred port, and falls
back to port 0 only when that one is in use; ``.port`` and ``.url`` then say what it got.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol, Self, TypeVar

log = logging.getLogger("peerline.local")

T = TypeVar("T")


def bind_preferring(bind: Callable[[int], T], preferred: int = 0) -> T:
    """``bind(preferred)``, or ``bind(0)`` when ``preferred`` is already in use (``make dev``'s fixed ports)."""
    try:
        return bind(preferred)
    except OSError as error:
        if preferred == 0 or error.errno != errno.EADDRINUSE:
            raise
        log.info("port %s is in use; serving on any free port instead", preferred)
        return bind(0)


class _Serving(Protocol):
    def serve_forever(self, poll_interval: float = ...) -> None: ...
    def shutdown(self) -> None: ...
    def server_close(self) -> None: ...

    @property
    def server_address(self) -> Any: ...


class LoopbackServer:
    """Start, stop, ``.port`` and ``.url`` for a socketserver-style server run in a daemon thread.

    A subclass says how to bind (``_bind(port)``); ``start`` binds (the preferred port, else any free one) and
    serves; ``stop`` can be called more than once.
    """

    thread_name = "loopback-server"
    scheme = "http"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: _Serving | None = None
        self._thread: threading.Thread | None = None

    def _bind(self, port: int) -> _Serving:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"the {self.thread_name} is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self._host}:{self.port}"

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._server = server = bind_preferring(self._bind, self._port)
        self._thread = threading.Thread(target=server.serve_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
