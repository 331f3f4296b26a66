"""The business profile: everything TOM knows and says about one business, from one TOML file.

The profile is the only source of facts. It is validated when loaded so that a typo fails at
start-up with the field's name ("faq[3].answer is empty"), never in the middle of a call.
"""

from __future__ import annotations

import re
import string
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tom.conversation.lang import Lang, lang

if TYPE_CHECKING:
    from tom.conversation.retrieval import Retriever

CONFIG_DIR = Path(__file__).resolve().parent.parent.parent / "config"
DEFAULT_PROFILES = {"en": CONFIG_DIR / "profile.toml", "de": CONFIG_DIR / "profile.de.toml"}
WEEKDAY_KEYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FAQ_PLACEHOLDERS = ("business", "assistant", "hours", "address", "phone", "services")

# Each text section: key -> the placeholders its template may use.
SECTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "prompts": {
        "greeting": ("business", "assistant"), "farewell": ("business",), "busy": ("business",),
        "idle_farewell": ("business",), "clarify": (), "clarify_again": (), "hello": (),
        "welcome": (), "anything_else": (), "unsure": (), "declined": (),
        "service_answer": ("service", "price", "note"),
    },
    "transfer": {"message": (), "unavailable": ()},
    "message": {
        "intro": (), "ask_name": (), "ask_number": ("name",), "confirm_number": ("digits",),
        "number_again": (), "ask_text": ("name",), "done": ("name",), "cancelled": (),
    },
    "booking": {
        "ask_day": (), "ask_time": ("day",), "closed_day": ("day",),
        "outside_hours": ("day", "hours"), "confirm": ("day", "time"), "ask_name": (),
        "done": ("name", "day", "time"), "cancelled": (),
    },
    "llm": {"system": ("assistant", "business", "language", "facts")},
}
TOP_KEYS = ("language", "assistant", "facts", "business", "hours", "services", "faq", "synonyms",
            *SECTIONS)
_PHONE = re.compile(r"^\+?[0-9][0-9 ()/.-]{3,}[0-9]$")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class ProfileError(ValueError):
    """The profile is wrong; the message names the field and says what is wrong with it."""


@dataclass(frozen=True)
class Service:
    name: str
    price: str
    aliases: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class FaqEntry:
    """One answer and the several ways a caller may ask for it."""

    id: str
    questions: tuple[str, ...]
    answer: str


@dataclass
class Profile:
    """A validated business profile; texts are ready to speak, placeholders already filled."""

    language: str
    assistant: str
    name: str
    phone: str
    address: str
    description: str
    hours: dict[int, list[tuple[int, int]]]
    services: list[Service]
    faq: list[FaqEntry]
    extra_facts: list[str]
    texts: dict[str, dict[str, str]]
    reprompts: list[str]
    transfer_number: str
    transfer_only_during_hours: bool
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    path: Path | None = None

    # --- the attributes the call pipeline reads ---------------------------------------
    @property
    def busy_message(self) -> str:
        return self.say("prompts", "busy")

    @property
    def farewell(self) -> str:
        return self.say("prompts", "farewell")

    @property
    def greeting(self) -> str:
        return self.say("prompts", "greeting")

    @property
    def transfer_message(self) -> str:
        return self.say("transfer", "message")

    @property
    def lang(self) -> Lang:
        return lang(self.language)

    def say(self, section: str, key: str, **values: str) -> str:
        """The profile's text for `section.key` with its placeholders filled from `values`."""
        base = {"business": self.name, "assistant": self.assistant}
        return self.texts[section][key].format_map({**base, **values})

    # --- derived knowledge -----------------------------------------------------------------
    def hours_text(self, weekdays: range | None = None) -> str:
        """Opening hours as one speakable phrase, consecutive equal days joined."""
        lg = self.lang
        days = list(weekdays or range(7))
        parts: list[str] = []
        i = 0
        while i < len(days):
            j = i
            while j + 1 < len(days) and self.hours[days[j + 1]] == self.hours[days[i]]:
                j += 1
            label = lg.weekdays[days[i]]
            if j > i:
                joiner = f" {lg.range_sep} " if j > i + 1 else f" {lg.and_word} "
                label += joiner + lg.weekdays[days[j]]
            parts.append(f"{label} {self.day_hours_text(days[i])}")
            i = j + 1
        return ", ".join(parts)

    def day_hours_text(self, weekday: int) -> str:
        lg = self.lang
        spans = self.hours[weekday]
        if not spans:
            return lg.closed
        return f" {lg.and_word} ".join(lg.span(a, b) for a, b in spans)

    def is_open(self, weekday: int, minute_of_day: int) -> bool:
        return any(a <= minute_of_day < b for a, b in self.hours[weekday])

    def service_answer(self, service: Service) -> str:
        note = f", {service.note}" if service.note else ""
        text = self.say("prompts", "service_answer", service=service.name, price=service.price,
                        note=note)
        return text[:1].upper() + text[1:]

    @cached_property
    def facts(self) -> list[str]:
        """Every fact TOM may state, one sentence each; the LLM sees a few, the guard sees all."""
        lg = self.lang
        out = [self.description] if self.description else []
        out += [lg.hours_fact.format(hours=self.hours_text()),
                lg.address_fact.format(address=self.address),
                lg.phone_fact.format(phone=self.phone)]
        out += [self.service_answer(s) for s in self.services]
        out += [f.answer for f in self.faq]
        out += self.extra_facts
        return out

    @cached_property
    def retriever(self) -> Retriever:
        """The search index over this profile, built once and shared by every call."""
        from tom.conversation.retrieval import Retriever
        return Retriever(self)

    def summary(self) -> dict[str, Any]:
        """What TOM will know, for `tom check-profile`."""
        return {
            "business": self.name, "language": self.language, "assistant": self.assistant,
            "address": self.address, "phone": self.phone, "hours": self.hours_text(),
            "transfer_number": self.transfer_number or "(none: TOM offers a message instead)",
            "services": [f"{s.name}: {s.price}" for s in self.services],
            "faq": [{"id": f.id, "questions": list(f.questions), "answer": f.answer}
                    for f in self.faq],
            "facts": self.facts,
        }


def load_profile(path: str | Path | None, language: str = "en") -> Profile:
    """Load and validate a profile; `None` loads the shipped demo for `language`."""
    file = Path(path) if path else DEFAULT_PROFILES.get(language, DEFAULT_PROFILES["en"])
    if not file.is_file():
        raise ProfileError(f"profile file {file} does not exist")
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ProfileError(f"profile {file} is not UTF-8: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile {file} is not valid TOML: {exc}") from None
    profile = profile_from_dict(raw, default_language=language)
    profile.path = file
    return profile


def profile_from_dict(raw: dict[str, Any], default_language: str = "en") -> Profile:
    """Validate a parsed profile; raises ProfileError naming the first bad field."""
    _known(raw, TOP_KEYS, "the profile's top level")
    language = _text(raw, "language", "language", optional=True) or default_language
    if language not in ("en", "de"):
        raise ProfileError(f"language = {language!r} is not supported; use 'en' or 'de'")
    business = _table(raw, "business")
    _known(business, ("name", "phone", "address", "description"), "[business]")
    transfer = _table(raw, "transfer")
    profile = Profile(
        language=language,
        assistant=_text(raw, "assistant", "assistant", optional=True) or "Tom",
        name=_text(business, "name", "business.name"),
        phone=_phone(business, "phone", "business.phone"),
        address=_text(business, "address", "business.address"),
        description=_text(business, "description", "business.description", optional=True),
        hours=_hours(_table(raw, "hours")),
        services=_services(raw.get("services", [])),
        faq=[],
        extra_facts=_strings(raw.get("facts", []), "facts"),
        texts={name: _section(raw, name, keys) for name, keys in SECTIONS.items()},
        reprompts=_strings(_table(raw, "prompts").get("reprompts", []), "prompts.reprompts"),
        transfer_number=_phone(transfer, "number", "transfer.number", optional=True),
        transfer_only_during_hours=_bool(transfer, "only_during_hours",
                                         "transfer.only_during_hours", True),
        synonyms=_synonyms(raw.get("synonyms", {})),
    )
    if not profile.reprompts:
        raise ProfileError("prompts.reprompts is empty: give at least one re-prompt")
    profile.faq = _faq(raw.get("faq", []), profile)
    return profile


# --- field validators -------------------------------------------------------------------------
def _known(raw: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    """Reject unknown keys: a typo ("anwser") must not silently drop a text."""
    for key in raw:
        if key not in allowed:
            raise ProfileError(f"unknown key {key!r} in {where}; allowed: {', '.join(allowed)}")


def _table(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        raise ProfileError(f"[{key}] is missing")
    if not isinstance(value, dict):
        raise ProfileError(f"{key} must be a table ([{key}]), got {type(value).__name__}")
    return value


def _text(raw: dict[str, Any], key: str, name: str, *, optional: bool = False) -> str:
    value = raw.get(key)
    if value is None:
        if optional:
            return ""
        raise ProfileError(f"{name} is missing")
    if not isinstance(value, str):
        raise ProfileError(f"{name} must be text, got {value!r}")
    if not value.strip() and not optional:
        raise ProfileError(f"{name} is empty")
    return " ".join(value.split())


def _bool(raw: dict[str, Any], key: str, name: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ProfileError(f"{name} must be true or false, got {value!r}")
    return value


def _phone(raw: dict[str, Any], key: str, name: str, *, optional: bool = False) -> str:
    value = _text(raw, key, name, optional=optional)
    if value and not _PHONE.match(value):
        raise ProfileError(f"{name} = {value!r} is not a phone number (digits, spaces, + - / ( ))")
    return value


def _strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list):
        raise ProfileError(f"{name} must be a list of texts, got {value!r}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ProfileError(f"{name}[{i}] is empty or not text")
        out.append(" ".join(item.split()))
    return out


def _hours(raw: dict[str, Any]) -> dict[int, list[tuple[int, int]]]:
    for key in raw:
        if key not in WEEKDAY_KEYS:
            raise ProfileError(f"hours.{key} is not a weekday; use {', '.join(WEEKDAY_KEYS)}")
    out: dict[int, list[tuple[int, int]]] = {}
    for day, key in enumerate(WEEKDAY_KEYS):
        value = raw.get(key)
        if not isinstance(value, str):
            raise ProfileError(f"hours.{key} is missing; write \"09:00-18:00\" or \"closed\"")
        out[day] = [] if value.strip().lower() == "closed" else _spans(value, f"hours.{key}")
    return out


def _spans(value: str, name: str) -> list[tuple[int, int]]:
    spans = []
    for part in value.split(","):
        m = _RANGE.match(part.strip())
        if not m:
            raise ProfileError(f"{name} = {value!r} is not like \"09:00-18:00\" (several "
                               "ranges separated by commas) or \"closed\"")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59 or start >= end:
            raise ProfileError(f"{name} = {value!r}: {part.strip()!r} is not a valid range")
        if spans and start < spans[-1][1]:
            raise ProfileError(f"{name} = {value!r}: ranges overlap or are out of order")
        spans.append((start, end))
    return spans


def _services(raw: Any) -> list[Service]:
    if not isinstance(raw, list):
        raise ProfileError("services must be a list of [[services]] tables")
    out = []
    for i, item in enumerate(raw):
        name = f"services[{i}]"
        if not isinstance(item, dict):
            raise ProfileError(f"{name} must be a table with name and price")
        _known(item, ("name", "price", "aliases", "note"), name)
        out.append(Service(
            name=_text(item, "name", f"{name}.name"),
            price=_text(item, "price", f"{name}.price"),
            aliases=tuple(_strings(item.get("aliases", []), f"{name}.aliases")),
            note=_text(item, "note", f"{name}.note", optional=True),
        ))
    return out


def _faq(raw: Any, profile: Profile) -> list[FaqEntry]:
    if not isinstance(raw, list) or not raw:
        raise ProfileError("faq is missing: add at least one [[faq]] with questions and answer")
    values = {"business": profile.name, "assistant": profile.assistant,
              "hours": profile.hours_text(), "address": profile.address, "phone": profile.phone,
              "services": ", ".join(s.name for s in profile.services)}
    out, seen = [], set()
    for i, item in enumerate(raw):
        name = f"faq[{i}]"
        if not isinstance(item, dict):
            raise ProfileError(f"{name} must be a table with questions and answer")
        _known(item, ("id", "questions", "answer"), name)
        questions = _strings(item.get("questions"), f"{name}.questions") \
            if "questions" in item else []
        if not questions:
            raise ProfileError(f"{name}.questions is empty: give at least one phrasing")
        answer = _template(_text(item, "answer", f"{name}.answer"), FAQ_PLACEHOLDERS,
                           f"{name}.answer").format_map(values)
        entry_id = _text(item, "id", f"{name}.id", optional=True) or f"faq{i}"
        if entry_id in seen:
            raise ProfileError(f"{name}.id = {entry_id!r} is used twice")
        seen.add(entry_id)
        out.append(FaqEntry(entry_id, tuple(questions), answer))
    return out


def _section(raw: dict[str, Any], section: str, keys: dict[str, tuple[str, ...]]) -> dict[str, str]:
    table = _table(raw, section)
    extra = ("reprompts",) if section == "prompts" else ()
    extra += ("number", "only_during_hours") if section == "transfer" else ()
    _known(table, (*keys, *extra), f"[{section}]")
    out = {}
    for key, allowed in keys.items():
        text = table.get(key)
        if section == "llm" and isinstance(text, str):
            text = text.strip()  # keep the system prompt's line breaks
        else:
            text = _text(table, key, f"{section}.{key}")
        if not isinstance(text, str) or not text:
            raise ProfileError(f"{section}.{key} is missing or empty")
        out[key] = _template(text, allowed + ("business", "assistant"), f"{section}.{key}")
    return out


def _template(text: str, allowed: tuple[str, ...], name: str) -> str:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise ProfileError(f"{name} has a broken placeholder: {exc} (write {{{{ for a brace)") \
            from None
    for f in fields:
        if f not in allowed:
            hint = ", ".join("{" + a + "}" for a in allowed) or "none"
            raise ProfileError(f"{name} uses unknown placeholder {{{f}}}; allowed: {hint}")
    return text


def _synonyms(raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise ProfileError("synonyms must be a table of word = [\"other\", \"words\"]")
    return {k.lower(): tuple(w.lower() for w in _strings(v, f"synonyms.{k}"))
            for k, v in raw.items()}
