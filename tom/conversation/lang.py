"""The few words TOM builds itself (weekdays, clock times, fact sentences) in each language.

Everything a caller hears verbatim comes from the profile; this table only covers text that is
assembled from profile data, such as "Monday to Friday from 9 am to 6 pm".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tom.config_values import ConfigError


@dataclass(frozen=True)
class Lang:
    """Words for one language; `weekdays` runs Monday first, as `datetime.weekday()` does."""

    code: str
    name: str
    weekdays: tuple[str, ...]
    range_sep: str
    and_word: str
    closed: str
    hours_fact: str
    address_fact: str
    phone_fact: str
    names: Mapping[str, str]  # language code -> its name in this language
    foreign: str  # to a caller in a language TOM does not speak: what it speaks, and an offer

    def clock(self, minutes: int) -> str:
        """A speakable clock time: "9 am", "6:30 pm" / "9 Uhr", "18:30 Uhr"."""
        h, m = divmod(minutes, 60)
        if self.code == "de":
            return f"{h} Uhr" if m == 0 else f"{h}:{m:02d} Uhr"
        suffix = "am" if h < 12 else "pm"
        h12 = h % 12 or 12
        return f"{h12} {suffix}" if m == 0 else f"{h12}:{m:02d} {suffix}"

    def span(self, start: int, end: int) -> str:
        if self.code == "de":
            return f"von {self.clock(start).removesuffix(' Uhr')} bis {self.clock(end)}"
        return f"from {self.clock(start)} to {self.clock(end)}"


LANGS = {
    "en": Lang(
        code="en", name="English",
        weekdays=("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        range_sep="to", and_word="and", closed="closed",
        hours_fact="Opening hours: {hours}.",
        address_fact="The address is {address}.",
        phone_fact="The phone number is {phone}.",
        names={"en": "English", "de": "German"},
        foreign="Sorry, I can only speak {languages}. I can take a message for you.",
    ),
    "de": Lang(
        code="de", name="Deutsch",
        weekdays=("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
        range_sep="bis", and_word="und", closed="geschlossen",
        hours_fact="Öffnungszeiten: {hours}.",
        address_fact="Die Adresse ist {address}.",
        phone_fact="Die Telefonnummer ist {phone}.",
        names={"en": "Englisch", "de": "Deutsch"},
        foreign="Entschuldigung, ich spreche nur {languages}. Ich kann gerne eine Nachricht "
                "aufnehmen.",
    ),
}


def lang(code: str) -> Lang:
    """The language table for `code`, English when TOM has none for it."""
    return LANGS.get(code, LANGS["en"])


class LanguageError(ConfigError):
    """`assistant.languages` names a language TOM cannot speak (a setting error at start-up)."""


def spoken_languages(language: str, languages: Sequence[str]) -> tuple[str, ...]:
    """The languages TOM speaks on a call, the greeting's first (`assistant.languages` or
    `assistant.language` alone)."""
    codes = tuple(dict.fromkeys(c.strip() for c in (languages or [language]) if c.strip()))
    unknown = [c for c in codes if c not in LANGS]
    if unknown or not codes:
        raise LanguageError(f"assistant.languages = {list(languages)!r}: TOM speaks "
                            f"{', '.join(LANGS)}; list one or more of them, e.g. [\"de\", \"en\"]")
    return codes


def foreign_reply(languages: Sequence[str]) -> list[tuple[str, str]]:
    """The polite answer to a language TOM does not speak: (language, sentence) in each of TOM's
    languages (the caller may understand one), each offering to take a message."""
    out = []
    for code in languages:
        words = lang(code)
        names = [words.names[c] for c in languages]
        listed = names[0] if len(names) == 1 else \
            f"{', '.join(names[:-1])} {words.and_word} {names[-1]}"
        out.append((code, words.foreign.format(languages=listed)))
    return out
