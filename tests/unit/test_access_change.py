"""Deactivation and role changes against in-memory fakes: the job that closes sockets and moves a deactivated
volunteer's offers and conversations on, and what the author of a change records."""

from __future__ import annotations

from datetime import datetime

import pytest

from peerline.access import (
    CHANGE_ROLE_ACTION,
    DEACTIVATE_ACTION,
    OPERATOR_ACTOR,
    AccessChanges,
    access_changed_job,
    apply_access_change,
)
from peerline.audit import AuditEntry
from peerline.models import ConversationState, TimerKind, VolunteerStatus
from peerline.risk import RiskLevel
from peerline.timers import fire_timer

from .world import RoutingWorld, wire


class RecordingSessions:
    """``LiveSessions``: remembers whose sockets were closed, and in which order relative to routing."""

    def __init__(self, open_sockets: dict[str, int] | None = None) -> None:
        self.open_sockets = dict(open_sockets or {})
        self.closed: list[str] = []

    def close_all(self, volunteer_id: str) -> int:
        self.closed.append(volunteer_id)
        return self.open_sockets.pop(volunteer_id, 0)


class RecordingAudit:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def append(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    def entries_by(self, actor_id: str, *, since: datetime) -> list[AuditEntry]:
        return [entry for entry in self.entries if entry.actor_id == actor_id and entry.at >= since]


@pytest.fixture
def routing() -> RoutingWorld:
    return RoutingWorld()


def deactivate(routing: RoutingWorld, volunteer_id: str) -> None:
    """What the operator's CLI writes to the registry before it queues the job."""
    record = routing.record(volunteer_id)
    routing.repository.add_volunteer(record.model_copy(update={"active": False, "status": VolunteerStatus.OFFLINE}))


def test_a_deactivated_volunteers_pending_offer_moves_on_at_once(routing: RoutingWorld) -> None:
    # given a conversation offered to Ana; Ben is also available but was assigned more recently
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.offered("c1", to="ana")
    routing.volunteer("ben")

    # when Ana is deactivated and the job runs
    deactivate(routing, "ana")
    moved = routing.router.release_deactivated("ana")

    # then the offer went to Ben without waiting for it to expire, and Ana holds nothing
    assert moved == ["c1"]
    conversation = routing.conversation("c1")
    assert (conversation.state, conversation.volunteer_id) == (ConversationState.OFFERED, "ben")
    assert routing.load("ana") == 0


def test_a_deactivated_volunteers_active_conversation_returns_to_the_front_of_the_queue(
    routing: RoutingWorld,
) -> None:
    # given Ana in an active conversation that has waited since long ago, and a texter who started waiting later
    routing.volunteer("ana")
    routing.waiting("c1", waited_seconds=600)
    routing.active("c1", with_="ana")
    routing.waiting("c2", waited_seconds=60)
    routing.outbound.clear()

    # when Ana is deactivated and the job runs, with nobody free to take it
    deactivate(routing, "ana")
    assert routing.router.release_deactivated("ana") == ["c1"]

    # then the conversation waits again, ahead of the later texter, and the texter was sent nothing alarming
    conversation = routing.conversation("c1")
    assert (conversation.state, conversation.volunteer_id) == (ConversationState.WAITING, None)
    assert routing.load("ana") == 0
    assert routing.outbound.texts == []
    # and the next volunteer to come free is offered it first
    routing.volunteer("ben", max_concurrent=1)
    routing.router.route_waiting()
    assert (routing.conversation("c1").state, routing.conversation("c1").volunteer_id) == (
        ConversationState.OFFERED,
        "ben",
    )
    assert routing.conversation("c2").state is ConversationState.WAITING


def test_a_returned_crisis_conversation_keeps_its_risk_priority(routing: RoutingWorld) -> None:
    # given Ana in an active high-risk conversation that started waiting after a low-risk one
    routing.volunteer("ana")
    routing.waiting("c-early", waited_seconds=900)
    routing.waiting("c-crisis", waited_seconds=10, priority=RiskLevel.HIGH, risk_level=RiskLevel.HIGH)
    routing.offered("c-crisis", to="ana")
    routing.router.accept("ana", "c-crisis")

    # when Ana is deactivated and Ben comes free with room for one
    deactivate(routing, "ana")
    routing.router.release_deactivated("ana")
    routing.volunteer("ben", max_concurrent=1)
    routing.router.route_waiting()

    # then the crisis conversation is offered first, still high priority
    crisis = routing.conversation("c-crisis")
    assert (crisis.state, crisis.volunteer_id, crisis.priority) == (ConversationState.OFFERED, "ben", RiskLevel.HIGH)
    assert routing.conversation("c-early").state is ConversationState.WAITING


def test_a_text_arriving_meanwhile_does_not_leave_the_conversation_with_a_deactivated_volunteer(
    routing: RoutingWorld,
) -> None:
    # given Ana in an active conversation
    routing.volunteer("ana")
    routing.waiting("c1")
    active = routing.active("c1", with_="ana")
    deactivate(routing, "ana")

    # when the texter's text lands between the job's read and its write (the conversation's version moves)
    def texter_texts() -> None:
        routing.repository.conversations["c1"] = active.model_copy(update={"version": active.version + 1}).model_dump(
            mode="json"
        )

    routing.repository.before_next_commit(texter_texts)
    moved = routing.router.release_deactivated("ana")

    # then the job read again and still sent it back to the queue
    assert moved == ["c1"]
    assert routing.conversation("c1").state is ConversationState.WAITING
    assert routing.load("ana") == 0


def test_a_volunteer_active_again_keeps_what_they_hold(routing: RoutingWorld) -> None:
    # given Ana in an active conversation, deactivated then reactivated before the job ran
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")

    # when the job runs
    moved = routing.router.release_deactivated("ana")

    # then nothing moved
    assert moved == []
    assert routing.conversation("c1").volunteer_id == "ana"


def test_the_job_closes_sockets_first_and_moves_a_deactivated_volunteers_work(routing: RoutingWorld) -> None:
    # given Ana holds an offer and has two dashboards open, and is deactivated
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.offered("c1", to="ana")
    deactivate(routing, "ana")
    sessions = RecordingSessions({"ana": 2})
    order: list[str] = []
    routing.repository.before_next_commit(lambda: order.append(f"commit after {sessions.closed}"))

    # when the job is fired from the timer queue
    job = access_changed_job("ana", routing.clock())
    wiring = wire(routing.repository, routing.outbound, routing.timers, routing.clock, routing.vault)
    outcome = fire_timer(
        job,
        engine=wiring.engine,
        router=routing.router,
        escalations=wiring.service,
        timers=routing.timers,
        sessions=sessions,
        now=routing.clock(),
    )

    # then her sockets were closed before anything was moved, and the conversation waits for someone else
    assert sessions.closed == ["ana"]
    assert order == ["commit after ['ana']"]
    assert outcome == "applied: 2 socket(s) closed, 1 conversation(s) moved on"
    assert routing.conversation("c1").state is ConversationState.WAITING


def test_a_role_change_closes_the_sockets_and_moves_nothing(routing: RoutingWorld) -> None:
    # given an active supervisor holding a conversation, just demoted (the registry already says volunteer)
    routing.volunteer("sol")
    routing.waiting("c1")
    routing.active("c1", with_="sol")
    sessions = RecordingSessions({"sol": 1})

    # when the job runs
    outcome = apply_access_change(access_changed_job("sol", routing.clock()), router=routing.router, sessions=sessions)

    # then their socket is closed (they reconnect under their new role) and they keep their conversation
    assert sessions.closed == ["sol"]
    assert outcome == "applied: 1 socket(s) closed, 0 conversation(s) moved on"
    assert routing.conversation("c1").volunteer_id == "sol"


@pytest.mark.parametrize("action", [DEACTIVATE_ACTION, CHANGE_ROLE_ACTION])
def test_the_author_of_a_change_queues_the_job_and_audits_it(routing: RoutingWorld, action: str) -> None:
    audit = RecordingAudit()

    # when the operator records a change to Ana
    AccessChanges(audit, routing.timers, routing.clock).changed(
        "ana", actor_id=OPERATOR_ACTOR, action=action, reason="volunteer → volunteer,supervisor"
    )

    # then one audit entry names the operator, the action and Ana's id, and one job for Ana is due now
    assert audit.entries == [
        AuditEntry(
            actor_id="operator",
            action=action,
            subject="ana",
            reason="volunteer → volunteer,supervisor",
            at=routing.clock(),
        )
    ]
    [job] = routing.timers.of_kind(TimerKind.ACCESS_CHANGED)
    assert (job.volunteer_id, job.fire_at) == ("ana", routing.clock())


def test_a_failed_audit_write_still_leaves_the_job_queued(routing: RoutingWorld) -> None:
    # given an audit log that refuses the write
    class Refusing(RecordingAudit):
        def append(self, entry: AuditEntry) -> None:
            raise RuntimeError("AccessDenied")

    # when the operator records a deactivation
    with pytest.raises(RuntimeError):
        AccessChanges(Refusing(), routing.timers, routing.clock).changed(
            "ana", actor_id=OPERATOR_ACTOR, action=DEACTIVATE_ACTION
        )

    # then the job that moves Ana's texters on is queued all the same (the operator repeats the command to audit it)
    assert [job.volunteer_id for job in routing.timers.of_kind(TimerKind.ACCESS_CHANGED)] == ["ana"]
