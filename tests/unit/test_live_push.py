"""What the dashboards are told after a change commits, and that telling them can never undo or fail the change."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

import pytest

from peerline.models import Consent, ConversationState, Role, TimerKind
from peerline.phone import texter_alias
from peerline.push import LiveChannel, LiveConnection, LiveEvent, SocketRefusedError
from peerline.routing import Router

from .fakes import START
from .routing_fakes import make_volunteer
from .world import REPLIES, RoutingWorld


class RecordingPush:
    def __init__(self) -> None:
        self.events: list[LiveEvent] = []

    def publish(self, events: Sequence[LiveEvent]) -> None:
        self.events += events

    def of_type(self, kind: str) -> list[LiveEvent]:
        return [event for event in self.events if event.payload["type"] == kind]


class BrokenPush:
    def publish(self, events: Sequence[LiveEvent]) -> None:
        raise ConnectionError("the management API is down")


@pytest.fixture
def push() -> RecordingPush:
    return RecordingPush()


@pytest.fixture
def world(push: RecordingPush) -> RoutingWorld:
    world = RoutingWorld()
    world.router = Router(
        world.repository, world.outbound, world.timers, REPLIES, world.settings, clock=world.clock, live=push
    )
    return world


def test_an_offer_is_pushed_to_the_offered_volunteer_only(world: RoutingWorld, push: RecordingPush) -> None:
    # given an available volunteer and a waiting texter
    world.volunteer("ana")
    world.waiting("c1")

    # when routing offers the conversation
    world.router.route_waiting()

    # then the volunteer hears of the offer, and supervisors of the state change
    [offer] = push.of_type("offer")
    assert offer.volunteer_ids == {"ana"} and not offer.supervisors
    assert offer.payload["conversation"]["id"] == "c1" and offer.payload["conversation"]["status"] == "offered"
    [change] = push.of_type("conversation")
    assert change.supervisors and "ana" in change.volunteer_ids


def test_a_reply_is_pushed_as_a_message_to_the_holder_and_supervisors(world: RoutingWorld, push: RecordingPush) -> None:
    # given an active conversation
    world.volunteer("ana")
    world.waiting("c1")
    world.active("c1", "ana")
    push.events.clear()

    # when the volunteer replies
    message = world.router.send_reply("ana", "c1", "I'm here")

    # then one message event goes out, with the message as the API lists it, and no state event
    [event] = push.events
    assert event.payload == {
        "type": "message",
        "conversation_id": "c1",
        "message": {
            "id": message.message_id,
            "direction": "outbound",
            "body": "I'm here",
            "at": event.payload["message"]["at"],
            "purpose": None,
            "volunteer_id": "ana",
        },
    }
    assert event.volunteer_ids == {"ana"} and event.supervisors


def test_an_expired_offer_tells_the_volunteer_who_lost_it(world: RoutingWorld, push: RecordingPush) -> None:
    # given an offer to the only available volunteer
    world.volunteer("ana")
    world.waiting("c1")
    world.offered("c1", "ana")
    push.events.clear()

    # when its timer fires
    world.clock.advance(world.settings.offer_timeout_seconds + 1)
    assert world.router.expire_offer(world.offer_timers("c1")[0])

    # then the volunteer who held it is told it is waiting again
    [event] = push.of_type("conversation")
    assert event.payload["conversation"]["status"] == "waiting"
    assert "ana" in event.volunteer_ids


def test_a_push_failure_never_fails_the_change(world: RoutingWorld) -> None:
    # given a router whose live channel is broken
    world.router = Router(
        world.repository, world.outbound, world.timers, REPLIES, world.settings, clock=world.clock, live=BrokenPush()
    )
    world.volunteer("ana")
    world.waiting("c1")

    # when it offers, and the volunteer accepts
    world.router.route_waiting()
    world.router.accept("ana", "c1")

    # then both changes stand
    assert world.conversation("c1").state is ConversationState.ACTIVE


def test_no_event_carries_a_phone_number(world: RoutingWorld, push: RecordingPush) -> None:
    # given a whole conversation: offered, accepted, a reply, closed
    world.volunteer("ana")
    world.waiting("c1")
    world.active("c1", "ana")
    world.router.send_reply("ana", "c1", "hello")
    world.router.close(world.record("ana"), "c1", outcome="supported", tags=[])

    # then nothing pushed looks like a number, and the close reached the holder
    pushed = json.dumps([event.payload for event in push.events])
    assert "kms:" not in pushed and "+1555" not in pushed
    assert push.of_type("conversation")[-1].payload["conversation"]["status"] == "closed"
    assert "ana" in push.of_type("conversation")[-1].volunteer_ids


@pytest.mark.parametrize("consent", [Consent.GIVEN, Consent.REFUSED, Consent.UNKNOWN])
@pytest.mark.parametrize(("how", "reason"), [("wrap-up", "wrap_up"), ("inactivity", "inactivity")])
def test_a_close_tells_the_holder_which_texter_and_why_whatever_the_consent(
    world: RoutingWorld, push: RecordingPush, consent: Consent, how: str, reason: str
) -> None:
    # given an active conversation (with or without consent to keep anything about it)
    world.volunteer("ana")
    world.waiting("c1", consent=consent)
    active = world.active("c1", "ana")
    alias = texter_alias(active.texter_id)

    # when it is closed
    if how == "wrap-up":
        world.router.close(world.record("ana"), "c1", outcome="supported", tags=[])
    else:
        world.clock.advance(world.settings.inactivity_close_minutes * 60)
        [timer] = world.timers.of_kind(TimerKind.INACTIVITY)
        assert world.router.close_if_inactive(timer)

    # then the holder is told, with the alias they knew it by and the reason (nothing kept is needed for that)
    closed = push.of_type("conversation")[-1].payload["conversation"]
    assert (closed["status"], closed["texter_alias"], closed["close_reason"]) == ("closed", alias, reason)


# ---------------------------------------------------------------- connecting
class MemoryConnections:
    def __init__(self) -> None:
        self.stored: dict[str, LiveConnection] = {}

    def put(self, connection: LiveConnection) -> None:
        self.stored[connection.connection_id] = connection

    def delete(self, connection_id: str) -> None:
        self.stored.pop(connection_id, None)


def _channel(connections: MemoryConnections, *, totp: bool = True, **volunteers: object) -> LiveChannel:
    known = {"token-ana": "sub-ana", "token-sol": "sub-sol", "token-ghost": "sub-ghost", "token-old": "sub-old"}
    registry = {
        "sub-ana": make_volunteer("sub-ana"),
        "sub-sol": make_volunteer("sub-sol", roles=[Role.VOLUNTEER, Role.SUPERVISOR]),
        "sub-old": make_volunteer("sub-old", active=False),
    }
    return LiveChannel(
        connections=connections, subject_of=known.get, volunteer=registry.get, has_totp=lambda _username: totp
    )


def test_an_active_volunteer_connects_and_is_remembered_for_a_few_hours() -> None:
    connections = MemoryConnections()
    connection = _channel(connections).connect("abc=", "token-sol", START)
    assert connections.stored["abc="] == connection
    assert connection.volunteer_id == "sub-sol" and connection.is_supervisor
    assert connection.expires_at == int((START + timedelta(hours=3)).timestamp())


@pytest.mark.parametrize(
    ("token", "status"), [(None, 401), ("", 401), ("forged", 401), ("token-ghost", 403), ("token-old", 403)]
)
def test_a_connection_is_refused_without_an_active_volunteers_token(token: str | None, status: int) -> None:
    connections = MemoryConnections()
    with pytest.raises(SocketRefusedError) as refused:
        _channel(connections).connect("abc=", token, START)
    assert refused.value.status == status
    assert connections.stored == {}


def test_a_supervisor_without_totp_hears_only_their_own_conversations() -> None:
    # given a supervisor whose two-step sign-in is not set up
    channel = _channel(MemoryConnections(), totp=False)

    # when their dashboard connects, then it is a volunteer's connection (not among the supervisors')
    assert channel.connect("abc=", "token-sol", START).is_supervisor is False
