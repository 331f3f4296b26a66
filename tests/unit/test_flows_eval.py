"""`tom eval` multi-turn: the bundled conversations meet the targets; the judge catches failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tom.conversation.cli import main
from tom.conversation.eval_conversations import (
    DEFAULT_FILES,
    evaluate_conversations,
    evaluate_files,
    load_conversations,
)
from tom.conversation.profile import Profile, load_profile


@pytest.fixture(scope="module")
def profiles() -> dict[str, Profile]:
    return {"en": load_profile(None, "en"), "de": load_profile(None, "de")}


async def test_the_bundled_conversations_meet_the_targets(profiles: dict[str, Profile]) -> None:
    report = await evaluate_files(DEFAULT_FILES, profiles)
    s = report["summary"]
    assert s["conversations"] >= 40 and s["by_language"]["de"] >= 15
    assert s["tune"]["completion"] == 1.0 and s["heldout"]["conversations"] >= 10
    assert s["completion"] >= 0.95 and s["trapped"] == 0 and s["wrong_stored"] == 0
    assert s["goodbye_mid_flow"] == 1.0 and s["goodbye_mid_flow_calls"] >= 8
    assert s["targets_met"]


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(body, encoding="utf-8")
    return path


async def test_wrong_data_a_missed_goodbye_and_missing_words_are_counted(
        tmp_path: Path, profiles: dict[str, Profile]) -> None:
    path = write(tmp_path, '''
[[conversation]]
id = "wrong-day"
turns = ["book me in for thursday at 2 pm", "yes", "Lisa Wong", "bye"]
stored = [{kind = "appointment", day = "2025-05-09"}]

[[conversation]]
id = "never-ends"
turns = ["i'd like to book a service", "friday"]
stored = []
says = ["pink elephants"]
''')
    report = await evaluate_conversations(load_conversations(path), profiles)
    wrong, open_ = report["conversations"]
    assert wrong["wrong_stored"] == 1 and not wrong["completed"]
    assert open_["trapped"] and open_["ended"] == "open"
    assert any("pink elephants" in p for p in open_["problems"])
    assert report["summary"]["completion"] == 0.0 and not report["summary"]["targets_met"]


async def test_a_question_said_four_times_is_a_trapped_caller(
        tmp_path: Path, profiles: dict[str, Profile]) -> None:
    path = write(tmp_path, '''
[[conversation]]
id = "silent"
turns = ["i'd like to book a service", "(silence)", "(silence)", "(silence)", "bye"]
stored = []
''')
    report = await evaluate_conversations(load_conversations(path), profiles)
    assert report["summary"]["trapped"] == 1
    assert "asked 4 times" in report["conversations"][0]["problems"][0]


def test_a_malformed_file_names_the_conversation(tmp_path: Path) -> None:
    path = write(tmp_path, '[[conversation]]\nid = "x"\nturns = ["hi"]\nend = "maybe"\n')
    with pytest.raises(ValueError, match="x: end"):
        load_conversations(path)
    path = write(tmp_path, '[[conversation]]\nid = "y"\nturns = ["hi"]\nstored = [{colour = "red"}]\n')
    with pytest.raises(ValueError, match="colour"):
        load_conversations(path)


def test_tom_eval_prints_the_multi_turn_figures(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    assert main(["eval"]) == 0
    out = capsys.readouterr().out
    assert "multi-turn conversations:" in out and "trapped callers: 0" in out
    bad = write(tmp_path, '[[conversation]]\nturns = []\n')
    assert main(["eval", "--conversations", str(bad)]) == 2
