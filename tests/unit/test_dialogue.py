"""The Dialogue as the pipeline drives it: replies, flows, DTMF, the guard, history, the eval."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path

import pytest

from tom.conversation.dialogue import Dialogue, Reply
from tom.conversation.evaluate import Turn, evaluate, fact_present, load_turns
from tom.conversation.flows import clean_name
from tom.conversation.messages import MessageStore
from tom.conversation.profile import DEFAULT_PROFILES, Profile, load_profile, profile_from_dict
from tom.conversation.when import parse_day, parse_time

WEDNESDAY_11 = datetime(2025, 5, 7, 11, 0)  # the shop is open
SUNDAY_11 = datetime(2025, 5, 11, 11, 0)  # the shop is closed


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


def call(profile: Profile, store: MessageStore | None = None, now: datetime = WEDNESDAY_11,
         caller: str = "+4917612345678") -> Dialogue:
    return Dialogue(profile, store, call_id="call-1", caller=caller, language=profile.language,
                    now=lambda: now)


async def say(d: Dialogue, *turns: str) -> Reply:
    reply = Reply("empty")
    for text in turns:
        reply = await d.on_caller(text)
        if reply.text:
            d.on_assistant(reply.text, interrupted=False)
    return reply


# --- plain replies ------------------------------------------------------------------------------
async def test_greeting_reprompts_and_idle_farewell(en: Profile) -> None:
    d = call(en)
    assert d.greeting() == en.greeting
    assert d.reprompt(1) == en.reprompts[0]
    assert d.reprompt(9) == en.reprompts[-1]
    assert "hang up" in d.idle_farewell()


async def test_faq_question_is_answered_verbatim_without_llm(en: Profile) -> None:
    reply = await call(en).on_caller("Um, when are you open on Saturday?")
    assert reply.intent == "question" and reply.llm_messages is None
    assert "Saturday from 10 am to 2 pm" in reply.text
    assert reply.facts == [reply.text]


async def test_a_question_one_fact_answers_is_said_verbatim(en: Profile) -> None:
    reply = await call(en).on_caller("who runs the workshop")
    assert reply.intent == "question" and reply.llm_messages is None
    assert reply.text == "The workshop is run by Jana Brandt and two mechanics."
    assert reply.facts == [reply.text]


async def test_with_rephrase_the_llm_gets_only_the_fact_and_the_question(en: Profile) -> None:
    d = call(en)
    d.rephrase = True
    await say(d, "hello")
    reply = await d.on_caller("who runs the workshop")
    assert reply.intent == "question" and reply.text is None
    msgs = reply.llm_messages
    assert msgs[0]["role"] == "system" and "Brandt Bike Works" in msgs[0]["content"]
    assert reply.facts == ["The workshop is run by Jana Brandt and two mechanics."]
    assert reply.facts[0] in msgs[0]["content"]
    assert msgs[1:] == [{"role": "user", "content": "who runs the workshop"}]


async def test_a_question_the_profile_cannot_answer_gets_the_offer_not_the_llm(en: Profile) -> None:
    d = call(en)
    d.rephrase = True
    reply = await d.on_caller("so " * 400 + "what is the meaning of life")
    assert reply.llm_messages is None and reply.text == en.say("prompts", "unsure")


async def test_a_very_long_turn_keeps_the_request_and_the_question(en: Profile) -> None:
    story = "so " + "and then we rode along the river for hours " * 120 + "how much is a new chain"
    reply = await call(en).on_caller(story)
    assert reply.intent == "question" and "25 euros" in reply.text
    booking = await call(en).on_caller("i'd like to book a repair " + "because it rattles " * 300)
    assert booking.intent == "booking"


async def test_goodbye_hangs_up_after_the_farewell(en: Profile) -> None:
    reply = await call(en).on_caller("ok thanks bye")
    assert reply == Reply("goodbye", text=en.farewell, action="hangup")


async def test_empty_turn_says_nothing(en: Profile) -> None:
    d = call(en)
    reply = await d.on_caller("  um  ")
    assert reply.intent == "empty" and reply.text is None and reply.llm_messages is None
    assert d.history == []


async def test_unclear_twice_offers_a_transfer_and_yes_takes_it(en: Profile) -> None:
    d = call(en)
    first = await say(d, "asdf blorp")
    assert first.text == en.say("prompts", "clarify")
    second = await say(d, "purple monkey dishwasher")
    assert second.text == en.say("prompts", "clarify_again")
    third = await say(d, "yes please")
    assert third.intent == "human" and third.action == "transfer"


async def test_an_instruction_with_please_does_not_take_the_offer(en: Profile) -> None:
    """A recorded phone prompt after TOM's offer was taken as "yes" and put through."""
    d = call(en)
    await say(d, "asdf blorp")
    await say(d, "purple monkey dishwasher")  # the transfer offer
    reply = await say(d, "Please enter the conference pin number.")
    assert reply.action != "transfer" and reply.intent != "human"


async def test_a_question_after_the_offer_is_answered_not_taken_as_yes(en: Profile) -> None:
    d = call(en)
    await say(d, "asdf blorp")
    await say(d, "purple monkey dishwasher")  # the transfer offer
    reply = await say(d, "Where exactly is the workshop?")  # "exactly" is no yes here
    assert reply.action != "transfer" and reply.intent == "question"


@pytest.mark.parametrize("text", ["that's very helpful", "thanks a lot", "good to know"])
async def test_appreciation_gets_you_are_welcome_not_hello(en: Profile, text: str) -> None:
    assert (await say(call(en), text)).text == en.say("prompts", "welcome")


async def test_thanks_then_no_ends_the_call(en: Profile) -> None:
    d = call(en)
    assert (await say(d, "thank you")).text == en.say("prompts", "welcome")
    assert (await say(d, "no")).action == "hangup"


async def test_mixed_german_and_english(en: Profile) -> None:
    d = call(en)
    assert (await say(d, "hallo do you repair e-bikes")).text.startswith("Yes, we service")
    assert (await say(d, "ok danke tschüss")).action == "hangup"


async def test_german_call(de: Profile) -> None:
    d = call(de)
    reply = await say(d, "wann haben sie am samstag auf")
    assert "Samstag von 10 bis 14 Uhr" in reply.text
    assert (await say(d, "nein danke, auf wiederhören")).text == de.farewell


# --- transfer ---------------------------------------------------------------------------------
async def test_human_is_transferred_during_opening_hours(en: Profile) -> None:
    reply = await call(en).on_caller("can i talk to a real person")
    assert reply == Reply("human", text=en.transfer_message, action="transfer")


async def test_dtmf_zero_asks_for_a_person(en: Profile) -> None:
    assert (await call(en).on_dtmf("0")).action == "transfer"
    assert (await call(en).on_dtmf("5")).intent == "empty"


async def test_outside_opening_hours_a_message_is_offered_instead(en: Profile) -> None:
    d = call(en, now=SUNDAY_11)
    reply = await d.on_caller("operator")
    assert reply.action is None and reply.intent == "human"
    assert en.say("transfer", "unavailable") in reply.text
    assert reply.text.endswith(en.say("message", "ask_name"))


# --- message flow -----------------------------------------------------------------------------
async def test_message_flow_stores_before_thanking(en: Profile, store: MessageStore) -> None:
    d = call(en, store)
    assert (await say(d, "can i leave a message")).text.startswith("Sure, I'll take a message.")
    assert "Jörg Müller" in (await say(d, "uh my name is jörg müller")).text
    confirm = await say(d, "zero one seven six, one two three, four five six seven")
    assert confirm.text == en.say("message", "confirm_number",
                                  digits="zero one seven, six one two, three four five, six seven")
    assert (await say(d, "yes that's right")).text == en.say("message", "ask_text", name="")
    done = await say(d, "my bike is still clicking after the repair")
    assert done.intent == "message" and done.stored["kind"] == "message"
    assert done.text == en.say("message", "done", name="Jörg Müller")
    row = await store.get(done.stored["id"])
    assert row["name"] == "Jörg Müller" and row["callback_number"] == "01761234567"
    assert row["text"] == "my bike is still clicking after the repair"
    assert row["caller"] == "+4917612345678" and row["call_id"] == "call-1"


async def test_wrong_number_is_asked_again(en: Profile) -> None:
    d = call(en)
    await say(d, "i want to leave a message", "Ann")
    await say(d, "five five five one two three four")
    again = await say(d, "no that's wrong")
    assert again.text == en.say("message", "number_again")
    await say(d, "five five five nine eight seven six")
    assert "nine eight seven six" in d.history[-1]["content"]


async def test_number_can_be_corrected_in_the_no(en: Profile) -> None:
    d = call(en)
    await say(d, "leave a message please", "Ann", "0123456")
    reply = await say(d, "no it's 0123457")
    assert "seven" in reply.text and reply.text.endswith("Is that correct?")


async def test_number_by_keypad_with_hash(en: Profile, store: MessageStore) -> None:
    d = call(en, store)
    await say(d, "can i leave a message", "Ann")
    assert (await d.on_dtmf("0761")).text is None  # still typing
    confirm = await d.on_dtmf("4589#")
    assert "zero seven six, one four five, eight nine" in confirm.text
    await say(d, "yes")
    done = await say(d, "please call me")
    assert (await store.get(done.stored["id"]))["callback_number"] == "07614589"


async def test_keypad_digits_without_hash_are_taken_at_the_reprompt(en: Profile) -> None:
    d = call(en)
    await say(d, "can i leave a message", "Ann")
    await d.on_dtmf("0761458")
    assert "zero seven six, one four five eight. Is that correct?" in d.reprompt(1)


async def test_reprompt_repeats_the_flow_question(en: Profile) -> None:
    d = call(en)
    await say(d, "can i leave a message")
    assert d.reprompt(1) == f"{en.reprompts[0]} {en.say('message', 'ask_name')}"


async def test_the_callers_number_can_be_used(en: Profile) -> None:
    d = call(en, caller="+4917699887766")
    await say(d, "leave a message", "Ann")
    reply = await say(d, "the number i'm calling from")
    assert "plus four nine one" in reply.text


async def test_message_already_in_the_request_is_kept(en: Profile, store: MessageStore) -> None:
    d = call(en, store)
    await say(d, "could you tell jana that i will pick up my bike tomorrow", "Ann", "0123456")
    done = await say(d, "yes")
    assert done.stored is not None
    assert (await store.get(done.stored["id"]))["text"] == "i will pick up my bike tomorrow"


async def test_a_profile_may_skip_the_call_back_number(store: MessageStore) -> None:
    raw = tomllib.loads(DEFAULT_PROFILES["en"].read_text(encoding="utf-8"))
    raw["message"]["collect"] = ["name", "text"]
    raw["message"]["ask_text"] = "What shall I pass on?"
    d = call(profile_from_dict(raw), store)
    await say(d, "can i leave a message")
    assert (await say(d, "Ann")).text == "What shall I pass on?"
    done = await say(d, "i'll be late")
    assert (await store.get(done.stored["id"]))["callback_number"] == ""


async def test_cancelling_a_message(en: Profile) -> None:
    d = call(en)
    await say(d, "can i leave a message")
    reply = await say(d, "never mind")
    assert reply.text == en.say("message", "cancelled")
    assert (await say(d, "when are you open")).intent == "question"


async def test_german_message_with_german_digits(de: Profile, store: MessageStore) -> None:
    d = call(de, store)
    await say(d, "ich möchte eine nachricht hinterlassen", "Jürgen Groß")
    confirm = await say(d, "null sieben sechs eins, vier fünf acht neun")
    assert "null sieben sechs, eins vier fünf, acht neun" in confirm.text
    await say(d, "ja genau")
    done = await say(d, "Bitte rufen Sie mich wegen der Schaltung zurück. Grüße!")
    row = await store.get(done.stored["id"])
    assert row["name"] == "Jürgen Groß" and row["callback_number"] == "07614589"
    assert row["text"].endswith("Grüße!")


async def test_a_failed_commit_is_never_thanked_for(en: Profile) -> None:
    class BrokenStore:
        async def add_message(self, *args: object) -> int:
            raise OSError("disk full")

    d = call(en, BrokenStore())  # type: ignore[arg-type]
    await say(d, "can i leave a message", "Ann", "0123456", "yes")
    reply = await say(d, "call me")
    assert reply.stored is None and reply.action == "transfer"


# --- booking flow -----------------------------------------------------------------------------
async def test_booking_flow(en: Profile, store: MessageStore) -> None:
    d = call(en, store)
    assert (await say(d, "i'd like to book a full service")).text == en.say("booking", "ask_day")
    assert (await say(d, "sunday")).text == en.say("booking", "closed_day", day="Sunday")
    assert (await say(d, "saturday then")).text == en.say("booking", "ask_time", day="Saturday")
    outside = await say(d, "at four")
    assert outside.text == en.say("booking", "outside_hours", day="Saturday",
                                  hours="from 10 am to 2 pm")
    assert (await say(d, "eleven")).text == en.say("booking", "confirm",
                                                   when="Saturday at 11 am")
    assert (await say(d, "yes")).text == en.say("booking", "ask_name")
    done = await say(d, "Peter Miller")
    assert done.stored["kind"] == "appointment" and done.intent == "booking"
    row = await store.get(done.stored["id"])
    assert row["day"] == "2025-05-10 (Saturday)" and row["time"] == "11:00"
    assert row["name"] == "Peter Miller" and row["text"] == "i'd like to book a full service"


async def test_booking_in_one_sentence_and_a_no(en: Profile) -> None:
    d = call(en)
    confirm = await say(d, "can i book a service for friday at half past two")
    assert confirm.text == en.say("booking", "confirm", when="Friday at 2:30 pm")
    assert (await say(d, "no")).text == en.say("booking", "ask_day")


async def test_faq_question_while_choosing_a_day(en: Profile) -> None:
    d = call(en)
    await say(d, "i need an appointment")
    reply = await say(d, "when are you open")
    assert reply.text.startswith("Our opening hours are") and reply.text.endswith(
        en.say("booking", "resume_day"))


async def test_german_booking(de: Profile) -> None:
    d = call(de)
    reply = await say(d, "ich möchte einen termin am dienstag um zehn uhr")
    assert reply.text == de.say("booking", "confirm", when="am Dienstag um 10 Uhr")
    assert reply.text == "Also am Dienstag um 10 Uhr. Soll ich das so notieren?"


@pytest.mark.parametrize(("text", "expected"), [
    ("next tuesday", date(2025, 5, 13)), ("tomorrow", date(2025, 5, 8)),
    ("übermorgen", date(2025, 5, 9)), ("am Freitag", date(2025, 5, 9)),
    ("the 20th", date(2025, 5, 20)), ("today", date(2025, 5, 7)),
])
def test_parse_day(text: str, expected: date) -> None:
    found = parse_day(text, date(2025, 5, 7), "en")
    assert found is not None and found[0].date == expected


@pytest.mark.parametrize(("text", "minutes"), [
    ("at ten", 600), ("10:30", 630), ("half past two", 870), ("halb elf", 630),
    ("3 pm", 900), ("um 14 Uhr", 840), ("noon", 720), ("quarter to five", 1005),
])
def test_parse_time(text: str, minutes: int) -> None:
    assert parse_time(text, lambda m: 9 * 60 <= m < 18 * 60) == minutes


@pytest.mark.parametrize(("text", "asked", "minutes"), [
    ("und zehn more.", True, 600), ("und zehn more.", False, None),
    ("3 bikes", True, 900), ("i have 3 bikes to bring in on friday", True, None),
    ("9 or 10", True, 540),
])
def test_the_one_number_of_an_answer_to_what_time_is_the_hour(
        text: str, asked: bool, minutes: int | None) -> None:
    assert parse_time(text, lambda m: 9 * 60 <= m < 18 * 60, asked=asked) == minutes


def test_guten_morgen_is_not_tomorrow() -> None:
    assert parse_day("guten morgen", date(2025, 5, 7), "de") is None


@pytest.mark.parametrize(("said", "name"), [
    ("uh my name is jana miller thanks", "Jana Miller"), ("It's Bob.", "Bob"),
    ("ich heiße jürgen groß", "Jürgen Groß"), ("yes this is Ann", "Ann"),
    ("Yeah.", ""), ("Okay, mhm.", ""), ("Uh-huh.", ""), ("Ja, genau.", ""),
    ("Sure Yeah Miller", "Sure Yeah Miller"),  # not only such words: a name after all
])
def test_clean_name(said: str, name: str) -> None:
    assert clean_name(said) == name


# --- the guard on LLM sentences ---------------------------------------------------------------
async def test_check_sentence_passes_backed_numbers_and_replaces_invented(en: Profile) -> None:
    d = call(en)
    await d.on_caller("who runs the workshop")
    assert d.check_sentence("A flat tyre repair costs 15 euros.") == \
        "A flat tyre repair costs 15 euros."
    assert d.check_sentence("We also sell bikes from 299 euros.") is None  # the reply ends
    assert d.reply_done
    assert d.check_sentence("And 5 euros for a bell.") is None
    assert d.blocked_sentences == 1
    d = call(en)
    await d.on_caller("do you repair scooters")
    assert d.check_sentence("We also sell bikes from 299 euros.") == en.say("prompts", "unsure")


async def test_check_sentence_allows_the_callers_numbers(en: Profile) -> None:
    d = call(en)
    await d.on_caller("are you open at seven in the evening")
    assert d.check_sentence("No, at 7 pm we are closed.") == "No, at 7 pm we are closed."


async def test_check_sentence_cleans_markdown_repeats_and_rambling(en: Profile) -> None:
    d = call(en)
    await d.on_caller("do you repair scooters")
    assert d.check_sentence("**Sure!**") == "Sure!"
    assert d.check_sentence("- We repair bikes.") == "We repair bikes."
    assert d.check_sentence("We repair bikes.") is None
    assert d.check_sentence("Call us on Monday.") == "Call us on Monday."
    assert d.check_sentence("One more thing.") is None  # three sentences are enough
    await d.on_caller("and e-bikes?")
    assert d.check_sentence("Yes.") == "Yes."  # a new turn starts afresh


async def test_check_sentence_drops_a_claim_the_profile_does_not_make(en: Profile) -> None:
    d = call(en)
    d.rephrase = True
    await d.on_caller("who runs the workshop")
    fact = "The workshop is run by Jana Brandt and two mechanics."
    assert d.check_sentence("We can repair electric cougars.") == fact  # the fact instead
    assert d.reply_done and d.blocked_sentences == 1
    assert d.fallback() == fact
    await d.on_caller("who runs the workshop")
    assert d.check_sentence("Jana Brandt runs it.") == "Jana Brandt runs it."
    assert d.check_sentence("She loves cougars.") is None  # said something: the reply ends here
    assert d.reply_done
    await d.on_caller("have you got tyres for my bike")
    assert d.check_sentence("A full service costs 89 euros.") == \
        "Tubes and tyres for most common sizes are in stock."  # true, but not this fact


async def test_fallback_offers_help_and_yes_accepts(en: Profile) -> None:
    d = call(en)
    await d.on_caller("do you repair scooters")
    assert d.fallback() == en.say("prompts", "unsure")
    reply = await d.on_caller("yes")  # nothing heard yet: the explicit offer stands
    assert reply.intent == "human" and reply.action == "transfer"


async def test_an_offer_heard_is_answered_by_yes(en: Profile) -> None:
    d = call(en)
    await d.on_caller("who runs the workshop")
    d.on_assistant("I'm not sure. I can take a message for you.", interrupted=False)
    reply = await say(d, "yes please")
    assert reply.intent == "message" and reply.text.endswith(en.say("message", "ask_name"))


async def test_an_offer_cut_off_by_barge_in_was_not_made(en: Profile) -> None:
    d = call(en)
    await d.on_caller("thanks")
    d.on_assistant("You're welcome!", interrupted=True)
    assert d.history[-1] == {"role": "assistant", "content": "You're welcome! …"}
    reply = await say(d, "no")
    assert reply.action is None  # "anything else?" was never heard


# --- the eval ---------------------------------------------------------------------------------
async def test_eval_targets_hold_without_llm(en: Profile, de: Profile) -> None:
    report = await evaluate(load_turns(), {"en": en, "de": de})
    s = report["summary"]
    assert s["turns"] >= 60
    assert s["intent_accuracy"] >= 0.95
    assert s["answer_accuracy"] >= 0.90
    assert s["invented_numbers"] == 0


async def test_eval_with_a_fake_llm_counts_blocked_and_correct_answers(en: Profile) -> None:
    async def llm(messages: list[dict[str, str]]) -> AsyncIterator[str]:
        for chunk in ["Jana Brandt ", "runs the workshop. ", "It has 40 ", "employees."]:
            yield chunk

    turns = [Turn("who runs the workshop", "question", facts=("Jana Brandt",))]
    report = await evaluate(turns, {"en": en}, llm)
    result = report["turns"][0]
    assert result["route"] == "llm"
    assert result["answer"] == "Jana Brandt runs the workshop."
    assert result["answer_ok"] is True and result["blocked"] == 1
    assert report["summary"]["invented_numbers"] == 0


def test_fact_matching_compares_numbers_by_value() -> None:
    assert fact_present("10 am", "from ten o'clock")
    assert fact_present("Mühlenweg 7", "at MÜHLENWEG 7, Freiburg")
    assert not fact_present("15 euros", "it costs 16 euros")
    assert not fact_present("parking", "no spaces")
