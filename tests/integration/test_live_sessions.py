"""Closing a volunteer's dashboard sockets (``ApiGatewayLiveSessions``) against moto's ConnectionsTable and the
local line's WebSocket API emulator: its real sockets closed through ``DELETE /@connections/{id}``, records of
sockets already gone forgotten, anyone else's left alone, and a failure that must be retried raised."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from peerline.adapters.live_sessions import ApiGatewayLiveSessions
from peerline.adapters.push import DynamoConnections
from peerline.push import LiveConnection
from peerline_local.emulators import WebSocketApiEmulator, wait_until


class Admit:
    """The ``$connect`` route: every upgrade goes ahead (who may connect is the dashboard socket's own test)."""

    def invoke(self, event: dict[str, Any], timeout: float = 120) -> Any:
        return {"statusCode": 200}


@pytest.fixture
def connections(stack: Any) -> DynamoConnections:
    return DynamoConnections(stack.physical_id("ConnectionsTable"), boto3.session.Session().client("dynamodb"))


@pytest.fixture
def socket_api() -> Iterator[WebSocketApiEmulator]:
    emulator = WebSocketApiEmulator({"$connect": Admit()}, stage="live")  # type: ignore[dict-item]
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


def _remember(connections: DynamoConnections, connection_id: str, volunteer_id: str, *, supervisor: bool) -> None:
    connections.put(
        LiveConnection(
            connection_id=connection_id,
            volunteer_id=volunteer_id,
            is_supervisor=supervisor,
            connected_at="2026-01-01T00:00:00Z",
            expires_at=int(time.time() + 3600),
        )
    )


def test_every_socket_of_the_volunteer_is_closed_and_forgotten_and_nobody_elses(
    connections: DynamoConnections, socket_api: WebSocketApiEmulator
) -> None:
    # given a supervisor with an open dashboard socket and a record of one already gone, and a colleague's socket
    with connect(socket_api.url, open_timeout=10) as open_socket:
        assert wait_until(lambda: len(socket_api.connection_ids) == 1, timeout=10)
        [open_id] = socket_api.connection_ids
        _remember(connections, open_id, "sub-leaving", supervisor=True)
        _remember(connections, "gone-1=", "sub-leaving", supervisor=True)
        _remember(connections, "colleague-1=", "sub-staying", supervisor=False)

        # when their sockets are closed
        closed = ApiGatewayLiveSessions(connections, socket_api.callback_url).close_all("sub-leaving")

        # then the open one was closed by the line, and both records are gone (no supervisor-wide push finds them)
        with pytest.raises(ConnectionClosed):
            open_socket.recv(timeout=10)
    assert closed == 2
    assert connections.of_volunteer("sub-leaving") == []
    assert "sub-leaving" not in {connection.volunteer_id for connection in connections.of_supervisors()}
    # and the colleague's connection is untouched
    assert connections.get("colleague-1=") is not None


def test_a_failure_other_than_gone_is_raised_so_the_job_is_retried(connections: DynamoConnections) -> None:
    # given a volunteer's connection, and a management API that is throttling
    _remember(connections, "throttled-1=", "sub-throttled", supervisor=False)

    class Throttling:
        def delete_connection(self, ConnectionId: str) -> None:
            raise ClientError({"Error": {"Code": "LimitExceededException"}}, "DeleteConnection")

    sessions = ApiGatewayLiveSessions(connections, "https://unused.example.org/live", management=Throttling())

    # when its sockets are closed, then the failure surfaces and the record stays for the retry
    with pytest.raises(ClientError):
        sessions.close_all("sub-throttled")
    assert connections.get("throttled-1=") is not None
