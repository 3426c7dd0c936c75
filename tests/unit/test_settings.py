"""Each function's settings: only what it reads, validated at once, with an error that names the env var."""

from __future__ import annotations

import pytest

from peerline.settings import EngineFunctionSettings, SenderSettings, SettingsError, VolunteerApiSettings

ENGINE_ENV = {
    "TEXTERS_TABLE": "texters",
    "CONVERSATIONS_TABLE": "conversations",
    "MESSAGES_TABLE": "messages",
    "COUNTERS_TABLE": "counters",
    "VOLUNTEERS_TABLE": "volunteers",
    "ESCALATIONS_TABLE": "escalations",
    "OUTBOUND_QUEUE_URL": "https://sqs/outbound.fifo",
    "TIMER_QUEUE_URL": "https://sqs/timers",
    "EMERGENCY_RESOURCES_TEXT": "Call 911.",
    "EMERGENCY_RESOURCES_TEXT_ES": "Llama al 911.",
    "ONCALL_TABLE": "oncall",
    "PAGING_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:paging",
    "PEPPER_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:pepper",
    "PHONE_KEY_ID": "key",
}


def test_the_engine_reads_its_environment_with_defaults_for_the_timers() -> None:
    # when the engine's settings are read from its environment
    settings = EngineFunctionSettings.from_env({**ENGINE_ENV, "STILL_WAITING_SECONDS": "30"})

    # then the values and defaults are there
    assert settings.texters_table == "texters"
    assert (settings.still_waiting_seconds, settings.consent_timeout_seconds) == (30, 120)


def test_a_missing_or_invalid_variable_is_named_in_upper_case_without_its_value() -> None:
    # given an environment missing a table and with a retention of zero days
    environment = {key: value for key, value in ENGINE_ENV.items() if key != "TEXTERS_TABLE"}
    environment["RETENTION_DAYS"] = "0"

    # when it is read, then the error names both variables, readably
    with pytest.raises(SettingsError) as refused:
        EngineFunctionSettings.from_env(environment)
    message = str(refused.value)
    assert message.startswith("EngineFunctionSettings from the environment:")
    assert "TEXTERS_TABLE: missing" in message
    assert "RETENTION_DAYS: Input should be greater than or equal to 1" in message


def test_a_bad_line_number_is_refused_without_echoing_it() -> None:
    # given the sender's environment with a malformed line number
    environment = {
        "PHONE_KEY_ID": "key",
        "DELIVERIES_TABLE": "deliveries",
        "TEXTERS_TABLE": "texters",
        "IDEMPOTENCY_TABLE": "idempotency",
        "TWILIO_SECRET_NAME": "twilio",
        "STATUS_CALLBACK_URL": "https://example.org/sms/status",
        "LINE_NUMBER": "555-0100-9999",
    }

    # when it is read, then the error names the variable and never the value
    with pytest.raises(SettingsError) as refused:
        SenderSettings.from_env(environment)
    assert "LINE_NUMBER" in str(refused.value) and "555-0100-9999" not in str(refused.value)


def test_the_volunteer_api_needs_no_texter_facing_timers() -> None:
    # given the volunteer API's environment, which has no consent or still-waiting timers
    environment = {
        **ENGINE_ENV,
        "LIBRARY_TABLE": "library",
        "USER_POOL_ID": "pool",
        "USER_POOL_CLIENT_ID": "client",
        "AUDIT_TABLE": "audit",
    }

    # when it is read, then it is valid, and holds none of the engine's own timers
    settings = VolunteerApiSettings.from_env(environment)
    assert settings.library_table == "library"
    assert not hasattr(settings, "still_waiting_seconds")
