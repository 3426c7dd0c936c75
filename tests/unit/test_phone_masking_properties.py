"""Properties of the phone-number mask: every number masked wherever it is glued, every id and timestamp intact."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from peerline.phone import mask_phone_numbers

# E.164 numbers of 10 to 15 digits (bare, they are what a phone number looks like; shorter ones need their "+").
e164_numbers = st.from_regex(r"\+[1-9][0-9]{9,14}", fullmatch=True)
# What a number may be glued to: letters that can't be hex (so the whole can't pass for a hex id), URI schemes,
# URL encoding, JSON and key=value punctuation.
glue_before = st.sampled_from(["", "x", "tel:", "whatsapp:", "From=", "%2B", '{"to":"', "number ", "zz", "(", "\n"])
glue_after = st.sampled_from(["", "x", "zz", '"}', "&To=", ".", ")", " ", "\n", "_q"])
hex_ids = st.from_regex(r"[0-9a-f]{64}", fullmatch=True)
twilio_sids = st.from_regex(r"(AC|SM|MM|PN|MG)[0-9a-f]{32}", fullmatch=True)
uuids = st.uuids().map(str)
timestamps = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)).map(
    lambda moment: moment.isoformat()
)
ids = st.one_of(hex_ids, twilio_sids, uuids, uuids.map(str.upper), timestamps)


def _digits_survive(number: str, text: str) -> bool:
    # The middle of a number is what makes it callable: it must not be readable, in either spelling.
    national = number.lstrip("+")
    return national in text or national[1:-4] in text


@given(number=e164_numbers, before=glue_before, after=glue_after, plus=st.booleans())
def test_a_number_is_masked_whatever_it_is_glued_to(number: str, before: str, after: str, plus: bool) -> None:
    # given a number, with or without its "+", glued to letters or punctuation
    text = before + (number if plus else number.lstrip("+")) + after

    # when / then its digits don't survive the mask
    assert not _digits_survive(number, mask_phone_numbers(text))


@given(identifier=ids)
def test_ids_and_timestamps_stay_readable(identifier: str) -> None:
    # given a texter id, a Twilio SID, a UUID or an ISO timestamp, in a log-like line
    text = f'{{"id":"{identifier}","level":"INFO"}}'

    # when / then it is unchanged
    assert mask_phone_numbers(text) == text


@given(identifier=ids, number=e164_numbers, separator=st.sampled_from([" ", ",", '","', " from "]))
def test_a_number_beside_an_id_is_masked_and_the_id_kept(identifier: str, number: str, separator: str) -> None:
    # given an id and a number side by side, either way round
    for text in (identifier + separator + number, number + separator + identifier):
        # when
        masked = mask_phone_numbers(text)

        # then the id is intact, and nothing else of the number is readable
        assert identifier in masked
        assert not _digits_survive(number, masked.replace(identifier, "", 1))
