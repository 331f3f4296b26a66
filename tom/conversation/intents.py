"""What the caller wants, from one STT transcript, by patterns (English and German) plus fuzzy words.

Rules beat a classifier here: they run in microseconds, they can be read against the call-flow
spec, and a wrong one is fixed by editing one line. Misspelt keywords ("apointment",
"wiederhörn") are repaired with rapidfuzz before the patterns run.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from tom.conversation.text import FILLERS, STOPWORDS, normalize, words

GOODBYE_TAIL_WORDS = 8
INTENTS = ("question", "booking", "human", "message", "goodbye", "unclear", "empty", "smalltalk")


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


HUMAN = _rx(
    r"\b(real|actual|live|echten?|richtigen?) (person|human|people|agent|menschen?|person)\b",
    r"\b(speak|talk|chat) (to|with)\b",
    r"\b(put|transfer|connect|forward) (me|us)\b", r"\btransfer\b",
    # Asked for ("an agent", "agent please"), not mentioned ("that agent is already logged on",
    # "your agent said it is ready"): a mention transferred a caller in the recorded bench.
    r"\b(a|an|the|some|to|with|get|want|need) (human|operator|receptionist|representative|agent)"
    r"s?\b",
    r"^(please )?(human|operator|receptionist|representative|agent)s?( please| now)?$",
    r"\b(mit|zu) (einem|einer|jemandem|ihrem|ihrer|dem|der)? ?(mitarbeiter\w*|menschen|kolleg\w*|"
    r"person|chef\w*|inhaber\w*|mechaniker\w*|jemand\w*)\b",
    r"\b(verbinden sie|stellen sie mich|durchstellen|weiterleiten|weiterverbinden|verbinden)\b",
    r"\bmit \w+ (sprechen|reden)\b",
)
MESSAGE = _rx(
    r"\b(leave|take|pass on|give|send|record) (a |an |him a |her a |them a |my )?(message|note)\b",
    r"\bmessage for\b", r"\bvoice ?mail\b",
    r"\b(tell|let|inform|ask|remind) (him|her|them|jana|the (mechanic|owner|boss|workshop|team))\b",
    r"\bpass (it|this|that) on\b", r"\b(call|ring) me back\b", r"\bcall ?back\b",
    r"\bhave (someone|somebody|him|her|them) call\b",
    r"\bnachricht\b", r"\bausrichten\b", r"\brückruf\w*\b", r"\bzurück ?ruf\w*\b",
    r"\bbescheid (sagen|geben)\b", r"\b(sagen|richten) sie (ihm|ihr|bitte)\b",
    r"\bhinterlass\w*\b",  # "... hinterlassen" even when STT garbles "Nachricht"
)
BOOKING = _rx(
    r"\b(book|booking|schedule|reserve|appointment|appointments)\b",
    r"\b(bring|drop) (my|the|our) (bike|bicycle|e-?bike)s? (in|off|by)\b",
    r"\b(bring|drop) (it|her|him) (in|off|by)\b",
    r"\btermin\w*\b", r"\b(buchen|reservieren|vereinbaren|ausmachen)\b",
    r"\bvorbei ?(bringen|kommen)\b.*\b(montag|dienstag|mittwoch|donnerstag|freitag|samstag|morgen)",
)
NECESSITY = _rx(  # "do I need an appointment?" is a question, not a booking
    r"\b(do|does|would) (i|we|you|one) (need|have to|require|must)\b",
    r"\b(without|no|need for) (an |a )?(appointment|booking)\b", r"\bwalk[- ]?ins?\b",
    r"\b(necessary|required|mandatory|obligatory)\b",
    r"\b(brauche|braucht|brauchen|muss|müssen) (ich|man|wir)\b", r"\bohne termin\b",
    r"\b(nötig|notwendig|erforderlich)\b",
)
GOODBYE = _rx(
    r"\b(bye|goodbye|bye-bye|farewell|cheerio|see you|see ya)\b",
    r"\bhave a (nice|good|great|lovely) (day|one|evening|weekend)\b",
    r"\b(that'?s|that is|that was) (all|it|everything)\b", r"\bnothing else\b",
    r"\bno more questions\b", r"\b(i'?m|i am) (done|all set)\b",
    r"^(no|nope|nah),? (thanks|thank you|that'?s fine)\b",
    r"\b(tschüss|tschüs|tschau|ciao|servus|adieu|ade)\b",
    r"\bauf (wiederhören|wiedersehen|wiederschauen)\b", r"\bwiederhören\b",
    r"\b(bis dann|bis bald|schönen tag)\b",
    r"\bdas (war'?s|wars|ist alles|war alles)\b", r"\b(nichts weiter|sonst nichts)\b",
    r"^(nein|nee),? danke\b",
)
# Appreciation after an answer is thanks, not a statement to look up ("that's very helpful").
APPRECIATION = _rx(
    r"\b(that'?s|that is|that was|this is|this was|it'?s|it is|it was|sounds) (very |really |so |"
    r"super |most |extremely |quite )?(helpful|kind|nice|great|good|lovely|wonderful|useful|"
    r"perfect|brilliant|excellent|fantastic|awesome|good to know)\b",
    r"\b(that|this|it) (helps|helped)( me)?( a lot| a great deal| very much)?\b",
    r"\b(good|nice|great) to know\b", r"\b(much |really |i really )?appreciated?( it| that)?\b",
    r"\bdas (ist|war) (aber |sehr |wirklich |echt |ja )?(nett|hilfreich|lieb|gut|prima|super|"
    r"toll|klasse|perfekt)\b",
    r"\bdas hilft( mir)?( sehr| weiter| schon)?\b", r"\bgut zu wissen\b",
    r"\bsehr (nett|freundlich|hilfreich|lieb)\b",
)
SMALLTALK = _rx(
    r"\b(many thanks|thank you|thanks|thank|cheers|danke schön|danke sehr|dankeschön|"
    r"vielen dank|danke|merci)( (very|so) much| a lot| a million| again)?\b",
    r"\b(hello|hi|hey|hiya|good (morning|afternoon|evening|day)|hallo|moin|servus|grüß gott|"
    r"grüezi|guten (morgen|tag|abend))\b",
    r"\bhow are you( doing| today)?\b", r"\bwie geht'?s( ihnen| dir)?\b", r"\bwie geht es ihnen\b",
    r"\b(yes|yeah|yep|ok|okay|alright|sure|great|perfect|good|fine|ja|gut|super|prima|genau|"
    r"no|nope|nein|nee|please|bitte|sorry|entschuldigung|so|also|well|right)\b",
    r"\bthis is \w+\b|\bmy name is \w+\b|\bhier ist \w+\b",
    APPRECIATION.pattern,
)
# ("was" is left out: in English it is no question word: "it was on Tuesday")
WH_WORDS = frozenset({"what", "when", "where", "why", "how", "who", "which", "whose", "wann", "wo",
                      "wie", "warum", "wer", "wieso", "welche", "welcher", "welches",
                      "welchen", "welchem"})
QUESTION_CUE = _rx(
    r"\b(what|when|where|why|how|who|which|whose|wann|wo|wie|was|warum|wer|welche\w*|wieso)\b",
    r"^(is|are|do|does|did|can|could|would|will|should|may|haben|hat|kann|können|gibt|machen|"
    r"sind|ist|nehmen|verkaufen|reparieren|bieten|muss|darf)\b",
    r"\?", r"\b(i need|i want|i'd like|i would like|looking for|problem|broken|help|wondering|"
    r"question|kaputt|brauche|möchte|hätte gerne|frage|problem|hilfe)\b",
)
HALLUCINATIONS = _rx(  # what Whisper writes for silence and noise
    r"^(thanks|thank you) for watching\b", r"^subtitles? by\b", r"^\[.*\]$", r"^\(.*\)$",
    r"^(you|the|a)$", r"^untertitel\b", r"^vielen dank fürs zuschauen\b",
)
KEYWORDS = (
    "appointment", "operator", "receptionist", "representative", "message", "goodbye", "schedule",
    "booking", "transfer", "callback", "tschüss", "wiederhören", "wiedersehen", "termin",
    "mitarbeiter", "nachricht", "ausrichten", "zurückrufen", "rückruf", "vereinbaren",
    "reservieren", "verbinden", "durchstellen", "reschedule", "rescheduling", "cancellation",
    "verschieben", "stornieren",
)
_YES = frozenset({
    "yes", "yeah", "yep", "yup", "ya", "yea", "sure", "correct", "right", "exactly", "absolutely",
    "perfect", "okay", "ok", "fine", "alright", "affirmative", "please", "great", "good",
    "ja", "jawohl", "jap", "jo", "genau", "richtig", "korrekt", "stimmt", "passt", "gerne", "gern",
    "klar", "sicher", "bitte", "super", "prima", "einverstanden",
})
_NO = frozenset({
    "no", "nope", "nah", "not", "wrong", "incorrect", "negative", "don't", "dont",
    "nein", "nee", "nö", "ne", "falsch", "nicht", "kein", "keine", "isn't", "isnt", "wasn't",
    "doesn't", "never",
})
_NEGATED = _rx(r"\b(stimmt|passt|richtig|korrekt|ist) (so )?nicht\b",
               r"\bnicht (richtig|korrekt|ganz|so)\b", r"\bnever ?mind\b")
# Whole phrases that mean yes although they contain a "no" word, or no yes word at all.
_YES_PHRASES = _rx(r"\b(no problem|not a problem|no worries|kein problem|go ahead|do it|please do|"
                   r"sounds good|that works|why not|of course|you got it|in ordnung|"
                   r"machen sie das|auf jeden fall|na klar|ganz genau)\b")
# Words that may surround a yes or no without saying anything else ("yes, that is my number").
_ANSWER_WORDS = _YES | _NO | FILLERS | frozenset({
    "that", "that's", "thats", "this", "it", "it's", "its", "is", "was", "the", "my", "number",
    "all", "quite", "very", "oh", "well", "indeed", "totally", "true", "thank",
    "thanks", "you", "got", "one", "works", "sounds", "spot", "on", "sir", "ma'am", "exactly",
    "das", "ist", "die", "nummer", "meine", "richtige", "korrekte", "alles", "ganz", "auch",
    "schon", "danke", "schön", "sehr", "es", "sie", "haben", "hm", "na", "leider",
    "sorry", "afraid", "i'm",
})
# A turn that opens with one of these asks; it does not answer ("Where exactly is it?").
_QUESTION_WORDS = frozenset({
    "what", "when", "where", "why", "how", "who", "whom", "whose", "which",
    "was", "wann", "wo", "wie", "warum", "wer", "wen", "wem", "wieso", "weshalb", "woher",
    "wohin", "welche", "welcher", "welches", "welchen",
})
_POLITE = frozenset({"please", "bitte", "gerne", "gern", "thank", "thanks", "danke", "great",
                     "good", "super", "prima", "fine"})
_NOT_WORD = re.compile(r"[^\w'-]", re.UNICODE)
_WORD_AT = re.compile(r"[a-z0-9äöüß]+(?:['-][a-z0-9äöüß]+)*", re.UNICODE)
_JOINERS = frozenset({"and", "but", "also", "und", "aber", "so"})
CANCEL = _rx(r"\b(cancel|never ?mind|forget (it|that)|stop|abbrechen|vergessen sie|egal|"
             r"doch nicht|lieber nicht|no longer|not anymore)\b")


@dataclass(frozen=True)
class Intent:
    """The classified intent and which rule decided it (for logs and the eval report)."""

    name: str
    rule: str


def repair(text: str) -> str:
    """Normalise and fix misspelt intent keywords so that the patterns can be exact."""
    out = []
    for w in normalize(text).split():
        bare = w.strip(".,")
        if len(bare) >= 6 and bare not in KEYWORDS and bare not in STOPWORDS:
            hit = process.extractOne(bare, KEYWORDS, scorer=fuzz.ratio, score_cutoff=86)
            if hit:
                w = hit[0]
        out.append(w)
    return " ".join(out)


def classify(text: str, faq_score: float = 0.0) -> Intent:
    """The caller's intent; `faq_score` is the best retrieval score, evidence for "question"."""
    t = repair(text)
    bare = " ".join(words(t))
    if not bare or HALLUCINATIONS.search(bare) or HALLUCINATIONS.search(text.strip().lower()) or not re.search(r"[a-zäöüß]{2}|\d", bare):
        return Intent("empty", "no words")
    for name, pattern in (("human", HUMAN), ("message", MESSAGE)):
        if m := pattern.search(bare):
            return Intent(name, m.group(0))
    if (m := BOOKING.search(bare)) and not NECESSITY.search(bare):
        return Intent("booking", m.group(0))
    tail = " ".join(bare.split()[-GOODBYE_TAIL_WORDS:])  # a story may contain "bye"
    if m := GOODBYE.search(tail if len(bare.split()) > GOODBYE_TAIL_WORDS else bare):
        return Intent("goodbye", m.group(0))
    rest = SMALLTALK.sub(" ", bare).split()
    if len(rest) < len(bare.split()) and not [w for w in rest if w not in STOPWORDS]:
        return Intent("smalltalk", "greeting or thanks")
    if m := QUESTION_CUE.search(" ".join(rest) + ("?" if "?" in t else "")):
        return Intent("question", m.group(0))
    if faq_score >= 0.35:
        return Intent("question", "faq match")
    if _looks_like_speech(bare):
        return Intent("question", "statement")
    return Intent("unclear", "no cue")


def _looks_like_speech(text: str) -> bool:
    """Several words, at least a third of them common words: a statement, not noise."""
    ws = text.split()
    if len(ws) < 4:
        return False
    common = sum(w in STOPWORDS for w in ws)
    return common * 3 >= len(ws)


def yes_no(text: str) -> bool | None:
    """True for yes, False for no, None when the answer is neither ("hmm, maybe") or both.

    The whole turn is read: "Yes, that's correct." and "Ja, genau, das stimmt." are one yes;
    "not quite right" is one no. A turn that says both ("yes... no, that's wrong") is None, so
    the caller is asked again, unless it opens with a clear answer followed by other words (a
    message): then the opening decides (see `confirmation`).
    """
    return confirmation(text)[0]


def confirmation(text: str) -> tuple[bool | None, str]:
    """The yes/no answer of a caller turn and what the turn says besides it.

    A turn that opens with a question word answers nothing: it is all rest.
    The opening words that only confirm or deny ("yes that is the right number", "nein, die
    stimmt nicht") are the answer; the words after them are the rest, as the caller said them:
    "Yes, that's right, and tell him I'm late" -> (True, "tell him I'm late"). The rest is ""
    when the turn is only an answer.
    """
    said = _words_at(text)
    if said and said[0][0] in _QUESTION_WORDS:
        return None, text.strip()  # "Where exactly is the workshop?" asks: no yes ("exactly")
    ws_list = _answer_terms(said)
    n = 0
    while n < len(ws_list) and ws_list[n] in _ANSWER_WORDS:
        n += 1
    if _only_answer(ws_list):
        n = len(ws_list)  # "yes, and thank you" is all answer; otherwise "and" starts the rest
    if not _answers(ws_list[:n]):
        n = 0  # "Bitte rufen Sie mich zurück" opens with a courtesy, not with an answer
    while n < len(said) and said[n][0] in _JOINERS:
        n += 1
    rest = text[said[n][1]:].strip() if n < len(said) else ""  # the caller's own words
    opening, whole = _cues(ws_list[:n]), _cues(ws_list)
    if len(set(whole)) == 1:
        return whole[0], rest
    if len(set(opening)) == 1:  # a clear opening, then a message that says "don't"
        return opening[0], rest
    return None, rest


def offer_answer(text: str) -> bool | None:
    """The answer to an offer TOM just made ("Shall I put you through?"), as `yes_no`, except
    that a courtesy amid other words answers nothing: "Please enter the conference pin
    number." is no yes (a recorded caller was put through for it); "Please." and "Yes, please
    do that." are."""
    answer = yes_no(text)
    ws = _answer_terms(_words_at(text))
    if answer is None or _only_answer(ws):
        return answer
    return answer if _answers(ws) else None


def _answer_terms(said: list[tuple[str, int]]) -> list[str]:
    """The words, with phrases that mean yes ("no problem") or no ("stimmt nicht") as one."""
    return _as_words(_YES_PHRASES, "yes",
                     _as_words(_NEGATED, "no", " ".join(w for w, _ in said))).split()


def _answers(ws: list[str]) -> bool:
    """A yes or no word that is no mere courtesy is among the words."""
    return any(w in _YES | _NO and w not in _POLITE for w in ws)


def _only_answer(ws: list[str]) -> bool:
    """The turn says nothing but yes or no ("yes, and thank you")."""
    return all(w in _ANSWER_WORDS | _JOINERS for w in ws)


def _words_at(text: str) -> list[tuple[str, int]]:
    """The words of `normalize(text)` (fillers dropped) with where each starts in `text`."""
    text = unicodedata.normalize("NFC", text or "")
    low = _NOT_WORD.sub(" ", text.lower().replace("’", "'"))
    if len(low) != len(text):  # lower() changed the length (rare): any rest is the whole turn
        return [(w, 0) for w in words(normalize(text))]
    return [(m.group(0), m.start()) for m in _WORD_AT.finditer(low)
            if m.group(0) not in FILLERS]


def _as_words(pattern: re.Pattern[str], word: str, text: str) -> str:
    """Each match of `pattern` becomes `word` repeated once per word matched (positions kept)."""
    return pattern.sub(lambda m: " ".join([word] * len(m.group(0).split())), text)


def _cues(ws: list[str]) -> list[bool]:
    """Each yes/no word in order; a negator binds the yes word just after it ("not right")."""
    out: list[bool] = []
    i = 0
    while i < len(ws):
        w = ws[i]
        if w in _NO and not (w == "ne" and i > 0):  # "richtig, ne?" asks, it does not deny
            out.append(False)
            ahead = [j for j in range(i + 1, min(i + 3, len(ws))) if ws[j] in _YES]
            i = ahead[0] + 1 if ahead else i + 1  # "not (quite) right": one no
            continue
        if w in _YES:
            out.append(True)
        i += 1
    return out


def is_cancel(text: str) -> bool:
    """The caller wants out of the current flow ("never mind", "abbrechen")."""
    return bool(CANCEL.search(" ".join(words(normalize(text)))))


# --- which request a booking or message intent is, and goodbyes inside a flow ------------------
RESCHEDULE = _rx(
    r"\b(move|moving|reschedule|rescheduling|change|shift|postpone|push back|bring forward|"
    r"rebook|rearrange)\b.{0,40}\b(appointment|booking|termin)\b",
    r"\b(appointment|booking)\b.{0,30}\b(moved|move|rescheduled|reschedule|changed|shifted|"
    r"postponed)\b",
    r"\bverschieb\w*\b", r"\bverlegen\b", r"\bumbuchen\b", r"\btermin\w* (ändern|umlegen)\b",
    r"\banderen (tag|termin) für meinen termin\b",
)
CANCEL_APPOINTMENT = _rx(
    r"\b(cancel|cancelling|canceling|call off)\b.{0,30}\b(appointment|booking|termin)\b",
    r"\b(appointment|booking)\b.{0,30}\b(cancel|cancelled|canceled)\b",
    r"\b(absagen|stornieren|abzusagen|streichen)\b",
)
CALLBACK = _rx(
    r"\b(call|ring|phone) (me|us) back\b", r"\bcall ?back\b",
    r"\bhave (someone|somebody|him|her|them) (call|ring)\b", r"\brückruf\w*\b",
    r"\bzurück ?ruf\w*\b", r"\bruf\w* (sie |mich |uns |bitte |mal )*zurück\b",
)
_MESSAGE_ONLY = _rx(r"\b(leave|take|pass on|give|record) (a |an |him a |her a |them a |my )?"
                    r"(message|note)\b", r"\bnachricht\b", r"\bausrichten\b")
# A goodbye that ends a call even in the middle of a request; "that's all" or "no thanks" may be
# an answer there, so only these count.
FLOW_GOODBYE = _rx(
    r"\b(bye|goodbye|good-bye|bye-bye|farewell|cheerio|see you|see ya)\b",
    r"\bhave a (nice|good|great|lovely) (day|one|evening|weekend)\b",
    r"\b(tschüss|tschüs|tschau|ciao|adieu)\b", r"\bauf (wiederhören|wiedersehen|wiederschauen)\b",
    r"\bwiederhören\b", r"\b(bis dann|bis bald|schönen tag( noch)?)\b",
    r"\b(i have to|i've got to|i gotta|i need to|i must) (go|run|hang up)\b",
    r"\bich muss (jetzt )?(los|auflegen|weg|schluss machen)\b",
)


_BYE_FILLERS = frozenset({
    "thank", "thanks", "you", "very", "much", "so", "then", "and", "for", "now", "all", "that's",
    "that", "it", "is", "ok", "okay", "alright", "well", "oh", "i", "have", "to", "go", "a", "the",
    "danke", "schön", "vielen", "dank", "dann", "also", "und", "jetzt", "erstmal", "ihnen",
})


REPEAT = _rx(
    r"\b(repeat|say (that|it) again|come again|pardon|once more|what was that|"
    r"(did ?n'?t|did not|could ?n'?t|could not) (catch|hear|get|understand) (that|it|you)|"
    r"what did you say)\b", r"^(sorry|what|huh|excuse me)$",
    r"\b(wiederholen|noch ?mal|noch einmal|wie bitte|was haben sie gesagt|nicht verstanden)\b",
)
MAX_REPEAT_WORDS = 7


def asks_to_repeat(text: str) -> bool:
    """ "Could you repeat that?", "sorry, what was that?", "wie bitte?" (a short turn)."""
    bare = " ".join(words(repair(text)))
    return len(bare.split()) <= MAX_REPEAT_WORDS and bool(REPEAT.search(bare))


def request_kind(text: str, intent: str) -> str:
    """Which request a "booking" or "message" turn makes: a flow_table.FlowKind value."""
    bare = " ".join(words(repair(text)))
    if intent == "booking":
        if CANCEL_APPOINTMENT.search(bare):
            return "cancel_appointment"
        if RESCHEDULE.search(bare):
            return "reschedule"
        return "booking"
    if CALLBACK.search(bare) and not _MESSAGE_ONLY.search(bare):
        return "callback"
    return "message"


def goodbye_in_flow(text: str, *, only_goodbye: bool = False) -> bool:
    """The caller says goodbye inside a flow; `only_goodbye`: and nothing else (while TOM takes
    down a message, "tell her bye from me" is the message)."""
    bare = " ".join(words(repair(text)))
    if not FLOW_GOODBYE.search(bare):
        return False
    if not only_goodbye:
        return True
    rest = SMALLTALK.sub(" ", without_goodbye(bare))
    return not [w for w in rest.split() if w not in _BYE_FILLERS]


_THANKS = _rx(r"\b(many thanks|thank you|thanks|thank|cheers|danke schön|danke sehr|"
              r"dankeschön|vielen dank|danke|merci)( (very|so) much)?\b")


def thanks(text: str) -> bool:
    """The caller thanks TOM, or says the answer helped ("that's very helpful", "das hilft")."""
    bare = " ".join(words(repair(text)))
    return bool(_THANKS.search(bare) or APPRECIATION.search(bare))


def without_goodbye(text: str) -> str:
    """The turn less its goodbye and thanks ("yes Friday is fine, thanks, bye" -> "yes Friday is
    fine"): what it still answers."""
    bare = " ".join(words(repair(text)))
    return " ".join(_THANKS.sub(" ", FLOW_GOODBYE.sub(" ", bare)).split())
