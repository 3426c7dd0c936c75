"""Serves the volunteer dashboard (``dashboard/``) on the local line, with its runtime config at ``/config.json``.

Static files only: known content types, no directory listings, nothing outside the root (``..``, encoded
separators, symlinks out and dot files are refused). ``GET /config.json`` answers the runtime config the page
reads at start — the same shape the deployed stack serves from its API behind CloudFront::

    {"apiUrl", "socketUrl", "region", "userPoolId", "userPoolClientId", "cognitoEndpoint"}
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from peerline_local.loopback import LoopbackServer
from peerline_local.quiet_http import LocalThreadingHTTPServer

CONFIG_KEYS = ("apiUrl", "socketUrl", "region", "userPoolId", "userPoolClientId", "cognitoEndpoint")
# Lists: the wrap-up's choices (the template's SessionOutcomes and SessionTags).
CONFIG_LIST_KEYS = ("sessionOutcomes", "sessionTags")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
    ".woff2": "font/woff2",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
}


def aws_cognito_endpoint(region: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/"


def dashboard_config(
    *,
    api_url: str,
    region: str,
    user_pool_id: str,
    user_pool_client_id: str,
    socket_url: str = "",
    aws_endpoint_url: str = "",
    session_outcomes: Sequence[str] = (),
    session_tags: Sequence[str] = (),
) -> dict[str, Any]:
    """The runtime config from the local line's values (``.peerline/local.json`` names them the same way).

    ``aws_endpoint_url`` is moto's endpoint locally; empty means real AWS, whose Cognito endpoint is regional.
    """
    return {
        "apiUrl": api_url.rstrip("/"),
        "socketUrl": socket_url,
        "region": region,
        "userPoolId": user_pool_id,
        "userPoolClientId": user_pool_client_id,
        "cognitoEndpoint": aws_endpoint_url or aws_cognito_endpoint(region),
        "sessionOutcomes": list(session_outcomes),
        "sessionTags": list(session_tags),
    }


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class DashboardServer(LoopbackServer):
    """``DashboardServer(root, config).start()`` → serving at ``.url`` until ``.stop()``.

    ``config`` is read on every request, so a caller may fill in a value later (e.g. ``socketUrl``).
    """

    thread_name = "peerline-dashboard"

    def __init__(self, root: Path, config: Mapping[str, Any], host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.root = Path(root).resolve()
        if not (self.root / "index.html").is_file():
            raise FileNotFoundError(f"no dashboard at {self.root} (index.html missing)")
        self.config = config

    def runtime_config(self) -> dict[str, Any]:
        config: dict[str, Any] = self._text_config()
        config.update({key: [str(item) for item in self.config.get(key) or ()] for key in CONFIG_LIST_KEYS})
        return config

    def _text_config(self) -> dict[str, str]:
        config = {key: str(self.config.get(key) or "") for key in CONFIG_KEYS}
        if not config["cognitoEndpoint"] and config["region"]:
            config["cognitoEndpoint"] = aws_cognito_endpoint(config["region"])
        return config

    def content_security_policy(self) -> str:
        config = self._text_config()
        connect = ["'self'"]
        for key in ("apiUrl", "cognitoEndpoint", "socketUrl"):
            origin = _origin(config[key])
            if origin and origin not in connect:
                connect.append(origin)
        return (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src {' '.join(connect)}; media-src 'self' data:; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'; form-action 'self'"
        )

    def _bind(self, port: int) -> LocalThreadingHTTPServer:
        return LocalThreadingHTTPServer((self._host, port), _handler_for(self))

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def resolve(self, raw_path: str) -> Path | None:
        """The file a request path names inside the root, or None (missing, hidden, outside, a directory)."""
        path = unquote(urlsplit(raw_path).path)
        if "\\" in path or "\x00" in path or not path.startswith("/"):
            return None
        parts = path.split("/")
        if any(part in ("..", ".") or part.startswith(".") for part in parts if part):
            return None
        normal = posixpath.normpath(path).lstrip("/")
        candidate = (self.root / normal) if normal not in ("", ".") else self.root
        if path.endswith("/") or candidate == self.root:
            candidate = candidate / "index.html"
        try:
            resolved = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not resolved.is_relative_to(self.root) or not resolved.is_file():
            return None
        if resolved.suffix.lower() not in CONTENT_TYPES:
            return None
        return resolved


def _handler_for(site: DashboardServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def version_string(self) -> str:
            return "PeerlineDashboard"

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the local line prints its own summary

        def do_GET(self) -> None:
            self._serve(send_body=True)

        def do_HEAD(self) -> None:
            self._serve(send_body=False)

        def _refuse(self) -> None:
            self._reply(
                HTTPStatus.METHOD_NOT_ALLOWED,
                b"method not allowed\n",
                "text/plain; charset=utf-8",
                True,
                extra={"Allow": "GET, HEAD"},
            )

        do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

        def _serve(self, *, send_body: bool) -> None:
            route = urlsplit(self.path).path
            if route == "/config.json":
                body = json.dumps(site.runtime_config()).encode()
                self._reply(HTTPStatus.OK, body, "application/json", send_body)
                return
            file = site.resolve(self.path)
            if file is None:
                self._reply(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", send_body)
                return
            self._reply(HTTPStatus.OK, file.read_bytes(), CONTENT_TYPES[file.suffix.lower()], send_body)

        def _reply(
            self,
            status: HTTPStatus,
            body: bytes,
            content_type: str,
            send_body: bool,
            extra: Mapping[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("X-Frame-Options", "DENY")
            if content_type.startswith("text/html"):
                self.send_header("Content-Security-Policy", site.content_security_policy())
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if send_body:
                self.wfile.write(body)

    return Handler
