"""Decoder loops are cut; people repeating themselves are not."""

import pytest

from tom.engine.loops import cut_loop, looping


@pytest.mark.parametrize(("looped", "kept"), [
    ("Eight of spades, four of clubs, 7 of hearts, 7 of hearts, 7 of hearts",
     "Eight of spades, four of clubs, 7 of hearts."),
    ("7 of hearts, 7 of hearts, 7 of hearts, 7 of", "7 of hearts."),
    ("I want to book I want to book I want to book I want to book", "I want to book."),
    ("thank you thank you thank you.", "thank you."),
    ("The number is 5 5 5 5 5 5 5 5", "The number is 5."),
])
def test_loops_are_cut(looped, kept):
    assert cut_loop(looped) == kept


@pytest.mark.parametrize("said", [
    "No, no, no, that is not what I meant.",
    "Seven of hearts, seven of hearts.",
    "no no no",
    "Bye bye.",
    "My number is 555 1234.",
    "My PIN is 5 5 5 5.",
    "",
    "...",
    "Eight of spades, four of clubs, seven of hearts.",
])
def test_people_repeating_themselves_are_kept(said):
    assert cut_loop(said) == said


@pytest.mark.parametrize(("text", "going"), [
    ("how long does it, how long does it, how", True),  # cut off at a pause: a third round begun
    ("seven of hearts, seven of hearts, seven of", True),
    ("Thank you, thank you.", False),  # a caller repeating a phrase finishes it
    ("Seven of hearts, seven of hearts.", False),
    ("I want to, I want to book a service", False),  # a self-repair goes on
    ("How long does it take?", False),
    ("no no no", False),  # one word: not a phrase
    ("", False),
])
def test_a_loop_still_going_is_found(text, going):
    assert looping(text) is going
