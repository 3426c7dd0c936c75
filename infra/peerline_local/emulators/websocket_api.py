"""A template's WebSocket API on loopback, and the management API its functions post to."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from peerline_local.emulators.endpoint import FunctionEndpoint
from peerline_local.emulators.events import websocket_event
from peerline_local.loopback import bind_preferring
from peerline_local.quiet_http import LocalThreadingHTTPServer

log = logging.getLogger("peerline.local")


# ---------------------------------------------------------------------------------------------------- WebSocket


def _new_connection_id() -> str:
    # API Gateway's look: 12 base64 characters and "=", nothing that needs quoting beyond "=".
    return base64.b64encode(os.urandom(11)).decode().replace("+", "A").replace("/", "B")


@dataclass
class _Socket:
    connection: ServerConnection
    connection_id: str
    connected_at_ms: int
    source_ip: str
    user_agent: str


class WebSocketApiEmulator:
    """A template's WebSocket API on loopback, and the management API its functions post to.

    - ``ws://127.0.0.1:PORT`` (``.url``): an upgrade invokes the ``$connect`` route's function with a real-shaped
      event and is refused with the function's status if that isn't 2xx; each message goes to the route the
      API's selection expression (``$request.body.<field>``) picks, else ``$default``; a close invokes
      ``$disconnect``.
    - ``http://127.0.0.1:PORT2/{stage}`` (``.callback_url``): ``POST /@connections/{id}`` sends the raw body to that
      socket (a text frame when it is UTF-8), ``GET`` describes it, ``DELETE`` closes it; an unknown or closed id
      answers 410 ``GoneException`` as API Gateway does.
    """

    def __init__(
        self,
        routes: dict[str, FunctionEndpoint],
        *,
        stage: str,
        api_id: str = "local",
        route_selection_expression: str = "$request.body.action",
        host: str = "127.0.0.1",
        port: int = 0,
        management_port: int = 0,
    ) -> None:
        self._routes = routes
        self._stage = stage
        self._api_id = api_id
        self._selection_field = route_selection_expression.removeprefix("$request.body.")
        self._host = host
        # Bound now, so that .url and .callback_url are known (and put in the functions' environment) before start.
        self._listener = bind_preferring(lambda chosen: socket.create_server((host, chosen)), port)
        self._port = int(self._listener.getsockname()[1])
        self._sockets: dict[str, _Socket] = {}
        self._admitted: dict[ServerConnection, tuple[str, int]] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._startup_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="websocket-api", daemon=True)
        self._management = bind_preferring(
            lambda chosen: LocalThreadingHTTPServer((host, chosen), self._management_handler()), management_port
        )
        self._management_thread = threading.Thread(
            target=self._management.serve_forever, name="websocket-management", daemon=True
        )

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"ws://{self._host}:{self._port}"

    @property
    def callback_url(self) -> str:
        return f"http://{self._host}:{self._management.server_address[1]}/{self._stage}"

    @property
    def connection_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._sockets)

    def start(self) -> None:
        self._management_thread.start()
        self._thread.start()
        self._ready.wait(10)
        if self._startup_error is not None:
            raise self._startup_error

    def stop(self) -> None:
        if self._stopping is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(timeout=10)
        if self._management_thread.is_alive():
            self._management.shutdown()
        self._management.server_close()
        self._listener.close()

    def route(self, routes: dict[str, FunctionEndpoint]) -> None:
        """Invoke these functions from now on (the local line binds the API before its functions start)."""
        self._routes = routes

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as error:
            self._startup_error = error
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        async with serve(self._session, sock=self._listener, process_request=self._admit):
            self._ready.set()
            await self._stopping.wait()

    # ------------------------------------------------------------------ the routes
    async def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        """$connect: the function decides whether the upgrade goes ahead."""
        connection_id = _new_connection_id()
        connected_at_ms = int(time.time() * 1000)
        query = urlsplit(request.path).query
        headers = dict(request.headers.raw_items())
        source_ip = str(connection.remote_address[0]) if connection.remote_address else "127.0.0.1"
        event = self._event(
            "$connect",
            connection_id,
            connected_at_ms,
            source_ip=source_ip,
            user_agent=request.headers.get("User-Agent", ""),
            headers={**headers, "X-Forwarded-For": source_ip, "X-Forwarded-Port": "443", "X-Forwarded-Proto": "https"},
            query=query,
        )
        status = await self._invoke_for_status("$connect", event)
        if not 200 <= status < 300:
            return connection.respond(status, "Unauthorized" if status == 401 else "Forbidden")
        self._admitted[connection] = (connection_id, connected_at_ms)
        return None

    async def _session(self, connection: ServerConnection) -> None:
        connection_id, connected_at_ms = self._admitted.pop(connection)
        request = connection.request
        socket = _Socket(
            connection=connection,
            connection_id=connection_id,
            connected_at_ms=connected_at_ms,
            source_ip=str(connection.remote_address[0]) if connection.remote_address else "127.0.0.1",
            user_agent=(request.headers.get("User-Agent", "") if request else ""),
        )
        with self._lock:
            self._sockets[connection_id] = socket
        try:
            async for message in connection:
                body = message if isinstance(message, str) else message.decode(errors="replace")
                route_key = self._route_for(body)
                if route_key is None:
                    continue
                event = self._event(route_key, connection_id, connected_at_ms, body=body)
                await self._invoke_for_status(route_key, event)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._sockets.pop(connection_id, None)
            event = self._event(
                "$disconnect",
                connection_id,
                connected_at_ms,
                headers={"Host": f"{self._host}:{self._port}", "X-Forwarded-For": socket.source_ip},
                disconnect_status_code=connection.close_code if connection.close_code is not None else 1006,
                disconnect_reason=connection.close_reason or "",
            )
            await self._invoke_for_status("$disconnect", event)

    def _route_for(self, body: str) -> str | None:
        """The route API Gateway's selection expression picks for a message, else ``$default`` (None: no route)."""
        with contextlib.suppress(ValueError):
            parsed = json.loads(body)
            selected = parsed.get(self._selection_field) if isinstance(parsed, dict) else None
            if isinstance(selected, str) and selected in self._routes and not selected.startswith("$"):
                return selected
        return "$default" if "$default" in self._routes else None

    def _event(self, route_key: str, connection_id: str, connected_at_ms: int, **details: Any) -> dict[str, Any]:
        return websocket_event(
            route_key=route_key,
            connection_id=connection_id,
            domain=f"{self._host}:{self._port}",
            stage=self._stage,
            api_id=self._api_id,
            connected_at_ms=connected_at_ms,
            **details,
        )

    async def _invoke_for_status(self, route_key: str, event: dict[str, Any]) -> int:
        """Invoke the route's function; its statusCode (a bare or empty answer counts as 200, an error as 500)."""
        function = self._routes.get(route_key)
        if function is None:
            return 200 if route_key == "$disconnect" else 403
        try:
            result = await asyncio.to_thread(function.invoke, event, 30)
        except Exception as error:
            log.warning("websocket route %s failed: %s", route_key, type(error).__name__)
            return 500
        if isinstance(result, dict) and "statusCode" in result:
            return int(result["statusCode"])
        return 200

    # ------------------------------------------------------------------ the management API
    def _send(self, connection_id: str, data: bytes) -> bool:
        with self._lock:
            socket = self._sockets.get(connection_id)
        if socket is None:
            return False
        try:
            text = data.decode()
        except UnicodeDecodeError:
            frame: str | bytes = data
        else:
            frame = text
        future = asyncio.run_coroutine_threadsafe(socket.connection.send(frame), self._loop)
        try:
            future.result(timeout=5)
        except Exception:
            return False
        return True

    def _close(self, connection_id: str) -> bool:
        with self._lock:
            socket = self._sockets.get(connection_id)
        if socket is None:
            return False
        asyncio.run_coroutine_threadsafe(socket.connection.close(1000, "closed by the line"), self._loop)
        return True

    def _describe(self, connection_id: str) -> dict[str, Any] | None:
        with self._lock:
            socket = self._sockets.get(connection_id)
        if socket is None:
            return None
        connected = datetime.fromtimestamp(socket.connected_at_ms / 1000, UTC).isoformat().replace("+00:00", "Z")
        return {
            "ConnectedAt": connected,
            "Identity": {"SourceIp": socket.source_ip, "UserAgent": socket.user_agent},
            "LastActiveAt": connected,
        }

    def _management_handler(self) -> type[BaseHTTPRequestHandler]:
        emulator = self
        path_pattern = re.compile(r"^(?:/(?P<stage>[^/@]+))?/@connections/(?P<id>[^/?]+)$")

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _connection_id(self) -> str | None:
                found = path_pattern.match(urlsplit(self.path).path)
                return unquote(found["id"]) if found else None

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                data = self.rfile.read(length) if length else b""
                connection_id = self._connection_id()
                if connection_id is None:
                    self._answer(404, {"message": "Not Found"})
                elif emulator._send(connection_id, data):
                    self._answer(200, None)
                else:
                    self._gone()

            def do_GET(self) -> None:
                connection_id = self._connection_id()
                described = emulator._describe(connection_id) if connection_id else None
                if described is None:
                    self._gone()
                else:
                    self._answer(200, described)

            def do_DELETE(self) -> None:
                connection_id = self._connection_id()
                if connection_id and emulator._close(connection_id):
                    self._answer(204, None)
                else:
                    self._gone()

            def _gone(self) -> None:
                self._answer(410, {"message": None}, error_type="GoneException")

            def _answer(self, status: int, payload: Any, error_type: str | None = None) -> None:
                body = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
