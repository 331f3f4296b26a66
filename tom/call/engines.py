"""What a call needs from the process that hosts it, and nothing more.

`Assistant` builds one `CallEngines` for all its calls (shared models behind their worker
threads, the business profile, the message store, settings, the event bus); a unit test builds
one from fakes. A call never sees the `Assistant` itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from tom.call.clock import CallClock, LoopClock
from tom.config import Settings
from tom.conversation.messages import MessageStore
from tom.conversation.profile import Profile
from tom.engine.llm import ChatModel
from tom.engine.samples import Samples
from tom.engine.stt import Transcript
from tom.engine.tts import Synthesis
from tom.engine.vad import VadStream
from tom.engine.workers import Timed
from tom.monitor.events import EventBus

Synthesize = Callable[[str], Awaitable[Timed[Synthesis]]]


class Transcribe(Protocol):
    """16 kHz float32 audio in; a multilingual TOM also passes the call's language so far."""

    def __call__(self, audio: Samples, current: str | None = ..., /
                 ) -> Awaitable[Timed[Transcript]]: ...


@dataclass(frozen=True)
class SpokenLanguage:
    """What TOM needs to speak one language on a call: its profile and its voice."""

    code: str
    profile: Profile
    synthesize: Synthesize


@dataclass(frozen=True)
class CallEngines:
    settings: Settings
    bus: EventBus
    profile: Profile
    messages: MessageStore | None
    transcribe: Transcribe
    synthesize: Synthesize
    chat: ChatModel
    new_vad: Callable[[], VadStream]  # a fresh VAD state for one call's audio
    clock: CallClock = field(default_factory=LoopClock)  # tests pass a fake one
    # True while engine threads have requests waiting: optional work (speculation) is skipped
    backlog: Callable[[], bool] = field(default=lambda: False)
    # More than one: TOM follows the caller's language (the first greets). Empty: `profile` and
    # `synthesize` speak the one language, as they always did.
    languages: Mapping[str, SpokenLanguage] = field(default_factory=dict)

    @property
    def multilingual(self) -> bool:
        return len(self.languages) > 1
