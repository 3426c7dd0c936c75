"""The dashboard socket in-process against moto (resources from template.yaml): $connect checks the Cognito token
with Cognito itself, connections are stored and forgotten, and a push to a connection that is gone forgets it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import boto3
import pytest

from peerline.adapters.push import ApiGatewayLivePush, DynamoConnections
from peerline.adapters.volunteers import DynamoVolunteerRegistry
from peerline.models import ConversationRecord, ConversationState
from peerline.push import LiveConnection, conversation_event
from peerline_local.cognito_totp import set_up_totp
from peerline_local.emulators import WebSocketApiEmulator, websocket_event
from peerline_ops.volunteers import VolunteerAdmin

PASSWORD = "Socket-Tests-Pass-1"


@pytest.fixture(scope="module")
def people(stack: Any) -> dict[str, str]:
    """Cognito users of the stack's pool: two registered volunteers (one a supervisor), one deactivated, and one
    who is in the pool but not in the registry. Returns their access tokens by name."""
    session = boto3.session.Session(region_name="us-east-1")
    cognito = session.client("cognito-idp")
    pool = stack.physical_id("VolunteerUserPool")
    registry = DynamoVolunteerRegistry(stack.physical_id("VolunteersTable"), session.client("dynamodb"))
    admin = VolunteerAdmin(cognito, pool, registry)
    certified = date.today() + timedelta(days=365)
    admin.add("sock.vol", "sock.vol@example.org", "Vol", ["en"], certified, password=PASSWORD)
    admin.add(
        "sock.sup",
        "sock.sup@example.org",
        "Sup",
        ["en"],
        certified,
        roles=["volunteer", "supervisor"],
        password=PASSWORD,
    )
    admin.add("sock.gone", "sock.gone@example.org", "Gone", ["en"], certified, password=PASSWORD)
    cognito.admin_create_user(UserPoolId=pool, Username="sock.stranger", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool, Username="sock.stranger", Password=PASSWORD, Permanent=True)
    tokens = {
        username: cognito.initiate_auth(
            ClientId=stack.physical_id("DashboardUserPoolClient"),
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]["AccessToken"]
        for username in ("sock.vol", "sock.sup", "sock.gone", "sock.stranger")
    }
    # Supervisors hear every conversation only with TOTP on (the tokens above stay valid).
    set_up_totp(cognito, stack.physical_id("DashboardUserPoolClient"), "sock.sup", PASSWORD)
    gone = next(volunteer for volunteer in registry.all() if volunteer.username == "sock.gone")
    registry.replace(gone.model_copy(update={"active": False}), gone.version)
    return tokens


@pytest.fixture
def connections(stack: Any) -> DynamoConnections:
    return DynamoConnections(stack.physical_id("ConnectionsTable"), boto3.session.Session().client("dynamodb"))


@pytest.fixture
def socket(as_function: Callable[..., Any], lambda_context: Any, people: dict[str, str]) -> Iterator[Any]:
    def call(route_key: str, connection_id: str, *, query: str = "", body: str | None = None) -> dict[str, Any]:
        event = websocket_event(
            route_key=route_key,
            connection_id=connection_id,
            domain="abc123.execute-api.us-east-1.amazonaws.com",
            stage="live",
            api_id="abc123",
            connected_at_ms=int(time.time() * 1000),
            headers={"Host": "abc123.execute-api.us-east-1.amazonaws.com"},
            query=query,
            body=body,
        )
        result: dict[str, Any] = handler.lambda_handler(event, lambda_context)
        return result

    with as_function("DashboardSocketFunction") as handler:
        yield call


def test_a_volunteer_with_a_valid_token_is_connected_and_remembered(
    socket: Any, people: dict[str, str], connections: DynamoConnections
) -> None:
    # when a supervisor's dashboard connects with their access token
    answer = socket("$connect", "conn-sup-1=", query=f"token={people['sock.sup']}")

    # then the upgrade goes ahead and the connection is stored for a few hours, as a supervisor's
    assert answer["statusCode"] == 200
    stored = connections.get("conn-sup-1=")
    assert stored is not None and stored.is_supervisor
    assert 2 * 3600 < stored.expires_at - time.time() <= 3 * 3600 + 5
    assert "conn-sup-1=" in {c.connection_id for c in connections.of_volunteer(stored.volunteer_id)}
    assert "conn-sup-1=" in {c.connection_id for c in connections.of_supervisors()}


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 401),
        ("token=", 401),
        ("token=not-a-token", 401),
        ("token=eyJhbGciOiJSUzI1NiJ9.eyJ0b2tlbl91c2UiOiJhY2Nlc3MifQ.c2ln", 401),
        ("person=sock.stranger", 403),
        ("person=sock.gone", 403),
    ],
)
def test_a_connection_without_an_active_volunteers_token_is_refused(
    socket: Any, people: dict[str, str], connections: DynamoConnections, query: str, status: int
) -> None:
    # given a query string with no token, a forged one, or the token of someone who is no (active) volunteer
    if query.startswith("person="):
        query = f"token={people[query.removeprefix('person=')]}"

    # when the dashboard connects
    answer = socket("$connect", "conn-refused=", query=query)

    # then the upgrade is refused and nothing is stored
    assert answer["statusCode"] == status
    assert connections.get("conn-refused=") is None


def test_a_tampered_token_is_refused_by_cognito(socket: Any, people: dict[str, str]) -> None:
    token = people["sock.vol"]
    assert socket("$connect", "conn-tampered=", query=f"token={token[:-4]}AAAA")["statusCode"] == 401


def test_disconnect_forgets_the_connection_and_pings_are_answered(
    socket: Any, people: dict[str, str], connections: DynamoConnections
) -> None:
    # given a connected volunteer
    assert socket("$connect", "conn-vol-1=", query=f"token={people['sock.vol']}")["statusCode"] == 200

    # when the dashboard pings, then disconnects
    assert socket("$default", "conn-vol-1=", body='{"action":"ping"}')["statusCode"] == 200
    assert socket("$disconnect", "conn-vol-1=")["statusCode"] == 200

    # then the connection is forgotten
    assert connections.get("conn-vol-1=") is None


def test_a_push_to_a_connection_that_is_gone_forgets_it_and_goes_on(connections: DynamoConnections) -> None:
    # given two stored connections of one volunteer, neither open any more, and a management API that answers
    # 410 Gone for them as API Gateway does (moto's accepts any id)
    now = time.time()
    for connection_id in ("stale-1=", "stale-2="):
        connections.put(
            LiveConnection(
                connection_id=connection_id,
                volunteer_id="sub-stale",
                is_supervisor=False,
                connected_at="2026-01-01T00:00:00Z",
                expires_at=int(now + 3600),
            )
        )
    management = WebSocketApiEmulator({}, stage="live")
    management.start()
    try:
        push = ApiGatewayLivePush(connections, management.callback_url)
        conversation = ConversationRecord.model_validate(
            {
                "conversation_id": "c-stale",
                "texter_id": "t-stale",
                "state": ConversationState.ACTIVE,
                "volunteer_id": "sub-stale",
                "language": "en",
                "created_at": "2026-01-01T00:00:00Z",
                "expires_at": int(now + 3600),
            }
        )

        # when an event is pushed to that volunteer
        push.publish([conversation_event(conversation)])
    finally:
        management.stop()

    # then both records are gone, and publishing raised nothing
    assert connections.get("stale-1=") is None and connections.get("stale-2=") is None
