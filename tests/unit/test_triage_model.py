"""The learned second stage of triage (peerline.triage.model): the shipped file, its scores, and its reproducibility."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from peerline.triage.model import (
    DEFAULT_PATH,
    HEADER_SIZE,
    ModelScores,
    TriageModel,
    TriageModelError,
    buckets,
    features,
    load_model,
)
from peerline.triage.models import RiskLevel

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "tools" / "train_triage.py"
REPORT = DEFAULT_PATH.parent / "training-report.json"

CRISIS = "i took the whole bottle of my pills an hour ago, im sorry"
ORDINARY = "traffic was terrible today and i was late for work again"
TEXTS = [
    CRISIS,
    ORDINARY,
    "",
    "💊💊💊",
    "ya no quiero vivir, mañana me voy para siempre",
    "what time do you close tomorrow?",
    "this homework is killing me lol",
    "x" * 1600,
]


@pytest.fixture(scope="module")
def model() -> TriageModel:
    loaded = load_model()
    assert loaded is not None, f"the shipped model {DEFAULT_PATH} is missing: run `make train-triage`"
    return loaded


def test_the_shipped_model_is_at_most_2_mb(model: TriageModel) -> None:
    # Load time and time per text are benchmarks (make bench-triage), not timed tests.
    assert DEFAULT_PATH.stat().st_size <= 2 * 1024 * 1024
    assert 0 < model.escalate_threshold <= 1 and 0 < model.flag_threshold <= 1


def test_scores_are_probabilities(model: TriageModel) -> None:
    for text in TEXTS:
        # when
        scores = model.scores(text)
        # then
        assert isinstance(scores, ModelScores)
        assert 0.0 <= scores.escalate <= 1.0 and 0.0 <= scores.flag <= 1.0, (text[:40], scores)


def test_a_clear_crisis_text_ranks_above_an_ordinary_one(model: TriageModel) -> None:
    # when
    crisis, ordinary = model.scores(CRISIS), model.scores(ORDINARY)
    # then
    assert crisis.escalate > ordinary.escalate and crisis.flag > ordinary.flag
    assert model.floor(crisis) is RiskLevel.HIGH
    assert model.floor(ordinary) is RiskLevel.NONE


def test_features_are_words_pairs_and_padded_character_grams_of_the_normalised_text() -> None:
    # when
    found = features("I'm OK 💊")
    # then: "I'm OK" normalises to "im ok"; the emoji is a token of its own
    assert found == [
        "w:im",
        "w:ok",
        "w:💊",
        "b:im ok",
        "b:ok 💊",
        "c:<im",
        "c:im>",
        "c:<im>",
        "c:<ok",
        "c:ok>",
        "c:<ok>",
        "c:<💊>",
    ]


def test_features_and_buckets_are_the_same_in_every_process() -> None:
    # given: another interpreter with another string-hash seed
    code = "from peerline.triage.model import buckets; import sys; print(buckets(sys.argv[1]))"
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}
    # when
    output = subprocess.run(
        [sys.executable, "-c", code, CRISIS], capture_output=True, text=True, check=True, env=environment
    ).stdout
    # then
    assert output.strip() == str(buckets(CRISIS))
    assert features(CRISIS) == features(CRISIS)


def test_inference_imports_neither_numpy_nor_scikit_learn() -> None:
    # given
    code = (
        "import sys\n"
        "from peerline.triage.model import load_model\n"
        "load_model().scores('i took all my pills')\n"
        "print(sorted(name for name in ('numpy', 'scipy', 'sklearn') if name in sys.modules))\n"
    )
    # when
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # then
    assert output.strip() == "[]"


def test_an_absent_file_is_no_model(tmp_path: Path) -> None:
    assert load_model(tmp_path / "absent.bin") is None


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[:10], "truncated"),
        (lambda data: data[: HEADER_SIZE + 1000], "truncated"),
        (lambda data: b"NOTMODEL" + data[8:], "not a triage model"),
        (lambda data: data[:-1] + bytes([data[-1] ^ 0x01]), "checksum"),
        (lambda data: data[:8] + b"\x09\x00" + data[10:], "format 9"),
    ],
    ids=["header-cut", "weights-cut", "magic", "flipped-bit", "version"],
)
def test_a_damaged_file_is_refused_with_a_clear_error(
    tmp_path: Path, damage: Callable[[bytes], bytes], message: str
) -> None:
    # given
    broken = tmp_path / "broken.bin"
    broken.write_bytes(damage(DEFAULT_PATH.read_bytes()))
    # when / then
    with pytest.raises(TriageModelError, match=message) as raised:
        load_model(broken)
    assert str(broken) in str(raised.value)


def _datasets_present() -> bool:
    shared = Path(os.environ.get("PEERLINE_SHARED_DIR", "").strip() or ROOT.parent / "shared")
    return (shared / "datasets/crisis-dev-2026/crisis-dev.tsv").is_file() and (
        shared / "datasets/sad-stress-sms-2021/SAD_v1.zip"
    ).is_file()


@pytest.mark.skipif(
    not _datasets_present(),
    reason="../shared/datasets (crisis-dev-2026, sad-stress-sms-2021) is absent: cannot retrain the triage model",
)
# A guard against a hang, not a speed target: about 10 s alone, but a busy machine (seen at a load of 9 on two cores)
# took over two minutes, and a test must not fail because the machine is busy.
@pytest.mark.timeout(900)
def test_retraining_reproduces_the_shipped_model_byte_for_byte(tmp_path: Path) -> None:
    # when: about 10 s
    run = subprocess.run([sys.executable, str(TRAIN), "--out", str(tmp_path)], capture_output=True, text=True)
    # then
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    if (tmp_path / "triage-model.bin").read_bytes() != DEFAULT_PATH.read_bytes():
        shipped = json.loads(REPORT.read_text(encoding="utf-8"))["inputs_sha256"]
        fresh = json.loads((tmp_path / "training-report.json").read_text(encoding="utf-8"))["inputs_sha256"]
        changed = sorted(name for name in shipped.keys() | fresh.keys() if shipped.get(name) != fresh.get(name))
        if changed:
            pytest.fail(
                f"training data changed since the shipped model ({', '.join(changed)}): run `make train-triage`"
            )
        pytest.fail("same training data, different model bytes: training is not reproducible")
