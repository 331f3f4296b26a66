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
