"""The dashboard's live channel on AWS: connections in DynamoDB, pushes through API Gateway's management API,
tokens checked by Cognito.

``post_to_connection`` on a connection that has gone away answers 410 Gone: that record is deleted. Any other
failure is logged and skipped — a push must never fail the change that caused it.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from peerline.adapters.aws import client
from peerline.adapters.dynamo import DynamoTable, from_item, to_item
from peerline.ports import utc_now
from peerline.push import LiveConnection, LiveEvent

logger = logging.getLogger(__name__)

SUPERVISORS = "supervisors"
# A dashboard waits for nobody: short timeouts, one retry, then the event is dropped (the dashboard re-lists).
_MANAGEMENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=3)


class DynamoConnections(DynamoTable):
    """Open dashboard connections, by connection id; a volunteer's through ``ByVolunteer``, supervisors' through
    the sparse ``ByAudience`` index. Indexes lag and TTL deletes late, so expired records are filtered on read."""

    def put(self, connection: LiveConnection) -> None:
        values = connection.model_dump(mode="json")
        if connection.is_supervisor:
            values["audience"] = SUPERVISORS
        self._client.put_item(TableName=self.table_name, Item=to_item(values))

    def delete(self, connection_id: str) -> None:
        self._client.delete_item(TableName=self.table_name, Key=to_item({"connection_id": connection_id}))

    def get(self, connection_id: str) -> LiveConnection | None:
        values = self._get_item({"connection_id": connection_id})
        return _connection(values) if values else None

    def of_volunteer(self, volunteer_id: str, now: datetime | None = None) -> list[LiveConnection]:
        return self._query("ByVolunteer", "volunteer_id", volunteer_id, now or utc_now())

    def of_supervisors(self, now: datetime | None = None) -> list[LiveConnection]:
        return self._query("ByAudience", "audience", SUPERVISORS, now or utc_now())

    def _query(self, index: str, attribute: str, value: str, now: datetime) -> list[LiveConnection]:
        connections: list[LiveConnection] = []
        for page in self._client.get_paginator("query").paginate(
            TableName=self.table_name,
            IndexName=index,
            KeyConditionExpression="#key = :value",
            ExpressionAttributeNames={"#key": attribute},
            ExpressionAttributeValues=to_item({":value": value}),
        ):
            connections += [_connection(from_item(item)) for item in page["Items"]]
        alive = now.timestamp()
        return [connection for connection in connections if connection.expires_at > alive]


def _connection(values: dict[str, Any]) -> LiveConnection:
    values.pop("audience", None)
    return LiveConnection.model_validate(values)


@cache
def management_client(callback_url: str) -> Any:
    """The management API of one WebSocket stage (``https://{api}.execute-api.{region}.amazonaws.com/{stage}``)."""
    return boto3.session.Session().client(
        "apigatewaymanagementapi", endpoint_url=callback_url, config=_MANAGEMENT_CONFIG
    )


class ApiGatewayLivePush:
    """``LivePush`` through API Gateway: each event to every open connection of its recipients, once each."""

    def __init__(
        self,
        connections: DynamoConnections,
        callback_url: str,
        *,
        management: Any = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._connections = connections
        self._callback_url = callback_url
        self._management = management
        self._clock = clock

    def publish(self, events: Sequence[LiveEvent]) -> None:
        now = self._clock()
        supervisors: list[LiveConnection] | None = None
        by_volunteer: dict[str, list[LiveConnection]] = {}
        gone: set[str] = set()
        for event in events:
            targets: dict[str, LiveConnection] = {}
            try:
                for volunteer_id in sorted(event.volunteer_ids):
                    if volunteer_id not in by_volunteer:
                        by_volunteer[volunteer_id] = self._connections.of_volunteer(volunteer_id, now)
                    targets.update((c.connection_id, c) for c in by_volunteer[volunteer_id])
                if event.supervisors:
                    if supervisors is None:
                        supervisors = self._connections.of_supervisors(now)
                    targets.update((c.connection_id, c) for c in supervisors)
            except (ClientError, BotoCoreError) as error:
                logger.warning("live push: cannot read connections (%s)", type(error).__name__)
                return
            data = json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False).encode()
            for connection_id in sorted(set(targets) - gone):
                if not self._post(connection_id, data):
                    gone.add(connection_id)

    def _post(self, connection_id: str, data: bytes) -> bool:
        """Post one event; False if the connection is gone (its record is then deleted)."""
        try:
            self._client().post_to_connection(ConnectionId=connection_id, Data=data)
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "GoneException" or _status(error) == 410:
                self._forget(connection_id)
                return False
            logger.warning("live push to a connection failed (%s)", error.response.get("Error", {}).get("Code"))
        except BotoCoreError as error:
            logger.warning("live push to a connection failed (%s)", type(error).__name__)
        return True

    def _forget(self, connection_id: str) -> None:
        try:
            self._connections.delete(connection_id)
            logger.info("live push: stale connection forgotten")
        except (ClientError, BotoCoreError) as error:
            logger.warning("live push: cannot forget a stale connection (%s)", type(error).__name__)

    def _client(self) -> Any:
        return self._management or management_client(self._callback_url)


def _status(error: ClientError) -> int | None:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


class CognitoTokenSubjects:
    """The ``sub`` of a Cognito access token, as Cognito itself judges the token (``GetUser``: signature, expiry,
    revocation), restricted to this line's user pool and app client."""

    def __init__(self, user_pool_id: str, client_id: str, cognito_client: Any = None) -> None:
        self._user_pool_id = user_pool_id
        self._client_id = client_id
        self._cognito = cognito_client

    def __call__(self, token: str) -> str | None:
        claims = _unverified_claims(token)
        # Cheap refusals first; the claims are trusted only once GetUser has accepted the token below.
        if claims is None or claims.get("token_use") != "access":
            return None
        if not str(claims.get("iss", "")).endswith(f"/{self._user_pool_id}") or claims.get("client_id") not in (
            None,
            self._client_id,
        ):
            return None
        try:
            user = (self._cognito or client("cognito-idp")).get_user(AccessToken=token)
        except ClientError as error:
            logger.info("dashboard token refused by cognito (%s)", error.response.get("Error", {}).get("Code"))
            return None
        attributes = {attribute["Name"]: attribute["Value"] for attribute in user.get("UserAttributes", [])}
        return attributes.get("sub")


def _unverified_claims(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None
