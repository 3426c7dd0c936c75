"""`peerline triage`: one JSON object per text, without the text unless --echo."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from peerline_ops.cli import main


def _lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines()]


def test_texts_from_stdin_give_one_object_per_non_empty_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given
    monkeypatch.setattr("sys.stdin", io.StringIO("i took 30 pills\n\nthis homework is killing me\n"))
    # when
    code = main(["triage"])
    # then
    lines = _lines(capsys.readouterr().out)
    assert code == 0
    assert [line["level"] for line in lines] == ["imminent", "none"]
    assert all("text" not in line for line in lines)
    assert set(lines[0]) == {"level", "categories", "rules", "modifiers", "languages", "signals"}


def test_echo_includes_the_text(capsys: pytest.CaptureFixture[str]) -> None:
    # when
    main(["triage", "--echo", "quiero morir"])
    # then
    [line] = _lines(capsys.readouterr().out)
    assert line["text"] == "quiero morir"
    assert line["level"] == "high"


def test_rules_adds_an_operator_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given
    (tmp_path / "extra.toml").write_text(
        '[[rule]]\nid = "en.suicide.cli_test"\ncategory = "suicide"\nlevel = "high"\nlanguage = "en"\n'
        "patterns = ['\\bzorbagle\\b']\npositive = [\"zorbagle\"]\n"
    )
    # when
    main(["triage", "--rules", str(tmp_path), "zorbagle", "i took 30 pills"])
    # then
    lines = _lines(capsys.readouterr().out)
    assert lines[0]["rules"] == ["en.suicide.cli_test"]
    assert lines[1]["level"] == "imminent"


def test_a_broken_rules_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given
    (tmp_path / "bad.toml").write_text("[[rule]]\nid = 'x'")
    # when
    code = main(["triage", "--rules", str(tmp_path), "hello"])
    # then
    assert code == 2
    assert "bad.toml" in capsys.readouterr().err


def test_a_rules_folder_may_add_lexicon_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given: a local drug name, unknown to the built-in lexicon, in a folder given with --rules
    (tmp_path / "local.toml").write_text('[lexicon.substance]\nen = ["zorbaprin"]\n')
    # when
    code = main(["triage", "--rules", str(tmp_path), "took 40 zorbaprin an hour ago"])
    # then
    assert code == 0
    assert _lines(capsys.readouterr().out)[0]["level"] == "imminent"


def test_a_missing_rules_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["triage", "--rules", str(tmp_path / "nowhere"), "hello"])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_conversation_mode_combines_frames_across_texts(capsys: pytest.CaptureFixture[str]) -> None:
    texts = ["i have my dads pills here", "tonight"]
    # when: the same two texts, apart and as one texter's conversation
    main(["triage", *texts])
    apart = _lines(capsys.readouterr().out)
    main(["triage", "--conversation", *texts])
    together = _lines(capsys.readouterr().out)
    # then
    assert apart[1]["level"] == "none"
    assert together[1]["level"] == "imminent"
    assert "conversation" in together[1]["modifiers"]


def test_check_runs_every_frame_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["triage", "--check"]) == 0
    assert "0 failed" in capsys.readouterr().err


def test_check_names_an_operator_example_that_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mine.toml").write_text(
        '[lexicon.sugar_fast]\nen = ["stopped eating sugar"]\n\n'
        '[[frame]]\nid = "mine.fasting"\nlevel = "concern"\ncategory = "other"\nall = ["sugar_fast"]\n'
        'negative = ["i stopped eating sugar for lent"]\n'
    )
    assert main(["triage", "--rules", str(tmp_path), "--check"]) == 1
    assert "frame.mine.fasting: should not reach concern" in capsys.readouterr().out


def test_a_frame_naming_a_slot_no_lexicon_fills_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "typo.toml").write_text(
        '[[frame]]\nid = "mine.typo"\nlevel = "high"\ncategory = "other"\nall = ["substanse"]\n'
    )
    assert main(["triage", "--rules", str(tmp_path), "hello"]) == 2
    assert "substanse" in capsys.readouterr().err
