"""The message flow's yes/no confirmation reads the whole caller turn (issue 17, finding 10).

"Yes, that's correct." is one answer, never "Yes" plus a message "that's correct."; a turn that
is only a confirmation is never stored as the message. Decided for "yes" plus more words in the
same turn: the number is confirmed and the words after the confirmation (at least
MIN_MESSAGE_WORDS of them) are the message, as the caller said them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tom.conversation.dialogue import Dialogue, Reply
from tom.conversation.intents import confirmation, offer_answer, yes_no
from tom.conversation.messages import MessageStore
from tom.conversation.profile import Profile, load_profile

WEDNESDAY_11 = datetime(2025, 5, 7, 11, 0)

YES = [
    "Yes.", "yes", "Yes, that's correct.", "Yes, that is correct", "Yeah, that's right.",
    "Yep, spot on.", "Correct.", "That's correct.", "That's right, yes.", "Exactly, that's it.",
    "Yes, that's my number.", "Yes, that is the right number.", "Sure, that works.",
    "Right, thank you.", "Absolutely, yes.", "Uh, yes, um, that's correct.", "No problem, yes.",
    "Okay, yes.", "Yes, yes, that's right", "YES THAT IS CORRECT", "yes thats correct",
    "Ja.", "Ja, genau, das stimmt.", "Ja genau", "Das stimmt.", "Stimmt so.", "Richtig.",
    "Ja, das ist richtig.", "Ja, das ist die richtige Nummer.", "Genau, passt.",
    "Ähm, ja, korrekt.", "Jawohl.", "Ja, das passt so, danke.", "Richtig, ne?",
    "Ja, alles richtig.", "Ganz genau.", "Ja, kein Problem.",
]
NO = [
    "No.", "No, that's wrong.", "Nope, that's not right.", "That's not correct.",
    "That's not quite right.", "No, it isn't.", "Incorrect.", "No no no.", "That isn't right.",
    "Nein.", "Nein, das stimmt nicht.", "Stimmt nicht.", "Das ist nicht richtig.", "Falsch.",
    "Nein, die Nummer ist falsch.", "Nicht ganz.", "Nee, leider nicht.",
]
NEITHER = [
    "Hmm, let me think.", "", "Wait a second.", "Moment mal.",
    "Yes, that's wrong.", "Yes... no, wait, that's not right.", "Ja, äh, nein, falsch.",
]


@pytest.mark.parametrize("text", YES)
def test_the_whole_turn_is_one_yes(text: str) -> None:
    assert confirmation(text) == (True, "")
    assert yes_no(text) is True


@pytest.mark.parametrize("text", NO)
def test_the_whole_turn_is_one_no(text: str) -> None:
    assert confirmation(text) == (False, "")
    assert yes_no(text) is False


@pytest.mark.parametrize("text", NEITHER)
def test_a_turn_that_says_both_or_neither_is_asked_again(text: str) -> None:
    assert yes_no(text) is None


@pytest.mark.parametrize(("text", "rest"), [
    ("Yes, that's right, tell her I'll be late.", "tell her I'll be late."),
    ("Yes that is correct and please tell him the bike is ready",
     "please tell him the bike is ready"),
    ("Yes, but don't call before noon.", "don't call before noon."),
    ("Correct. Tell Jörg it's no problem.", "Tell Jörg it's no problem."),
    ("Ja, genau. Sagen Sie ihm bitte, dass ich später komme.",
     "Sagen Sie ihm bitte, dass ich später komme."),
    ("Ja, passt, und richten Sie aus, dass das Rad fertig ist.",
     "richten Sie aus, dass das Rad fertig ist."),
    ("Bitte rufen Sie mich zurück.", "Bitte rufen Sie mich zurück."),  # a courtesy, not a yes
])
def test_an_answer_then_more_words_keeps_them_as_said(text: str, rest: str) -> None:
    answer, after = confirmation(text)
    assert answer is True and after == rest


@pytest.mark.parametrize(("text", "answer"), [
    ("Please.", True), ("Yes, please.", True), ("Please do.", True), ("Yes please do that", True),
    ("Thanks, that's great.", True), ("Sure, go ahead.", True), ("Bitte.", True),
    ("Ja, gerne.", True), ("No, thank you.", False), ("Nein danke.", False),
    ("Please enter the conference pin number.", None), ("Great, what time do you open?", None),
    ("Bitte geben Sie Ihre PIN ein.", None),
])
def test_an_offer_is_taken_by_an_answer_not_by_a_courtesy_amid_other_words(
        text: str, answer: bool | None) -> None:
    assert offer_answer(text) is answer


@pytest.mark.parametrize("text", [
    "Where exactly is the workshop?", "How long is that right now?", "What time is good?",
    "Wie genau komme ich dahin?", "Wann passt es Ihnen?"])
def test_a_question_with_a_yes_word_in_it_answers_nothing(text: str) -> None:
    """A bench caller asking "Where exactly is the workshop?" after TOM's offer was put
    through: "exactly" read as yes."""
    assert yes_no(text) is None and offer_answer(text) is None
    assert confirmation(text) == (None, text)


# --- the message flow, through the Dialogue ----------------------------------------------------
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


async def say(d: Dialogue, *turns: str) -> Reply:
    reply = Reply("empty")
    for text in turns:
        reply = await d.on_caller(text)
        if reply.text:
            d.on_assistant(reply.text, interrupted=False)
    return reply


async def at_confirmation(profile: Profile, store: MessageStore) -> Dialogue:
    d = Dialogue(profile, store, call_id="call-1", caller="+4917612345678",
                 language=profile.language, now=lambda: WEDNESDAY_11)
    if profile.language == "de":
        await say(d, "ich möchte eine nachricht hinterlassen", "Jana Weiß")
        reply = await say(d, "null sieben eins eins, zwei drei vier fünf")
    else:
        await say(d, "can i leave a message", "Jana Miller")
        reply = await say(d, "zero seven one one, two three four five")
    assert reply.text.endswith(("Is that correct?", "Ist das richtig?")), reply.text
    return d


async def test_split_confirmation_is_not_stored_as_the_message(en: Profile,
                                                               store: MessageStore) -> None:
    """The failure seen once: "Yes" confirmed, then "that's correct." became the message."""
    d = await at_confirmation(en, store)
    assert (await say(d, "Yes,")).text == en.say("message", "ask_text", name="")
    again = await say(d, "that's correct.")
    assert again.stored is None and again.text == en.say("message", "ask_text", name="")
    done = await say(d, "The brakes squeak since the repair.")
    row = await store.get(done.stored["id"])
    assert row["text"] == "The brakes squeak since the repair."
    assert await store.list() == [row]


@pytest.mark.parametrize("text", ["Yes, that's correct.", "Yeah, that's right, thanks.",
                                  "Correct, yes."])
async def test_a_whole_confirmation_then_the_message(en: Profile, store: MessageStore,
                                                     text: str) -> None:
    d = await at_confirmation(en, store)
    assert (await say(d, text)).text == en.say("message", "ask_text", name="")
    for repeat in ("Yes.", "That's right."):  # the caller confirms once more: still no message
        assert (await say(d, repeat)).stored is None
    done = await say(d, "Please call me back about the invoice.")
    row = await store.get(done.stored["id"])
    assert row["text"] == "Please call me back about the invoice."
    assert row["callback_number"] == "07112345"


async def test_german_confirmation_is_one_answer(de: Profile, store: MessageStore) -> None:
    d = await at_confirmation(de, store)
    assert (await say(d, "Ja, genau, das stimmt.")).text == de.say("message", "ask_text", name="")
    assert (await say(d, "Das stimmt.")).stored is None
    done = await say(d, "Bitte rufen Sie mich wegen der Rechnung zurück.")
    row = await store.get(done.stored["id"])
    assert row["text"] == "Bitte rufen Sie mich wegen der Rechnung zurück."


@pytest.mark.parametrize(("profile", "text", "message"), [
    ("en", "Yes, that's right, tell her I'll be late.", "tell her I'll be late."),
    ("en", "Yes that is correct and the bike still clicks", "the bike still clicks"),
    ("de", "Ja, genau. Sagen Sie ihr, dass ich später komme.",
     "Sagen Sie ihr, dass ich später komme."),
])
async def test_yes_and_the_message_in_one_turn(request: pytest.FixtureRequest,
                                               store: MessageStore, profile: str, text: str,
                                               message: str) -> None:
    """Two questions answered at once: the number is confirmed and the rest is the message."""
    p: Profile = request.getfixturevalue(profile)
    d = await at_confirmation(p, store)
    done = await say(d, text)
    assert done.stored is not None, done.text
    row = await store.get(done.stored["id"])
    assert row["text"] == message and row["callback_number"] == "07112345"


async def test_a_mixed_answer_asks_again_and_confirms_nothing(en: Profile,
                                                              store: MessageStore) -> None:
    d = await at_confirmation(en, store)
    reply = await say(d, "Yes, that's wrong.")
    assert reply.text.endswith("Is that correct?") and reply.stored is None
    assert (await say(d, "No, that's not right.")).text == en.say("message", "number_again")
