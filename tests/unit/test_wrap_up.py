"""A wrap-up names an outcome and tags from the operator's lists, never free text."""

from __future__ import annotations

import pytest

from peerline.settings import SettingsError, VolunteerApiSettings
from peerline.wrap_up import UnknownChoiceError, WrapUpChoices

CHOICES = WrapUpChoices.parse("supported,referred", "anxiety,school,self-harm")


def test_an_outcome_and_tags_on_the_lists_are_kept_once_each_in_order() -> None:
    assert CHOICES.check("supported", ["school", "anxiety", "school"]) == ["school", "anxiety"]


@pytest.mark.parametrize(
    ("outcome", "tags"),
    [("fine", []), ("Supported", []), ("supported", ["my name is Ana"]), ("supported", ["anxiety", "stress"])],
)
def test_anything_else_is_refused(outcome: str, tags: list[str]) -> None:
    with pytest.raises(UnknownChoiceError):
        CHOICES.check(outcome, tags)


def test_the_refusal_names_the_lists_not_what_was_sent() -> None:
    with pytest.raises(UnknownChoiceError) as refused:
        CHOICES.check("supported", ["call me on 555 0100"])
    assert "555" not in str(refused.value)
    assert "anxiety, school, self-harm" in str(refused.value)


ENVIRONMENT = {
    "TEXTERS_TABLE": "t", "CONVERSATIONS_TABLE": "c", "MESSAGES_TABLE": "m", "COUNTERS_TABLE": "n",
    "VOLUNTEERS_TABLE": "v", "ESCALATIONS_TABLE": "e", "OUTBOUND_QUEUE_URL": "o", "TIMER_QUEUE_URL": "q",
    "EMERGENCY_RESOURCES_TEXT": "x", "EMERGENCY_RESOURCES_TEXT_ES": "x", "ONCALL_TABLE": "oc",
    "PAGING_TOPIC_ARN": "p", "PEPPER_SECRET_ARN": "s", "PHONE_KEY_ID": "k", "LIBRARY_TABLE": "l",
    "USER_POOL_ID": "u", "USER_POOL_CLIENT_ID": "uc", "AUDIT_TABLE": "a",
}  # fmt: skip


def test_the_api_reads_its_lists_from_the_environment_with_defaults() -> None:
    settings = VolunteerApiSettings.from_env({**ENVIRONMENT, "SESSION_TAGS": "grief,work"})

    choices = WrapUpChoices.parse(settings.session_outcomes, settings.session_tags)

    assert choices.tags == ("grief", "work")
    assert "supported" in choices.outcomes


@pytest.mark.parametrize("tags", ["", "grief,", "Grief", "grief, work", "a" * 41])
def test_a_malformed_list_fails_the_cold_start(tags: str) -> None:
    with pytest.raises(SettingsError, match="SESSION_TAGS"):
        VolunteerApiSettings.from_env({**ENVIRONMENT, "SESSION_TAGS": tags})
