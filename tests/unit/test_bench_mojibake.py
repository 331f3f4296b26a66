"""Mojibake detection: planted breakage is found, clean German and typography is not."""

import pytest

from tom.bench.mojibake import count_mojibake, find_mojibake, iter_strings

CLEAN = [
    "Grüße aus Köln, Straße, Übergrößen, Ärger, Öl",
    "Mühlenweg 7, 79098 Freiburg — “quoted” ‘text’ … 25 € ™",
    "café naïve façade señor Ørsted",
    "",
]


@pytest.mark.parametrize("text", CLEAN)
def test_clean_text_has_no_mojibake(text):
    assert find_mojibake(text) == []


@pytest.mark.parametrize(("bad", "kind"), [
    ("GrÃ¼ÃŸe", "utf8_as_latin1"),
    ("Itâ€™s", "utf8_as_latin1"),
    ("Ã„rger", "utf8_as_latin1"),
    ("MÃ¼hlenweg", "utf8_as_latin1"),
    ("25 â‚¬", "utf8_as_latin1"),
    ("broken \ufffd char", "replacement_char"),
    ("c1 \x85 control", "c1_control"),
])
def test_planted_mojibake_is_found(bad, kind):
    hits = find_mojibake(bad)
    assert hits and hits[0].kind == kind


def test_every_umlaut_decoded_wrongly_is_found():
    text = "äöüÄÖÜß"
    broken = text.encode("utf-8").decode("cp1252", errors="replace")
    assert count_mojibake(broken) == len(text)


def test_latin1_decoding_counts_once_not_as_c1_too():
    broken = "Ä".encode().decode("latin-1")  # 'Ã\x84'
    assert [h.kind for h in find_mojibake(broken)] == ["utf8_as_latin1"]


def test_iter_strings_walks_nested_structures():
    data = {"transcript": [{"text": "GrÃ¼ÃŸe"}, {"text": "Grüße"}], "kÃ¶y": ["ok", ("\ufffd",)]}
    assert sum(count_mojibake(s) for s in iter_strings(data)) == 4
