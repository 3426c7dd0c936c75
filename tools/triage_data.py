"""Labelled texts for training and measuring the learned triage stage, as ``Example(text, level, language, category)``.

    regression()        tests/triage/labelled.csv — the rules' regression set (category: its ``a;b`` list as is)
    dev_extra()         tests/triage/dev-extra*.tsv — more development texts written from a brief
    crisis_dev(part)    ../shared/datasets/crisis-dev-2026/crisis-dev.tsv, "dev" (~80 %) or "holdout" (~20 %)
    sad(part)           ../shared/datasets/sad-stress-sms-2021/SAD_v1.zip, "train" (~50 %) or "holdout" (~50 %),
                        every row ordinary (level ``none``, category ``sad``)

The holdout parts are fixed by a hash of the text (``zlib.crc32``), so they never move when rows are added elsewhere:
they are never trained or tuned on, only reported. The data sets stay in ../shared (their licences forbid copying
them into the repo); ``PEERLINE_SHARED_DIR`` points elsewhere. Nothing here reads tests/triage/frozen/.
"""

from __future__ import annotations

import csv
import os
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR_ENV = "PEERLINE_SHARED_DIR"
REGRESSION_CSV = ROOT / "tests" / "triage" / "labelled.csv"
DEV_EXTRA_TSV = ROOT / "tests" / "triage" / "dev-extra.tsv"
# Every development set written from the brief: dev-extra.tsv, dev-extra-2.tsv, … (never the frozen ones).
DEV_EXTRA_GLOB = "dev-extra*.tsv"
CRISIS_DEV_TSV = Path("datasets/crisis-dev-2026/crisis-dev.tsv")
SAD_ZIP = Path("datasets/sad-stress-sms-2021/SAD_v1.zip")
LEVELS = ("none", "concern", "high", "imminent")


class Example(NamedTuple):
    text: str
    level: str
    language: str
    category: str


class DatasetMissingError(FileNotFoundError):
    """A data set the caller asked for is not where it should be."""


def shared_dir() -> Path:
    """``$PEERLINE_SHARED_DIR`` when set, else ``shared`` beside the repository (``ROOT.parent / "shared"``)."""
    override = os.environ.get(SHARED_DIR_ENV, "").strip()
    return Path(override) if override else ROOT.parent / "shared"


def shared_path(relative: Path) -> Path:
    """The path of a data set under :func:`shared_dir`; :class:`DatasetMissingError` naming it when it is absent."""
    path = shared_dir() / relative
    if not path.is_file():
        raise DatasetMissingError(
            f"data set not found: {path} (set {SHARED_DIR_ENV} to the folder that holds datasets/, "
            f"or lay ../shared beside the repository)"
        )
    return path


def is_crisis_holdout(text: str) -> bool:
    """About one text in five (by a hash of the text) is held out of crisis-dev-2026."""
    return zlib.crc32(text.encode()) % 5 == 0


def is_sad_holdout(text: str) -> bool:
    """About one SAD text in two (by a hash of the text) is held out."""
    return zlib.crc32(text.encode()) % 2 != 0


def regression() -> Iterator[Example]:
    """The rules' labelled regression set (``text,language,level,categories``)."""
    with REGRESSION_CSV.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            yield Example(row["text"], _level(row["level"], REGRESSION_CSV), row["language"], row["categories"])


def dev_extra_files() -> list[Path]:
    return sorted(DEV_EXTRA_TSV.parent.glob(DEV_EXTRA_GLOB))


def dev_extra() -> Iterator[Example]:
    """tests/triage/dev-extra*.tsv (the development sets written from a brief), or nothing while there is none."""
    for path in dev_extra_files():
        yield from read_tsv(path)


def crisis_dev(part: Literal["dev", "holdout"]) -> Iterator[Example]:
    """crisis-dev-2026: ``part="holdout"`` is the rows whose text hashes to 0 mod 5, ``"dev"`` the rest."""
    if part not in ("dev", "holdout"):
        raise ValueError(f"part must be 'dev' or 'holdout', not {part!r}")
    want_holdout = part == "holdout"
    for example in read_tsv(shared_path(CRISIS_DEV_TSV)):
        if is_crisis_holdout(example.text) == want_holdout:
            yield example


def sad(part: Literal["train", "holdout"]) -> Iterator[Example]:
    """SAD's everyday-stress SMS (column ``sentence``), all level ``none``: even hash ``"train"``, odd ``"holdout"``."""
    if part not in ("train", "holdout"):
        raise ValueError(f"part must be 'train' or 'holdout', not {part!r}")
    want_holdout = part == "holdout"
    for sentence in _sad_sentences(shared_path(SAD_ZIP)):
        if is_sad_holdout(sentence) == want_holdout:
            yield Example(sentence, "none", "en", "sad")


def read_tsv(path: Path) -> Iterator[Example]:
    """A labelled TSV (header ``level, language, category, text``; tabs, no quoting), checked as it is read."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = {"level", "language", "category", "text"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: header lacks {sorted(missing)}")
        for row in reader:
            text = row["text"]
            if text is None or not text.strip():
                continue
            yield Example(text, _level(row["level"], path), row["language"], row["category"])


def _level(value: str, path: Path) -> str:
    level = (value or "").strip()
    if level not in LEVELS:
        raise ValueError(f"{path}: unknown level {value!r}")
    return level


def _sad_sentences(zip_path: Path) -> Iterator[str]:
    # As bench/triage_bench.py reads it: the one .xlsx in the zip, first sheet, column "sentence".
    import openpyxl

    with tempfile.TemporaryDirectory(prefix="sad-") as folder, zipfile.ZipFile(zip_path) as archive:
        member = next(name for name in archive.namelist() if name.endswith(".xlsx"))
        archive.extract(member, folder)
        workbook = openpyxl.load_workbook(Path(folder) / member, read_only=True)
        try:
            rows = workbook.worksheets[0].iter_rows(values_only=True)
            header = [str(cell) for cell in next(rows)]
            column = header.index("sentence")
            for row in rows:
                value = row[column]
                if value is not None and str(value).strip():
                    yield str(value)
        finally:
            workbook.close()
