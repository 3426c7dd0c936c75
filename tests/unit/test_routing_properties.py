"""Routing invariants under random sequences of everything volunteers, texters and timers can do (hypothesis).

After every step:
- every volunteer's load is exactly the number of conversations offered to or active with them, and within their cap;
- an offered conversation has one current offer, an active one none, a waiting one no holder;
- a conversation is only held by a volunteer who speaks its language;
- no offer is accepted twice;
- a volunteer who declined a conversation, let its offer expire or transferred it away holds it again only if it is
  high/imminent (those exclusions lapse at once when nobody else can take it), the decline lapse has passed, or a
  person chose it for them (they pressed "take next", or a colleague transferred it to them by name).
The model below learns who let go of what only from the router's answers, never from its internals.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from peerline.language import Language
from peerline.lifecycle import HELD_STATES
from peerline.models import ConversationState, Role, TimerKind, VolunteerStatus
from peerline.risk import RiskLevel
from peerline.routing import RoutingError

from .world import RoutingWorld

# (id, cap, languages); the supervisor takes part too, and is routed to like anyone when available.
VOLUNTEERS = [
    ("ana", 1, [Language.ENGLISH]),
    ("ben", 2, [Language.ENGLISH]),
    ("cruz", 2, [Language.ENGLISH, Language.SPANISH]),
    ("dee", 3, [Language.SPANISH]),
    ("sup", 2, [Language.ENGLISH, Language.SPANISH]),
]
VOLUNTEER_IDS = [volunteer_id for volunteer_id, _, _ in VOLUNTEERS]

volunteer_ids = st.sampled_from(VOLUNTEER_IDS)
# Who acts on a conversation: mostly the volunteer holding it (so steps succeed often), sometimes anyone at all.
actors = st.sampled_from(["holder", "holder", "holder", *VOLUNTEER_IDS])
indexes = st.integers(min_value=0, max_value=50)


class RoutingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = RoutingWorld()
        self.conversation_ids: list[str] = []
        self.accepted_offers: set[str] = set()
        # conversation id → volunteers who declined it, let it expire or transferred it away → when
        self.let_go: dict[str, dict[str, datetime]] = {}
        # conversation id → volunteers a person chose for it since (take next, a transfer by name)
        self.chosen: dict[str, set[str]] = {}

    @initialize(statuses=st.lists(st.sampled_from(VolunteerStatus), min_size=5, max_size=5))
    def volunteers(self, statuses: list[VolunteerStatus]) -> None:
        for (volunteer_id, cap, languages), status in zip(VOLUNTEERS, statuses, strict=True):
            roles = [Role.SUPERVISOR, Role.VOLUNTEER] if volunteer_id == "sup" else [Role.VOLUNTEER]
            self.world.volunteer(volunteer_id, max_concurrent=cap, languages=languages, status=status, roles=roles)

    # ------------------------------------------------------------------ helpers
    def _conversation(self, index: int) -> str:
        return self.conversation_ids[index % len(self.conversation_ids)] if self.conversation_ids else "none"

    def _pick(self, actor: str, index: int, state: ConversationState) -> tuple[str, str]:
        """(volunteer, conversation): a held conversation in ``state`` and its holder, or anyone and any."""
        if actor != "holder":
            return actor, self._conversation(index)
        held = [c for c in self.world.repository.all_conversations() if c.state is state and c.volunteer_id]
        if not held:
            return VOLUNTEER_IDS[index % len(VOLUNTEER_IDS)], self._conversation(index)
        conversation = sorted(held, key=lambda c: c.conversation_id)[index % len(held)]
        assert conversation.volunteer_id is not None
        return conversation.volunteer_id, conversation.conversation_id

    def _lets_go(self, conversation_id: str, volunteer_id: str) -> None:
        self.let_go[conversation_id][volunteer_id] = self.world.clock()
        self.chosen[conversation_id].discard(volunteer_id)

    def _holder(self, conversation_id: str) -> str | None:
        conversation = self.world.repository.get_conversation(conversation_id)
        return conversation.volunteer_id if conversation and conversation.state in HELD_STATES else None

    # ------------------------------------------------------------------ texters and time
    @rule(
        priority=st.sampled_from(RiskLevel),
        language=st.sampled_from(Language),
        waited=st.integers(min_value=0, max_value=3600),
    )
    def texter_starts_waiting(self, priority: RiskLevel, language: Language, waited: int) -> None:
        conversation_id = f"c{len(self.conversation_ids)}"
        self.world.waiting(conversation_id, priority=priority, language=language, waited_seconds=waited)
        self.conversation_ids.append(conversation_id)
        self.let_go[conversation_id] = {}
        self.chosen[conversation_id] = set()

    @rule(seconds=st.integers(min_value=1, max_value=900))
    def time_passes(self, seconds: int) -> None:
        self.world.clock.advance(seconds)

    @rule()
    def route_waiting(self) -> None:
        self.world.router.route_waiting()

    # ------------------------------------------------------------------ volunteers
    @rule(actor=actors, index=indexes)
    def accept(self, actor: str, index: int) -> None:
        volunteer_id, conversation_id = self._pick(actor, index, ConversationState.OFFERED)
        before = self.world.repository.get_conversation(conversation_id)
        try:
            self.world.router.accept(volunteer_id, conversation_id)
        except RoutingError:
            return
        assert before is not None and before.offer_id is not None
        assert before.offer_id not in self.accepted_offers, "an accepted offer was accepted again"
        self.accepted_offers.add(before.offer_id)

    @rule(actor=actors, index=indexes)
    def decline(self, actor: str, index: int) -> None:
        volunteer_id, conversation_id = self._pick(actor, index, ConversationState.OFFERED)
        try:
            self.world.router.decline(volunteer_id, conversation_id)
        except RoutingError:
            return
        self._lets_go(conversation_id, volunteer_id)

    @rule(volunteer_id=volunteer_ids)
    def take_next(self, volunteer_id: str) -> None:
        with contextlib.suppress(RoutingError):
            taken = self.world.router.take_next(volunteer_id)
            self.chosen[taken.conversation_id].add(volunteer_id)

    @rule(volunteer_id=volunteer_ids, status=st.sampled_from(VolunteerStatus))
    def set_availability(self, volunteer_id: str, status: VolunteerStatus) -> None:
        self.world.router.set_availability(volunteer_id, status)

    @rule(actor=actors, index=indexes, to=st.sampled_from(["queue", *VOLUNTEER_IDS]))
    def transfer(self, actor: str, index: int, to: str) -> None:
        volunteer_id, conversation_id = self._pick(actor, index, ConversationState.ACTIVE)
        holder = self._holder(conversation_id)
        try:
            self.world.router.transfer(self.world.record(volunteer_id), conversation_id, to)
        except RoutingError:
            return
        assert holder is not None
        self._lets_go(conversation_id, holder)
        if to != "queue":
            self.chosen[conversation_id].add(to)

    @rule(actor=actors, index=indexes, body=st.text(min_size=1, max_size=20))
    def send_reply(self, actor: str, index: int, body: str) -> None:
        volunteer_id, conversation_id = self._pick(actor, index, ConversationState.ACTIVE)
        with contextlib.suppress(RoutingError):
            self.world.router.send_reply(volunteer_id, conversation_id, body)

    @rule(actor=actors, index=indexes)
    def close(self, actor: str, index: int) -> None:
        volunteer_id, conversation_id = self._pick(actor, index, ConversationState.ACTIVE)
        with contextlib.suppress(RoutingError):
            self.world.router.close(self.world.record(volunteer_id), conversation_id, outcome="ok", tags=[])

    # ------------------------------------------------------------------ timers, stale ones included
    @rule(index=indexes)
    def an_offer_expiry_fires(self, index: int) -> None:
        timers = self.world.timers.of_kind(TimerKind.OFFER_EXPIRY)
        if not timers:
            return
        timer = timers[index % len(timers)]
        conversation = self.world.repository.get_conversation(timer.conversation_id)
        current = conversation is not None and conversation.offer_id == timer.offer_id
        self.world.clock.now = max(self.world.clock.now, timer.fire_at)
        expired = self.world.router.expire_offer(timer)
        # A timer for any offer other than the current one does nothing.
        assert expired == current
        if expired:
            assert timer.volunteer_id is not None
            self._lets_go(timer.conversation_id, timer.volunteer_id)

    @rule(index=indexes)
    def an_inactivity_timer_fires(self, index: int) -> None:
        timers = self.world.timers.of_kind(TimerKind.INACTIVITY)
        if not timers:
            return
        timer = timers[index % len(timers)]
        conversation = self.world.repository.get_conversation(timer.conversation_id)
        current = (
            conversation is not None
            and conversation.state is ConversationState.ACTIVE
            and conversation.last_activity_at == timer.activity_at
        )
        self.world.clock.now = max(self.world.clock.now, timer.fire_at)
        assert self.world.router.close_if_inactive(timer) == current

    # ------------------------------------------------------------------ invariants
    @invariant()
    def every_load_is_what_the_volunteer_holds_and_within_their_cap(self) -> None:
        with self.world.repository.locked():
            conversations = self.world.repository.all_conversations()
            for volunteer in self.world.repository.all_volunteers():
                held = [c for c in conversations if c.state in HELD_STATES and c.volunteer_id == volunteer.volunteer_id]
                assert volunteer.load == len(held), (volunteer.volunteer_id, volunteer.load, held)
                assert volunteer.load <= volunteer.max_concurrent

    @invariant()
    def every_conversation_has_at_most_one_holder_consistent_with_its_state(self) -> None:
        for conversation in self.world.repository.all_conversations():
            if conversation.state is ConversationState.OFFERED:
                assert conversation.volunteer_id is not None and conversation.offer_id is not None
            elif conversation.state is ConversationState.ACTIVE:
                assert conversation.volunteer_id is not None and conversation.offer_id is None
            elif conversation.state is ConversationState.WAITING:
                assert conversation.volunteer_id is None and conversation.offer_id is None
            holders = [
                volunteer_id
                for volunteer_id in VOLUNTEER_IDS
                if conversation.conversation_id
                in {c.conversation_id for c in self.world.repository.conversations_held_by(volunteer_id)}
            ]
            assert len(holders) <= 1

    @invariant()
    def a_holder_speaks_the_texters_language(self) -> None:
        for conversation in self.world.repository.all_conversations():
            if conversation.state in HELD_STATES:
                assert conversation.volunteer_id is not None
                assert conversation.language in self.world.record(conversation.volunteer_id).languages

    @invariant()
    def nobody_holds_a_conversation_they_let_go_of(self) -> None:
        for conversation in self.world.repository.all_conversations():
            let_go_at = self.let_go[conversation.conversation_id]
            holder = conversation.volunteer_id
            if conversation.state in HELD_STATES and holder in let_go_at:
                lapse = timedelta(seconds=self.world.settings.decline_lapse_seconds)
                assert (
                    conversation.priority in (RiskLevel.HIGH, RiskLevel.IMMINENT)
                    or self.world.clock() >= let_go_at[holder] + lapse
                    or holder in self.chosen[conversation.conversation_id]
                )


RoutingMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_routing_invariants_hold_under_any_sequence_of_operations = RoutingMachine.TestCase


def test_the_invariants_catch_a_double_holder() -> None:
    # given a world where a conversation is active with one volunteer while another's load also counts it
    machine = RoutingMachine()
    machine.volunteers([VolunteerStatus.AVAILABLE] * 5)
    machine.texter_starts_waiting(RiskLevel.NONE, Language.ENGLISH, 0)
    machine.route_waiting()
    other = machine.world.record("ben")
    machine.world.repository.add_volunteer(other.model_copy(update={"load": other.load + 1}))

    # when the invariants are checked
    # then they fail (so the property test is not vacuous)
    try:
        machine.every_load_is_what_the_volunteer_holds_and_within_their_cap()
    except AssertionError:
        return
    raise AssertionError("a volunteer counting a conversation someone else holds went unnoticed")
