"""The bundled caller corpus is complete, and a broken corpus fails with a useful message."""

import re

import pytest

from tom.bench.corpus import INTENTS, CorpusError, load_corpus


def test_bundled_corpus_covers_the_brief():
    corpus = load_corpus()
    turns = list(corpus.turns.values())
    assert len(turns) >= 30
    assert {t.intent for t in turns} == set(INTENTS)
    german = [t for t in turns if t.language == "de"]
    assert len(german) >= 4
    assert sum(any(c in t.text for c in "äöüÄÖÜß") for t in german) >= 4
    assert any(len(t.text.split()) >= 30 for t in turns), "some long turns"
    assert any(c.barge_in for c in corpus.calls)
    assert {c.language for c in corpus.calls} == {"en", "de"}
    for call in corpus.calls:
        assert call.turns[-1].may_end_call or call.turns[-1].intent == "goodbye", call.id


def test_schedule_cycles_through_every_script_first():
    corpus = load_corpus()
    english = corpus.calls_for("en")
    plan = corpus.schedule(len(english) + 2, "en")
    assert [c.id for c in plan[:len(english)]] == [c.id for c in english]
    assert plan[len(english)].id == english[0].id
    assert all(c.language == "de" for c in corpus.schedule(3, "de"))


def _write(tmp_path, text):
    path = tmp_path / "corpus.toml"
    path.write_text(text, encoding="utf-8")
    return path


TURN = '[[turns]]\nid = "a"\nlang = "en"\nintent = "question"\ntext = "Hi?"\n'


@pytest.mark.parametrize(("text", "message"), [
    (TURN + '[[calls]]\nid = "c"\nturns = ["nope"]\n', "unknown turns: nope"),
    (TURN + TURN + '[[calls]]\nturns = ["a"]\n', "used twice"),
    (TURN.replace("question", "chat") + '[[calls]]\nturns = ["a"]\n', "intent 'chat'"),
    (TURN + '[[calls]]\nturns = ["a"]\nbarge_in = ["b"]\n', "barge_in names turns"),
    (TURN, "has no [[calls]]"),
    ("this is = not toml", "not valid"),
    ('turns = ["a", "b"]\n' + '[[calls]]\nturns = ["a"]\n', "'turns' must be [[turns]] tables"),
    ('calls = "c"\n' + TURN, "'calls' must be [[calls]] tables"),
    (TURN + '[[calls]]\nturns = "a"\n', "turns must be a list of turn ids"),
])
def test_broken_corpus_names_the_problem(tmp_path, text, message):
    with pytest.raises(CorpusError, match=re.escape(message)):
        load_corpus(_write(tmp_path, text))


def test_mixed_language_call_is_refused(tmp_path):
    de = TURN.replace('"a"', '"b"').replace('"en"', '"de"')
    with pytest.raises(CorpusError, match="mixes languages"):
        load_corpus(_write(tmp_path, TURN + de + '[[calls]]\nturns = ["a", "b"]\n'))


def test_corpus_without_calls_for_a_language(tmp_path):
    corpus = load_corpus(_write(tmp_path, TURN + '[[calls]]\nturns = ["a"]\n'))
    with pytest.raises(CorpusError, match="no calls for language 'de'"):
        corpus.schedule(1, "de")
