"""WER normalisation and exact word-level Levenshtein, English and German."""

import pytest

from tom.bench.wer import WordErrors, edit_distance, normalize, wer, word_errors


def test_identical_text_has_zero_wer_despite_case_and_punctuation():
    assert wer("Hi, are you open on Saturday?", "hi are you open on saturday") == 0


def test_edit_distance_counts_substitution_deletion_insertion():
    assert edit_distance("a b c d".split(), "a x c d".split()) == 1
    assert edit_distance("a b c d".split(), "a c d".split()) == 1
    assert edit_distance("a b c".split(), "a b c d e".split()) == 2
    assert edit_distance([], "a b".split()) == 2
    assert edit_distance("kitten sat".split(), "sitting sat on".split()) == 2


def test_known_pair_wer():
    assert wer("hello there my friend", "hello their friend") == pytest.approx(0.5)


@pytest.mark.parametrize(("ref", "hyp"), [
    ("twenty-five dollars", "$25"),
    ("one hundred and five", "105"),
    ("at nine o'clock", "at 9:00"),
    ("on the third of May", "on the 3rd of May"),
    ("two thousand twenty five", "2025"),
    ("nine thirty", "9:30"),
    ("fifteen percent", "15%"),
    ("the twenty-first of June", "the 21st of June"),
    ("one thousand and five", "1,005"),
])
def test_english_number_words_equal_digits(ref, hyp):
    assert wer(ref, hyp, "en") == 0, (normalize(ref, "en"), normalize(hyp, "en"))


@pytest.mark.parametrize(("ref", "hyp"), [
    ("fünfundzwanzig Euro", "25 €"),
    ("dreihundertfünfzig", "350"),
    ("zweitausendfünfundzwanzig", "2025"),
    ("am dritten März", "am 3. März"),
    ("den einundzwanzigsten", "den 21."),
    ("zwei tausend fünf hundert", "2500"),
    ("eintausend Euro", "1.000 €"),
    ("um neun Uhr", "um 9 Uhr"),
    ("Straße", "STRASSE"),
    ("Grüße aus Köln", "grüsse aus köln"),
])
def test_german_numbers_and_sharp_s(ref, hyp):
    assert wer(ref, hyp, "de") == 0, (normalize(ref, "de"), normalize(hyp, "de"))


def test_umlauts_are_kept_distinct():
    assert wer("für mein Fahrrad", "fur mein Fahrrad", "de") == pytest.approx(1 / 3)


def test_german_articles_are_not_numbers():
    assert normalize("eine Frage, einen Termin", "de") == ["eine", "frage", "einen", "termin"]


def test_word_errors_add_up_over_turns():
    total = word_errors("a b c d", "a b c d") + word_errors("e f", "e g")
    assert total == WordErrors(1, 6)
    assert total.wer == pytest.approx(1 / 6)


def test_empty_reference():
    assert WordErrors(0, 0).wer == 0
    assert wer("", "something") == 1.0


def test_phone_numbers_compare_digit_by_digit():
    spoken = "My number is zero one five one, two three four five, six seven eight nine."
    assert wer(spoken, "My number is 0151-23456789") == 0.0
    assert wer(spoken, "My number is 0151 2345 6780") > 0.0


@pytest.mark.parametrize(("ref", "hyp"), [
    ("If this is the person you are looking for", "If this is the person you're looking for"),
    ("I am sorry, I can not find it", "I'm sorry, I can't find it"),
    ("That is all, it is fine", "That’s all, it's fine"),
    ("we do not open, she will call", "we don't open, she'll call"),
])
def test_english_contractions_equal_the_words_written_out(ref, hyp):
    assert wer(ref, hyp, "en") == 0, (normalize(ref, "en"), normalize(hyp, "en"))


def test_a_possessive_is_not_a_contraction():
    assert normalize("the user's mailbox") == ["the", "users", "mailbox"]


@pytest.mark.parametrize(("ref", "hyp", "language"), [
    ("Agent login, please", "Agent log in, please", "en"),
    ("the mail box is full", "the mailbox is full", "en"),
    ("press 3 to re-record", "press 3 to rerecord", "en"),
    ("you cannot send audio", "you can not send audio", "en"),
    ("Mühlen Weg 7", "Mühlenweg 7", "de"),
])
def test_one_word_written_as_two_is_no_error(ref, hyp, language):
    assert wer(ref, hyp, language) == 0, (normalize(ref, language), normalize(hyp, language))


def test_a_join_is_free_only_where_the_letters_are_the_same():
    assert edit_distance(["log", "in"], ["login"]) == 0
    assert edit_distance(["login"], ["log", "in"]) == 0
    assert edit_distance(["log", "on"], ["login"]) == 2
    assert edit_distance(["a", "log", "in", "b"], ["a", "login", "c"]) == 1


def test_german_contractions_equal_the_words_written_out():
    assert wer("Das war's schon, wie geht's?", "Das war es schon, wie geht es?", "de") == 0
    assert wer("Das war’s schon", "Das war es schon", "de") == 0
