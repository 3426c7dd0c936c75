"""Routing against in-memory fakes: ordering, eligibility, fairness, offers, pulls, transfer, relay, close, access."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta

import pytest

from peerline.api_models import MessageOut
from peerline.language import Language
from peerline.models import Consent, ConversationState, Role, TimerKind, VolunteerStatus
from peerline.risk import RiskLevel
from peerline.routing import (
    ConflictError,
    NotEligibleError,
    NotFoundError,
    Router,
    candidates_for,
    is_eligible,
    queue_order,
)

from .fakes import START
from .routing_fakes import make_volunteer, make_waiting
from .world import REPLIES, RoutingWorld

EARLIER = "2024-04-01T09:00:00+00:00"
LATER = "2024-04-20T09:00:00+00:00"


@pytest.fixture
def routing() -> RoutingWorld:
    return RoutingWorld()


def _ids(conversations: list) -> list[str]:
    return [conversation.conversation_id for conversation in conversations]


# ---------------------------------------------------------------- ordering
def test_waiting_conversations_are_ordered_by_priority() -> None:
    # given four conversations that started waiting at the same moment, one of each priority
    conversations = [make_waiting(priority.value, priority=priority) for priority in RiskLevel]

    # when they are put in queue order
    ordered = queue_order(conversations, START)

    # then the most urgent comes first
    assert _ids(ordered) == ["imminent", "high", "concern", "none"]


def test_equal_priorities_are_ordered_by_waiting_time() -> None:
    # given three conversations of the same priority, waiting for different times
    conversations = [
        make_waiting("recent", waiting_since=START - timedelta(seconds=10)),
        make_waiting("longest", waiting_since=START - timedelta(seconds=300)),
        make_waiting("middle", waiting_since=START - timedelta(seconds=60)),
    ]

    # when they are put in queue order
    ordered = queue_order(conversations, START)

    # then the one who waited longest comes first
    assert _ids(ordered) == ["longest", "middle", "recent"]


def test_a_short_wait_does_not_lift_a_lower_priority() -> None:
    # given a "none" waiting two minutes and a "concern" that just arrived
    conversations = [
        make_waiting("none-2min", waiting_since=START - timedelta(minutes=2)),
        make_waiting("concern-fresh", priority=RiskLevel.CONCERN),
    ]

    # when they are put in queue order
    ordered = queue_order(conversations, START)

    # then priority still wins
    assert _ids(ordered) == ["concern-fresh", "none-2min"]


def test_a_long_waiting_none_rises_above_a_fresh_concern() -> None:
    # given a "none" waiting for 15 minutes and a "concern" that just arrived
    conversations = [
        make_waiting("concern-fresh", priority=RiskLevel.CONCERN),
        make_waiting("none-15min", waiting_since=START - timedelta(minutes=15)),
    ]

    # when they are put in queue order
    ordered = queue_order(conversations, START)

    # then waiting has aged the "none" above the fresh "concern"
    assert _ids(ordered) == ["none-15min", "concern-fresh"]


@pytest.mark.parametrize("priority", [RiskLevel.NONE, RiskLevel.CONCERN, RiskLevel.HIGH])
def test_aging_never_lifts_anything_above_a_fresh_imminent(priority: RiskLevel) -> None:
    # given a lower priority that has waited ten hours and an "imminent" that just arrived
    conversations = [
        make_waiting("old", priority=priority, waiting_since=START - timedelta(hours=10)),
        make_waiting("imminent", priority=RiskLevel.IMMINENT),
    ]

    # when they are put in queue order
    ordered = queue_order(conversations, START)

    # then imminent risk always comes first
    assert _ids(ordered) == ["imminent", "old"]


# ---------------------------------------------------------------- eligibility
def test_an_eligible_volunteer_is_offered_a_waiting_conversation(routing: RoutingWorld) -> None:
    # given a volunteer whose certification runs until today, and a waiting texter
    routing.volunteer("ana", certified_until=START.date())
    routing.waiting("c1")

    # when waiting conversations are routed
    offers = routing.router.route_waiting()

    # then the volunteer is offered the conversation
    assert offers == [("c1", "ana")]


@pytest.mark.parametrize(
    ("volunteer_overrides", "conversation_overrides"),
    [
        pytest.param({"certified_until": START.date() - timedelta(days=1)}, {}, id="certification-expired"),
        pytest.param({"certified_until": None}, {}, id="never-certified"),
        pytest.param({"active": False}, {}, id="deactivated"),
        pytest.param({"status": VolunteerStatus.AWAY}, {}, id="away"),
        pytest.param({"status": VolunteerStatus.OFFLINE}, {}, id="offline"),
        pytest.param({"languages": [Language.SPANISH]}, {}, id="other-language"),
        pytest.param({"load": 2, "max_concurrent": 2}, {}, id="at-cap"),
        pytest.param({}, {"excluded_volunteers": ["ana"]}, id="excluded"),
    ],
)
def test_an_ineligible_volunteer_is_never_offered_a_conversation(
    routing: RoutingWorld, volunteer_overrides: dict, conversation_overrides: dict
) -> None:
    # given a volunteer who is not eligible for the only waiting conversation
    ana = routing.volunteer("ana", **volunteer_overrides)
    conversation = routing.waiting("c1", **conversation_overrides)

    # when waiting conversations are routed
    offers = routing.router.route_waiting()

    # then nothing is offered and the texter keeps waiting
    assert not is_eligible(ana, conversation, START.date())
    assert offers == []
    assert routing.conversation("c1").state is ConversationState.WAITING
    assert routing.offer_timers() == []


def test_a_spanish_speaker_is_offered_a_spanish_conversation(routing: RoutingWorld) -> None:
    # given an English-only and a bilingual volunteer, and a texter writing in Spanish
    routing.volunteer("ana", last_assigned_at="0")
    routing.volunteer("bea", languages=[Language.ENGLISH, Language.SPANISH], last_assigned_at=LATER)
    routing.waiting("c1", language=Language.SPANISH)

    # when waiting conversations are routed
    offers = routing.router.route_waiting()

    # then it goes to the one who speaks Spanish, even though the other was assigned less recently
    assert offers == [("c1", "bea")]


# ---------------------------------------------------------------- fairness
def test_candidates_are_the_least_recently_assigned_first() -> None:
    # given three eligible volunteers assigned at different times (one never)
    volunteers = [
        make_volunteer("later", last_assigned_at=LATER),
        make_volunteer("never"),
        make_volunteer("earlier", last_assigned_at=EARLIER),
    ]

    # when candidates for a conversation are listed
    candidates = candidates_for(make_waiting("c1"), volunteers, START)

    # then the one never assigned comes first, then the longest since their last assignment
    assert [volunteer.volunteer_id for volunteer in candidates] == ["never", "earlier", "later"]


def test_the_least_recently_assigned_volunteer_gets_the_offer(routing: RoutingWorld) -> None:
    # given two eligible volunteers, one assigned more recently than the other
    routing.volunteer("recent", last_assigned_at=LATER)
    routing.volunteer("rested", last_assigned_at=EARLIER)
    routing.waiting("c1")

    # when waiting conversations are routed
    offers = routing.router.route_waiting()

    # then the one who waited longest since their last assignment is offered it
    assert offers == [("c1", "rested")]


def test_accepting_sends_the_volunteer_to_the_back_of_the_line(routing: RoutingWorld) -> None:
    # given a volunteer who just accepted a conversation, and another who was last assigned earlier today
    routing.volunteer("ana", last_assigned_at="0")
    routing.volunteer("ben", last_assigned_at=EARLIER)
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    routing.waiting("c2")

    # when the next texter is routed
    offers = routing.router.route_waiting()

    # then the other volunteer gets it
    assert offers == [("c2", "ben")]
    assert routing.record("ana").last_assigned_at == START.isoformat()


# ---------------------------------------------------------------- push: offers
def test_a_waiting_conversation_is_offered_to_exactly_one_volunteer(routing: RoutingWorld) -> None:
    # given three eligible volunteers and one waiting texter
    for volunteer_id in ("ana", "ben", "cal"):
        routing.volunteer(volunteer_id)
    routing.waiting("c1")

    # when waiting conversations are routed (twice, as several triggers may do)
    routing.router.route_waiting()
    routing.router.route_waiting()

    # then one volunteer holds one offer, and only their load went up
    conversation = routing.conversation("c1")
    assert conversation.state is ConversationState.OFFERED
    assert conversation.volunteer_id == "ana"
    assert {v: routing.load(v) for v in ("ana", "ben", "cal")} == {"ana": 1, "ben": 0, "cal": 0}
    assert len(routing.offer_timers("c1")) == 1


def test_an_offer_expires_after_the_configured_time(routing: RoutingWorld) -> None:
    # given an eligible volunteer and a waiting texter
    routing.volunteer("ana")
    routing.waiting("c1")

    # when the conversation is offered
    routing.router.route_waiting()

    # then an offer-expiry timer for exactly this offer fires 45 s later
    conversation = routing.conversation("c1")
    [timer] = routing.offer_timers("c1")
    assert timer.kind is TimerKind.OFFER_EXPIRY
    assert timer.offer_id == conversation.offer_id is not None
    assert timer.volunteer_id == "ana"
    assert timer.fire_at == START + timedelta(seconds=45) == conversation.offer_expires_at


def test_the_most_urgent_conversation_is_offered_first(routing: RoutingWorld) -> None:
    # given one volunteer with room for one, and two texters of different priority
    routing.volunteer("ana", max_concurrent=1)
    routing.waiting("calm", waited_seconds=120)
    routing.waiting("urgent", priority=RiskLevel.HIGH)

    # when waiting conversations are routed
    offers = routing.router.route_waiting()

    # then the urgent one is offered and the other keeps waiting
    assert offers == [("urgent", "ana")]
    assert routing.conversation("calm").state is ConversationState.WAITING


# ---------------------------------------------------------------- accept
def test_accepting_an_offer_makes_the_conversation_active_with_the_volunteer(routing: RoutingWorld) -> None:
    # given a conversation offered to a volunteer
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.offered("c1", to="ana")

    # when they accept it
    routing.router.accept("ana", "c1")

    # then it is active with them, the offer is spent, and their load still counts it once
    conversation = routing.conversation("c1")
    assert conversation.state is ConversationState.ACTIVE
    assert conversation.volunteer_id == "ana"
    assert conversation.offer_id is None
    assert conversation.accepted_at == START
    assert routing.load("ana") == 1


def test_accepting_tells_the_texter_the_volunteers_display_name_and_never_their_id(routing: RoutingWorld) -> None:
    # given a conversation offered to a volunteer
    routing.volunteer("vol-7f3a", display_name="Robin")
    routing.waiting("c1")
    routing.offered("c1", to="vol-7f3a")

    # when they accept it
    routing.router.accept("vol-7f3a", "c1")

    # then the texter is told who joined, by display name only
    [joined] = [text for text in routing.outbound.texts if text.purpose == "joined"]
    assert joined.body == REPLIES.text("joined", Language.ENGLISH, name="Robin")
    assert joined.recipient_id == "t-c1"
    assert "vol-7f3a" not in joined.model_dump_json()
    assert "vol-7f3a@example.org" not in joined.model_dump_json()


def test_an_accepted_offer_cannot_be_accepted_again(routing: RoutingWorld) -> None:
    # given a conversation its volunteer has accepted
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")

    # when they accept it again (a double click, a retried request)
    # then it is a conflict and nothing changes
    with pytest.raises(ConflictError):
        routing.router.accept("ana", "c1")
    assert routing.load("ana") == 1
    assert [text.purpose for text in routing.outbound.texts].count("joined") == 1


def test_another_volunteer_cannot_accept_an_accepted_conversation(routing: RoutingWorld) -> None:
    # given a conversation accepted by one volunteer, and another volunteer
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    routing.volunteer("ben")

    # when the other volunteer tries to accept it
    # then, to them, it does not exist
    with pytest.raises(NotFoundError):
        routing.router.accept("ben", "c1")
    assert routing.conversation("c1").volunteer_id == "ana"
    assert routing.load("ben") == 0


# ---------------------------------------------------------------- decline
def test_a_declined_offer_goes_to_the_next_eligible_volunteer(routing: RoutingWorld) -> None:
    # given two eligible volunteers, and a conversation offered to the first
    routing.volunteer("ana")
    routing.volunteer("ben", last_assigned_at=EARLIER)
    routing.waiting("c1")
    routing.offered("c1", to="ana")

    # when the first declines
    routing.router.decline("ana", "c1")

    # then the other is offered it at once, with an expiry of their own
    conversation = routing.conversation("c1")
    assert (conversation.state, conversation.volunteer_id) == (ConversationState.OFFERED, "ben")
    assert [timer.volunteer_id for timer in routing.offer_timers("c1")] == ["ana", "ben"]


def test_a_declined_conversation_does_not_go_straight_back_to_the_decliner(routing: RoutingWorld) -> None:
    # given a volunteer who declined the only waiting (ordinary) conversation, and nobody else eligible
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.offered("c1", to="ana")
    routing.router.decline("ana", "c1")

    # when waiting conversations are routed again before the decline has lapsed
    routing.clock.advance(routing.settings.decline_lapse_seconds - 1)
    offers = routing.router.route_waiting()

    # then it is not pushed back to them yet (see test_routing_shift.py for when it is)
    assert offers == []
    assert routing.conversation("c1").state is ConversationState.WAITING


def test_a_declined_conversation_keeps_its_place_in_line(routing: RoutingWorld) -> None:
    # given a conversation that has waited 3 minutes and is declined
    routing.volunteer("ana")
    conversation = routing.waiting("c1", waited_seconds=180)
    routing.offered("c1", to="ana")

    # when it is declined
    routing.router.decline("ana", "c1")

    # then it has still waited since it first waited
    assert routing.conversation("c1").waiting_since == conversation.waiting_since


# ---------------------------------------------------------------- offer expiry and stale timers
def test_an_expired_offer_goes_to_the_next_volunteer(routing: RoutingWorld) -> None:
    # given two eligible volunteers, and a conversation offered to the first who does not answer
    routing.volunteer("ana")
    routing.volunteer("ben", last_assigned_at=EARLIER)
    routing.waiting("c1")
    routing.offered("c1", to="ana")
    [timer] = routing.offer_timers("c1")

    # when the offer's time runs out
    routing.clock.advance(45)
    expired = routing.router.expire_offer(timer)

    # then the other volunteer is offered it, and the first never gets it again
    conversation = routing.conversation("c1")
    assert expired is True
    assert (conversation.state, conversation.volunteer_id) == (ConversationState.OFFERED, "ben")
    assert "ana" in conversation.excluded_volunteers


def test_an_expiry_timer_for_an_accepted_offer_does_nothing(routing: RoutingWorld) -> None:
    # given an offer that was accepted before its timer fired
    routing.volunteer("ana")
    routing.volunteer("ben")
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    [timer] = routing.offer_timers("c1")
    before = routing.conversation("c1")

    # when the offer-expiry timer fires
    routing.clock.advance(45)
    expired = routing.router.expire_offer(timer)

    # then nothing changes
    assert expired is False
    assert routing.conversation("c1") == before
    assert (routing.load("ana"), routing.load("ben")) == (1, 0)


def test_an_expiry_timer_for_an_earlier_offer_does_nothing(routing: RoutingWorld) -> None:
    # given an offer declined and re-offered to someone else before the first offer's timer fired
    routing.volunteer("ana")
    routing.volunteer("ben", last_assigned_at=EARLIER)
    routing.waiting("c1")
    routing.offered("c1", to="ana")
    routing.router.decline("ana", "c1")
    first_timer = routing.offer_timers("c1")[0]
    before = routing.conversation("c1")

    # when the first offer's timer fires
    routing.clock.advance(45)
    expired = routing.router.expire_offer(first_timer)

    # then the current offer is untouched
    assert expired is False
    assert routing.conversation("c1") == before
    assert before.volunteer_id == "ben"


# ---------------------------------------------------------------- pull: take next
def test_take_next_claims_the_most_urgent_waiting_conversation(routing: RoutingWorld) -> None:
    # given several texters waiting (nobody available for push) and a volunteer who is away
    routing.volunteer("ana", status=VolunteerStatus.AWAY)
    routing.waiting("long-none", waited_seconds=300)
    routing.waiting("high", priority=RiskLevel.HIGH)
    routing.waiting("concern", priority=RiskLevel.CONCERN, waited_seconds=60)

    # when the volunteer takes the next one
    taken = routing.router.take_next("ana")

    # then they get the most urgent, active with them at once
    conversation = routing.conversation("high")
    assert taken.conversation_id == "high"
    assert (conversation.state, conversation.volunteer_id) == (ConversationState.ACTIVE, "ana")
    assert routing.load("ana") == 1
    assert "joined" in routing.outbound.purposes()


def test_take_next_skips_conversations_the_volunteer_may_not_take(routing: RoutingWorld) -> None:
    # given an urgent Spanish conversation, one the volunteer declined, and a calm one they can take
    routing.volunteer("ana", status=VolunteerStatus.AWAY)
    routing.waiting("spanish", priority=RiskLevel.IMMINENT, language=Language.SPANISH)
    routing.waiting("declined", priority=RiskLevel.HIGH, excluded_volunteers=["ana"])
    routing.waiting("calm")

    # when they take the next one
    taken = routing.router.take_next("ana")

    # then they get the one they are eligible for
    assert taken.conversation_id == "calm"


def test_take_next_at_the_cap_is_refused(routing: RoutingWorld) -> None:
    # given a volunteer already holding as many conversations as their cap
    routing.volunteer("ana", max_concurrent=1)
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    routing.waiting("c2")

    # when they try to take another
    # then they are refused, and the other texter is still waiting
    with pytest.raises(NotEligibleError):
        routing.router.take_next("ana")
    assert routing.conversation("c2").state is ConversationState.WAITING
    assert routing.load("ana") == 1


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"status": VolunteerStatus.OFFLINE}, id="offline"),
        pytest.param({"certified_until": None}, id="uncertified"),
        pytest.param({"active": False}, id="deactivated"),
    ],
)
def test_take_next_is_refused_to_who_may_not_take_conversations(routing: RoutingWorld, overrides: dict) -> None:
    # given a volunteer who may not take conversations now, and a waiting texter
    routing.volunteer("ana", **overrides)
    routing.waiting("c1")

    # when they try to take one
    # then they are refused
    with pytest.raises(NotEligibleError):
        routing.router.take_next("ana")
    assert routing.conversation("c1").state is ConversationState.WAITING


def test_take_next_with_nobody_waiting_finds_nothing(routing: RoutingWorld) -> None:
    # given a volunteer and an empty queue
    routing.volunteer("ana")

    # when they take the next one
    # then there is nothing to take
    with pytest.raises(NotFoundError):
        routing.router.take_next("ana")


# ---------------------------------------------------------------- availability
def test_going_offline_moves_pending_offers_on_at_once(routing: RoutingWorld) -> None:
    # given a conversation offered to a volunteer, and another eligible volunteer
    routing.volunteer("ana")
    routing.volunteer("ben", last_assigned_at=EARLIER)
    routing.waiting("c1")
    routing.offered("c1", to="ana")

    # when the first goes offline
    routing.router.set_availability("ana", VolunteerStatus.OFFLINE)

    # then the offer moves to the other without waiting for it to expire, and the first holds nothing
    conversation = routing.conversation("c1")
    assert (conversation.state, conversation.volunteer_id) == (ConversationState.OFFERED, "ben")
    assert routing.load("ana") == 0


def test_going_offline_flags_active_conversations_for_supervisors(routing: RoutingWorld) -> None:
    # given a volunteer with an active conversation
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")

    # when they go offline
    routing.router.set_availability("ana", VolunteerStatus.OFFLINE)

    # then the conversation stays with them but is flagged, and supervisors see it
    conversation = routing.conversation("c1")
    assert (conversation.state, conversation.volunteer_id) == (ConversationState.ACTIVE, "ana")
    assert conversation.needs_supervisor is True
    supervisor = routing.volunteer("sup", roles=[Role.SUPERVISOR], status=VolunteerStatus.OFFLINE)
    assert _ids(routing.router.visible_conversations(supervisor)) == ["c1"]


def test_becoming_available_offers_waiting_conversations(routing: RoutingWorld) -> None:
    # given a waiting texter and an offline volunteer
    routing.volunteer("ana", status=VolunteerStatus.OFFLINE)
    routing.waiting("c1")

    # when the volunteer becomes available
    routing.router.set_availability("ana", VolunteerStatus.AVAILABLE)

    # then they are offered the conversation
    assert routing.conversation("c1").volunteer_id == "ana"


def test_a_deactivated_volunteer_cannot_change_their_availability(routing: RoutingWorld) -> None:
    # given a deactivated volunteer
    routing.volunteer("ana", active=False, status=VolunteerStatus.OFFLINE)

    # when they try to become available
    # then they are refused and stay offline
    with pytest.raises(NotEligibleError):
        routing.router.set_availability("ana", VolunteerStatus.AVAILABLE)
    assert routing.record("ana").status is VolunteerStatus.OFFLINE


# ---------------------------------------------------------------- transfer
def test_transfer_to_the_queue_puts_the_conversation_back_in_its_place(routing: RoutingWorld) -> None:
    # given an active conversation that first waited 5 minutes ago, and nobody else available
    routing.volunteer("ana")
    original = routing.waiting("c1", waited_seconds=300)
    routing.active("c1", with_="ana")

    # when its volunteer transfers it to the queue
    routing.router.transfer(routing.record("ana"), "c1", "queue")

    # then it waits again, with its original place in line, and the volunteer holds nothing
    conversation = routing.conversation("c1")
    assert (conversation.state, conversation.volunteer_id) == (ConversationState.WAITING, None)
    assert conversation.waiting_since == original.waiting_since
    assert routing.load("ana") == 0


def test_a_conversation_transferred_to_the_queue_goes_to_someone_else(routing: RoutingWorld) -> None:
    # given an active conversation and another eligible volunteer
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    routing.volunteer("ben")

    # when it is transferred to the queue
    routing.router.transfer(routing.record("ana"), "c1", "queue")

    # then the other volunteer is offered it, never the one who transferred it away
    assert routing.conversation("c1").volunteer_id == "ben"
    with pytest.raises(NotFoundError):
        routing.router.take_next("ana")


def test_transfer_to_a_volunteer_offers_it_to_them(routing: RoutingWorld) -> None:
    # given an active conversation, and a colleague who is available
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    routing.volunteer("ben")

    # when it is transferred to the colleague
    routing.router.transfer(routing.record("ana"), "c1", "ben")

    # then the colleague holds an offer for it (with an expiry), and the load moved with it
    conversation = routing.conversation("c1")
    assert (conversation.state, conversation.volunteer_id) == (ConversationState.OFFERED, "ben")
    assert routing.offer_timers("c1")[-1].offer_id == conversation.offer_id
    assert (routing.load("ana"), routing.load("ben")) == (0, 1)


def test_a_conversation_transferred_away_never_comes_back_to_the_transferrer(routing: RoutingWorld) -> None:
    # given a conversation transferred to a colleague, with only the transferrer otherwise eligible
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    routing.volunteer("ben")
    routing.router.transfer(routing.record("ana"), "c1", "ben")

    # when the colleague declines
    routing.router.decline("ben", "c1")

    # then it waits for someone else, rather than going back to the transferrer
    conversation = routing.conversation("c1")
    assert conversation.state is ConversationState.WAITING
    assert {"ana", "ben"} <= set(conversation.excluded_volunteers)


def test_a_transfer_declined_by_its_target_keeps_the_original_place_in_line(routing: RoutingWorld) -> None:
    # given a conversation that first waited 10 minutes ago, transferred to a colleague
    routing.volunteer("ana")
    original = routing.waiting("c1", waited_seconds=600)
    routing.active("c1", with_="ana")
    routing.volunteer("ben")
    routing.clock.advance(300)
    routing.router.transfer(routing.record("ana"), "c1", "ben")

    # when the colleague declines and it goes back to the queue
    routing.router.decline("ben", "c1")

    # then it has still waited since it first waited, as a transfer to the queue would keep it
    assert routing.conversation("c1").waiting_since == original.waiting_since


def test_transfer_to_oneself_is_refused(routing: RoutingWorld) -> None:
    # given an active conversation
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")

    # when its volunteer transfers it to themselves
    # then there is no such volunteer to transfer to
    with pytest.raises(NotFoundError):
        routing.router.transfer(routing.record("ana"), "c1", "ana")
    assert routing.conversation("c1").state is ConversationState.ACTIVE


def test_transfer_to_an_ineligible_volunteer_is_refused(routing: RoutingWorld) -> None:
    # given an active conversation, and a colleague who is offline
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    routing.volunteer("ben", status=VolunteerStatus.OFFLINE)

    # when it is transferred to that colleague
    # then it is refused and stays where it was
    with pytest.raises(NotEligibleError):
        routing.router.transfer(routing.record("ana"), "c1", "ben")
    assert routing.conversation("c1").volunteer_id == "ana"
    assert (routing.load("ana"), routing.load("ben")) == (1, 0)


def test_transfer_clears_the_supervisor_flag(routing: RoutingWorld) -> None:
    # given a conversation flagged for supervisors because its volunteer went offline
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    routing.router.set_availability("ana", VolunteerStatus.OFFLINE)
    supervisor = routing.volunteer("sup", roles=[Role.SUPERVISOR], status=VolunteerStatus.OFFLINE)
    routing.volunteer("ben")

    # when a supervisor transfers it to an available volunteer
    routing.router.transfer(supervisor, "c1", "ben")

    # then the new volunteer is offered it, no longer flagged, and the offline volunteer holds nothing
    conversation = routing.conversation("c1")
    assert (conversation.volunteer_id, conversation.needs_supervisor) == ("ben", False)
    assert routing.load("ana") == 0


# ---------------------------------------------------------------- relay
def test_a_reply_is_stored_and_texted_to_the_texter(routing: RoutingWorld) -> None:
    # given an active conversation
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    routing.outbound.clear()

    # when the volunteer replies
    message = routing.router.send_reply("ana", "c1", "I'm here. Tell me more.")

    # then the reply is in the transcript and queued as a text to the texter's encrypted number
    transcript = routing.router.messages(routing.record("ana"), "c1")
    assert [m.body for m in transcript if m.direction == "outbound"] == ["I'm here. Tell me more."]
    assert message.direction == "outbound"
    # and it names its author, for whoever holds the conversation after a transfer
    assert MessageOut.of(message).volunteer_id == "ana"
    [text] = routing.outbound.texts
    assert (text.body, text.purpose, text.recipient_id, text.encrypted_to) == (
        "I'm here. Tell me more.",
        "relay",
        "t-c1",
        "kms:t-c1",
    )


def test_the_transcript_is_in_order(routing: RoutingWorld) -> None:
    # given an active conversation with a text from the texter, a reply, then another text
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    routing.clock.advance(5)
    routing.inbound("c1", "first")
    routing.clock.advance(5)
    routing.router.send_reply("ana", "c1", "second")
    routing.clock.advance(5)
    routing.inbound("c1", "third")

    # when the volunteer reads it
    messages = routing.router.messages(routing.record("ana"), "c1")

    # then it reads in the order it happened, starting with the line's own "you're now texting with" text
    assert [(m.body, m.direction) for m in messages] == [
        (REPLIES.text("joined", Language.ENGLISH, name="Peer Ana"), "automatic"),
        ("first", "inbound"),
        ("second", "outbound"),
        ("third", "inbound"),
    ]


def test_a_reply_to_an_offer_not_yet_accepted_is_a_conflict(routing: RoutingWorld) -> None:
    # given a conversation only offered to a volunteer
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.offered("c1", to="ana")

    # when they reply before accepting
    # then it is a conflict and nothing is sent
    with pytest.raises(ConflictError):
        routing.router.send_reply("ana", "c1", "hello?")
    assert routing.outbound.texts == []


# ---------------------------------------------------------------- close
def _closed_with_consent(routing: RoutingWorld, consent: Consent) -> None:
    routing.volunteer("ana")
    routing.waiting("c1", consent=consent)
    routing.active("c1", with_="ana")
    routing.inbound("c1", "I had a rough day")
    routing.router.send_reply("ana", "c1", "I'm listening")
    routing.clock.advance(600)
    routing.router.close(routing.record("ana"), "c1", outcome="de-escalated", tags=["loneliness", "school"])


def test_closing_with_consent_keeps_metadata_without_the_texter(routing: RoutingWorld) -> None:
    # given / when a conversation whose texter consented is closed with a wrap-up
    _closed_with_consent(routing, Consent.GIVEN)

    # then the wrap-up is kept, unlinked from the texter, with a retention TTL
    conversation = routing.conversation("c1")
    assert conversation.state is ConversationState.CLOSED
    assert (conversation.outcome, conversation.tags) == ("de-escalated", ["loneliness", "school"])
    assert conversation.texter_id == ""
    assert conversation.closed_at == routing.clock()
    assert conversation.expires_at == int((routing.clock() + timedelta(days=90)).timestamp())
    assert "t-c1" not in str(routing.repository.conversations["c1"])


@pytest.mark.parametrize("consent", [Consent.GIVEN, Consent.REFUSED, Consent.UNKNOWN])
def test_closing_deletes_the_message_bodies(routing: RoutingWorld, consent: Consent) -> None:
    # given / when a conversation with texts both ways is closed
    _closed_with_consent(routing, consent)

    # then no body remains
    assert routing.repository.messages_of("c1") == []
    assert "rough day" not in str(routing.repository.stored_records())


@pytest.mark.parametrize("consent", [Consent.REFUSED, Consent.UNKNOWN])
def test_closing_without_consent_deletes_the_conversation(routing: RoutingWorld, consent: Consent) -> None:
    # given / when a conversation whose texter did not consent is closed
    _closed_with_consent(routing, consent)

    # then the conversation itself is gone; only anonymous counters remain
    assert routing.repository.get_conversation("c1") is None
    assert routing.repository.counters == {f"conversations_closed#{START:%Y-%m-%d}": 1}


@pytest.mark.parametrize("consent", [Consent.GIVEN, Consent.REFUSED])
def test_closing_leaves_no_link_from_the_texter_to_the_conversation(routing: RoutingWorld, consent: Consent) -> None:
    # given / when a conversation is closed by its volunteer
    _closed_with_consent(routing, consent)

    # then the texter's record no longer points at it (with consent the metadata must be unlinked, without
    # consent nothing about it may remain)
    texter = routing.repository.get_texter("t-c1")
    assert texter is not None
    assert texter.open_conversation_id is None


def test_closing_texts_the_texter_a_goodbye(routing: RoutingWorld) -> None:
    # given / when a conversation is closed
    _closed_with_consent(routing, Consent.GIVEN)

    # then the texter gets the closing text, addressed to them although the record no longer names them
    [closing] = [text for text in routing.outbound.texts if text.purpose == "closed"]
    assert closing.body == REPLIES.text("closed", Language.ENGLISH)
    assert closing.recipient_id == "t-c1"


def test_closing_an_offer_not_yet_accepted_is_a_conflict(routing: RoutingWorld) -> None:
    # given a conversation only offered
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.offered("c1", to="ana")

    # when the volunteer tries to close it
    # then it is a conflict and the offer stands
    with pytest.raises(ConflictError):
        routing.router.close(routing.record("ana"), "c1", outcome="x", tags=[])
    assert routing.conversation("c1").state is ConversationState.OFFERED


# ---------------------------------------------------------------- load
def _release_by_decline(routing: RoutingWorld) -> None:
    routing.offered("c1", to="ana")
    routing.router.decline("ana", "c1")


def _release_by_expiry(routing: RoutingWorld) -> None:
    routing.offered("c1", to="ana")
    routing.clock.advance(45)
    assert routing.router.expire_offer(routing.offer_timers("c1")[0])


def _release_by_transfer_to_queue(routing: RoutingWorld) -> None:
    routing.active("c1", with_="ana")
    routing.router.transfer(routing.record("ana"), "c1", "queue")


def _release_by_transfer_to_colleague(routing: RoutingWorld) -> None:
    routing.active("c1", with_="ana")
    routing.volunteer("ben")
    routing.router.transfer(routing.record("ana"), "c1", "ben")


def _release_by_close(routing: RoutingWorld) -> None:
    routing.active("c1", with_="ana")
    routing.router.close(routing.record("ana"), "c1", outcome="ok", tags=[])


def _release_by_inactivity(routing: RoutingWorld) -> None:
    routing.active("c1", with_="ana")
    routing.clock.advance(30 * 60)
    assert routing.router.close_if_inactive(routing.timers.of_kind(TimerKind.INACTIVITY)[0])


@pytest.mark.parametrize(
    "release",
    [
        _release_by_decline,
        _release_by_expiry,
        _release_by_transfer_to_queue,
        _release_by_transfer_to_colleague,
        _release_by_close,
        _release_by_inactivity,
    ],
)
def test_the_volunteers_load_goes_back_down_when_they_let_go(
    routing: RoutingWorld, release: Callable[[RoutingWorld], None]
) -> None:
    # given a volunteer who took on a conversation
    routing.volunteer("ana")
    routing.waiting("c1")

    # when they let go of it, whichever way
    release(routing)

    # then their load is back to zero
    assert routing.load("ana") == 0


# ---------------------------------------------------------------- inactivity
def test_the_inactivity_timer_closes_a_quiet_conversation(routing: RoutingWorld) -> None:
    # given an active conversation where nothing happened for 30 minutes
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    [timer] = routing.timers.of_kind(TimerKind.INACTIVITY)
    routing.clock.advance(30 * 60)

    # when the inactivity timer fires
    closed = routing.router.close_if_inactive(timer)

    # then the conversation is closed for inactivity and the texter told so
    conversation = routing.conversation("c1")
    assert closed is True
    assert (conversation.state, conversation.close_reason) == (ConversationState.CLOSED, "inactivity")
    assert "closed_inactive" in routing.outbound.purposes()


def test_the_inactivity_close_tells_the_volunteer_without_naming_the_texter(routing: RoutingWorld) -> None:
    # given an active conversation where nothing happened for 30 minutes
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    [timer] = routing.timers.of_kind(TimerKind.INACTIVITY)
    routing.clock.advance(30 * 60)

    # when the inactivity timer closes it
    routing.router.close_if_inactive(timer)

    # then the volunteer has one notice of it, by alias, never by the texter's id
    [notice] = routing.record("ana").notices
    assert "30 minutes" in notice
    assert "t-c1" not in notice


def test_the_inactivity_timer_does_nothing_after_newer_activity(routing: RoutingWorld) -> None:
    # given an active conversation with a reply 20 minutes after it started
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    [first_timer] = routing.timers.of_kind(TimerKind.INACTIVITY)
    routing.clock.advance(20 * 60)
    routing.router.send_reply("ana", "c1", "still here")
    before = routing.conversation("c1")

    # when the first inactivity timer fires
    routing.clock.advance(10 * 60)
    closed = routing.router.close_if_inactive(first_timer)

    # then nothing changes
    assert closed is False
    assert routing.conversation("c1") == before
    assert "closed_inactive" not in routing.outbound.purposes()


# ---------------------------------------------------------------- who may do what
def _as_stranger(operation: str) -> Callable[[Router, RoutingWorld], object]:
    stranger = "eve"
    operations: dict[str, Callable[[Router, RoutingWorld], object]] = {
        "accept": lambda router, world: router.accept(stranger, "c1"),
        "decline": lambda router, world: router.decline(stranger, "c1"),
        "messages": lambda router, world: router.messages(world.record(stranger), "c1"),
        "send_reply": lambda router, world: router.send_reply(stranger, "c1", "hi"),
        "transfer_to_queue": lambda router, world: router.transfer(world.record(stranger), "c1", "queue"),
        "transfer_to_colleague": lambda router, world: router.transfer(world.record(stranger), "c1", "ben"),
        "close": lambda router, world: router.close(world.record(stranger), "c1", outcome="x", tags=[]),
    }
    return operations[operation]


OPERATIONS = ["accept", "decline", "messages", "send_reply", "transfer_to_queue", "transfer_to_colleague", "close"]


@pytest.mark.parametrize("held_as", [ConversationState.OFFERED, ConversationState.ACTIVE])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_volunteer_cannot_act_on_a_conversation_held_by_someone_else(
    routing: RoutingWorld, operation: str, held_as: ConversationState
) -> None:
    # given a conversation offered to or active with one volunteer, and another volunteer (and a colleague)
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.inbound("c1", "private words")
    if held_as is ConversationState.OFFERED:
        routing.offered("c1", to="ana")
    else:
        routing.active("c1", with_="ana")
    routing.volunteer("eve", status=VolunteerStatus.AWAY)
    routing.volunteer("ben", status=VolunteerStatus.AWAY)
    before = routing.conversation("c1")
    routing.outbound.clear()

    # when the other volunteer tries the operation
    # then, to them, the conversation does not exist, and nothing changed
    with pytest.raises(NotFoundError):
        _as_stranger(operation)(routing.router, routing)
    assert routing.conversation("c1") == before
    assert routing.outbound.texts == []
    assert routing.load("eve") == 0


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_volunteer_cannot_act_on_a_waiting_conversation_not_offered_to_them(
    routing: RoutingWorld, operation: str
) -> None:
    # given a conversation waiting (nobody available to offer it to) and a volunteer who is away
    routing.waiting("c1")
    routing.volunteer("eve", status=VolunteerStatus.AWAY)
    routing.volunteer("ben", status=VolunteerStatus.AWAY)

    # when the volunteer tries the operation
    # then, to them, the conversation does not exist
    with pytest.raises(NotFoundError):
        _as_stranger(operation)(routing.router, routing)
    assert routing.conversation("c1").state is ConversationState.WAITING


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_volunteer_acting_on_an_unknown_conversation_finds_nothing(routing: RoutingWorld, operation: str) -> None:
    # given a volunteer and no conversation c1
    routing.volunteer("eve", status=VolunteerStatus.AWAY)
    routing.volunteer("ben", status=VolunteerStatus.AWAY)

    # when they try the operation on it
    # then it does not exist
    with pytest.raises(NotFoundError):
        _as_stranger(operation)(routing.router, routing)


def test_a_volunteer_sees_only_their_own_conversations(routing: RoutingWorld) -> None:
    # given two volunteers each holding one conversation, and a third texter waiting
    routing.volunteer("ana", max_concurrent=1)
    routing.volunteer("ben", max_concurrent=1)
    routing.waiting("c1")
    routing.waiting("c2", waited_seconds=10)
    routing.router.route_waiting()
    routing.waiting("c3")

    # when each lists their conversations
    # then each sees exactly their own
    assert _ids(routing.router.visible_conversations(routing.record("ana"))) == ["c2"]
    assert _ids(routing.router.visible_conversations(routing.record("ben"))) == ["c1"]


def test_a_supervisor_sees_every_open_conversation(routing: RoutingWorld) -> None:
    # given one conversation active with a volunteer and one waiting
    routing.volunteer("ana", max_concurrent=1)
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    routing.waiting("c2")
    supervisor = routing.volunteer("sup", roles=[Role.SUPERVISOR], status=VolunteerStatus.OFFLINE)

    # when the supervisor lists conversations
    visible = routing.router.visible_conversations(supervisor)

    # then they see both
    assert sorted(_ids(visible)) == ["c1", "c2"]


def test_a_supervisor_may_read_another_volunteers_transcript(routing: RoutingWorld) -> None:
    # given an active conversation with a volunteer
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    routing.inbound("c1", "can anyone help")
    supervisor = routing.volunteer("sup", roles=[Role.SUPERVISOR], status=VolunteerStatus.OFFLINE)

    # when a supervisor reads it
    messages = routing.router.messages(supervisor, "c1")

    # then they see it
    assert [message.body for message in messages if message.direction == "inbound"] == ["can anyone help"]


def test_a_supervisor_may_close_another_volunteers_conversation(routing: RoutingWorld) -> None:
    # given an active conversation with a volunteer
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    supervisor = routing.volunteer("sup", roles=[Role.SUPERVISOR], status=VolunteerStatus.OFFLINE)

    # when a supervisor closes it
    routing.router.close(supervisor, "c1", outcome="handed-off", tags=[])

    # then it is closed and the volunteer's load released
    assert routing.conversation("c1").state is ConversationState.CLOSED
    assert routing.load("ana") == 0


# ---------------------------------------------------------------- races the conditions must win
def test_an_offer_racing_the_volunteer_filling_up_goes_to_the_next_volunteer(routing: RoutingWorld) -> None:
    # given two eligible volunteers, the first of whom pulls an urgent newcomer while being offered a conversation
    routing.volunteer("ana", max_concurrent=1)
    routing.volunteer("ben", last_assigned_at=EARLIER)
    routing.waiting("c1")

    def first_volunteer_pulls() -> None:
        routing.waiting("urgent", priority=RiskLevel.IMMINENT)
        routing.router.take_next("ana")

    routing.repository.before_next_commit(first_volunteer_pulls)

    # when waiting conversations are routed
    routing.router.route_waiting()

    # then the first volunteer never exceeds their cap, and the offer goes to the other
    assert routing.load("ana") == 1
    assert routing.conversation("urgent").volunteer_id == "ana"
    assert routing.conversation("c1").volunteer_id == "ben"


def test_a_retried_accept_racing_the_first_cannot_win_twice(routing: RoutingWorld) -> None:
    # given an offer whose accept is retried while the first accept is committing
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.offered("c1", to="ana")
    routing.repository.before_next_commit(lambda: routing.router.accept("ana", "c1"))

    # when the retried accept commits second
    # then it is a conflict, and exactly one "joined" text went out
    with pytest.raises(ConflictError):
        routing.router.accept("ana", "c1")
    assert routing.outbound.purposes().count("joined") == 1
    assert routing.load("ana") == 1


def test_an_offer_racing_a_decline_never_goes_back_to_the_decliner(routing: RoutingWorld) -> None:
    # given two eligible volunteers, and while an offer to the first is being made another worker offers the
    # conversation to both in turn, and both decline it
    routing.volunteer("yan", last_assigned_at=EARLIER)
    routing.volunteer("xia", last_assigned_at=LATER)
    routing.waiting("c1")

    def another_worker() -> None:
        routing.router.route_waiting()
        routing.router.decline("yan", "c1")
        routing.router.decline("xia", "c1")

    routing.repository.before_next_commit(another_worker)

    # when the first worker's offer loses the race and it goes on
    routing.router.route_waiting()

    # then the conversation is never offered back to either of the volunteers who declined it
    conversation = routing.conversation("c1")
    assert set(conversation.excluded_volunteers) == {"yan", "xia"}
    assert conversation.state is ConversationState.WAITING


def test_a_pull_racing_going_offline_never_leaves_an_unflagged_conversation(routing: RoutingWorld) -> None:
    # given a volunteer who goes offline between reading their record and claiming a waiting conversation
    routing.volunteer("ana", status=VolunteerStatus.AWAY)
    routing.waiting("c1")
    routing.repository.before_next_commit(lambda: routing.router.set_availability("ana", VolunteerStatus.OFFLINE))

    # when the pull commits
    with contextlib.suppress(NotEligibleError, NotFoundError):
        routing.router.take_next("ana")

    # then either the pull lost, or the conversation is flagged for supervisors like any other of an offline volunteer
    conversation = routing.conversation("c1")
    assert conversation.state is ConversationState.WAITING or conversation.needs_supervisor
