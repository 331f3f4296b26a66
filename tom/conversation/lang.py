"""The few words TOM builds itself (weekdays, clock times, fact sentences) in each language.

Everything a caller hears verbatim comes from the profile; this table only covers text that is
assembled from profile data, such as "Monday to Friday from 9 am to 6 pm".
"""

from __future__ import annotations

from dataclasses import dataclass


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
    ),
    "de": Lang(
        code="de", name="Deutsch",
        weekdays=("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
        range_sep="bis", and_word="und", closed="geschlossen",
        hours_fact="Öffnungszeiten: {hours}.",
        address_fact="Die Adresse ist {address}.",
        phone_fact="Die Telefonnummer ist {phone}.",
    ),
}


def lang(code: str) -> Lang:
    """The language table for `code`, English when TOM has none for it."""
    return LANGS.get(code, LANGS["en"])
