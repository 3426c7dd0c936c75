"""The pre-parsed bundle (builtin.json) a cold start reads instead of the TOML: fresh, equal, and never trusted stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from peerline.triage import bundle, triage
from peerline.triage.frames import assess, load_frames


def test_the_shipped_bundle_matches_the_toml_files() -> None:
    shipped = json.loads(bundle.BUNDLE_PATH.read_text(encoding="utf-8"))
    assert shipped == bundle.build(), "builtin.json is stale: run `make triage-bundle` and commit it"


def test_the_bundle_and_the_toml_score_alike() -> None:
    loaded = bundle.load()
    assert loaded is not None
    from_bundle, _ = loaded
    from_toml = load_frames()
    texts = [
        "took 30 tylenol an hour ago and now im dizzy",
        "tengo la navaja en la mano",
        "my bridge team won",
        "no intention of hurting myself",
        "tonight is the night",
    ]
    for text in texts:
        assert assess(from_bundle, text) == assess(from_toml, text), text


def test_a_stale_bundle_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    content = json.loads(bundle.BUNDLE_PATH.read_text(encoding="utf-8"))
    content["digest"] = "0" * 64
    stale = tmp_path / "builtin.json"
    stale.write_text(json.dumps(content))
    assert bundle.load(stale) is None
    assert "stale" in caplog.text


def test_a_missing_or_corrupt_bundle_is_ignored(tmp_path: Path) -> None:
    assert bundle.load(tmp_path / "absent.json") is None
    (tmp_path / "corrupt.json").write_text("{not json")
    assert bundle.load(tmp_path / "corrupt.json") is None


def test_triage_works_without_the_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from peerline.triage import scorer

    monkeypatch.setattr(bundle, "BUNDLE_PATH", tmp_path / "absent.json")
    monkeypatch.setattr(bundle.load, "__defaults__", (tmp_path / "absent.json",))
    scorer._builtin.cache_clear()
    try:
        assert scorer._builtin() is None
        assert triage("i have the pills in my hand right now", use_model=False).level.value == "imminent"
    finally:
        scorer._builtin.cache_clear()
