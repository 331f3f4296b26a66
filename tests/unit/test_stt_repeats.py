import pytest

from tom.engine.stt import drop_repeats


@pytest.mark.parametrize("text, expected", [
    ("Goodbye and thanks. Goodbye and thanks. Goodbye", "Goodbye and thanks."),
    ("yes yes yes yes", "yes"),
    ("Can I talk to a real person please? Can", "Can I talk to a real person please?"),
    ("no I said no", "no I said no"),
    ("My number is 555-1234.", "My number is 555-1234."),
    ("", ""),
])
def test_drop_repeats(text, expected):
    assert drop_repeats(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Oh good morning. Good morning. Good morning. Good", "Oh good morning."),
    ("That's all. Thank you very much. Goodbye. Goodbye.", "That's all. Thank you very much. Goodbye."),
    ("Thanks Bye Bye Bye Bye Bye Bye", "Thanks Bye"),
    ("bye bye", "bye bye"),
    # the decoder's budget ran out inside a word ("that" of "that's"): seen in a bench call
    ("Yes, that's correct. Yes, that's correct. Yes, that", "Yes, that's correct."),
    ("Thank you. Thank you. Than", "Thank you."),
    ("Yes, that's correct. Yes, thanks", "Yes, that's correct. Yes, thanks"),
    ("Is that right? I think th", "Is that right? I think th"),
])
def test_loops_after_a_first_phrase_are_cut(text, expected):
    assert drop_repeats(text) == expected
