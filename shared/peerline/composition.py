"""The composition root: each function's ports built once per container from its settings.

Handlers call one of these; tests point everything at moto or the local Twilio fake through the environment
(``AWS_ENDPOINT_URL``, ``TWILIO_API_BASE_URL``) and call ``reset()`` between set-ups.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from peerline.adapters.dynamo import DynamoDeliveryLog, DynamoTexterOptOuts
from peerline.adapters.escalations import DynamoEscalationStore, DynamoOnCallDirectory, SnsNotifier
from peerline.adapters.idempotency import Once
from peerline.adapters.kms import KmsNumberVault
from peerline.adapters.library import DynamoLibrary
from peerline.adapters.push import ApiGatewayLivePush, CognitoTokenSubjects, DynamoConnections, management_client
from peerline.adapters.queues import SqsInboundQueue, SqsOutboundQueue, SqsTimerQueue
from peerline.adapters.routing_store import DynamoRoutingRepository
from peerline.adapters.secrets import forget_cached_secrets, secret_string, twilio_credentials
from peerline.adapters.twilio_signature import TwilioSignatureChecker
from peerline.adapters.volunteers import DynamoVolunteerRegistry
from peerline.conversation import ConversationEngine, CrisisDesk, EngineSettings
from peerline.escalation import EscalationService, EscalationSettings
from peerline.models import ConversationState, InboundText
from peerline.phone import texter_id_for
from peerline.push import LiveChannel, LivePush, NoLivePush
from peerline.replies import ReplyBook
from peerline.routing import Router, RoutingSettings
from peerline.settings import (
    DashboardSettings,
    DashboardSocketSettings,
    EngineFunctionSettings,
    SenderSettings,
    StatusCallbackSettings,
    WebhookSettings,
)


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

    def checker(self) -> TwilioSignatureChecker:
        return TwilioSignatureChecker(twilio_credentials(self.settings.twilio_secret_name).auth_token)

    def texter_id_for(self, number: str) -> str:
        return texter_id_for(number, secret_string(self.settings.pepper_secret_arn))


@cache
def inbound_webhook() -> InboundWebhookPorts:
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
    )


@cache
def conversation_engine() -> ConversationEngine:
    settings = EngineFunctionSettings.from_env()
    return ConversationEngine(
        repository=conversation_repository(),
        outbound=outbound_queue(),
        timers=timer_queue(),
        replies=_replies(settings),
        settings=EngineSettings(
            still_waiting_seconds=settings.still_waiting_seconds,
            consent_timeout_seconds=settings.consent_timeout_seconds,
            message_ttl_hours=settings.message_ttl_hours,
            retention_days=settings.retention_days,
            inactivity_close_minutes=settings.inactivity_close_minutes,
            returning_window_minutes=settings.returning_window_minutes,
        ),
        on_queued=router().route_waiting,
        triage=_triage(),
        crisis=crisis_desk(),
        live=live_push(),
        summarize=router().views.summary,
    )


def _triage() -> Any:
    from peerline.triage import triage

    return triage


@cache
def crisis_desk() -> CrisisDesk:
    settings = EngineFunctionSettings.from_env()
    vault = KmsNumberVault(settings.phone_key_id)
    directory = DynamoOnCallDirectory(
        settings.oncall_table,
        fallback_number=settings.oncall_fallback_number,
        encrypt=vault.encrypt,
        texter_id_for=lambda number: texter_id_for(number, secret_string(settings.pepper_secret_arn)),
    )
    escalation_settings = EscalationSettings(
        repage_seconds=settings.repage_seconds, retention_days=settings.retention_days
    )
    notifier = SnsNotifier(settings.paging_topic_arn)
    service = EscalationService(
        store=DynamoEscalationStore(settings.escalations_table),
        directory=directory,
        outbound=outbound_queue(),
        timers=timer_queue(),
        notifier=notifier,
        settings=escalation_settings,
        live=live_push(),
        holder_of=_holder_of,
    )
    return CrisisDesk(directory=directory, service=service, notifier=notifier, settings=escalation_settings)


@cache
def conversation_repository() -> DynamoRoutingRepository:
    settings = EngineFunctionSettings.from_env()
    return DynamoRoutingRepository(
        texters_table=settings.texters_table,
        conversations_table=settings.conversations_table,
        messages_table=settings.messages_table,
        counters_table=settings.counters_table,
        volunteers_table=settings.volunteers_table,
        escalations_table=settings.escalations_table,
    )


def _holder_of(conversation_id: str) -> str | None:
    """Who holds a conversation now (offered or active), so escalation news reaches their dashboard too."""
    conversation = conversation_repository().get_conversation(conversation_id)
    held = conversation is not None and conversation.state in (ConversationState.OFFERED, ConversationState.ACTIVE)
    return conversation.volunteer_id if held and conversation is not None else None


@cache
def router() -> Router:
    settings = EngineFunctionSettings.from_env()
    return Router(
        repository=conversation_repository(),
        outbound=outbound_queue(),
        timers=timer_queue(),
        replies=_replies(settings),
        settings=RoutingSettings(
            offer_timeout_seconds=settings.offer_timeout_seconds,
            decline_lapse_seconds=settings.decline_lapse_seconds,
            inactivity_close_minutes=settings.inactivity_close_minutes,
            message_ttl_hours=settings.message_ttl_hours,
            retention_days=settings.retention_days,
        ),
        crisis=crisis_desk(),
        live=live_push(),
    )


# ---------------------------------------------------------------- live dashboard updates
@cache
def live_push() -> LivePush:
    """Pushes to the dashboards' WebSockets; nothing when the function has no live channel configured."""
    settings = EngineFunctionSettings.from_env()
    if not settings.connections_table or not settings.socket_callback_url:
        return NoLivePush()
    return ApiGatewayLivePush(DynamoConnections(settings.connections_table), settings.socket_callback_url)


@cache
def live_channel() -> LiveChannel:
    """The dashboard socket's $connect/$disconnect: Cognito judges the token, the registry the volunteer."""
    settings = DashboardSocketSettings.from_env()
    return LiveChannel(
        connections=DynamoConnections(settings.connections_table),
        subject_of=CognitoTokenSubjects(settings.user_pool_id, settings.user_pool_client_id),
        volunteer=DynamoVolunteerRegistry(settings.volunteers_table).get,
    )


@cache
def library() -> DynamoLibrary:
    return DynamoLibrary(DashboardSettings.from_env().library_table)


def number_vault() -> KmsNumberVault:
    return KmsNumberVault(EngineFunctionSettings.from_env().phone_key_id)


@cache
def outbound_queue() -> SqsOutboundQueue:
    """The one outbound queue adapter the engine, router and escalations share."""
    return SqsOutboundQueue(EngineFunctionSettings.from_env().outbound_queue_url)


@cache
def timer_queue() -> SqsTimerQueue:
    """The one timer queue adapter the engine, router, escalations and the timers handler share."""
    return SqsTimerQueue(EngineFunctionSettings.from_env().timer_queue_url)


def _replies(settings: EngineFunctionSettings) -> ReplyBook:
    return ReplyBook(settings.emergency_resources_text, settings.emergency_resources_text_es)


@dataclass(frozen=True)
class SenderPorts:
    settings: SenderSettings
    vault: KmsNumberVault
    log: DynamoDeliveryLog
    opt_outs: DynamoTexterOptOuts
    once: Once

    def gateway(self) -> Any:
        credentials = twilio_credentials(self.settings.twilio_secret_name)
        return _twilio_gateway(
            credentials.account_sid,
            credentials.auth_token,
            self.settings.line_number,
            self.settings.status_callback_url,
            self.settings.twilio_api_base_url,
        )


@cache
def _twilio_gateway(
    account_sid: str, auth_token: str, from_number: str, status_callback_url: str, api_base_url: str | None
) -> Any:
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
    settings = SenderSettings.from_env()
    return SenderPorts(
        settings=settings,
        vault=KmsNumberVault(settings.phone_key_id),
        log=DynamoDeliveryLog(settings.deliveries_table, settings.retention_days),
        opt_outs=DynamoTexterOptOuts(settings.texters_table),
        once=Once(table_name=settings.idempotency_table, key_path="outbound_id", expires_after_seconds=24 * 3600),
    )


@dataclass(frozen=True)
class StatusCallbackPorts:
    settings: StatusCallbackSettings
    log: DynamoDeliveryLog
    opt_outs: DynamoTexterOptOuts

    def checker(self) -> TwilioSignatureChecker:
        return TwilioSignatureChecker(twilio_credentials(self.settings.twilio_secret_name).auth_token)


@cache
def status_callback() -> StatusCallbackPorts:
    settings = StatusCallbackSettings.from_env()
    return StatusCallbackPorts(
        settings=settings,
        log=DynamoDeliveryLog(settings.deliveries_table, settings.retention_days),
        opt_outs=DynamoTexterOptOuts(settings.texters_table),
    )


def reset() -> None:
    """Forget every built port (tests change the environment between set-ups)."""
    for factory in (
        inbound_webhook,
        conversation_engine,
        conversation_repository,
        router,
        crisis_desk,
        outbound_queue,
        timer_queue,
        live_push,
        live_channel,
        library,
        sender,
        status_callback,
    ):
        factory.cache_clear()
    _twilio_gateway.cache_clear()
    management_client.cache_clear()
    forget_cached_secrets()
