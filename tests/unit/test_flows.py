"""The flows inside a Dialogue: the caller leads (goodbye, never mind, side questions,
corrections, vague times), each kind of request stores its own record, nobody is trapped."""

from __future__ import annotations

import sqlite3
import tomllib
from datetime import date, datetime
from pathlib import Path

import pytest

from tom.conversation.dialogue import Dialogue, Reply
from tom.conversation.flow_table import FLOWS, FlowKind, Slot
from tom.conversation.intents import goodbye_in_flow, request_kind
from tom.conversation.messages import MessageStore
from tom.conversation.profile import (
    DEFAULT_PROFILES,
    Profile,
    ProfileError,
    load_profile,
    profile_from_dict,
)
from tom.conversation.slots import message_in_request
from tom.conversation.when import (
    drop_negated,
    parse_day,
    parse_vague_day,
    parse_window,
    split_compounds,
)

WEDNESDAY_11 = datetime(2025, 5, 7, 11, 0)


@pytest.fixture(scope="module")
def en() -> Profile:
    return load_profile(None, "en")


@pytest.fixture(scope="module")
def de() -> Profile:
    return load_profile(None, "de")


@pytest.fixture
def store(tmp_path: Path):
    s = MessageStore(tmp_path / "tom.db")
    yield s
    s.close()


def call(profile: Profile, store: MessageStore | None = None) -> Dialogue:
    return Dialogue(profile, store, call_id="call-1", caller="+4917612345678",
                    language=profile.language, now=lambda: WEDNESDAY_11)


async def say(d: Dialogue, *turns: str) -> Reply:
    reply = Reply("empty")
    for text in turns:
        reply = await d.on_caller(text)
        if reply.text:
            d.on_assistant(reply.text, interrupted=False)
    return reply


def raw_profile(language: str = "en") -> dict:
    return tomllib.loads(DEFAULT_PROFILES[language].read_text(encoding="utf-8"))


# --- goodbye inside a flow ----------------------------------------------------------------------
async def test_the_issue_18_call_ends_with_tom_s_goodbye(en: Profile, store: MessageStore) -> None:
    d = call(en, store)
    first = await say(d, "I would like to move my appointment to Thursday afternoon.")
    assert first.text == en.say("reschedule", "ask_old_day")
    aside = await say(d, "Can you tell me where you are located?")
    assert aside.text == "You'll find us at Mühlenweg 7, 79098 Freiburg. " + en.say(
        "reschedule", "resume_old_day")
    bye = await say(d, "Thank you very much. Goodbye.")
    assert bye.intent == "goodbye" and bye.action == "hangup"
    assert bye.text == en.say("flow", "goodbye_kept") and bye.text.endswith("Goodbye!")
    row = await store.get(bye.stored["id"])
    assert row["kind"] == "reschedule" and row["day"] == "2025-05-08 (Thursday)"
    assert row["time"] == "12:00-18:00 (afternoon)" and row["text"].startswith("[incomplete]")
    assert not d.in_flow


async def test_goodbye_before_anything_was_said_stores_nothing(en: Profile,
                                                               store: MessageStore) -> None:
    d = call(en, store)
    await say(d, "i want to book an appointment")
    bye = await say(d, "ok bye")
    assert bye == Reply("goodbye", text=en.farewell, action="hangup")
    assert await store.list() == []


async def test_goodbye_policy_offer_asks_first(store: MessageStore) -> None:
    raw = raw_profile()
    raw["flow"]["on_goodbye"] = "offer"
    p = profile_from_dict(raw)
    d = call(p, store)
    await say(d, "i'd like to book a service", "friday")
    offer = await say(d, "i have to go, bye")
    assert offer.text == p.say("flow", "goodbye_offer") and offer.action is None and d.in_flow
    kept = await say(d, "yes please")
    assert kept.action == "hangup" and kept.stored["kind"] == "appointment"
    d2 = call(p, store)
    await say(d2, "i'd like to book a service", "friday", "bye")
    assert (await say(d2, "no")) == Reply("goodbye", text=p.farewell, action="hangup")
    assert len(await store.list()) == 1


async def test_goodbye_policy_drop_keeps_nothing(store: MessageStore) -> None:
    raw = raw_profile()
    raw["flow"]["on_goodbye"] = "drop"
    d = call(profile_from_dict(raw), store)
    bye = await say(d, "i'd like to book a service", "friday", "goodbye")
    assert bye.action == "hangup" and bye.stored is None and await store.list() == []


async def test_a_yes_and_a_bye_confirm_before_hanging_up(en: Profile, store: MessageStore) -> None:
    d = call(en, store)
    await say(d, "i'd like to book a service on friday at 10")
    bye = await say(d, "yes that's right, bye")
    row = await store.get(bye.stored["id"])
    assert bye.action == "hangup" and row["time"] == "10:00" and row["day"].startswith("2025-05-09")


async def test_a_message_may_say_bye_but_bye_alone_ends_it(en: Profile, store: MessageStore) -> None:
    d = call(en, store)
    await say(d, "leave a message please", "Dan Fox", "0160987654", "yes")
    done = await say(d, "tell Jana I said bye and thanks for the repair")
    assert done.stored and (await store.get(done.stored["id"]))["text"].endswith("the repair")
    d2 = call(en, store)
    await say(d2, "leave a message please", "Dan Fox", "0160987654", "yes")
    assert (await say(d2, "thanks, bye")).action == "hangup"
    assert goodbye_in_flow("Danke, tschüss", only_goodbye=True)
    assert not goodbye_in_flow("tell her bye", only_goodbye=True)


# --- leaving a flow and side questions -------------------------------------------------------
@pytest.mark.parametrize("said", ["forget it", "never mind", "cancel that"])
async def test_never_mind_leaves_the_flow(en: Profile, said: str) -> None:
    d = call(en)
    await say(d, "i'd like to book a repair for saturday")
    assert (await say(d, said)).text == en.say("booking", "cancelled")
    assert not d.in_flow


async def test_vergessen_sie_es_leaves_the_flow(de: Profile) -> None:
    d = call(de)
    await say(d, "Ich möchte einen Termin vereinbaren")
    assert (await say(d, "Ach, vergessen Sie es")).text == de.say("booking", "cancelled")


async def test_the_flow_s_question_follows_one_side_answer_not_every(en: Profile) -> None:
    d = call(en)
    await say(d, "i want to book an appointment for saturday")
    first = await say(d, "where are you located")
    assert first.text.endswith(en.say("booking", "resume_time", day="Saturday"))
    second = await say(d, "is there parking")
    assert second.text == "There are two free parking spaces right in front of the workshop."
    assert (await say(d, "at 11")).text == en.say("booking", "confirm", when="Saturday at 11 am")


async def test_a_side_question_for_the_llm_is_followed_by_the_flow_s_question(en: Profile) -> None:
    d = call(en)
    d.rephrase = True  # the LLM rewords the fact the gate found (grounding.rephrase)
    await say(d, "i'd like to book a service")
    reply = await say(d, "who runs the workshop")
    assert reply.llm_messages is not None and reply.then == en.say("booking", "resume_day")
    assert d.in_flow


async def test_a_side_question_answered_by_a_fact_is_followed_by_the_flow_s_question(
        en: Profile) -> None:
    d = call(en)
    await say(d, "i'd like to book a service")
    reply = await say(d, "who runs the workshop")
    assert reply.text is not None and "Jana Brandt" in reply.text
    assert reply.text.endswith(en.say("booking", "resume_day"))
    assert d.in_flow


async def test_going_round_in_circles_is_let_out(en: Profile, store: MessageStore) -> None:
    d = call(en, store)
    replies = [await say(d, t) for t in ("i'd like to book an appointment", "blorp", "flibber")]
    assert [r.text for r in replies] == [en.say("booking", "ask_day")] * 3
    out = await say(d, "zzz")
    assert out.text == en.say("flow", "gave_up_empty") and not d.in_flow
    d2 = call(en, store)  # with something collected, it is passed on
    await say(d2, "can i leave a message", "Ann")
    for said in ("purple", "banana", "kettle"):
        last = await say(d2, said)
    assert last.text == en.say("flow", "gave_up") and last.stored["kind"] == "message"


async def test_keypad_zero_in_a_booking_transfers(en: Profile) -> None:
    d = call(en)
    await say(d, "i'd like to book a service for friday")
    assert (await d.on_dtmf("0")).action == "transfer"


async def test_silence_repeats_the_flow_question(en: Profile) -> None:
    d = call(en)
    await say(d, "i'd like to book a service for friday")
    assert d.reprompt(1) == f"{en.reprompts[0]} {en.say('booking', 'ask_time', day='Friday')}"


# --- corrections, vague answers, all or nothing at once ---------------------------------------
async def test_no_friday_changes_the_day(en: Profile, store: MessageStore) -> None:
    d = call(en, store)
    await say(d, "book me in for thursday at 2 pm")
    assert (await say(d, "no, friday")).text == en.say("booking", "confirm", when="Friday at 2 pm")
    done = await say(d, "yes", "Lisa Wong")
    assert (await store.get(done.stored["id"]))["day"] == "2025-05-09 (Friday)"


async def test_not_5_but_9_changes_the_time(en: Profile, de: Profile) -> None:
    d = call(en)
    await say(d, "can i come in on friday at 5 for an appointment")
    assert (await say(d, "not 5, 9")).text == en.say("booking", "confirm", when="Friday at 9 am")
    g = call(de)
    await say(g, "Einen Termin am Freitag um fünf bitte")
    assert (await say(g, "nicht um fünf, sondern um neun")).text == \
        "Also am Freitag um 9 Uhr. Soll ich das so notieren?"


async def test_a_correction_after_the_confirmation_confirms_again(en: Profile) -> None:
    d = call(en)
    await say(d, "book me in for thursday at 2 pm", "yes")
    assert (await say(d, "sorry, actually friday")).text == en.say(
        "booking", "confirm", when="Friday at 2 pm")


@pytest.mark.parametrize(("said", "when", "stored"), [
    ("friday afternoon", "Friday in the afternoon, until 6 pm", "12:00-18:00 (afternoon)"),
    ("friday after work", "Friday after work, until 6 pm", "17:00-18:00 (evening)"),
    ("friday morning", "Friday in the morning, from 9 am", "09:00-12:00 (morning)"),
])
async def test_a_part_of_the_day_is_proposed_within_the_hours(en: Profile, store: MessageStore,
                                                              said: str, when: str,
                                                              stored: str) -> None:
    d = call(en, store)
    assert (await say(d, f"i'd like an appointment on {said}")).text == en.say(
        "booking", "confirm", when=when)
    done = await say(d, "yes", "Omar Said")
    assert (await store.get(done.stored["id"]))["time"] == stored


async def test_i_dont_know_yet_proposes_the_whole_day(en: Profile) -> None:
    d = call(en)
    await say(d, "i want to book a service on friday")
    assert (await say(d, "i don't know yet")).text == en.say(
        "booking", "confirm", when="Friday at any time, from 9 am until 6 pm")


async def test_after_work_on_a_saturday_is_outside_the_hours(en: Profile) -> None:
    d = call(en)
    reply = await say(d, "can i come saturday after work for an appointment")
    assert reply.text == en.say("booking", "outside_hours", day="Saturday",
                                hours="from 10 am to 2 pm")


async def test_early_next_week_is_noted_as_said(en: Profile, store: MessageStore) -> None:
    d = call(en, store)
    assert (await say(d, "i'd like to book an inspection early next week")).text == en.say(
        "booking", "confirm", when="early next week")
    done = await say(d, "yes", "Paul Green")
    row = await store.get(done.stored["id"])
    assert row["day"] == "2025-05-12 (early next week)" and row["time"] == ""


async def test_every_slot_in_one_sentence(en: Profile, store: MessageStore) -> None:
    d = call(en, store)
    await say(d, "Hi, this is Sam Reed, I'd like to book a full service on Thursday at 10 am")
    done = await say(d, "yes")
    row = await store.get(done.stored["id"])
    assert (row["name"], row["time"]) == ("Sam Reed", "10:00")


# --- the other requests -----------------------------------------------------------------------
async def test_reschedule_from_and_to_in_one_turn(en: Profile, store: MessageStore) -> None:
    d = call(en, store)
    confirm = await say(d, "can i move my appointment from tuesday to friday at 3")
    assert confirm.intent == "booking" and confirm.text == en.say(
        "reschedule", "confirm", old_day="Tuesday", when="Friday at 3 pm")
    done = await say(d, "yes", "Anna Berg")
    row = await store.get(done.stored["id"])
    assert row["kind"] == "reschedule" and row["day"] == "2025-05-09 (Friday)"
    assert row["text"].startswith("[2025-05-13 (Tuesday)]")


async def test_cancel_an_appointment_and_a_yes_cancel_it(en: Profile, store: MessageStore) -> None:
    d = call(en, store)
    assert (await say(d, "i have to cancel my appointment")).text == en.say(
        "cancel_appointment", "ask_old_day")
    await say(d, "it's on friday")
    assert (await say(d, "yes please cancel it")).text == en.say("cancel_appointment", "ask_name")
    done = await say(d, "Tom Baker")
    row = await store.get(done.stored["id"])
    assert row["kind"] == "cancellation" and row["name"] == "Tom Baker"
    assert done.text == en.say("cancel_appointment", "done", name="Tom Baker", old_day="Friday")


async def test_german_cancellation_confirmed_by_the_whole_turn(de: Profile,
                                                               store: MessageStore) -> None:
    d = call(de, store)
    await say(d, "Ich möchte meinen Termin absagen", "am Montag")
    assert (await say(d, "Ja, genau, das stimmt")).text == de.say("cancel_appointment", "ask_name")


async def test_callback_reads_the_number_back(en: Profile, de: Profile,
                                              store: MessageStore) -> None:
    d = call(en, store)
    assert (await say(d, "could someone call me back please")).text.startswith(
        en.say("callback", "intro"))
    await say(d, "Maria Lopez")
    confirm = await say(d, "zero one seven six five five five one two three four")
    assert "zero one seven, six five five, five one two, three four" in confirm.text
    done = await say(d, "yes correct")
    row = await store.get(done.stored["id"])
    assert (row["kind"], row["callback_number"]) == ("callback", "01765551234")
    g = call(de)
    await say(g, "Können Sie mich bitte zurückrufen?", "Hans Weber")
    assert "null eins sieben, sechs vier fünf" in (await say(g, "null eins sieben sechs vier fünf "
                                                              "sechs sieben acht neun")).text


async def test_a_lone_confirmation_is_never_the_message(en: Profile, store: MessageStore) -> None:
    d = call(en, store)
    await say(d, "I'd like to leave a message", "Jana Miller", "0176 1234567", "Yes")
    again = await say(d, "that's correct.")
    assert again.text == en.say("message", "ask_text", name="Jana Miller")
    done = await say(d, "my bike is still clicking")
    assert (await store.get(done.stored["id"]))["text"] == "my bike is still clicking"


async def test_a_message_for_someone_is_not_yet_the_message(en: Profile,
                                                            store: MessageStore) -> None:
    """"…a message for Jana, please?" names who it is for; what to tell her is still asked."""
    d = call(en, store)
    await say(d, "Could I leave a message for Jana, please?", "Tom Becker", "0151 23456789")
    asked = await say(d, "Yes, that's correct.")
    assert asked.text == en.say("message", "ask_text", name="Tom Becker")
    done = await say(d, "Please tell her that my front wheel is still wobbling.")
    assert "front wheel" in (await store.get(done.stored["id"]))["text"]


async def test_a_profile_without_the_new_sections_takes_a_message(store: MessageStore) -> None:
    raw = raw_profile()
    for section in ("reschedule", "cancel_appointment", "callback", "flow"):
        del raw[section]
    p = profile_from_dict(raw)
    d = call(p, store)
    reply = await say(d, "i need to move my appointment to friday")
    assert reply.intent == "message" and reply.text == p.say("message", "ask_name")
    bye = await say(d, "goodbye")
    assert bye.action == "hangup" and bye.text == p.farewell


def test_flow_texts_are_checked_when_the_profile_loads() -> None:
    raw = raw_profile()
    raw["reschedule"]["confrim"] = "typo"
    with pytest.raises(ProfileError, match="confrim"):
        profile_from_dict(raw)
    raw = raw_profile()
    raw["flow"]["on_goodbye"] = "maybe"
    with pytest.raises(ProfileError, match="on_goodbye"):
        profile_from_dict(raw)
    raw = raw_profile()
    raw["cancel_appointment"]["done"] = "Bye {when}"
    with pytest.raises(ProfileError, match="when"):
        profile_from_dict(raw)


def test_every_flow_has_its_texts_in_both_demo_profiles(en: Profile, de: Profile) -> None:
    for spec in FLOWS.values():
        for p in (en, de):
            assert p.has_section(spec.section)
            for slot in spec.slots:
                if slot not in (Slot.CONFIRM, Slot.TIME, Slot.DAY, Slot.OLD_DAY) or \
                        spec.kind is not FlowKind.MESSAGE:
                    key = "confirm" if slot is Slot.CONFIRM else f"ask_{slot.value}"
                    assert p.has_text(spec.section, key), (p.language, spec.section, key)


# --- the words behind it ------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "intent", "kind"), [
    ("I would like to move my appointment to Thursday afternoon", "booking", "reschedule"),
    ("hi i need to reschedule my appointment", "booking", "reschedule"),
    ("können sie meinen termin verschieben", "booking", "reschedule"),
    ("i have to cancel my appointment", "booking", "cancel_appointment"),
    ("ich möchte meinen termin absagen", "booking", "cancel_appointment"),
    ("i'd like to book a service", "booking", "booking"),
    ("please have someone call me back", "message", "callback"),
    ("i want to leave a message, call me back", "message", "message"),
])
def test_request_kind(text: str, intent: str, kind: str) -> None:
    assert request_kind(text, intent) == kind


def test_when_words() -> None:
    assert drop_negated("not 5, 9").strip() == "9"
    assert drop_negated("nicht um fünf, sondern um neun").strip() == "um 9"
    assert parse_window("thursday afternoon").key == "afternoon"
    assert parse_window("nach feierabend").key == "evening"
    assert parse_window("weiß ich noch nicht").key == "any"
    assert parse_window("guten morgen") is None
    assert split_compounds("Donnerstagnachmittag") == "donnerstag nachmittag"
    found = parse_day("am Donnerstagnachmittag", date(2025, 5, 7), "de")
    assert found and found[0].date == date(2025, 5, 8)
    vague = parse_vague_day("anfang nächster woche", date(2025, 5, 7), "de")
    assert vague and vague.date == date(2025, 5, 12) and vague.vague


# --- the store ----------------------------------------------------------------------------------
async def test_new_kinds_are_stored_and_unknown_ones_refused(store: MessageStore) -> None:
    rid = await store.add_request("callback", "c1", "+49", name="Ann", callback_number="0123456")
    assert (await store.get(rid))["kind"] == "callback"
    with pytest.raises(ValueError, match="is not a lower-case id"):
        await store.add_request("Pizza!", "c1", "+49")


async def test_a_version_1_database_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "tom.db"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('message', 'appointment')),
            call_id TEXT NOT NULL, caller TEXT NOT NULL DEFAULT '', name TEXT NOT NULL DEFAULT '',
            callback_number TEXT NOT NULL DEFAULT '', day TEXT NOT NULL DEFAULT '',
            time TEXT NOT NULL DEFAULT '', text TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL,
            webhook_pending INTEGER NOT NULL DEFAULT 0, webhook_attempts INTEGER NOT NULL DEFAULT 0,
            webhook_next_at REAL NOT NULL DEFAULT 0, webhook_error TEXT NOT NULL DEFAULT '',
            delivered_at REAL);
        INSERT INTO messages (kind, call_id, name, created_at) VALUES ('message', 'c0', 'Old', 1);
        PRAGMA user_version = 1;""")
    old.commit()
    old.close()
    s = MessageStore(path)
    try:
        assert (await s.get(1))["name"] == "Old"
        rid = await s.add_request("reschedule", "c1", "", name="New")
        assert rid == 2 and (await s.get(rid))["kind"] == "reschedule"
        assert s._db.execute("PRAGMA user_version").fetchone()[0] == 2
    finally:
        s.close()


# --- a request the business declares ----------------------------------------------------------
PICKUP = {
    "id": "pickup", "triggers": ["pick up my bike", "collect my bike", "abholen"],
    "collect": ["day", "confirm", "name", "number"],
    "intro": "Sure, we can pick up your bike.",
    "ask_day": "On which day should we come?",
    "closed_day": "We're closed on {day}. Which other day?",
    "confirm": "So we pick up your bike on {day}. Shall I pass that on?",
    "ask_name": "Your name, please?", "ask_number": "And your number, {name}?",
    "confirm_number": "I have {digits}. Is that correct?",
    "number_again": "Please say the number again, digit by digit.",
    "done": "Thank you, {name}. We'll pick up your bike on {day}.",
    "cancelled": "Alright, no pickup.",
}


async def test_a_declared_request_runs_like_the_built_in_ones(store: MessageStore) -> None:
    raw = raw_profile()
    raw["requests"] = [PICKUP]
    p = profile_from_dict(raw)
    d = call(p, store)
    first = await say(d, "hi, could you pick up my bike on friday?")
    assert first.text == "Sure, we can pick up your bike. So we pick up your bike on Friday. " \
                         "Shall I pass that on?"
    assert (await say(d, "where are you located")).text.endswith(PICKUP["confirm"].format(
        day="Friday"))
    await say(d, "yes", "Ann Lee", "0761 4589320")
    done = await say(d, "yes")
    assert done.text == "Thank you, Ann Lee. We'll pick up your bike on Friday."
    row = await store.get(done.stored["id"])
    assert (row["kind"], row["day"], row["callback_number"]) == (
        "pickup", "2025-05-09 (Friday)", "07614589320")
    assert p.summary()["flows"][-1] == "pickup"  # tom check-profile shows it
    plain = call(load_profile(None, "en"))  # without the declaration it is an FAQ question
    assert (await say(plain, "could you pick up my bike")).intent == "question"


@pytest.mark.parametrize(("change", "error"), [
    ({"id": "booking"}, "not the name of another section"),
    ({"collect": ["time", "day"]}, "needs \"day\" before it"),
    ({"collect": ["day", "pizza"]}, "choose from"),
    ({"triggers": []}, "triggers is empty"),
    ({"ask_day": None}, "ask_day is missing"),
    ({"done": "Bye {old_day}"}, "old_day"),
    ({"ask_text": "What?"}, "unknown key 'ask_text'"),
])
def test_a_declared_request_is_checked_when_the_profile_loads(change: dict, error: str) -> None:
    raw = raw_profile()
    raw["requests"] = [{k: v for k, v in {**PICKUP, **change}.items() if v is not None}]
    with pytest.raises(ProfileError, match=error):
        profile_from_dict(raw)


async def test_asking_to_hear_it_again_repeats_the_question(en: Profile, de: Profile) -> None:
    d = call(en)
    await say(d, "i'd like to book a service")
    assert (await say(d, "could you repeat that")).text == en.say("booking", "ask_day")
    m = call(en)
    await say(m, "can i leave a message")
    assert (await say(m, "sorry, what was that?")).text == en.say("message", "ask_name")
    assert "Jo" in (await say(m, "Jo")).text  # the question was not taken as a name
    g = call(de)
    await say(g, "Ich möchte einen Termin")
    assert (await say(g, "wie bitte?")).text == de.say("booking", "ask_day")


async def test_what_a_goodbye_turn_still_answers_is_kept(en: Profile, store: MessageStore) -> None:
    d = call(en, store)
    await say(d, "i'd like to leave a message", "Ruth Cole", "0171234567")
    bye = await say(d, "yes that's correct, thanks, bye")
    row = await store.get(bye.stored["id"])
    assert bye.action == "hangup" and row["callback_number"] == "0171234567"
    n = call(en, store)
    await say(n, "i'd like to leave a message")
    named = await say(n, "It's Jana, bye")
    assert named.action == "hangup" and (await store.get(named.stored["id"]))["name"] == "Jana"
    o = call(en, store)
    await say(o, "i'd like to book a service on friday at 10", "yes")
    okay = await say(o, "okay, bye")
    assert (await store.get(okay.stored["id"]))["name"] == ""


async def test_a_number_that_counts_something_is_not_the_time(en: Profile) -> None:
    d = call(en)
    reply = await say(d, "i want to book 3 bikes in for friday")
    assert reply.text == en.say("booking", "ask_time", day="Friday")
    assert (await say(d, "at 10")).text == en.say("booking", "confirm", when="Friday at 10 am")


async def test_a_misheard_word_after_the_hour_still_gives_the_time(de: Profile) -> None:
    d = call(de)
    await say(d, "ich möchte einen termin vereinbaren", "am dienstag")
    assert (await say(d, "und zehn more.")).text == de.say(
        "booking", "confirm", when="am Dienstag um 10 Uhr")


async def test_a_question_that_answers_the_flow_is_an_answer(en: Profile) -> None:
    d = call(en)
    await say(d, "i'd like to book a service")
    assert (await say(d, "what about friday at 3")).text == en.say(
        "booking", "confirm", when="Friday at 3 pm")
    assert (await say(d, "when are you open on friday")).text.startswith("Our opening hours")
    await say(d, "yes")
    card = await say(d, "do you take credit cards")
    assert card.text.startswith("You can pay") and card.text.endswith(
        en.say("booking", "resume_name"))


async def test_a_name_that_sounds_like_an_faq_word_is_a_name(en: Profile) -> None:
    d = call(en)
    await say(d, "can i leave a message")
    assert (await say(d, "Jo Park")).text == en.say("message", "ask_number", name="Jo Park")


async def test_the_webhook_body_carries_the_new_kinds(store: MessageStore) -> None:
    from tom.conversation.webhook import payload

    rid = await store.add_request("reschedule", "c1", "+49", name="Ann", day="2025-05-09 (Friday)",
                                  time="10:00", text="[2025-05-13 (Tuesday)] move it please")
    body = payload(await store.get(rid))
    assert body["kind"] == "reschedule" and body["day"] == "2025-05-09 (Friday)"
    assert body["text"].startswith("[2025-05-13 (Tuesday)]")


@pytest.mark.parametrize(("request_", "message"), [
    ("Please tell Jana that my bike is ready.", "my bike is ready"),
    ("Could I leave a message for Jana: my bike is ready", "my bike is ready"),
    ("I'd like to leave a message for Mr Brandt, my bike is still clicking.",
     "my bike is still clicking"),
    ("Could I leave a message, please? My bike is ready.", "my bike is ready"),
    ("Kann ich Frau Pant etwas ausrichten? Mein Rad ist fertig.", "mein rad ist fertig"),
    ("Could I leave a message for Jana, please?", ""),  # who it is for, not what
    ("I'd like to leave a message", ""),
])
def test_the_message_a_request_carries_is_kept_without_the_request(request_, message) -> None:
    assert message_in_request(request_) == message
