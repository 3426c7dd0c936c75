"""A shift that works: declines that lapse, supervisors who assign, no offers while holding a crisis, transfer
candidates, and conversations summarised the way a volunteer needs to choose (issue "A shift that works")."""

from __future__ import annotations

import pytest

from peerline.models import (
    ConversationRecord,
    ConversationState,
    Role,
    TimerKind,
    VolunteerRecord,
    VolunteerStatus,
)
from peerline.overview import line_overview
from peerline.risk import RiskLevel
from peerline.routing import ConflictError, NotEligibleError, NotFoundError
from peerline.views import preview_of

from .routing_fakes import InMemoryRoutingRepository
from .world import CrisisRoutingWorld, RoutingWorld


@pytest.fixture
def routing() -> RoutingWorld:
    return RoutingWorld()


class _Line:
    """The in-memory repository as the overview reads a line (the Dynamo adapter has a volunteer directory)."""

    def __init__(self, repository: InMemoryRoutingRepository) -> None:
        self._repository = repository
        self.volunteers = self

    def all(self) -> list[VolunteerRecord]:
        return self._repository.all_volunteers()

    def waiting_conversations(self) -> list[ConversationRecord]:
        return self._repository.waiting_conversations()

    def open_conversations(self) -> list[ConversationRecord]:
        return self._repository.open_conversations()


# ---------------------------------------------------------------- declines lapse
def test_a_decline_lapses_when_nobody_else_could_take_it(routing: RoutingWorld) -> None:
    # given the only available volunteer declined the only waiting conversation
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.offered("c1", to="ana")
    routing.router.decline("ana", "c1")
    lapse_timers = routing.timers.of_kind(TimerKind.DECLINE_LAPSE)

    # when the lapse timer comes due and routing runs
    routing.clock.advance(routing.settings.decline_lapse_seconds)
    offers = routing.router.route_waiting()

    # then a timer was set for exactly then, and the conversation is offered to them again: nobody is left waiting
    assert [timer.fire_at for timer in lapse_timers] == [routing.clock()]
    assert offers == [("c1", "ana")]


def test_a_decline_keeps_the_conversation_from_the_decliner_while_someone_else_can_take_it(
    routing: RoutingWorld,
) -> None:
    # given ana declined, and ben is at his cap
    routing.volunteer("ana")
    routing.volunteer("ben", load=2)
    routing.waiting("c1")
    routing.offered("c1", to="ana")
    routing.router.decline("ana", "c1")

    # when ben frees up, long after the lapse
    routing.repository.add_volunteer(routing.record("ben").model_copy(update={"load": 1}))
    routing.clock.advance(routing.settings.decline_lapse_seconds * 3)
    offers = routing.router.route_waiting()

    # then ben gets it, not ana
    assert offers == [("c1", "ben")]


@pytest.mark.parametrize("priority", [RiskLevel.HIGH, RiskLevel.IMMINENT])
def test_a_declined_crisis_conversation_comes_back_at_once_when_nobody_else_can_take_it(
    routing: RoutingWorld, priority: RiskLevel
) -> None:
    # given the only available volunteer declines a high/imminent conversation
    routing.volunteer("ana")
    routing.waiting("c1", priority=priority, risk_level=str(priority))
    routing.offered("c1", to="ana")

    # when they decline it
    routing.router.decline("ana", "c1")

    # then it is offered to them again straight away (a texter in crisis never waits on a decline)
    conversation = routing.conversation("c1")
    assert conversation.state is ConversationState.OFFERED and conversation.volunteer_id == "ana"


def test_an_offer_that_comes_back_to_its_decliner_says_so(routing: RoutingWorld) -> None:
    # given the only available volunteer declines an imminent conversation
    routing.volunteer("ana")
    routing.waiting("c1", priority=RiskLevel.IMMINENT, risk_level="imminent")
    first = routing.router.views.summary(routing.offered("c1", to="ana"))
    routing.router.decline("ana", "c1")

    # then the offer that comes straight back is marked as offered again (the dashboard says why)
    again = routing.router.views.summary(routing.conversation("c1"))
    assert (first.offered_again, again.offered_again) == (False, True)


def test_take_next_gives_the_decliner_the_conversation_they_declined_rather_than_nothing(
    routing: RoutingWorld,
) -> None:
    # given ana declined the only waiting conversation (the bug: "Take next" then said nobody was waiting)
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.offered("c1", to="ana")
    routing.router.decline("ana", "c1")

    # when she presses Take next
    taken = routing.router.take_next("ana")

    # then she gets it
    assert taken.conversation_id == "c1" and taken.state is ConversationState.ACTIVE


def test_take_next_prefers_conversations_the_caller_did_not_decline(routing: RoutingWorld) -> None:
    # given ana declined c1 (urgent) and c2 waits too
    routing.volunteer("ana", max_concurrent=3)
    routing.waiting("c1", waited_seconds=600)
    routing.offered("c1", to="ana")
    routing.router.decline("ana", "c1")
    routing.volunteer("ana", status=VolunteerStatus.AWAY)  # no push offer for c2 meanwhile
    routing.waiting("c2")
    routing.volunteer("ana", max_concurrent=3)

    # when she presses Take next
    taken = routing.router.take_next("ana")

    # then she gets c2, the one she did not decline
    assert taken.conversation_id == "c2"


# ---------------------------------------------------------------- no offers while holding a crisis
def _holding_imminent(routing: RoutingWorld, **overrides: object) -> None:
    routing.volunteer("ana", max_concurrent=3, **overrides)
    routing.waiting("crisis", priority=RiskLevel.IMMINENT, risk_level="imminent")
    routing.active("crisis", with_="ana")


def test_a_volunteer_holding_an_imminent_conversation_is_offered_nothing_new(routing: RoutingWorld) -> None:
    # given ana holds an imminent conversation and has room under her cap
    _holding_imminent(routing)

    # when another texter waits
    routing.waiting("c2")
    offers = routing.router.route_waiting()

    # then she is not offered it (and the texter keeps waiting for someone else)
    assert offers == []
    assert routing.conversation("c2").state is ConversationState.WAITING


def test_the_crisis_hold_sends_the_offer_to_a_free_colleague(routing: RoutingWorld) -> None:
    # given ana holds an imminent conversation, and ben is free but assigned more recently
    _holding_imminent(routing)
    routing.volunteer("ben", last_assigned_at="2099-01-01T00:00:00+00:00")

    # when another texter waits
    routing.waiting("c2")
    offers = routing.router.route_waiting()

    # then ben gets it
    assert offers == [("c2", "ben")]


def test_a_volunteer_who_chose_to_may_be_offered_more_while_holding_a_crisis(routing: RoutingWorld) -> None:
    # given ana holds an imminent conversation
    _holding_imminent(routing)
    routing.waiting("c2")
    assert routing.router.route_waiting() == []

    # when she turns on "offer me new conversations while I hold a crisis conversation"
    updated = routing.router.set_offers_during_crisis("ana", True)

    # then the setting is stored and the waiting texter is offered to her
    assert updated.offers_during_crisis
    assert routing.conversation("c2").state is ConversationState.OFFERED
    assert routing.conversation("c2").volunteer_id == "ana"


def test_the_crisis_hold_is_off_by_default_and_reported(routing: RoutingWorld) -> None:
    # given a new volunteer holding an imminent conversation
    _holding_imminent(routing)

    # then the setting is off, and the router says she holds a crisis
    assert not routing.record("ana").offers_during_crisis
    assert routing.router.holds_crisis(routing.record("ana"))


# ---------------------------------------------------------------- supervisors assign
def _supervisor(routing: RoutingWorld) -> None:
    routing.volunteer("sup", roles=[Role.SUPERVISOR], status=VolunteerStatus.AWAY)


def test_a_supervisor_assigns_a_waiting_conversation_to_a_volunteer_who_declined_it(routing: RoutingWorld) -> None:
    # given ana declined the only waiting conversation
    _supervisor(routing)
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.offered("c1", to="ana")
    routing.router.decline("ana", "c1")

    # when a supervisor assigns it to her
    assigned = routing.router.assign(routing.record("sup"), "c1", "ana")

    # then it is offered to her (with an offer timer), declines notwithstanding
    assert assigned.state is ConversationState.OFFERED and assigned.volunteer_id == "ana"
    assert routing.offer_timers("c1")[-1].volunteer_id == "ana"


def test_a_supervisor_takes_a_waiting_conversation_themselves(routing: RoutingWorld) -> None:
    # given a waiting conversation and an away supervisor
    _supervisor(routing)
    routing.waiting("c1")

    # when they take it
    taken = routing.router.assign(routing.record("sup"), "c1", "sup")

    # then it is active with them at once, and the texter is told someone joined
    assert taken.state is ConversationState.ACTIVE and taken.volunteer_id == "sup"
    assert routing.load("sup") == 1
    assert any("Peer Sup" in text for text in routing.texts_to("c1"))


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"status": VolunteerStatus.AWAY}, "away, not available"),
        ({"load": 2}, "at their maximum of 2"),
        ({"languages": ["es"]}, "doesn't speak"),
    ],
)
def test_assigning_to_someone_who_cant_take_it_says_why(routing: RoutingWorld, overrides: dict, reason: str) -> None:
    # given a waiting conversation and a volunteer who can't take it
    _supervisor(routing)
    routing.volunteer("ana", **overrides)
    routing.waiting("c1")

    # when a supervisor assigns it to them
    with pytest.raises(ConflictError) as refused:
        routing.router.assign(routing.record("sup"), "c1", "ana")

    # then it is refused with a reason a person understands, and the conversation still waits
    assert reason in str(refused.value)
    assert routing.conversation("c1").state is ConversationState.WAITING


def test_only_supervisors_assign(routing: RoutingWorld) -> None:
    routing.volunteer("ana", status=VolunteerStatus.AWAY)
    routing.volunteer("ben", status=VolunteerStatus.AWAY)
    routing.waiting("c1")
    with pytest.raises(NotEligibleError):
        routing.router.assign(routing.record("ana"), "c1", "ben")
    assert routing.conversation("c1").state is ConversationState.WAITING


def test_assigning_a_conversation_that_is_not_waiting_is_a_conflict(routing: RoutingWorld) -> None:
    _supervisor(routing)
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    with pytest.raises(ConflictError):
        routing.router.assign(routing.record("sup"), "c1", "sup")
    with pytest.raises(NotFoundError):
        routing.router.assign(routing.record("sup"), "nope", "sup")


# ---------------------------------------------------------------- transfer candidates
def test_transfer_candidates_are_colleagues_who_could_take_it_now(routing: RoutingWorld) -> None:
    # given ana holds a conversation; ben could take it, cy is away, dee is full, eve speaks only Spanish
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    routing.volunteer("ben")
    routing.volunteer("cy", status=VolunteerStatus.AWAY)
    routing.volunteer("dee", load=2)
    routing.volunteer("eve", languages=["es"])

    # when ana asks who she could transfer to
    candidates = routing.router.transfer_candidates(routing.record("ana"), "c1")

    # then only ben is listed (never ana herself)
    assert [volunteer.volunteer_id for volunteer in candidates] == ["ben"]


def test_transfer_candidates_of_someone_elses_conversation_are_not_found(routing: RoutingWorld) -> None:
    routing.volunteer("ana")
    routing.volunteer("ben", status=VolunteerStatus.AWAY)
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    with pytest.raises(NotFoundError):
        routing.router.transfer_candidates(routing.record("ben"), "c1")


# ---------------------------------------------------------------- what a volunteer sees
def test_an_offer_shows_waiting_time_risk_and_the_first_words(routing: RoutingWorld) -> None:
    # given a texter who wrote two texts and waited 90 s, offered to ana
    routing.volunteer("ana")
    routing.waiting("c1", waited_seconds=90, priority=RiskLevel.CONCERN, risk_level="concern")
    routing.inbound("c1", "i dont know who else to talk to, everything is falling apart at home " * 3)
    routing.inbound("c1", "are you there")
    offered = routing.offered("c1", to="ana")

    # when it is summarised for her
    summary = routing.router.views.summary(offered)

    # then she sees how long they waited, the risk, the first words (not the whole text), and who holds it
    assert summary.waiting_seconds == 90
    assert summary.risk_level == "concern"
    assert summary.preview is not None and summary.preview.startswith("i dont know who else to talk to")
    assert summary.preview.endswith("…") and len(summary.preview) <= 121
    assert summary.volunteer_name == "Peer Ana"
    assert summary.awaiting_reply


def test_a_reply_answers_the_texter(routing: RoutingWorld) -> None:
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.inbound("c1", "hi")
    routing.active("c1", with_="ana")
    routing.clock.advance(5)
    routing.router.send_reply("ana", "c1", "Hi, I'm here.")
    summary = routing.router.views.summary(routing.conversation("c1"))
    assert not summary.awaiting_reply
    assert summary.last_texter_at is not None and summary.waiting_seconds is None


def test_preview_cuts_at_a_word_and_keeps_short_texts_whole() -> None:
    assert preview_of("hello   there") == "hello there"
    assert preview_of("word " * 40, limit=20) == "word word word word…"


# ---------------------------------------------------------------- escalation state, one everywhere
def test_an_acknowledged_escalation_stays_on_the_line_until_its_conversation_closes(
    desk: CrisisRoutingWorld,
) -> None:
    # given a volunteer escalated, and a supervisor acknowledged it
    desk.volunteer("v1")
    desk.waiting("c1")
    desk.active("c1", with_="v1")
    escalated = desk.router.escalate(desk.record("v1"), "c1").escalation
    desk.service.acknowledge(escalated.escalation_id, actor="supervisor:Dr Ben")

    # when the line is looked at
    overview = line_overview(_Line(desk.repository), desk.service, desk.router.views, now=desk.clock())

    # then the escalation is still listed, acknowledged, by whom, and the conversation carries the same state
    [shown] = overview.escalations
    assert (shown.id, shown.status, shown.acknowledged_by) == (
        escalated.escalation_id,
        "acknowledged",
        "Dr Ben (supervisor)",
    )
    [active] = overview.active
    assert active.escalation is not None and active.escalation.status == "acknowledged"
    assert active.escalation.acknowledged_by == "Dr Ben (supervisor)"

    # and once the conversation closes, it is no longer shown
    desk.router.close(desk.record("v1"), "c1", outcome="safe", tags=[])
    closed = line_overview(_Line(desk.repository), desk.service, desk.router.views, now=desk.clock())
    assert closed.escalations == []


def test_the_line_lists_the_queue_and_who_is_free(routing: RoutingWorld) -> None:
    # given two waiting texters (one imminent) and nobody available but a free away volunteer
    routing.volunteer("ana", status=VolunteerStatus.AWAY)
    routing.waiting("c1", waited_seconds=300)
    routing.waiting("c2", priority=RiskLevel.IMMINENT, risk_level="imminent")
    routing.volunteer("ben", status=VolunteerStatus.AVAILABLE, languages=["es"])

    # when a supervisor looks at the line
    class NoEscalations:
        def shown_with(self, conversations: object) -> list:
            return []

    overview = line_overview(_Line(routing.repository), NoEscalations(), routing.router.views, now=routing.clock())

    # then the queue is most urgent first, and the free volunteers are listed for assigning
    assert [c.id for c in overview.queue] == ["c2", "c1"]
    assert [v.volunteer_id for v in overview.available_volunteers] == ["ben"]
    assert overview.waiting == 2


@pytest.fixture
def desk() -> CrisisRoutingWorld:
    return CrisisRoutingWorld()
