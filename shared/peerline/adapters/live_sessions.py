"""Closing a volunteer's dashboard sockets on AWS: API Gateway's ``DeleteConnection``, then the record is forgotten."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from peerline.adapters.push import DynamoConnections, management_client


class ApiGatewayLiveSessions:
    """``LiveSessions`` through the WebSocket API's management API (``DELETE /@connections/{id}``)."""

    def __init__(self, connections: DynamoConnections, callback_url: str, *, management: Any = None) -> None:
        self._connections = connections
        self._callback_url = callback_url
        self._management = management

    def close_all(self, volunteer_id: str) -> int:
        """Every open socket of the volunteer closed and its record deleted (no push can reach it afterwards).

        A socket already gone (410) only loses its record; any other failure raises, so the job is retried.
        """
        open_connections = self._connections.of_volunteer(volunteer_id)
        management = self._management or management_client(self._callback_url)
        for connection in open_connections:
            try:
                management.delete_connection(ConnectionId=connection.connection_id)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "GoneException" and _status(error) != 410:
                    raise
            # $disconnect forgets it too, but later and not if the socket was already gone: forget it now.
            self._connections.delete(connection.connection_id)
        return len(open_connections)


def _status(error: ClientError) -> int | None:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None
