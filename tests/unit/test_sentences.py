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
