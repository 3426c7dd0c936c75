"""One settings model per function, read from the environment at cold start so a bad deploy fails loudly.

Each function's model holds only what that function reads; the groups below are the env vars several functions
share (their names are the upper-case field names, as in ``template.yaml``).
"""

from __future__ import annotations

import os
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from peerline.wrap_up import CHOICE_LIST, DEFAULT_OUTCOMES, DEFAULT_TAGS


class SettingsError(Exception):
    """The function's environment is missing a variable or holds a bad value (raised at cold start)."""


class _FromEnvironment(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Self:
        """Validate the environment (variable names are the upper-case field names)."""
        source = os.environ if environ is None else environ
        try:
            return cls.model_validate({key.lower(): value for key, value in source.items()})
        except ValidationError as invalid:
            # Readable, and naming env vars rather than fields; never the values (a number may be among them).
            problems = "; ".join(
                f"{'.'.join(str(part) for part in issue['loc']).upper()}: "
                + ("missing" if issue["type"] == "missing" else issue["msg"])
                for issue in invalid.errors(include_input=False)
            )
            raise SettingsError(f"{cls.__name__} from the environment: {problems}") from None


# ---------------------------------------------------------------- groups several functions share
class _Twilio(_FromEnvironment):
    twilio_secret_name: str
    # Empty = rebuild the URL Twilio called from the request's own domain (the default execute-api endpoint).
    public_base_url: str = ""


class _Retention(_FromEnvironment):
    retention_days: int = Field(default=90, ge=1)


class _Store(_Retention):
    """The tables behind conversations, texters, volunteers and escalations."""

    texters_table: str
    conversations_table: str
    messages_table: str
    counters_table: str
    volunteers_table: str
    escalations_table: str
    message_ttl_hours: int = Field(default=24, ge=1)


class LineSettings(_Store):
    """What the router needs: the queues, the texts it sends, and its timers."""

    outbound_queue_url: str
    timer_queue_url: str
    emergency_resources_text: str = Field(min_length=1)
    emergency_resources_text_es: str = Field(min_length=1)
    offer_timeout_seconds: int = Field(default=45, ge=1)
    decline_lapse_seconds: int = Field(default=120, ge=0)
    inactivity_close_minutes: int = Field(default=30, ge=1)
    # Paging on-call for a crisis (the router escalates; the crisis desk pages).
    oncall_table: str
    paging_topic_arn: str
    oncall_fallback_number: str = Field(default="", pattern=r"^(\+[1-9]\d{6,14})?$")
    repage_seconds: int = Field(default=300, ge=1)
    # Only to encrypt the fallback number for its pages (decrypting is the sender's; the pepper, the webhook's).
    phone_key_id: str
    # Live dashboard updates (empty = no live channel: nothing is pushed, dashboards poll).
    connections_table: str = ""
    socket_callback_url: str = ""


# ---------------------------------------------------------------- one model per function
class WebhookSettings(_Twilio):
    inbound_queue_url: str
    idempotency_table: str
    pepper_secret_arn: str
    phone_key_id: str
    # Texts from the fallback on-call number get its fixed id (nobody else holds the pepper to compute its HMAC).
    oncall_fallback_number: str = Field(default="", pattern=r"^(\+[1-9]\d{6,14})?$")
    # Texted straight back (TwiML) when a text can't be queued, so nobody is left in silence.
    emergency_resources_text: str = "If you are in danger now, call 911. You can also call or text 988."
    # How long a MessageSid is remembered: a replay within this window is answered but not processed again.
    replay_window_seconds: int = Field(default=7 * 24 * 3600, ge=60)


class StatusCallbackSettings(_Twilio):
    deliveries_table: str


class _Audit(_FromEnvironment):
    """The append-only audit log (PutItem only)."""

    audit_table: str
    audit_retention_days: int = Field(default=2555, ge=1)


class EngineFunctionSettings(LineSettings):
    """The conversation engine: the router's settings plus the texter-facing timers."""

    still_waiting_seconds: int = Field(default=300, ge=1)
    consent_timeout_seconds: int = Field(default=120, ge=1)
    returning_window_minutes: int = Field(default=60, ge=0)
    texter_texts_per_minute: int = Field(default=20, ge=1)


class InboundEngineSettings(EngineFunctionSettings, _Audit):
    """The engine as the inbound queue's consumer: it also queues each text's erasure from Twilio, and audits a
    texter's own erasure (DELETE / BORRAR)."""

    erase_queue_url: str


class TimersFunctionSettings(EngineFunctionSettings):
    """The timers function fires the engine's, the router's and escalation's timers, so it reads what they read."""


class VolunteerApiSettings(LineSettings, _Audit):
    """The volunteer API: routing and escalation for volunteers and supervisors, the library, the dashboard's config."""

    library_table: str
    user_pool_id: str
    user_pool_client_id: str
    public_base_url: str = ""
    dashboard_socket_url: str = ""
    aws_region: str = "us-east-1"
    # Set only off AWS (the local line's moto), where Cognito isn't at its public address.
    aws_endpoint_url: str = ""
    # The wrap-up's choices, comma-separated (the template's SessionOutcomes and SessionTags).
    session_outcomes: str = Field(default=DEFAULT_OUTCOMES, pattern=CHOICE_LIST)
    session_tags: str = Field(default=DEFAULT_TAGS, pattern=CHOICE_LIST)


class DashboardSocketSettings(_FromEnvironment):
    connections_table: str
    volunteers_table: str
    user_pool_id: str
    user_pool_client_id: str


class SenderSettings(_FromEnvironment):
    twilio_secret_name: str
    erase_queue_url: str
    phone_key_id: str
    deliveries_table: str
    texters_table: str
    idempotency_table: str
    line_number: str = Field(pattern=r"^\+[1-9]\d{6,14}$")
    status_callback_url: str
    # Only set off AWS: points the real twilio client at the local Twilio fake.
    twilio_api_base_url: str | None = None
    # Inline retries of a 429/5xx before the message goes back to the queue (then to the DLQ).
    send_attempts: int = Field(default=3, ge=1)
    retry_base_delay_seconds: float = Field(default=0.5, ge=0)


class EraserSettings(_Twilio):
    """Deleting messages from Twilio once their conversation closed (``peerline.twilio_erasure``)."""

    erase_queue_url: str
    conversations_table: str
    # Only set off AWS: points the real twilio client at the local Twilio fake.
    twilio_api_base_url: str | None = None
    erase_recheck_seconds: int = Field(default=300, ge=0, le=900)
    erase_in_flight_retry_seconds: int = Field(default=120, ge=0, le=900)


class FallbackReplySettings(_FromEnvironment):
    """Twilio's fallback URL reads nothing but the reply it texts, so it answers when everything else failed."""

    emergency_resources_text: str = "If you are in danger now, call 911. You can also call or text 988."


class RevealNumberSettings(_FromEnvironment):
    """The reveal function: four tables it reads by key, its counter, the audit log and the key — nothing else."""

    phone_key_id: str
    volunteers_table: str
    escalations_table: str
    conversations_table: str
    texters_table: str
    counters_table: str
    audit_table: str
    audit_retention_days: int = Field(default=2555, ge=365)
    # Whether the supervisor signs in with two steps (TOTP) is asked of this user pool.
    user_pool_id: str
    # A number is revealed only this long after its escalation opened, and at most this often per supervisor.
    reveal_window_minutes: int = Field(default=60, ge=1)
    reveals_per_hour: int = Field(default=5, ge=1)
