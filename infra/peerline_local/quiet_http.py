"""The local line's HTTP servers: a client that goes away is one debug line, any other failure a masked traceback.

The standard library's servers print a full traceback to stderr for every exception a request raises, including a
browser closing a connection mid-response (a reload, a cancelled ``fetch``, a poll cut short), which fills the
``make dev`` log with ``ConnectionResetError`` noise that looks like a failure.
"""

from __future__ import annotations

import logging
import sys
import traceback
from http.server import HTTPServer, ThreadingHTTPServer
from typing import Any

from peerline.phone import mask_phone_numbers

log = logging.getLogger("peerline_local.http")

# Raised on the request's own socket when the client reset or closed it: nothing the server did wrong.
BENIGN_DISCONNECTS: tuple[type[OSError], ...] = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


def is_benign_disconnect(error: BaseException | None) -> bool:
    """True when ``error`` only says the client went away."""
    return isinstance(error, BENIGN_DISCONNECTS)


class _QuietDisconnects:
    """``handle_error`` for socketserver servers (called inside the ``except`` block of the failed request)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        client = ":".join(str(part) for part in client_address[:2]) if client_address else "?"
        if is_benign_disconnect(error):
            log.debug("client %s went away (%s)", client, type(error).__name__)
            return
        # Through logging (and masked: a traceback may quote a number) rather than straight to stderr.
        log.error("request from %s failed:\n%s", client, mask_phone_numbers(traceback.format_exc()))


class LocalHTTPServer(_QuietDisconnects, HTTPServer):
    """``HTTPServer`` (one request at a time) that does not print tracebacks for clients that went away."""


class LocalThreadingHTTPServer(_QuietDisconnects, ThreadingHTTPServer):
    """``ThreadingHTTPServer`` that does not print tracebacks for clients that went away."""

    daemon_threads = True
