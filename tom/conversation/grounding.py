"""The relevance gate: which profile fact answers a question, or an honest "I don't know".

A 135M-parameter model writes fluent sentences about electric cougars; the profile is the only
source of facts. So a question that no FAQ entry answers directly is answered in one of three
grounded ways, decided by explainable rules over the retrieval index, never by free generation:

- FACT: every topic word of the question is known to the profile and one fact explains most
  of them (FACT_COVERAGE of their idf mass): that fact is said verbatim ("who runs the
  workshop?" -> the owner fact), or reworded by the LLM when `grounding.rephrase` is on.
- UNSURE: the question names something the profile never mentions ("electric scooters",
  "a new saddle", "the weather"), no fact explains it, or facts that fit equally well say
  different numbers: TOM says the profile's `unsure` prompt, which offers a message or a
  colleague (a following "yes" takes the offer).
- SMALLTALK / INJECTION / FOREIGN: who TOM is, a request to ignore its rules, a caller in another
  language: a friendly reply built only from the profile's own data.

The rules are words, not weights: a wrong decision is traced to one word in the `Decision`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from tom.conversation.claims import ClaimChecker
from tom.conversation.guard import digitize, find_numbers
from tom.conversation.profile import Profile
from tom.conversation.retrieval import Hit, agree
from tom.conversation.text import normalize, words

# Words that frame a question without naming its topic; never a reason to say "I don't know".
GENERIC = frozenset("""
who whom which where why what whose wer wen wem wo warum wieso welche welcher welches
evening morning afternoon night tonight abend abends morgens nachmittag
going go goes gonna got gotten many much today tomorrow yesterday now currently right later soon week weekend
morgen heute gestern jetzt gerade bald woche
case say said tell ask asked answer know think mean sagen sag sagt frage fragen weiß glaube
place thing things stuff way kind sort bit lot little
darf dürfen soll sollte müsste gibt geben einfach schon mehr nur sehr viele viel
arbeiten arbeitet ihnen dir dich euch
lady sir mate buddy folks people someone somebody anyone jemand
available avail offer offers provide provides
""".split())
LONG_QUESTION_WORDS = 14  # a long turn is judged by its last words, where the question is
TIE = 0.01  # facts this close to the best coverage fit the question as well
FACT_COVERAGE = 0.6  # share of the question's topic (idf mass) the best fact must explain

_INJECTION = re.compile(
    r"\b(ignore|disregard|forget) (all |any |your |the |previous |prior |my )*(instructions?|"
    r"rules|prompts?|guidelines)\b|\bsystem prompt\b|\bpretend (to be|you are)\b|"
    r"\byou are now\b|\bjailbreak\b|\b(vergiss|ignorier\w*) (alle |deine |ihre |die )*"
    r"(anweisungen|regeln|vorgaben)\b|\bsystemprompt\b|\btu so als\b")
_IDENTITY = re.compile(
    r"\bwho (am i|are we) (talking|speaking) (to|with)\b|\bwho (is|'s) (this|that|speaking)\b|"
    r"\bwho are you\b|\bwhat('?s| is) your name\b|\bare you (a |an )?(robot|bot|machine|computer|"
    r"ai|artificial)\b|\bmit wem (spreche|rede) ich\b|\bwer (ist|spricht) (da|dort)\b|"
    r"\bwer (sind sie|bist du)\b|\bwie hei(ß|ss)en sie\b|\b(sind sie|bist du) (ein |eine )?"
    r"(roboter|bot|maschine|computer|ki)\b")
_HOW_ARE_YOU = re.compile(r"\bhow are (you|things)\b|\bhow('?s| is) it going\b|"
                          r"\bwie geht'?s\b|\bwie geht es (ihnen|dir)\b")
# A few very common words of languages TOM does not speak (German counts for an English profile
# and English for a German one only by the caller's whole turn, see `foreign`).
_FOREIGN_WORDS = {
    "fr": frozenset("je vous est que pour avez êtes bonjour merci oui combien quelle quand où "
                    "votre ouvert".split()),
    "es": frozenset("hola usted tiene para qué cuánto cuándo dónde gracias está están abierto "
                    "necesito puedo".split()),
    "it": frozenset("ciao buongiorno quanto costa grazie avete siete aperto dove quando "
                    "posso".split()),
    "de": frozenset("ich sie haben ist wann wie viel kostet hallo danke bitte offen wo "
                    "können".split()),
    "en": frozenset("you are the is what when how much can do does have open please".split()),
}


class Ground(StrEnum):
    """What a question's answer rests on."""

    FAQ = "faq"  # a direct FAQ/service answer
    FACT = "fact"  # one profile fact explains the whole question
    UNSURE = "unsure"  # the profile does not say: the honest offer
    SMALLTALK = "smalltalk"  # who TOM is, how it is
    INJECTION = "injection"  # "ignore your instructions": TOM keeps to the profile
    FOREIGN = "foreign"  # another language than the profile's


@dataclass(frozen=True)
class Decision:
    """The gate's verdict for one question, with the words that decided it (for logs and eval)."""

    ground: Ground
    text: str  # what to say (already grounded), never empty
    facts: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()  # topic words the profile never mentions
    coverage: float = 0.0
    reason: str = ""
    offer: bool = False  # the reply offers a message or a colleague: a "yes" takes it


@dataclass
class _Fact:
    text: str
    terms: set[str] = field(default_factory=set)


class Grounder:
    """The gate for one profile; built once, shared read-only by every call."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.retriever = profile.retriever
        self._facts = self._index()

    def _index(self) -> list[_Fact]:
        """Each fact with the words callers use for it (its FAQ phrasings or service aliases)."""
        r = self.retriever
        facts = {text: _Fact(text, set(r.terms_of(text))) for text in self.profile.facts}
        for entry in self.profile.faq:
            if entry.answer in facts:
                for q in entry.questions:
                    facts[entry.answer].terms |= set(r.terms_of(q))
        for service in self.profile.services:
            answer = self.profile.service_answer(service)
            if answer in facts:
                for name in (service.name, *service.aliases):
                    facts[answer].terms |= set(r.terms_of(name))
        return list(facts.values())

    # --- public ---------------------------------------------------------------------------
    def special(self, text: str) -> Decision | None:
        """Small talk, prompt injection or another language: decided before any search."""
        low = " ".join(words(normalize(text)))
        p = self.profile
        lang = p.language
        if _INJECTION.search(low):
            return Decision(Ground.INJECTION, f"{_say(lang, 'injection', p)} {p.say('prompts', 'unsure')}",
                            reason="asks TOM to leave its rules", offer=True)
        if _IDENTITY.search(low):
            return Decision(Ground.SMALLTALK, _say(lang, "identity", p), reason="who is TOM")
        if _HOW_ARE_YOU.search(low):
            return Decision(Ground.SMALLTALK, _say(lang, "how_are_you", p), reason="how are you")
        if foreign(low, lang):
            return Decision(Ground.FOREIGN, _say(lang, "foreign", p), reason="another language",
                            offer=True)
        return None

    def decide(self, text: str) -> Decision:
        """A question no FAQ entry answered directly: one fact that explains it, or unsure."""
        if special := self.special(text):
            return special
        terms = self._topic_terms(text)
        unknown = tuple(t for t in terms if not self.retriever.knows(t))
        if unknown:
            return self._unsure(f"the profile never mentions {', '.join(unknown)}", unknown=unknown)
        if not terms:
            return self._unsure("no topic words")
        best, coverage = self._best_fact(terms)
        if coverage < FACT_COVERAGE:
            return self._unsure("no fact explains the question", coverage=coverage)
        if best is None:
            return self._unsure("facts that fit as well say different numbers", coverage=coverage)
        return Decision(Ground.FACT, best.text, facts=(best.text,), coverage=coverage,
                        reason="one fact explains every topic word")

    def outweighs(self, text: str, hit: Hit) -> bool:
        """Whether the question's unknown topic words weigh more (by idf) than the words it
        shares with the direct FAQ hit's entry: "are you open on christmas eve" shares one word
        with the opening hours and names two the profile never mentions, so the weekly hours
        would not answer it."""
        r = self.retriever
        terms = set(self._topic_terms(text))
        unknown = sum(r.idf(t) for t in terms if not r.knows(t))
        shared = sum(r.idf(t) for t in terms & r.entry_terms(hit))
        return unknown > shared

    # --- internals ----------------------------------------------------------------------
    def _topic_terms(self, text: str) -> list[str]:
        """The question's terms (its last words if long) without frame words and numbers:
        "are you open at seven" asks about opening, and the number guard checks the seven."""
        question = digitize(" ".join(text.split()[-LONG_QUESTION_WORDS:]))
        return [t for t in self.retriever.query_terms(question)
                if t not in _GENERIC_STEMS and not t[:1].isdigit()]

    def _best_fact(self, terms: list[str]) -> tuple[_Fact | None, float]:
        idf = self.retriever.idf
        mass = sum(idf(t) for t in terms) or 1.0
        scored = []
        for fact in self._facts:
            covered = sum(idf(t) for t in terms if t in fact.terms)
            scored.append((covered / mass, -len(fact.terms), fact))
        if not scored:
            return None, 0.0
        scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
        coverage = scored[0][0]
        tied = [f for c, _, f in scored if c >= coverage - TIE]
        numbered = [f.text for f in tied if find_numbers(f.text)]
        if not any(not agree(a, b) and not agree(b, a) for a in numbered for b in numbered):
            return scored[0][2], round(coverage, 4)  # no two fitting facts contradict
        # Two facts fit equally and differ ("what does the inspection cost": the small one and
        # the big one): say the one that states every number of the others, else none of them.
        for fact in tied:
            if all(f is fact or not find_numbers(f.text) or agree(f.text, fact.text)
                   for f in tied):
                return fact, round(coverage, 4)
        return None, round(coverage, 4)

    def _unsure(self, reason: str, *, unknown: tuple[str, ...] = (),
                coverage: float = 0.0) -> Decision:
        return Decision(Ground.UNSURE, self.profile.say("prompts", "unsure"), unknown=unknown,
                        coverage=coverage, reason=reason, offer=True)


def foreign(low: str, lang: str) -> str | None:
    """The language a turn is in when it is clearly not `lang` (three or more of its words)."""
    ws = low.split()
    if len(ws) < 3:
        return None
    own = sum(w in _FOREIGN_WORDS.get(lang, frozenset()) for w in ws)
    for code, common in _FOREIGN_WORDS.items():
        if code == lang:
            continue
        hits = sum(w in common for w in ws)
        if hits >= 3 and hits > 2 * own:
            return code
    return None


# Replies built from the profile's own data (name, assistant, prompts), per language.
_TEXTS = {
    "en": {
        "identity": "This is {assistant}, the digital assistant of {business}. How can I help you?",
        "how_are_you": "I'm fine, thank you for asking. How can I help you?",
        "injection": "I can only tell you what I know about {business}.",
        "foreign": "Sorry, I can only help in English. I can take a message or put you through "
                   "to a colleague.",
    },
    "de": {
        "identity": "Hier ist {assistant}, der digitale Assistent der {business}. "
                    "Wie kann ich Ihnen helfen?",
        "how_are_you": "Danke der Nachfrage, mir geht es gut. Wie kann ich Ihnen helfen?",
        "injection": "Ich kann Ihnen nur sagen, was ich über die {business} weiß.",
        "foreign": "Entschuldigung, ich kann nur auf Deutsch helfen. Ich kann eine Nachricht "
                   "aufnehmen oder Sie mit einem Kollegen verbinden.",
    },
}


def _say(lang: str, key: str, profile: Profile) -> str:
    table = _TEXTS.get(lang, _TEXTS["en"])
    return table[key].format(assistant=profile.assistant, business=profile.name)


def builtin_texts(profile: Profile) -> list[str]:
    """Every sentence the gate may say besides the profile's: the claim checker's vocabulary."""
    return [_say(profile.language, key, profile) for key in _TEXTS["en"]]


def _stems(ws: frozenset[str]) -> frozenset[str]:
    from tom.conversation.text import stem
    return frozenset(stem(w) for w in ws) | ws


_GENERIC_STEMS = _stems(GENERIC)


def claim_sources(profile: Profile) -> list[str]:
    """Every text whose words TOM may use: facts, phrasings, names, prompts, its own replies."""
    out = [*profile.facts, profile.name, profile.assistant, profile.address, profile.hours_text()]
    out += [q for entry in profile.faq for q in entry.questions]
    out += [name for s in profile.services for name in (s.name, *s.aliases)]
    out += [text for section in profile.texts.values() for text in section.values()]
    out += profile.reprompts + builtin_texts(profile)
    return out


def grounding_for(profile: Profile) -> tuple[Grounder, ClaimChecker]:
    """The gate and claim checker of a profile, built on first use and kept on the profile.

    Both are read-only, so every call of the profile shares them (the retriever is shared the
    same way).
    """
    kept = vars(profile).get("_grounding")
    if kept is None:
        kept = (Grounder(profile),
                ClaimChecker(claim_sources(profile), synonyms=profile.retriever.synonyms))
        vars(profile)["_grounding"] = kept
    grounder, checker = kept
    assert isinstance(grounder, Grounder) and isinstance(checker, ClaimChecker)
    return grounder, checker
