"""The composition root: each function's ports, built once per container from that function's settings.

One factory per function (``inbound_webhook``, ``conversation_engine``, ``conversation_timers``, ``sender``,
``status_callback``, ``volunteer_api``, ``dashboard_socket``, ``reveal_number``), each returning a typed ports
object. A handler calls its factory at import (the cold start: a missing or invalid env var fails there, with
``SettingsError``) and again per event (a cached lookup). Adapters are imported inside the factories, so a
function imports only what it uses.

Tests point everything at moto or the local Twilio fake through the environment (``AWS_ENDPOINT_URL``,
``TWILIO_API_BASE_URL``) and call ``reset()`` between set-ups. A new function: a settings model in
``peerline.settings``, a ports dataclass and a ``@cache`` factory here, and the factory in ``reset()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from peerline.access import LiveSessions
    from peerline.adapters.conversation_store import DynamoConversationStore
    from peerline.adapters.dynamo import DynamoDeliveryLog
    from peerline.adapters.idempotency import Once
    from peerline.adapters.kms import KmsNumberVault
    from peerline.adapters.queues import SqsInboundQueue, SqsOutboundQueue, SqsTimerQueue
    from peerline.adapters.twilio_erasure import SqsErasureQueue, TwilioMessageEraser
    from peerline.adapters.twilio_signature import SecretTwilioSignatureChecker, TwilioSignatureChecker
    from peerline.adapters.twilio_sms import TwilioSmsGateway
    from peerline.audit import AuditLog
    from peerline.conversation import ConversationEngine, CrisisDesk
    from peerline.delivery import SendOutcome
    from peerline.escalation import EscalationService
    from peerline.models import InboundText, OutboundText
    from peerline.push import LiveChannel, LivePush
    from peerline.replies import ReplyBook
    from peerline.reveal import RevealDesk
    from peerline.routing import Router
    from peerline.settings import (
        EngineFunctionSettings,
        EraserSettings,
        LineSettings,
        SenderSettings,
        StatusCallbackSettings,
        VolunteerApiSettings,
        WebhookSettings,
    )
    from peerline.twilio_erasure import MessageErasure
    from peerline.volunteer_desk import VolunteerDesk


def _signature_checker(twilio_secret_name: str) -> TwilioSignatureChecker:
    # Per request, not at init: the auth token is read (cached) from Secrets Manager, and may be rotated.
    from peerline.adapters.secrets import twilio_credentials
    from peerline.adapters.twilio_signature import TwilioSignatureChecker

    return TwilioSignatureChecker(twilio_credentials(twilio_secret_name).auth_token)


def _texter_id_for(pepper_secret_arn: str, oncall_fallback_number: str) -> Callable[[str], str]:
    from peerline.adapters.secrets import secret_string
    from peerline.number_context import FALLBACK_ONCALL_ID
    from peerline.phone import texter_id_for

    def id_for(number: str) -> str:
        # The fallback on-call number's fixed id: the functions that page it hold no pepper to compute its HMAC.
        if oncall_fallback_number and number == oncall_fallback_number:
            return FALLBACK_ONCALL_ID
        return texter_id_for(number, secret_string(pepper_secret_arn))

    return id_for


# ---------------------------------------------------------------- InboundWebhookFunction
class _IdempotentInboundQueue:
    def __init__(self, queue: SqsInboundQueue, once: Once) -> None:
        self._enqueue = once.wrap(self._enqueue_text)
        self._queue = queue

    def _enqueue_text(self, text: InboundText) -> bool:
        self._queue.enqueue(text)
        return True

    def enqueue_once(self, text: InboundText) -> None:
        self._enqueue(text)


@dataclass(frozen=True)
class InboundWebhookPorts:
    settings: WebhookSettings
    vault: KmsNumberVault
    queue: _IdempotentInboundQueue
    once: Once
    texter_id_for: Callable[[str], str]

    def checker(self) -> SecretTwilioSignatureChecker:
        # The secret is read inside the check, so a Secrets Manager failure gets the texter the fallback reply.
        from peerline.adapters.twilio_signature import SecretTwilioSignatureChecker

        return SecretTwilioSignatureChecker(self.settings.twilio_secret_name)


@cache
def inbound_webhook() -> InboundWebhookPorts:
    from peerline.adapters.idempotency import Once
    from peerline.adapters.kms import KmsNumberVault
    from peerline.adapters.queues import SqsInboundQueue
    from peerline.settings import WebhookSettings

    settings = WebhookSettings.from_env()
    once = Once(
        table_name=settings.idempotency_table,
        key_path="message_sid",
        expires_after_seconds=settings.replay_window_seconds,
    )
    return InboundWebhookPorts(
        settings=settings,
        vault=KmsNumberVault(settings.phone_key_id),
        queue=_IdempotentInboundQueue(SqsInboundQueue(settings.inbound_queue_url), once),
        once=once,
        texter_id_for=_texter_id_for(settings.pepper_secret_arn, settings.oncall_fallback_number),
    )


# ---------------------------------------------------------------- the line: routing and escalation
@dataclass(frozen=True)
class _Line:
    """What the engine, the timers and the volunteer API share: the store, the queues, routing and the crisis desk."""

    repository: DynamoConversationStore
    outbound: SqsOutboundQueue
    timers: SqsTimerQueue
    live: LivePush
    crisis: CrisisDesk
    router: Router
    replies: ReplyBook


def _line(settings: LineSettings) -> _Line:
    from peerline.adapters.conversation_store import DynamoConversationStore
    from peerline.adapters.escalations import DynamoEscalationStore, DynamoOnCallDirectory, SnsNotifier
    from peerline.adapters.kms import KmsNumberVault
    from peerline.adapters.push import ApiGatewayLivePush, DynamoConnections
    from peerline.adapters.queues import SqsOutboundQueue, SqsTimerQueue
    from peerline.conversation import CrisisDesk
    from peerline.escalation import EscalationService, EscalationSettings
    from peerline.models import ConversationState
    from peerline.push import NoLivePush
    from peerline.replies import ReplyBook
    from peerline.routing import Router, RoutingSettings

    repository = DynamoConversationStore(
        texters_table=settings.texters_table,
        conversations_table=settings.conversations_table,
        messages_table=settings.messages_table,
        counters_table=settings.counters_table,
        volunteers_table=settings.volunteers_table,
        escalations_table=settings.escalations_table,
    )
    outbound = SqsOutboundQueue(settings.outbound_queue_url)
    timers = SqsTimerQueue(settings.timer_queue_url)
    # Pushes to the dashboards' WebSockets; nothing when the function has no live channel configured.
    live = (
        ApiGatewayLivePush(DynamoConnections(settings.connections_table), settings.socket_callback_url)
        if settings.connections_table and settings.socket_callback_url
        else NoLivePush()
    )

    def holder_of(conversation_id: str) -> str | None:
        """Who holds a conversation now (offered or active), so escalation news reaches their dashboard too."""
        conversation = repository.get_conversation(conversation_id)
        if conversation is None or conversation.state not in (ConversationState.OFFERED, ConversationState.ACTIVE):
            return None
        return conversation.volunteer_id

    directory = DynamoOnCallDirectory(
        settings.oncall_table,
        fallback_number=settings.oncall_fallback_number,
        # Encrypt only (the fallback number, for its pages): no function of the line but the sender decrypts.
        encrypt=KmsNumberVault(settings.phone_key_id).encrypt,
    )
    escalation_settings = EscalationSettings(
        repage_seconds=settings.repage_seconds, retention_days=settings.retention_days
    )
    notifier = SnsNotifier(settings.paging_topic_arn)
    service = EscalationService(
        store=DynamoEscalationStore(settings.escalations_table),
        directory=directory,
        outbound=outbound,
        timers=timers,
        notifier=notifier,
        settings=escalation_settings,
        live=live,
        holder_of=holder_of,
        conversation_of=repository.get_conversation,
    )
    crisis = CrisisDesk(directory=directory, service=service, notifier=notifier, settings=escalation_settings)
    replies = ReplyBook(settings.emergency_resources_text, settings.emergency_resources_text_es)
    router = Router(
        repository=repository,
        outbound=outbound,
        timers=timers,
        replies=replies,
        settings=RoutingSettings(
            offer_timeout_seconds=settings.offer_timeout_seconds,
            decline_lapse_seconds=settings.decline_lapse_seconds,
            inactivity_close_minutes=settings.inactivity_close_minutes,
            message_ttl_hours=settings.message_ttl_hours,
            retention_days=settings.retention_days,
        ),
        crisis=crisis,
        live=live,
    )
    return _Line(
        repository=repository,
        outbound=outbound,
        timers=timers,
        live=live,
        crisis=crisis,
        router=router,
        replies=replies,
    )


def _engine(
    settings: EngineFunctionSettings,
    line: _Line,
    erasures: SqsErasureQueue | None = None,
    audit: AuditLog | None = None,
) -> ConversationEngine:
    from peerline.conversation import ConversationEngine, EngineSettings
    from peerline.triage import triage

    return ConversationEngine(
        repository=line.repository,
        outbound=line.outbound,
        timers=line.timers,
        replies=line.replies,
        settings=EngineSettings(
            still_waiting_seconds=settings.still_waiting_seconds,
            consent_timeout_seconds=settings.consent_timeout_seconds,
            message_ttl_hours=settings.message_ttl_hours,
            retention_days=settings.retention_days,
            inactivity_close_minutes=settings.inactivity_close_minutes,
            returning_window_minutes=settings.returning_window_minutes,
            texter_texts_per_minute=settings.texter_texts_per_minute,
        ),
        on_queued=line.router.route_waiting,
        triage=triage,
        crisis=line.crisis,
        live=line.live,
        summarize=line.router.views.summary,
        erasures=erasures,
        audit=audit,
    )


# ---------------------------------------------------------------- ConversationEngineFunction
@dataclass(frozen=True)
class EnginePorts:
    engine: ConversationEngine


@cache
def conversation_engine() -> EnginePorts:
    from peerline.adapters.audit import DynamoAuditLog
    from peerline.adapters.twilio_erasure import SqsErasureQueue
    from peerline.settings import InboundEngineSettings

    settings = InboundEngineSettings.from_env()
    audit = DynamoAuditLog(settings.audit_table, retention_days=settings.audit_retention_days)
    engine = _engine(settings, _line(settings), erasures=SqsErasureQueue(settings.erase_queue_url), audit=audit)
    return EnginePorts(engine=engine)


# ---------------------------------------------------------------- ConversationTimersFunction
@dataclass(frozen=True)
class TimerPorts:
    engine: ConversationEngine
    router: Router
    escalations: EscalationService
    timers: SqsTimerQueue
    # Closes a deactivated or re-roled volunteer's dashboard sockets (``peerline.access``).
    sessions: LiveSessions


@cache
def conversation_timers() -> TimerPorts:
    from peerline.access import NoLiveSessions
    from peerline.adapters.live_sessions import ApiGatewayLiveSessions
    from peerline.adapters.push import DynamoConnections
    from peerline.settings import TimersFunctionSettings

    settings = TimersFunctionSettings.from_env()
    line = _line(settings)
    sessions: LiveSessions = (
        ApiGatewayLiveSessions(DynamoConnections(settings.connections_table), settings.socket_callback_url)
        if settings.connections_table and settings.socket_callback_url
        else NoLiveSessions()
    )
    return TimerPorts(
        engine=_engine(settings, line),
        router=line.router,
        escalations=line.crisis.service,
        timers=line.timers,
        sessions=sessions,
    )


# ---------------------------------------------------------------- VolunteerApiFunction
@dataclass(frozen=True)
class VolunteerApiPorts:
    settings: VolunteerApiSettings
    desk: VolunteerDesk


@cache
def volunteer_api() -> VolunteerApiPorts:
    from peerline.adapters.audit import DynamoAuditLog
    from peerline.adapters.cognito_two_step import CognitoTwoStepSettings
    from peerline.adapters.library import DynamoLibrary
    from peerline.settings import VolunteerApiSettings
    from peerline.texter_controls import TexterControls
    from peerline.two_step import TwoStepCheck
    from peerline.volunteer_desk import VolunteerDesk
    from peerline.wrap_up import WrapUpChoices

    settings = VolunteerApiSettings.from_env()
    line = _line(settings)
    texters = TexterControls(
        store=line.repository,
        router=line.router,
        escalations=line.crisis.service,
        outbound=line.outbound,
        audit=DynamoAuditLog(settings.audit_table, retention_days=settings.audit_retention_days),
        replies=line.replies,
        retention_days=settings.retention_days,
    )
    return VolunteerApiPorts(
        settings=settings,
        desk=VolunteerDesk(
            store=line.repository,
            router=line.router,
            escalation_service=line.crisis.service,
            library_store=DynamoLibrary(settings.library_table),
            texters=texters,
            two_step=TwoStepCheck(CognitoTwoStepSettings(settings.user_pool_id)),
            wrap_up=WrapUpChoices.parse(settings.session_outcomes, settings.session_tags),
        ),
    )


# ---------------------------------------------------------------- DashboardSocketFunction
@cache
def dashboard_socket() -> LiveChannel:
    """The dashboard socket's $connect/$disconnect: Cognito judges the token, the registry the volunteer."""
    from peerline.adapters.cognito_two_step import CognitoTwoStepSettings
    from peerline.adapters.push import CognitoTokenSubjects, DynamoConnections
    from peerline.adapters.volunteers import DynamoVolunteerRegistry
    from peerline.push import LiveChannel
    from peerline.settings import DashboardSocketSettings
    from peerline.two_step import TwoStepCheck

    settings = DashboardSocketSettings.from_env()
    return LiveChannel(
        connections=DynamoConnections(settings.connections_table),
        subject_of=CognitoTokenSubjects(settings.user_pool_id, settings.user_pool_client_id),
        volunteer=DynamoVolunteerRegistry(settings.volunteers_table).get,
        has_totp=TwoStepCheck(CognitoTwoStepSettings(settings.user_pool_id)).has_totp,
    )


# ---------------------------------------------------------------- SendSmsFunction
@dataclass(frozen=True)
class SenderPorts:
    settings: SenderSettings
    once: Once
    # Texts one outbound text through Twilio, once per outbound id (Powertools Idempotency), then queues its
    # erasure from Twilio (see ``delivery.send_then_erase_later``).
    send_once: Callable[[OutboundText], SendOutcome]


@cache
def _twilio_gateway(
    account_sid: str, auth_token: str, from_number: str, status_callback_url: str, api_base_url: str | None
) -> TwilioSmsGateway:
    # Imported here: twilio.rest is heavy, and only the sender pays for it. Keyed by credentials, so a rotated
    # token gets a new client.
    from peerline.adapters.twilio_sms import TwilioSmsGateway

    return TwilioSmsGateway(
        account_sid=account_sid,
        auth_token=auth_token,
        from_number=from_number,
        status_callback_url=status_callback_url,
        api_base_url=api_base_url,
    )


@cache
def sender() -> SenderPorts:
    from peerline.adapters.dynamo import DynamoDeliveryLog, DynamoTexterOptOuts
    from peerline.adapters.idempotency import Once
    from peerline.adapters.kms import KmsNumberVault
    from peerline.adapters.secrets import twilio_credentials
    from peerline.adapters.twilio_erasure import SqsErasureQueue
    from peerline.delivery import RetryPolicy, send_text, send_then_erase_later
    from peerline.settings import SenderSettings

    settings = SenderSettings.from_env()
    vault = KmsNumberVault(settings.phone_key_id)
    log = DynamoDeliveryLog(settings.deliveries_table)
    opt_outs = DynamoTexterOptOuts(settings.texters_table)
    retry = RetryPolicy(settings.send_attempts, settings.retry_base_delay_seconds)

    def send(text: OutboundText) -> dict[str, str]:
        credentials = twilio_credentials(settings.twilio_secret_name)
        gateway = _twilio_gateway(
            credentials.account_sid,
            credentials.auth_token,
            settings.line_number,
            settings.status_callback_url,
            settings.twilio_api_base_url,
        )
        outcome = send_text(text, gateway=gateway, vault=vault, log=log, opt_outs=opt_outs, retry=retry)
        return outcome.as_record()  # what the idempotency record remembers: the result and Twilio's SID

    once = Once(table_name=settings.idempotency_table, key_path="outbound_id", expires_after_seconds=24 * 3600)
    send_once = once.wrap(send)
    erasures = SqsErasureQueue(settings.erase_queue_url)
    return SenderPorts(
        settings=settings,
        once=once,
        send_once=lambda text: send_then_erase_later(text, send_once=send_once, erasures=erasures),
    )


# ---------------------------------------------------------------- StatusCallbackFunction
@dataclass(frozen=True)
class StatusCallbackPorts:
    settings: StatusCallbackSettings
    log: DynamoDeliveryLog

    def checker(self) -> TwilioSignatureChecker:
        return _signature_checker(self.settings.twilio_secret_name)


@cache
def status_callback() -> StatusCallbackPorts:
    from peerline.adapters.dynamo import DynamoDeliveryLog
    from peerline.settings import StatusCallbackSettings

    settings = StatusCallbackSettings.from_env()
    return StatusCallbackPorts(settings=settings, log=DynamoDeliveryLog(settings.deliveries_table))


# ---------------------------------------------------------------- EraseMessagesFunction
@dataclass(frozen=True)
class EraserPorts:
    settings: EraserSettings
    # Deletes one message from Twilio once its conversation has closed (see ``peerline.twilio_erasure``).
    erase: Callable[[MessageErasure], str]


@cache
def _twilio_eraser(account_sid: str, auth_token: str, api_base_url: str | None) -> TwilioMessageEraser:
    from peerline.adapters.twilio_erasure import TwilioMessageEraser

    return TwilioMessageEraser(account_sid=account_sid, auth_token=auth_token, api_base_url=api_base_url)


@cache
def eraser() -> EraserPorts:
    from peerline.adapters.secrets import twilio_credentials
    from peerline.adapters.twilio_erasure import DynamoOpenConversations, SqsErasureQueue
    from peerline.settings import EraserSettings
    from peerline.twilio_erasure import ErasureSettings, erase_when_closed

    settings = EraserSettings.from_env()
    conversations = DynamoOpenConversations(settings.conversations_table)
    queue = SqsErasureQueue(settings.erase_queue_url)
    erasure_settings = ErasureSettings(
        recheck_seconds=settings.erase_recheck_seconds, in_flight_retry_seconds=settings.erase_in_flight_retry_seconds
    )

    def erase(job: MessageErasure) -> str:
        # Per job, not at init: the credentials are read (cached) from Secrets Manager, and may be rotated.
        credentials = twilio_credentials(settings.twilio_secret_name)
        twilio = _twilio_eraser(credentials.account_sid, credentials.auth_token, settings.twilio_api_base_url)
        return erase_when_closed(
            job, conversations=conversations, twilio=twilio, queue=queue, settings=erasure_settings
        ).value

    return EraserPorts(settings=settings, erase=erase)


# ---------------------------------------------------------------- RevealNumberFunction
@cache
def reveal_number() -> RevealDesk:
    """The reveal function's desk: reads by key, its hourly allowance, the audit log, and the key to decrypt."""
    from peerline.adapters.audit import DynamoAuditLog
    from peerline.adapters.cognito_two_step import CognitoTwoStepSettings
    from peerline.adapters.kms import KmsNumberVault
    from peerline.adapters.reveal import DynamoRevealAllowance, DynamoRevealRecords
    from peerline.reveal import RevealDesk, RevealPolicy
    from peerline.settings import RevealNumberSettings
    from peerline.two_step import TwoStepCheck

    settings = RevealNumberSettings.from_env()
    return RevealDesk(
        records=DynamoRevealRecords(
            volunteers_table=settings.volunteers_table,
            escalations_table=settings.escalations_table,
            conversations_table=settings.conversations_table,
            texters_table=settings.texters_table,
        ),
        allowance=DynamoRevealAllowance(settings.counters_table),
        audit=DynamoAuditLog(settings.audit_table, retention_days=settings.audit_retention_days),
        decrypt=KmsNumberVault(settings.phone_key_id).decrypt,
        has_totp=TwoStepCheck(CognitoTwoStepSettings(settings.user_pool_id)).has_totp,
        policy=RevealPolicy(window_minutes=settings.reveal_window_minutes, per_hour=settings.reveals_per_hour),
    )


def reset() -> None:
    """Forget every built port (tests change the environment between set-ups)."""
    from peerline.adapters.push import management_client
    from peerline.adapters.secrets import forget_cached_secrets

    for factory in (
        inbound_webhook,
        conversation_engine,
        conversation_timers,
        volunteer_api,
        dashboard_socket,
        sender,
        status_callback,
        reveal_number,
        _twilio_gateway,
        eraser,
        _twilio_eraser,
    ):
        factory.cache_clear()
    management_client.cache_clear()
    forget_cached_secrets()
