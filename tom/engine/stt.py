"""Speech to text with faster-whisper, with the encoder on a window sized to the utterance.

Stock faster-whisper pads every utterance to 30 s, so even one second of speech pays for a
30 s encoder pass (~400 ms on 2 cores). CTranslate2's Whisper encoder accepts shorter mel
inputs, so `window = "fit"` encodes only the utterance plus a little trailing silence.

With more than one language (`assistant.languages`) the multilingual model also says which
language the caller speaks, from the same encoder pass (`Transcript.language`), and transcribes
in it; a single-language TOM skips that step.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from tom.config import SttSettings
from tom.engine.loops import cut_loop
from tom.engine.samples import Samples

SAMPLE_RATE = 16000
HOP = 160  # mel frames are 10 ms
MAX_FRAMES = 3000  # Whisper's 30 s window
PAD_S = 2.0  # trailing silence so the last word is not clipped by the window edge
MIN_WINDOW_S = 3.0  # very short windows make tiny models loop and hallucinate
# Whisper's own rule: a segment is silence when it is probably no speech AND decoded badly.
NO_SPEECH_PROB = 0.6
SILENCE_LOGPROB = -1.0
# A language TOM does not speak is believed only this sure; below, the nearest of TOM's languages.
FOREIGN_PROB = 0.6
# ... and only on a turn this long: Whisper often hears "Ja, bitte." or "okay" as another language.
FOREIGN_MIN_S = 2.0
# The call goes on in its language unless Whisper is at least this sure of another one of TOM's.
SWITCH_PROB = 0.7
SWITCH_MIN_S = 1.5  # ... on a turn this long: a name alone ("Jürgen Weiß") sounds like anything


ALIGN_FRAME_S = 0.02  # the alignment's time steps: Whisper's encoder frames


@dataclass(frozen=True)
class LastWord:
    """A transcript's last word as one decoder pass over the text reads it (the pass Whisper's
    word timestamps come from). Cut off mid-sentence ("I'd like to book a"), Whisper often ends
    the sentence itself ("… a second."): unsure of the word it adds, and aligning it to the
    silence after the caller's voice, where nothing was said."""

    prob: float = 1.0  # mean probability of its tokens (1: not measured)
    start_s: float | None = None  # where the alignment puts its start, seconds into the audio


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    no_speech_prob: float
    avg_logprob: float
    audio_s: float
    language_prob: float = 1.0  # how sure the language identification was (1: not asked)
    last_word: LastWord = LastWord()  # not measured unless `SpeechToText.score_last_word`
    # Where the text ends on a sentence end, the probability Whisper gave a next word there
    # instead: cut off after "to" or "and", it drops the word and ends the sentence ("How
    # much does it cost?"), yet still expects more. 0: not measured, or no sentence end.
    more_words_prob: float = 0.0

    @property
    def has_words(self) -> bool:
        """False for an empty text or one Whisper itself would call silence."""
        return bool(self.text.strip()) and not self._noise

    @property
    def taken_for_noise(self) -> bool:
        """Whisper wrote something and yet would call it silence: words heard badly, maybe."""
        return bool(self.text.strip()) and self._noise

    @property
    def _noise(self) -> bool:
        return self.no_speech_prob > NO_SPEECH_PROB and self.avg_logprob < SILENCE_LOGPROB


def load_whisper(path: str, settings: SttSettings) -> Any:
    """A faster-whisper `WhisperModel` on the CPU with the configured thread budget."""
    from faster_whisper import WhisperModel

    return WhisperModel(path, device="cpu", compute_type=settings.compute_type,
                        cpu_threads=settings.threads, num_workers=1)


class SpeechToText:
    """Transcribes one finished utterance; blocking, so callers run it in a worker thread."""

    def __init__(self, model: Any, settings: SttSettings,
                 languages: tuple[str, ...] = (), score_last_word: bool = True) -> None:
        """`score_last_word`: measure `Transcript.last_word` (one more decoder pass) —
        off where nothing reads it."""
        from faster_whisper.tokenizer import Tokenizer

        self.model = model
        self.settings = settings
        self.score_last_word = score_last_word
        multilingual = model.model.is_multilingual
        language = (languages[0] if languages else settings.language) if multilingual else "en"
        self.language = language
        # Languages the caller may speak; more than one: identify it on every turn.
        self.languages = languages if multilingual and len(languages) > 1 else ()
        self.tokenizer = Tokenizer(model.hf_tokenizer, multilingual, task="transcribe",
                                   language=language if multilingual else None)
        self.prompt = model.get_prompt(self.tokenizer, [], without_timestamps=False)
        self._prompts = {language: self.prompt}
        from faster_whisper.transcribe import get_suppressed_tokens

        self.suppress = get_suppressed_tokens(self.tokenizer, [-1])
        # tokens that begin a new word (byte-level BPE: "Ġ" is the space before it)
        self._word_starts = np.array(sorted(
            index for token, index in model.hf_tokenizer.get_vocab().items()
            if token.startswith("Ġ") and token[1:2].isalnum()))

    def _prompt_for(self, language: str) -> list[int]:
        """The decoder prompt that transcribes in `language` (one per language, built once)."""
        prompt = self._prompts.get(language)
        if prompt is None:
            from faster_whisper.tokenizer import Tokenizer

            tokenizer = Tokenizer(self.model.hf_tokenizer, True, task="transcribe",
                                  language=language)
            prompt = self._prompts[language] = list(
                self.model.get_prompt(tokenizer, [], without_timestamps=False))
        return prompt

    def identify(self, encoder_output: Any, audio_s: float,
                 current: str | None = None) -> tuple[str, float]:
        """The caller's language and its probability, from an encoded utterance.

        `current` is the language the caller spoke so far (None before their first turn: the
        greeting's). It holds unless Whisper is sure of another of TOM's languages (SWITCH_PROB,
        and after the first turn on a turn of SWITCH_MIN_S). A language TOM does not speak is
        reported when Whisper is fairly sure on a long enough turn, before the caller spoke one
        of TOM's (the call answers politely); later it is a mishearing (German MBROLA callers
        are heard as Dutch now and then) and the call's language holds.
        """
        ranked = [(token.strip("<|>"), float(p))
                  for token, p in self.model.model.detect_language(encoder_output)[0]]
        top, top_p = ranked[0]
        established = current in self.languages
        current = current if current in self.languages else self.language
        if top in self.languages:
            if top == current or (top_p >= SWITCH_PROB
                                  and (audio_s >= SWITCH_MIN_S or not established)):
                return top, top_p
        elif not established and top_p >= FOREIGN_PROB and audio_s >= FOREIGN_MIN_S:
            return top, top_p  # a caller who spoke one of TOM's languages does not leave it
        return current, dict(ranked).get(current, 0.0)

    def transcribe(self, samples: Samples, current: str | None = None) -> Transcript:
        """`samples` is float32 mono 16 kHz; `current`: the caller's language so far, if any."""
        audio = np.asarray(samples, dtype=np.float32)
        audio_s = len(audio) / SAMPLE_RATE
        if self.settings.window == "30s" or audio_s > 28:
            return self._stock(audio, audio_s)
        encoder_output = self.encode(audio)
        language, language_prob = self.language, 1.0
        if self.languages:
            language, language_prob = self.identify(encoder_output, audio_s, current)
        prompt = self._prompt_for(language)
        # Speech runs at most ~6 tokens/s; a tight limit stops a looping decoder early.
        max_length = min(448, len(prompt) + 16 + int(audio_s * 10))
        result = self.model.model.generate(
            encoder_output, [prompt], beam_size=self.settings.beam_size,
            max_length=max_length, return_scores=True, return_no_speech_prob=True,
            return_logits_vocab=self.score_last_word, suppress_blank=True,
            suppress_tokens=self.suppress, max_initial_timestamp_index=50,
        )[0]
        tokens: list[int] = result.sequences_ids[0]
        text = cut_loop(drop_repeats(self._segments_before(tokens, audio_s - 0.3)))
        if not text:  # the short window occasionally ends at once; the stock path decides
            return self._stock(audio, audio_s, language)
        # scores[0] is the length-normalised log probability; Whisper's average adds one token.
        score = result.scores[0] * len(tokens) / (len(tokens) + 1) if result.scores else 0.0
        last, more = LastWord(), 0.0
        if self.score_last_word:
            last = self.last_word(encoder_output, prompt, text, audio_s)
            if text[-1] in ".?!":  # only a sentence end is measured: no search otherwise
                end, steps = self._token_ending(tokens, text), result.logits[0]
                if 0 <= end < len(steps):
                    more = self._more_words_prob(tokens[end], steps[end])
        return Transcript(text, language, float(result.no_speech_prob), float(score), audio_s,
                          language_prob, last, more)

    def _more_words_prob(self, token: int, log_probs: Any) -> float:
        """The probability of a word in place of the text's last `token` (`log_probs`: the
        decoder's at that step) when that token ends a sentence; else 0."""
        if self.tokenizer.decode([token]).strip() not in (".", "?", "!"):
            return 0.0
        step = np.asarray(log_probs, dtype=np.float64).ravel()
        probs = np.exp(step - step.max())
        return float(probs[self._word_starts].sum() / probs.sum())

    def last_word(self, encoder_output: Any, prompt: list[int], text: str,
                  audio_s: float) -> LastWord:
        """The text's last word, scored and placed by one decoder pass over the text (~10 ms,
        as Whisper's word timestamps are made: CTranslate2's `align`)."""
        tokens = self.tokenizer.encode(" " + text.strip())
        if not tokens:
            return LastWord()
        aligned = self.model.model.align(encoder_output, prompt, [tokens],
                                         [max(1, int(audio_s * 100))])[0]
        probs = aligned.text_token_probs
        words, word_tokens = self.tokenizer.split_to_word_tokens(tokens + [self.tokenizer.eot])
        last: list[float] = []
        first = at = 0
        for word, part in zip(words, word_tokens, strict=True):
            if word.strip(" .,;:!?…-\"'") and at < len(probs):
                last, first = list(probs[at:at + len(part)]), at
            at += len(part)
        if not last:
            return LastWord()
        # (text token, time step) pairs, both rising: the word starts where its first token does
        starts = [frame for index, frame in aligned.alignments if index == first]
        return LastWord(float(np.mean(last)), starts[0] * ALIGN_FRAME_S if starts else None)

    def encode(self, audio: Samples) -> Any:
        """The encoder's output for `audio` on a window of whole seconds just longer than it
        (few distinct shapes, so CTranslate2's per-shape caches stay flat)."""
        window_s = math.ceil(max(MIN_WINDOW_S, len(audio) / SAMPLE_RATE + PAD_S))
        frames = min(MAX_FRAMES, int(math.ceil(window_s * 100)))
        padded = np.zeros(frames * HOP, dtype=np.float32)
        padded[: len(audio)] = audio[: len(padded)]
        features = self.model.feature_extractor(padded, padding=0)[:, :frames]
        return self.model.encode(features)

    def _segments_before(self, tokens: list[int], end_s: float) -> str:
        """Text of the timestamped segments that start inside the audio.

        On a window sized to the utterance Whisper tends to start the utterance again after
        its end; those segments start at or after the end of the audio and are dropped.
        """
        ts_begin, eot = self.tokenizer.timestamp_begin, self.tokenizer.eot
        texts: list[str] = []
        current: list[int] = []
        start: float | None = None
        for token in tokens:
            if token >= ts_begin:
                stamp = (token - ts_begin) * 0.02
                if start is None:
                    start = stamp
                    continue
                if start < end_s:
                    texts.append(self.tokenizer.decode(current))
                current, start = [], None
            elif token < eot:
                current.append(token)
        if current and (start is None or start < end_s):
            texts.append(self.tokenizer.decode(current))
        return " ".join(t.strip() for t in texts if t.strip())

    def _token_ending(self, tokens: list[int], text: str) -> int:
        """The index in `tokens` of the text token that completes `text` (what was kept of
        them: a loop cut to its first round, segments after the audio dropped); -1: none."""
        target = "".join(text.split())
        heard: list[int] = []
        for at, token in enumerate(tokens):
            if token < self.tokenizer.eot:
                heard.append(token)
                if "".join(self.tokenizer.decode(heard).split()) == target:
                    return at
        return -1

    def _stock(self, audio: Samples, audio_s: float, language: str | None = None) -> Transcript:
        if language is None and not self.languages:  # else Whisper identifies it itself
            language = self.language
        segments, info = self.model.transcribe(
            audio, language=language, beam_size=self.settings.beam_size,
            condition_on_previous_text=False, without_timestamps=True, vad_filter=False)
        segs = list(segments)
        text = " ".join(s.text.strip() for s in segs).strip()
        nsp = max((s.no_speech_prob for s in segs), default=1.0)
        lp = float(np.mean([s.avg_logprob for s in segs])) if segs else -10.0
        return Transcript(text, info.language, nsp, lp, audio_s,
                          float(info.language_probability) if language is None else 1.0)


def _norm(word: str) -> str:
    return re.sub(r"\W", "", word.lower())


def drop_repeats(text: str) -> str:
    """Cut a decoder loop: words that start over ("Good morning. Good morning. Good").

    From the earliest place where a run of words is followed by itself (and then by a prefix
    of itself, its last word perhaps cut short: "Yes, that's correct. Yes, that") to the end of
    the text, only the first run is kept. A repeated run of several words must end a sentence,
    so "no, I said no" and "bye bye" stay as they are.
    """
    words = text.split()
    norm = [_norm(w) for w in words]
    n = len(words)

    def same(k: int, p: int) -> bool:
        return norm[k] == norm[k - p] or (k == n - 1 and norm[k] != ""
                                          and norm[k - p].startswith(norm[k]))

    for i in range(n):
        for p in range(1, (n - i) // 2 + 1):
            if p > 1 and words[i + p - 1][-1:] not in ".?!":
                continue
            if p == 1 and n - i < 3 and words[i][-1:] not in ".?!":
                continue
            if all(same(k, p) for k in range(i + p, n)):
                return " ".join(words[: i + p])
    for j in range(1, n):  # the text starts over after a sentence: "...please? Can"
        if words[j - 1][-1:] in ".?!" and norm[j:] == norm[: n - j]:
            return " ".join(words[:j])
    return text
