"""Intents from STT text: English, German, typos, fillers; yes/no; cancelling a flow."""

from __future__ import annotations

import pytest

from tom.conversation.intents import classify, is_cancel, repair, yes_no

CASES = {
    "question": [
        "when are you open on saturday", "Um, WHEN are you open?", "do i need an appointment",
        "can you tell me your opening hours", "i have a problem with my gears",
        "wann haben sie am samstag offen", "brauche ich einen termin", "hallo do you fix e-bikes",
        "my bike makes a weird noise when i brake going downhill",
        "that's helpful but where are you located", "das ist nett wann haben sie offen",
    ],
    "booking": [
        "i'd like to book a service for tuesday", "can i make an apointment",
        "can i bring my bike in on friday", "i need an appointment",
        "ich möchte einen termin vereinbaren", "kann ich einen termin buchen",
    ],
    "human": [
        "can i talk to a real person", "operator", "let me speak to someone please",
        "put me through to the mechanic", "transfer me please", "i want a human",
        "kann ich mit einem mitarbeiter sprechen", "verbinden sie mich bitte",
        "ich möchte mit einem menschen reden",
    ],
    "message": [
        "can i leave a message", "can you tell jana i'll be late", "please have someone call me back",
        "i'd like a callback", "ich möchte eine nachricht hinterlassen",
        "können sie ihm etwas ausrichten", "bitte um rückruf",
    ],
    "goodbye": [
        "thanks bye", "no that's all thank you", "goodbye", "that's it have a nice day",
        "tschüss", "auf wiederhören", "das wars danke", "nein danke", "ok danke tschüs",
        "auf wiederhörn",
    ],
    "smalltalk": [
        "hello", "thank you", "hi there how are you", "danke schön", "guten morgen", "yes", "no",
        # appreciation after an answer is thanks, not a statement to look up
        "thanks that helps a lot", "okay good to know thanks", "much appreciated",
        "that is really kind of you thank you", "danke das war sehr hilfreich",
        "super das hilft mir weiter", "das ist aber nett", "thanks a lot",
    ],
    "unclear": ["asdf qwer", "purple monkey dishwasher", "the the the"],
    "empty": ["", "   ", "um uh", "[Music]", "(silence)", "...", "Thank you for watching!"],
}


@pytest.mark.parametrize(("expected", "text"),
                         [(k, t) for k, texts in CASES.items() for t in texts])
def test_intent(expected: str, text: str) -> None:
    assert classify(text).name == expected


def test_a_strong_faq_match_makes_a_statement_a_question() -> None:
    assert classify("puncture").name == "unclear"
    assert classify("puncture", faq_score=0.8).name == "question"


def test_a_goodbye_buried_in_a_long_story_does_not_hang_up() -> None:
    text = ("so i said bye to my friend and rode home and then the chain fell off twice on the "
            "way how much is a new chain")
    assert classify(text).name == "question"


def test_human_beats_message_and_booking_when_both_appear() -> None:
    assert classify("can i speak to someone or leave a message").name == "human"


@pytest.mark.parametrize(("text", "answer"), [
    ("yes", True), ("yeah that's right", True), ("correct", True), ("ja genau", True),
    ("stimmt", True), ("sure go ahead", True), ("no", False), ("nope", False),
    ("that's not right", False), ("nein", False), ("stimmt nicht", False),
    ("das ist nicht richtig", False), ("hmm let me think", None), ("", None),
])
def test_yes_no(text: str, answer: bool | None) -> None:
    assert yes_no(text) is answer


def test_cancel() -> None:
    assert is_cancel("never mind")
    assert is_cancel("ach vergessen sie es")
    assert not is_cancel("my name is peter")


def test_repair_fixes_misspelt_keywords_only() -> None:
    assert repair("i want an apointment") == "i want an appointment"
    assert repair("Tschüs und auf Wiederhörn") == "tschüss und auf wiederhören"
    assert repair("my bicycle") == "my bicycle"


@pytest.mark.parametrize("text", [
    "That agent is already logged on. Please enter your agent number followed by the pound key.",
    "Your agent told me my bike is ready.",
])
def test_an_agent_mentioned_is_not_an_agent_asked_for(text: str) -> None:
    assert classify(text).name != "human"


@pytest.mark.parametrize("text", ["Agent.", "Agent, please.", "Operator!", "Can I get a human?",
                                  "I want an agent."])
def test_asking_for_an_agent_is_asking_for_a_person(text: str) -> None:
    assert classify(text).name == "human"
