"""The line in a test: every port faked, and the domain wired over them the way ``composition.py`` wires it over
AWS — one repository (conversations, volunteers and escalations change together), one outbound and one timer queue,
one clock, the on-call rota and its escalation service, the crisis desk, the engine and the router.

``wire`` is that one wiring; the worlds below are the views the tests need of it: ``EngineWorld`` texts the engine as
a texter would, ``RoutingWorld`` sets the scene for routing, ``CrisisWorld`` and ``CrisisRoutingWorld`` add triage and
the crisis desk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from peerline.audit import AuditLog
from peerline.conversation import ConversationEngine, CrisisDesk, EngineSettings, Triage
from peerline.escalation import EscalationService, EscalationSettings, PageTarget
from peerline.models import (
    ConversationRecord,
    ConversationState,
    ConversationTimer,
    InboundText,
    OutboundText,
    StoredMessage,
    TexterRecord,
    TimerKind,
    VolunteerRecord,
)
from peerline.number_context import texter_number
from peerline.phone import texter_id_for
from peerline.push import LivePush
from peerline.replies import ReplyBook
from peerline.routing import Router, RoutingSettings

from .audit_fakes import InMemoryAuditLog
from .erasure_fakes import RecordingErasureQueue
from .escalation_fakes import (
    EscalatingConversationRepository,
    EscalatingRoutingRepository,
    FlakyOutboundQueue,
    InMemoryEscalationStore,
    InMemoryOnCallDirectory,
    RecordingNotifier,
    StubAssessment,
    StubTriage,
)
from .fakes import (
    EMERGENCY,
    EMERGENCY_ES,
    PEPPER,
    FakeClock,
    InMemoryConversationRepository,
    RecordingOutboundQueue,
    RecordingTimerQueue,
    ReversibleVault,
)
from .routing_fakes import InMemoryRoutingRepository, make_texter, make_volunteer, make_waiting

REPLIES = ReplyBook(emergency_resources=EMERGENCY, emergency_resources_es=EMERGENCY_ES)
ON_CALL_NUMBERS = {"Dr Ana": "+15555559001", "Dr Ben": "+15555559002", "Dr Cy": "+15555559003"}


# ---------------------------------------------------------------- the one wiring
@dataclass
class Wiring:
    engine: ConversationEngine
    router: Router
    service: EscalationService
    directory: InMemoryOnCallDirectory
    notifier: RecordingNotifier
    desk: CrisisDesk | None


def wire(
    repository: InMemoryConversationRepository,
    outbound: RecordingOutboundQueue,
    timers: RecordingTimerQueue,
    clock: FakeClock,
    vault: ReversibleVault,
    *,
    engine_settings: EngineSettings | None = None,
    routing_settings: RoutingSettings | None = None,
    crisis: bool = False,
    triage: Triage | None = None,
    rota: dict[str, str] | None = None,
    escalation_settings: EscalationSettings | None = None,
    on_queued: Callable[[], object] | None = None,
    live: LivePush | None = None,
    audit: AuditLog | None = None,
    erasures: RecordingErasureQueue | None = None,
) -> Wiring:
    """The engine, the router and the crisis desk over these fakes, as ``composition.py`` builds them over AWS.
    ``crisis=False`` leaves triage and the desk out (the engine then never pages; the router can't escalate)."""
    if repository.escalations is None:
        repository.escalations = InMemoryEscalationStore()
    escalations = repository.escalations
    assert isinstance(escalations, InMemoryEscalationStore)
    notifier = RecordingNotifier()
    directory = InMemoryOnCallDirectory(vault)
    for name, number in (ON_CALL_NUMBERS if rota is None else rota).items():
        directory.add(name, number)
    escalation_settings = escalation_settings or EscalationSettings()
    service = EscalationService(
        escalations,
        directory,
        outbound,
        timers,
        notifier,
        escalation_settings,
        clock=clock,
        conversation_of=repository.get_conversation,
    )
    desk = (
        CrisisDesk(directory=directory, service=service, notifier=notifier, settings=escalation_settings)
        if crisis
        else None
    )
    router = Router(
        repository,  # type: ignore[arg-type]  # an engine-only world's repository has no volunteers to route to
        outbound,
        timers,
        REPLIES,
        routing_settings or RoutingSettings(),
        clock=clock,
        crisis=desk,
        live=live,
    )
    engine = ConversationEngine(
        repository,
        outbound,
        timers,
        REPLIES,
        engine_settings or EngineSettings(),
        clock=clock,
        on_queued=on_queued,
        triage=triage if crisis else None,
        crisis=desk,
        live=live,
        audit=audit,
        erasures=erasures,
    )
    return Wiring(engine, router, service, directory, notifier, desk)


# ---------------------------------------------------------------- texting the line
class Texting:
    """Texting the engine as a texter would, and reading back their records."""

    clock: FakeClock
    vault: ReversibleVault
    repository: InMemoryConversationRepository
    engine: ConversationEngine
    _sids: int

    def inbound(
        self, body: str, *, number: str = "+15555550001", sid: str | None = None, opt_out_type: str | None = None
    ) -> InboundText:
        if sid is None:
            self._sids += 1
            sid = f"SM{self._sids:032d}"
        return InboundText(
            message_sid=sid,
            texter_id=texter_id_for(number, PEPPER),
            encrypted_number=self.vault.encrypt(number, texter_number(texter_id_for(number, PEPPER))),
            body=body,
            received_at=self.clock(),
            opt_out_type=opt_out_type,
        )

    def text(self, body: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        return self.engine.handle_text(self.inbound(body, **kwargs))

    def texter(self, number: str = "+15555550001") -> TexterRecord:
        texter = self.repository.get_texter(texter_id_for(number, PEPPER))
        assert texter is not None
        return texter

    def conversation(self, number: str = "+15555550001") -> ConversationRecord:
        conversation_id = self.texter(number).open_conversation_id
        assert conversation_id is not None
        conversation = self.repository.get_conversation(conversation_id)
        assert conversation is not None
        return conversation


@dataclass
class EngineWorld(Texting):
    """The engine without triage or a crisis desk, wired to fakes."""

    repository: InMemoryConversationRepository = field(default_factory=InMemoryConversationRepository)
    outbound: RecordingOutboundQueue = field(default_factory=RecordingOutboundQueue)
    timers: RecordingTimerQueue = field(default_factory=RecordingTimerQueue)
    clock: FakeClock = field(default_factory=FakeClock)
    settings: EngineSettings = field(default_factory=EngineSettings)
    vault: ReversibleVault = field(default_factory=ReversibleVault)
    erasures: RecordingErasureQueue = field(default_factory=RecordingErasureQueue)
    _sids: int = 0

    def __post_init__(self) -> None:
        wiring = wire(
            self.repository,
            self.outbound,
            self.timers,
            self.clock,
            self.vault,
            engine_settings=self.settings,
            erasures=self.erasures,
        )
        self.engine = wiring.engine

    def sent_bodies(self) -> list[str]:
        return [text.body for text in self.outbound.texts]


@dataclass
class CrisisWorld(Texting):
    """The engine with triage and a crisis desk, wired to fakes; three professionals on the rota unless told not."""

    triage_table: dict[str, StubAssessment] = field(default_factory=dict)
    rota: dict[str, str] = field(default_factory=lambda: dict(ON_CALL_NUMBERS))
    escalation_settings: EscalationSettings = field(default_factory=EscalationSettings)
    # None: the stub table above; or a real scorer (e.g. peerline.triage.triage).
    scorer: Any = None
    settings: EngineSettings = field(default_factory=EngineSettings)
    _sids: int = 0

    def __post_init__(self) -> None:
        self.clock = FakeClock()
        self.vault = ReversibleVault()
        self.escalations = InMemoryEscalationStore()
        self.repository = EscalatingConversationRepository(self.escalations)
        self.outbound = FlakyOutboundQueue()
        self.timers = RecordingTimerQueue()
        self.queued_calls = 0
        self.audit = InMemoryAuditLog()
        wiring = wire(
            self.repository,
            self.outbound,
            self.timers,
            self.clock,
            self.vault,
            crisis=True,
            triage=self.scorer or StubTriage(self.triage_table),
            rota=self.rota,
            escalation_settings=self.escalation_settings,
            on_queued=self._on_queued,
            engine_settings=self.settings,
            audit=self.audit,
        )
        self.engine, self.service, self.desk = wiring.engine, wiring.service, wiring.desk
        self.directory, self.notifier = wiring.directory, wiring.notifier

    def _on_queued(self) -> None:
        self.queued_calls += 1

    def target(self, name: str) -> PageTarget:
        return next(target for target in self.directory.targets() if target.name == name)

    def pages(self) -> list[OutboundText]:
        return self.outbound.of_purpose("page")

    def paged_names(self) -> list[str]:
        names = {target.target_id: target.name for target in self.directory.targets()}
        return [names[text.recipient_id] for text in self.pages()]

    def clear_queues(self) -> None:
        self.outbound.clear()
        self.timers.clear()
        self.notifier.notifications.clear()


# ---------------------------------------------------------------- setting the scene for routing
@dataclass
class RoutingWorld:
    """A router wired to fakes, with helpers to set the scene."""

    repository: InMemoryRoutingRepository = field(default_factory=InMemoryRoutingRepository)
    outbound: RecordingOutboundQueue = field(default_factory=RecordingOutboundQueue)
    timers: RecordingTimerQueue = field(default_factory=RecordingTimerQueue)
    clock: FakeClock = field(default_factory=FakeClock)
    settings: RoutingSettings = field(default_factory=RoutingSettings)

    def __post_init__(self) -> None:
        self.vault = ReversibleVault()
        self.router = wire(
            self.repository, self.outbound, self.timers, self.clock, self.vault, routing_settings=self.settings
        ).router

    # -- setting the scene
    def volunteer(self, volunteer_id: str, **overrides: Any) -> VolunteerRecord:
        return self.repository.add_volunteer(make_volunteer(volunteer_id, **overrides))

    def waiting(self, conversation_id: str, *, waited_seconds: float = 0, **overrides: Any) -> ConversationRecord:
        """A texter waiting for a volunteer (since ``waited_seconds`` ago), with their texter record."""
        conversation = make_waiting(
            conversation_id, waiting_since=self.clock() - timedelta(seconds=waited_seconds), **overrides
        )
        self.repository.add_texter(make_texter(conversation.texter_id, conversation_id=conversation_id))
        return self.repository.add_conversation(conversation)

    def inbound(self, conversation_id: str, body: str) -> StoredMessage:
        now = self.clock()
        return self.repository.add_message(
            StoredMessage(
                conversation_id=conversation_id,
                message_key=f"{now.isoformat()}#SM{len(self.repository.messages_of(conversation_id))}",
                message_id=f"SM{len(self.repository.messages_of(conversation_id))}",
                direction="inbound",
                body=body,
                at=now,
                expires_at=int((now + timedelta(hours=24)).timestamp()),
            )
        )

    def offered(self, conversation_id: str, to: str) -> ConversationRecord:
        """The conversation, offered to ``to`` (who must be its only eligible volunteer right now)."""
        self.router.route_waiting()
        conversation = self.conversation(conversation_id)
        assert conversation.state is ConversationState.OFFERED and conversation.volunteer_id == to
        return conversation

    def active(self, conversation_id: str, with_: str) -> ConversationRecord:
        self.offered(conversation_id, with_)
        return self.router.accept(with_, conversation_id)

    # -- looking at the world
    def conversation(self, conversation_id: str) -> ConversationRecord:
        conversation = self.repository.get_conversation(conversation_id)
        assert conversation is not None
        return conversation

    def load(self, volunteer_id: str) -> int:
        volunteer = self.repository.get_volunteer(volunteer_id)
        assert volunteer is not None
        return volunteer.load

    def record(self, volunteer_id: str) -> VolunteerRecord:
        volunteer = self.repository.get_volunteer(volunteer_id)
        assert volunteer is not None
        return volunteer

    def offer_timers(self, conversation_id: str | None = None) -> list[ConversationTimer]:
        return [
            timer
            for timer in self.timers.of_kind(TimerKind.OFFER_EXPIRY)
            if conversation_id is None or timer.conversation_id == conversation_id
        ]

    def texts_to(self, conversation_id: str) -> list[str]:
        return [text.body for text in self.outbound.texts if text.recipient_id == f"t-{conversation_id}"]

    def today(self) -> date:
        return self.clock().date()


@dataclass
class CrisisRoutingWorld(RoutingWorld):
    """A router with a crisis desk: the volunteer's "escalate" pages the same rota as triage does."""

    repository: EscalatingRoutingRepository = field(default_factory=EscalatingRoutingRepository)
    outbound: FlakyOutboundQueue = field(default_factory=FlakyOutboundQueue)

    def __post_init__(self) -> None:
        self.vault = ReversibleVault()
        self.escalation_settings = EscalationSettings()
        wiring = wire(
            self.repository,
            self.outbound,
            self.timers,
            self.clock,
            self.vault,
            routing_settings=self.settings,
            crisis=True,
            escalation_settings=self.escalation_settings,
        )
        self.router, self.service, self.directory, self.notifier = (
            wiring.router,
            wiring.service,
            wiring.directory,
            wiring.notifier,
        )

    @property
    def escalations(self) -> InMemoryEscalationStore:
        return self.repository.escalations
