"""The frames (shared/peerline/triage/frames/): each frame's own examples, the lexicon syntax, and the loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from peerline.triage import RiskLevel, triage
from peerline.triage.frames import Frame, FramesError, assess, find_hits, load_frames, tokens_of

BOOK = load_frames()
EXAMPLES = [(frame.id, frame.level, text, True) for frame in BOOK.frames for text in frame.positive] + [
    (frame.id, frame.level, text, False) for frame in BOOK.frames for text in frame.negative
]


@pytest.mark.parametrize(("frame_id", "level", "text", "positive"), EXAMPLES)
def test_each_frame_example(frame_id: str, level: RiskLevel, text: str, positive: bool) -> None:
    # Through triage (idioms masked first, as in use), without the learned stage.
    result = triage(text, use_model=False)
    if positive:
        assert f"frame.{frame_id}" in result.rules, f"{frame_id} should fire on {text!r}: {result}"
        assert result.level.rank >= level.rank, f"{text!r} should reach {level}: {result}"
    else:
        assert result.level.rank < level.rank or f"frame.{frame_id}" not in result.rules, f"{text!r}: {result}"


def test_every_frame_has_an_example_or_is_a_single_state() -> None:
    lacking = [frame.id for frame in BOOK.frames if not frame.positive and len(frame.all) > 1]
    assert lacking == [], f"frames of several slots need a positive example: {lacking}"


def test_frames_name_only_slots_that_some_lexicon_fills() -> None:
    filled = {slot for phrases in BOOK.literal.values() for slot, _, _ in phrases}
    filled |= {phrase.slot for phrases in BOOK.exact.values() for phrase in phrases}
    filled |= {phrase.slot for bucket in BOOK.prefix.values() for _, phrase in bucket}
    filled |= {phrase.slot for phrase in BOOK.numeric} | {"quantity_large", "dose_mg", "third_party"}
    named = {slot.removesuffix("*2") for frame in BOOK.frames for group in frame.all for slot in group}
    named |= {slot for frame in BOOK.frames for slot in frame.any | frame.unless}
    assert named - filled == set()


def test_a_new_word_in_a_lexicon_is_caught_by_every_frame_using_its_slot(tmp_path: Path) -> None:
    # given: a made-up medicine, unknown to the built-in lexicon
    text_taken, text_held = "took 40 zorbaprin an hour ago", "holding the zorbaprin right now"
    assert assess(BOOK, text_taken).level is not RiskLevel.IMMINENT
    extra = tmp_path / "extra.toml"
    extra.write_text('[lexicon.substance]\nen = ["zorbaprin"]\n')
    # when: it is added to the substance lexicon, and nothing else
    book = load_frames([Path(__file__).parents[2] / "shared/peerline/triage/frames", extra])
    # then: both the ingestion frame and the means-in-hand frame catch it
    assert assess(book, text_taken).level is RiskLevel.IMMINENT
    assert assess(book, text_held).level is RiskLevel.IMMINENT


def test_phrase_syntax_prefix_number_any_word_and_gap() -> None:
    book = load_frames()
    tokens = tokens_of("took 30mg of xanax… then like 3000 mg more")
    assert tokens[:4] == ["took", "30", "mg", "of"]
    slots = {hit.slot for hit in find_hits(book, tokens)}
    assert {"ingest", "substance", "quantity_large"} <= slots


@pytest.mark.parametrize(
    ("text", "at_most"),
    [
        ("i have no pills in the house", RiskLevel.CONCERN),
        ("no intention of hurting myself, i just need advice about my roommate", RiskLevel.CONCERN),
        ("this traffic makes me want to drive off a cliff lol jk", RiskLevel.CONCERN),
        ("my bridge team won the regional tournament", RiskLevel.NONE),
        ("took 2 advil for my headache", RiskLevel.NONE),
        ("tonight is the night... of the championship game!!!", RiskLevel.NONE),
        ("this homework is killing me", RiskLevel.NONE),
    ],
)
def test_negation_denial_jokes_and_everyday_contexts_stay_low(text: str, at_most: RiskLevel) -> None:
    assert triage(text).level.rank <= at_most.rank, triage(text)


@pytest.mark.parametrize(
    "text",
    [
        "i cant go on like this",
        "no puedo más, ya no aguanto",
        "i dont want to wake up tomorrow",
    ],
)
def test_pseudo_negations_are_not_negations(text: str) -> None:
    assert triage(text).level.rank >= RiskLevel.CONCERN.rank


def test_a_denial_never_drops_below_concern() -> None:
    assert triage("im not suicidal but i keep thinking about the pills in my drawer").level.rank >= RiskLevel.CONCERN.rank


def test_a_half_matched_frame_is_concern() -> None:
    # pills named with no quantity, hold, time or intent: half of a frame — a human should look
    result = triage("the pills are in the cabinet", use_model=False)
    assert result.level is RiskLevel.CONCERN
    assert "half_match" in result.modifiers


def test_a_third_party_is_capped_at_high_unless_acute() -> None:
    assert triage("my friend keeps looking up ways to kill herself").level is RiskLevel.HIGH
    assert triage("my brother just swallowed a whole bottle of tylenol").level is RiskLevel.IMMINENT


def test_spanish_has_every_kind_of_frame() -> None:
    spanish = {
        "means": "tengo la navaja en la mano",
        "time": "hoy en la noche lo hago, cuando todos esten dormidos",
        "farewell": "gracias por todo, cuiden a mi gato",
        "place": "estoy en las vias del tren",
        "overdose": "me tome 30 pastillas de clonazepam y estoy mareada",
        "danger": "mi ex esta afuera con un cuchillo",
    }
    for kind, text in spanish.items():
        assert triage(text).level is RiskLevel.IMMINENT, f"{kind}: {triage(text)}"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[[frame]]\nid = 'x'\nlevel = 'severe'\ncategory = 'c'\nall = ['means']\n", "frame x"),
        ("[[frame]]\nid = 'y'\nlevel = 'high'\ncategory = 'c'\nall = ['means']\ncolour = 'red'\n", "unknown keys"),
        ("[lexicon.means]\nen = 'knife'\n", "list of strings"),
        ("[lexicon.means\n", "extra.toml"),
    ],
)
def test_a_bad_frames_file_is_refused_with_its_name(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "extra.toml"
    path.write_text(content)
    with pytest.raises(FramesError, match=message):
        load_frames([path])


@pytest.mark.parametrize("frame", BOOK.frames, ids=[frame.id for frame in BOOK.frames])
def test_every_frame_has_a_spanish_example_that_fires_it(frame: Frame) -> None:
    # Spanish parity: each frame's examples include a Spanish text that fires it through Spanish lexicon entries.
    spanish = [
        text
        for text in frame.positive
        if "es" in (result := triage(text, use_model=False)).languages and f"frame.{frame.id}" in result.rules
    ]
    assert spanish, f"{frame.id}: no Spanish positive example fires it"
