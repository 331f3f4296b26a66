from tom.engine.sentences import SentenceChunker


def chunk(text: str, **kw) -> list[str]:
    c = SentenceChunker(**kw)
    out = []
    for token in text.split(" "):  # stream word by word, as an LLM would
        out += c.feed(token + " ")
    return out + c.flush()


def test_sentences_and_abbreviations():
    text = "Dr. Smith is in St. Mary today. We open at 9 a.m. on Monday! Is that ok? Fine"
    assert chunk(text, first_clause_words=100) == [
        "Dr. Smith is in St. Mary today.", "We open at 9 a.m. on Monday!", "Is that ok?", "Fine"]


def test_decimal_numbers_stay_whole():
    assert chunk("A service costs 49.50 euros. Thanks.", first_clause_words=100) == [
        "A service costs 49.50 euros.", "Thanks."]


def test_german_umlauts_and_ordinal_dates():
    text = "Am 3. Mai haben wir geschlossen. Größere Reparaturen dauern länger, z.B. Räder. Tschüss!"
    assert chunk(text, first_clause_words=100) == [
        "Am 3. Mai haben wir geschlossen.",
        "Größere Reparaturen dauern länger, z.B. Räder.", "Tschüss!"]


def test_first_clause_is_cut_early():
    out = chunk("We are open from nine to six, Monday to Saturday, and closed on Sunday.")
    assert out[0] == "We are open from nine to six,"
    assert " ".join(out) == "We are open from nine to six, Monday to Saturday, and closed on Sunday."


def test_punctuation_only_pieces_are_dropped():
    assert chunk("... ! Hello.") == ["Hello."]


def test_long_first_sentence_is_cut_at_a_soft_break():
    text = ("Our opening hours are Monday to Friday from 9 am to 6 pm, Saturday from 10 am "
            "to 2 pm, Sunday closed.")
    out = chunk(text)
    assert out[0] == "Our opening hours are Monday to Friday"
    assert " ".join(out) == text


def test_short_sentences_are_not_cut():
    assert chunk("How can I help you today? Bye.") == ["How can I help you today?", "Bye."]
