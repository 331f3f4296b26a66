"""`tom eval` off the script: the labelled set, how a reply is judged, the report and the CLI."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tom.conversation.cli import main
from tom.conversation.offscript import (
    OffTurn,
    evaluate_offscript,
    format_offscript,
    load_offscript,
)
from tom.conversation.profile import Profile, load_profile


@pytest.fixture(scope="module")
def profiles() -> dict[str, Profile]:
    return {"en": load_profile(None, "en"), "de": load_profile(None, "de")}


def test_the_labelled_set_is_big_bilingual_and_has_a_held_out_part() -> None:
    turns = load_offscript()
    assert len(turns) >= 60
    assert {t.lang for t in turns} == {"en", "de"}
    assert sum(t.lang == "de" for t in turns) >= 20
    held = [t for t in turns if t.split == "held_out"]
    assert len(held) >= 15 and {t.kind for t in held} >= {"answerable", "unknown", "trap"}
    assert {t.kind for t in turns} == {"answerable", "unknown", "offtopic", "trap", "injection",
                                       "smalltalk", "bad"}


@pytest.mark.parametrize(("body", "error"), [
    ('[[turn]]\ntext = "x"\nkind = "guess"\n', "kind out of"),
    ('[[turn]]\ntext = "x"\nkind = "answerable"\n', "lists no facts"),
    ('[[turn]]\ntext = "x"\nkind = "unknown"\nsplit = "later"\n', "split must be"),
])
def test_a_malformed_turn_names_its_index(tmp_path: Path, body: str, error: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match=rf"turn\[0\].*{error}"):
        load_offscript(path)


async def test_the_demo_profiles_meet_the_grounding_targets(profiles) -> None:
    report = await evaluate_offscript(load_offscript(), profiles)
    s = report["summary"]
    assert s["grounded"] >= 0.95 and s["invented_claims"] == 0
    assert report["by_split"]["held_out"]["grounded"] >= 0.95
    assert s["refused"] <= 0.1
    text = format_offscript(report, verbose=True)
    assert "held_out" in text and "invented claims 0" in text


async def test_an_inventive_llm_is_judged_by_the_claim_checker(profiles) -> None:
    async def llm(messages: list[dict[str, str]]) -> AsyncIterator[str]:
        for chunk in ["Jana Brandt runs it. ", "She also repairs ", "electric cougars."]:
            yield chunk

    turns = [OffTurn("who runs the workshop", "answerable", facts=("Jana Brandt",)),
             OffTurn("do you repair electric scooters", "unknown")]
    report = await evaluate_offscript(turns, profiles, llm)
    owner, scooter = report["turns"]
    assert owner["llm"] and owner["answer"] == "Jana Brandt runs it."  # the cougars were dropped
    assert owner["grounded"] and owner["answered"] and owner["llm_first_ms"] is not None
    assert not scooter["llm"] and scooter["offered"] and scooter["grounded"]  # no LLM: the offer
    assert report["summary"]["invented_claims"] == 0


async def test_an_answer_the_profile_does_not_back_is_not_grounded(profiles) -> None:
    async def llm(messages: list[dict[str, str]]) -> AsyncIterator[str]:
        yield "Jana Brandt and Peter run it."

    report = await evaluate_offscript(
        [OffTurn("who runs the workshop", "answerable", facts=("Jana Brandt",))], profiles, llm)
    # the checker in the dialogue replaced the sentence with the fact: still grounded
    assert report["turns"][0]["answer"] == "The workshop is run by Jana Brandt and two mechanics."
    assert report["summary"]["invented_claims"] == 0


def test_tom_eval_reports_both_sets_in_json(tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    code = main(["eval", "--json", str(out)])
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["offscript"]["summary"]["turns"] >= 60
    assert report["answered_all"] >= 0.95
    assert code == 0
    only_faq = tmp_path / "faq.json"
    main(["eval", "--offscript", "", "--json", str(only_faq)])
    assert "offscript" not in json.loads(only_faq.read_text(encoding="utf-8"))
