"""The business profile: the shipped demos load, and every mistake names its field."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from tom.conversation.profile import (
    DEFAULT_PROFILES,
    ProfileError,
    load_profile,
    profile_from_dict,
)


@pytest.fixture(scope="module")
def raw() -> dict:
    return tomllib.loads(DEFAULT_PROFILES["en"].read_text(encoding="utf-8"))


def broken(raw: dict, change) -> str:
    data = copy.deepcopy(raw)
    change(data)
    with pytest.raises(ProfileError) as info:
        profile_from_dict(data)
    return str(info.value)


def test_demo_profile_has_what_the_pipeline_reads() -> None:
    p = load_profile(None)
    assert p.language == "en"
    assert p.name == "Brandt Bike Works"
    assert "busy" in p.busy_message
    assert p.transfer_number == "+49 761 4589321"
    assert p.transfer_message and p.farewell and p.greeting
    assert "Brandt Bike Works" in p.greeting  # {business} was filled in
    assert len(p.reprompts) >= 1


def test_german_profile_mirrors_the_business_with_exact_umlauts() -> None:
    en, de = load_profile(None, "en"), load_profile(None, "de")
    assert de.language == "de"
    assert de.address == en.address == "Mühlenweg 7, 79098 Freiburg"
    assert de.address.encode("utf-8") == b"M\xc3\xbchlenweg 7, 79098 Freiburg"
    assert [f.id for f in de.faq] == [f.id for f in en.faq]
    assert [s.price.split()[0] for s in de.services] == [s.price.split()[0] for s in en.services]
    assert any(f.startswith("Öffnungszeiten: Montag bis Freitag") for f in de.facts)
    assert "Auf Wiederhören" in de.farewell


def test_hours_are_said_grouped_and_in_the_profile_language() -> None:
    en, de = load_profile(None, "en"), load_profile(None, "de")
    assert en.hours_text() == ("Monday to Friday from 9 am to 6 pm, Saturday from 10 am to 2 pm, "
                               "Sunday closed")
    assert de.hours_text() == ("Montag bis Freitag von 9 bis 18 Uhr, Samstag von 10 bis 14 Uhr, "
                               "Sonntag geschlossen")
    assert en.is_open(0, 9 * 60) and not en.is_open(0, 18 * 60) and not en.is_open(6, 12 * 60)


def test_faq_answers_have_their_placeholders_filled() -> None:
    p = load_profile(None)
    hours = next(f for f in p.faq if f.id == "hours")
    assert "{" not in hours.answer and "9 am" in hours.answer
    assert all("{" not in f for f in p.facts)


def test_service_answers_come_from_the_template() -> None:
    p = load_profile(None)
    assert p.service_answer(p.services[0]) == \
        "The flat tyre repair costs 15 euros, including a new inner tube."
    de = load_profile(None, "de")
    assert de.service_answer(de.services[0]).startswith("Die Reparatur eines Platten kostet 15 Euro")


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["faq"][3].update(answer="  "), "faq[3].answer is empty"),
    (lambda d: d["faq"][0].update(questions=[]), "faq[0].questions is empty"),
    (lambda d: d["faq"][1]["questions"].append(""), "faq[1].questions["),
    (lambda d: d["faq"][2].update(anwser="typo"), "unknown key 'anwser' in faq[2]"),
    (lambda d: d["business"].pop("name"), "business.name is missing"),
    (lambda d: d["business"].update(phone="call us"), "business.phone = 'call us' is not a phone"),
    (lambda d: d.pop("hours"), "[hours] is missing"),
    (lambda d: d["hours"].update(monday="9-18"), "hours.monday = '9-18' is not like"),
    (lambda d: d["hours"].update(funday="closed"), "hours.funday is not a weekday"),
    (lambda d: d["hours"].update(friday="18:00-09:00"), "is not a valid range"),
    (lambda d: d["hours"].pop("sunday"), "hours.sunday is missing"),
    (lambda d: d["services"][1].pop("price"), "services[1].price is missing"),
    (lambda d: d["prompts"].update(greeting="Hi {caller}"),
     "prompts.greeting uses unknown placeholder {caller}"),
    (lambda d: d["message"].pop("ask_number"), "message.ask_number is missing"),
    (lambda d: d["prompts"].update(reprompts=[]), "prompts.reprompts is empty"),
    (lambda d: d.update(language="fr"), "language = 'fr' is not supported"),
    (lambda d: d.update(colour="red"), "unknown key 'colour'"),
    (lambda d: d["transfer"].update(only_during_hours="yes"), "transfer.only_during_hours must be"),
    (lambda d: d.update(faq=[]), "faq is missing"),
    (lambda d: d["message"].update(collect=["phone"]), "message.collect = ['phone']"),
    (lambda d: d["message"].update(collect=["number", "text"]),
     "message.ask_number uses {name} but message.collect has no name"),
    (lambda d: d["faq"][4].update(id=d["faq"][0]["id"]), "faq[4].id = 'hours' is used twice"),
])
def test_mistakes_name_the_field(raw: dict, change, message: str) -> None:
    assert message in broken(raw, change)


def test_an_empty_transfer_number_is_allowed(raw: dict) -> None:
    data = copy.deepcopy(raw)
    data["transfer"]["number"] = ""
    assert profile_from_dict(data).transfer_number == ""


def test_file_errors_say_which_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(missing)
    bad = tmp_path / "bad.toml"
    bad.write_text("[business\nname = 1", encoding="utf-8")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(bad)
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "Müller"'.encode("latin-1"))
    with pytest.raises(ProfileError, match="not UTF-8"):
        load_profile(latin)


def test_a_copied_profile_file_loads_and_keeps_its_path(tmp_path: Path) -> None:
    copy_path = tmp_path / "shop.toml"
    copy_path.write_bytes(DEFAULT_PROFILES["de"].read_bytes())
    p = load_profile(copy_path)
    assert p.path == copy_path and p.language == "de"


def test_summary_lists_what_tom_knows() -> None:
    s = load_profile(None).summary()
    assert s["business"] == "Brandt Bike Works"
    assert "flat tyre repair: 15 euros" in s["services"]
    assert any(f["id"] == "parking" for f in s["faq"])
    assert s["facts"]


@pytest.mark.parametrize("language", ["en", "de"])
def test_fixed_texts_are_what_tom_says_word_for_word(language: str) -> None:
    p = load_profile(None, language)
    fixed = p.fixed_texts()
    assert p.greeting in fixed and p.farewell in fixed and p.reprompts[0] in fixed
    assert all(f.answer in fixed for f in p.faq)
    assert p.service_answer(p.services[0]) in fixed
    assert not any("{" in text for text in fixed)  # nothing waiting for a caller's data
    assert p.say("message", "ask_name") in fixed
