"""The business profile: everything TOM knows and says about one business, from one TOML file.

The profile is the only source of facts. It is validated when loaded so that a typo fails at
start-up with the field's name ("faq[3].answer is empty"), never in the middle of a call.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tom.conversation import profile_fields as pf
from tom.conversation.flow_table import (
    FLOW_TEXTS,
    GOODBYE_POLICIES,
    OPTIONAL_TEXTS,
    REQUEST_OPTIONAL,
    REQUEST_SLOTS,
    REQUEST_TEXTS,
    DeclaredRequest,
    FlowSpec,
    Slot,
    request_spec,
)
from tom.conversation.lang import Lang, lang
from tom.conversation.profile_fields import ProfileError as ProfileError  # raised and re-exported
from tom.conversation.text import normalize

if TYPE_CHECKING:
    from tom.conversation.retrieval import Retriever

CONFIG_DIR = Path(__file__).resolve().parent.parent.parent / "config"
DEFAULT_PROFILES = {"en": CONFIG_DIR / "profile.toml", "de": CONFIG_DIR / "profile.de.toml"}
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
        "outside_hours": ("day", "hours"), "confirm": ("day", "time", "when"), "ask_name": (),
        "done": ("name", "day", "time", "when"), "cancelled": (),
    },
    "llm": {"system": ("assistant", "business", "language", "facts")},
}
TOP_KEYS = ("language", "assistant", "facts", "business", "hours", "services", "faq", "synonyms",
            "requests", *SECTIONS, *FLOW_TEXTS)
_REQUEST_ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


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
    collect: tuple[str, ...]
    transfer_number: str
    transfer_only_during_hours: bool
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    path: Path | None = None
    on_goodbye: str = "keep"  # a goodbye inside a flow: keep | offer | drop what was collected
    requests: list[DeclaredRequest] = field(default_factory=list)  # the business's own

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
        if section == "flow" and "flow" not in self.texts:
            return self._flow_default(key).format_map(base)
        return self.texts[section][key].format_map({**base, **values})

    def has_section(self, section: str) -> bool:
        """Whether the profile has the texts of `section` (the optional flows may be missing)."""
        return section in self.texts

    def request_for(self, text: str) -> FlowSpec | None:
        """The declared request ([[requests]]) whose trigger phrase the caller said, if any."""
        said = f" {' '.join(normalize(text).replace(',', ' ').replace('.', ' ').split())} "
        for request in self.requests:
            if any(f" {t} " in said for t in request.triggers):
                return request.spec
        return None

    def has_text(self, section: str, key: str) -> bool:
        return key in self.texts.get(section, {})

    def _flow_default(self, key: str) -> str:
        """[flow] texts for a profile without that section: built from texts it has."""
        return {"goodbye_kept": self.texts["prompts"]["farewell"],
                "goodbye_offer": self.texts["prompts"]["farewell"],
                "gave_up": self.texts["prompts"]["unsure"],
                "gave_up_empty": self.texts["prompts"]["unsure"],
                "incomplete": "incomplete", "any_day": "?"}[key]

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

    def fixed_texts(self) -> list[str]:
        """What TOM says word for word, with no caller's data in it: greeting, prompts, FAQ and
        service answers (their audio is worth keeping: tom/engine/repeat_cache.py)."""
        out = [*self.reprompts, *(f.answer for f in self.faq),
               *(self.service_answer(s) for s in self.services)]
        for section, texts in self.texts.items():
            if section == "llm":
                continue
            for key in texts:
                try:
                    out.append(self.say(section, key))
                except (KeyError, IndexError):
                    pass  # it has the caller's name, day or digits in it
        return out

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
            "flows": [name for name in ("message", "booking", *FLOW_TEXTS) if name in self.texts
                      and name != "flow"] + [r.spec.section for r in self.requests],
            "goodbye_in_a_flow": self.on_goodbye,
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
    _ = profile.retriever  # build the search index now, not in the first call's first turn
    return profile


def profile_from_dict(raw: dict[str, Any], default_language: str = "en") -> Profile:
    """Validate a parsed profile; raises ProfileError naming the first bad field."""
    pf.known(raw, TOP_KEYS, "the profile's top level")
    language = pf.text(raw, "language", "language", optional=True) or default_language
    if language not in ("en", "de"):
        raise ProfileError(f"language = {language!r} is not supported; use 'en' or 'de'")
    business = pf.table(raw, "business")
    pf.known(business, ("name", "phone", "address", "description"), "[business]")
    transfer = pf.table(raw, "transfer")
    profile = Profile(
        language=language,
        assistant=pf.text(raw, "assistant", "assistant", optional=True) or "Tom",
        name=pf.text(business, "name", "business.name"),
        phone=pf.phone(business, "phone", "business.phone"),
        address=pf.text(business, "address", "business.address"),
        description=pf.text(business, "description", "business.description", optional=True),
        hours=pf.hours(pf.table(raw, "hours")),
        services=_services(raw.get("services", [])),
        faq=[],
        extra_facts=pf.strings(raw.get("facts", []), "facts"),
        texts={name: _section(raw, name, keys) for name, keys in SECTIONS.items()},
        reprompts=pf.strings(pf.table(raw, "prompts").get("reprompts", []), "prompts.reprompts"),
        collect=pf.collect(pf.table(raw, "message")),
        transfer_number=pf.phone(transfer, "number", "transfer.number", optional=True),
        transfer_only_during_hours=pf.boolean(transfer, "only_during_hours",
                                         "transfer.only_during_hours", True),
        synonyms=pf.synonyms(raw.get("synonyms", {})),
        on_goodbye=_goodbye_policy(raw),
    )
    for name, keys in FLOW_TEXTS.items():
        if name in raw:
            profile.texts[name] = _section(raw, name, keys)
    profile.requests = _requests(raw.get("requests", []), profile.texts)
    if not profile.reprompts:
        raise ProfileError("prompts.reprompts is empty: give at least one re-prompt")
    profile.faq = _faq(raw.get("faq", []), profile)
    return profile


# --- validators of the parts made of Profile types ----------------------------------------------
def _services(raw: Any) -> list[Service]:
    if not isinstance(raw, list):
        raise ProfileError("services must be a list of [[services]] tables")
    out = []
    for i, item in enumerate(raw):
        name = f"services[{i}]"
        if not isinstance(item, dict):
            raise ProfileError(f"{name} must be a table with name and price")
        pf.known(item, ("name", "price", "aliases", "note"), name)
        out.append(Service(
            name=pf.text(item, "name", f"{name}.name"),
            price=pf.text(item, "price", f"{name}.price"),
            aliases=tuple(pf.strings(item.get("aliases", []), f"{name}.aliases")),
            note=pf.text(item, "note", f"{name}.note", optional=True),
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
        pf.known(item, ("id", "questions", "answer"), name)
        questions = pf.strings(item.get("questions"), f"{name}.questions") \
            if "questions" in item else []
        if not questions:
            raise ProfileError(f"{name}.questions is empty: give at least one phrasing")
        answer = pf.template(pf.text(item, "answer", f"{name}.answer"), FAQ_PLACEHOLDERS,
                           f"{name}.answer").format_map(values)
        entry_id = pf.text(item, "id", f"{name}.id", optional=True) or f"faq{i}"
        if entry_id in seen:
            raise ProfileError(f"{name}.id = {entry_id!r} is used twice")
        seen.add(entry_id)
        out.append(FaqEntry(entry_id, tuple(questions), answer))
    return out


def _requests(raw: Any, texts: dict[str, dict[str, str]]) -> list[DeclaredRequest]:
    """[[requests]]: kinds of request the business adds, each with its slots and texts."""
    if not isinstance(raw, list):
        raise ProfileError("requests must be a list of [[requests]] tables")
    out = []
    for i, item in enumerate(raw):
        where = f"requests[{i}]"
        if not isinstance(item, dict):
            raise ProfileError(f"{where} must be a table with id, triggers, collect and texts")
        rid = pf.text(item, "id", f"{where}.id")
        if not _REQUEST_ID.match(rid) or rid in texts or rid in FLOW_TEXTS:
            raise ProfileError(f"{where}.id = {rid!r}: use lower-case letters, digits and _, "
                               "not the name of another section")
        where = f"requests.{rid}"
        triggers = tuple(" ".join(normalize(t).replace(",", " ").split())
                         for t in pf.strings(item.get("triggers", []), f"{where}.triggers"))
        if not triggers:
            raise ProfileError(f"{where}.triggers is empty: give the phrases that start it")
        names = pf.strings(item.get("collect", []), f"{where}.collect")
        allowed = [s.value for s in REQUEST_SLOTS]
        if not names or any(n not in allowed for n in names) or len(set(names)) < len(names):
            raise ProfileError(f"{where}.collect = {names!r}: choose from {allowed}, each once")
        if "time" in names and ("day" not in names or names.index("time") < names.index("day")):
            raise ProfileError(f"{where}.collect: \"time\" needs \"day\" before it")
        slots = tuple(Slot(n) for n in names)
        keys = {k: v for slot in (None, *slots) for k, v in REQUEST_TEXTS[slot].items()}
        table = {k: v for k, v in item.items() if k not in ("id", "triggers", "collect")}
        pf.known(table, (*keys, *REQUEST_OPTIONAL), f"[[requests]] {rid}")
        section: dict[str, str] = {}
        for key, placeholders in (*keys.items(), *REQUEST_OPTIONAL.items()):
            if key in keys or key in table:
                said = pf.text(table, key, f"{where}.{key}")
                section[key] = pf.template(said, placeholders + ("business", "assistant"),
                                           f"{where}.{key}")
        texts[rid] = section
        out.append(DeclaredRequest(request_spec(rid, slots), triggers))
    return out


def _goodbye_policy(raw: dict[str, Any]) -> str:
    flow = raw.get("flow", {})
    value = flow.get("on_goodbye", "keep") if isinstance(flow, dict) else "keep"
    if value not in GOODBYE_POLICIES:
        raise ProfileError(f"flow.on_goodbye = {value!r}: choose from {list(GOODBYE_POLICIES)}")
    return str(value)


def _section(raw: dict[str, Any], section: str, keys: dict[str, tuple[str, ...]]) -> dict[str, str]:
    table = pf.table(raw, section)
    extra = {"prompts": ("reprompts",), "transfer": ("number", "only_during_hours"),
             "message": ("collect",), "flow": ("on_goodbye",)}.get(section, ())
    optional = OPTIONAL_TEXTS.get(section, {})
    pf.known(table, (*keys, *optional, *extra), f"[{section}]")
    out = {}
    for key, allowed in optional.items():
        if key in table:
            said = pf.text(table, key, f"{section}.{key}")
            out[key] = pf.template(said, allowed + ("business", "assistant"), f"{section}.{key}")
    for key, allowed in keys.items():
        text = table.get(key)
        if section == "llm" and isinstance(text, str):
            text = text.strip()  # keep the system prompt's line breaks
        else:
            text = pf.text(table, key, f"{section}.{key}")
        if not isinstance(text, str) or not text:
            raise ProfileError(f"{section}.{key} is missing or empty")
        out[key] = pf.template(text, allowed + ("business", "assistant"), f"{section}.{key}")
    return out


