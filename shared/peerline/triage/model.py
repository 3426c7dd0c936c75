"""The learned second stage of crisis triage: two logistic heads over hashed n-grams, in plain Python.

It may only RAISE the rules' level (see CRISIS.md): ``escalate`` is P(level ≥ high), ``flag`` is P(level ≥ concern);
a score at or above its head's threshold vouches for that level. Trained by ``make train-triage``
(tools/train_triage.py, which imports :func:`features` from here so training and inference see the same features) and
shipped as one small binary file; no numpy, no scikit-learn, no network — it runs in Lambda.

File layout (little-endian)::

    header   magic b"PLTRIAGE", format version u16, feature version u16, buckets u32, crc32 of the weights u32,
             then per head (escalate, flag): scale f64, bias f64, threshold f64
    weights  int8 × buckets for escalate, then int8 × buckets for flag (weight = int8 × scale)

A text's logit is ``bias + scale × Σ (int8 weights of its distinct buckets)``: features are binary, present or not.
"""

from __future__ import annotations

import itertools
import math
import re
import struct
import zlib
from array import array
from dataclasses import dataclass
from pathlib import Path

from peerline.triage.models import RiskLevel
from peerline.triage.normalize import normalize

MAGIC = b"PLTRIAGE"
FORMAT_VERSION = 1
# Bump whenever features() changes what it yields: a file trained on other features is refused, not misread.
FEATURE_VERSION = 1
BUCKETS = 1 << 18
DEFAULT_PATH = Path(__file__).resolve().parent / "model" / "triage-model.bin"

_HEADER = struct.Struct("<8sHHII")
_HEAD = struct.Struct("<ddd")
HEADER_SIZE = _HEADER.size + 2 * _HEAD.size

# Words (letters and digits after normalize()), and any other visible character on its own: emoji such as 💊 or ⚰
# carry meaning, punctuation does not.
_TOKEN = re.compile(r"[a-z0-9]+|[^\sa-z0-9!-/:-@\[-`{-~¡¿«»…“”]")


class TriageModelError(ValueError):
    """The model file is corrupt, truncated, or of another format or feature version."""


@dataclass(frozen=True)
class ModelScores:
    escalate: float  # P(level ≥ high)
    flag: float  # P(level ≥ concern)


def tokens(normalised: str) -> list[str]:
    """The tokens of an already normalised text: words and stand-alone symbols (emoji), in order."""
    return _TOKEN.findall(normalised)


def features(text: str) -> list[str]:
    """The feature strings of a raw text, in a fixed order, with repeats.

    From ``normalize(text)``: each token (``w:``), each pair of neighbouring tokens (``b:``), and the character
    3-, 4- and 5-grams of each token padded as ``<token>`` (``c:``). Training imports this very function.
    """
    words = tokens(normalize(text))
    out = [f"w:{word}" for word in words]
    out.extend(f"b:{first} {second}" for first, second in itertools.pairwise(words))
    for word in words:
        padded = f"<{word}>"
        for size in (3, 4, 5):
            out.extend(f"c:{padded[start : start + size]}" for start in range(len(padded) - size + 1))
    return out


def buckets(text: str, size: int = BUCKETS) -> list[int]:
    """The distinct hashed buckets (``crc32 mod size``) of :func:`features`, sorted."""
    return sorted({zlib.crc32(feature.encode()) % size for feature in features(text)})


def logit(bias: float, scale: float, total: int) -> float:
    """The head's logit from the integer sum of its int8 weights (training computes it with this same expression)."""
    return bias + scale * total


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True)
class _Head:
    weights: array  # int8, one per bucket
    scale: float
    bias: float
    threshold: float

    def probability(self, indices: list[int]) -> float:
        weights = self.weights
        return sigmoid(logit(self.bias, self.scale, sum(weights[i] for i in indices)))


class TriageModel:
    """Scores a raw text on both heads; loaded from the binary file by :func:`load_model`."""

    def __init__(self, escalate: _Head, flag: _Head, buckets: int) -> None:
        self._escalate = escalate
        self._flag = flag
        self.buckets = buckets
        self.escalate_threshold = escalate.threshold
        self.flag_threshold = flag.threshold

    def scores(self, text: str) -> ModelScores:
        """P(level ≥ high) and P(level ≥ concern) for ``text`` (raw: it is normalised here)."""
        indices = buckets(text, self.buckets)
        return ModelScores(escalate=self._escalate.probability(indices), flag=self._flag.probability(indices))

    def floor(self, scores: ModelScores) -> RiskLevel:
        """The level the model vouches for: ``high`` when escalate passes its threshold, else ``concern`` when flag
        does, else ``none``. Combine it with the rules' level by taking the higher: it never lowers one."""
        if scores.escalate >= self.escalate_threshold:
            return RiskLevel.HIGH
        if scores.flag >= self.flag_threshold:
            return RiskLevel.CONCERN
        return RiskLevel.NONE


def pack(
    escalate: tuple[bytes, float, float, float],
    flag: tuple[bytes, float, float, float],
    buckets: int = BUCKETS,
) -> bytes:
    """The file's bytes from each head's (int8 weights as bytes, scale, bias, threshold)."""
    for weights, *_ in (escalate, flag):
        if len(weights) != buckets:
            raise ValueError(f"a head has {len(weights)} weights, not {buckets}")
    body = escalate[0] + flag[0]
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, FEATURE_VERSION, buckets, zlib.crc32(body))
    return header + _HEAD.pack(*escalate[1:]) + _HEAD.pack(*flag[1:]) + body


def parse(data: bytes, source: str = "<bytes>") -> TriageModel:
    """A model from the file's bytes; :class:`TriageModelError` naming ``source`` when they are not a valid model."""
    if len(data) < HEADER_SIZE:
        raise TriageModelError(
            f"{source}: truncated triage model ({len(data)} bytes, the header alone is {HEADER_SIZE})"
        )
    magic, version, feature_version, size, checksum = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise TriageModelError(f"{source}: not a triage model (magic {magic!r}, expected {MAGIC!r})")
    if version != FORMAT_VERSION or feature_version != FEATURE_VERSION:
        raise TriageModelError(
            f"{source}: triage model format {version} / features {feature_version}, this code reads "
            f"{FORMAT_VERSION} / {FEATURE_VERSION}: retrain it with `make train-triage`"
        )
    expected = HEADER_SIZE + 2 * size
    if len(data) != expected:
        raise TriageModelError(f"{source}: triage model is {len(data)} bytes, its header says {expected} (truncated?)")
    body = memoryview(data)[HEADER_SIZE:]
    if zlib.crc32(body) != checksum:
        raise TriageModelError(f"{source}: triage model weights fail their checksum (corrupt file)")
    heads = []
    for index in range(2):
        scale, bias, threshold = _HEAD.unpack_from(data, _HEADER.size + index * _HEAD.size)
        if not all(math.isfinite(x) for x in (scale, bias, threshold)) or not 0.0 < threshold <= 1.0:
            raise TriageModelError(f"{source}: triage model head {index} has invalid parameters")
        weights = array("b")
        weights.frombytes(body[index * size : (index + 1) * size])
        heads.append(_Head(weights, scale, bias, threshold))
    return TriageModel(heads[0], heads[1], size)


def load_model(path: Path | None = None) -> TriageModel | None:
    """The model in ``path`` (default: the shipped ``model/triage-model.bin``), or None when there is no such file.

    A file that exists but is not a valid model raises :class:`TriageModelError`: a broken deploy fails loudly.
    """
    path = DEFAULT_PATH if path is None else path
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return parse(data, str(path))
