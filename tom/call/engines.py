"""What a call needs from the process that hosts it, and nothing more.

`Assistant` builds one `CallEngines` for all its calls (shared models behind their worker
threads, the business profile, the message store, settings, the event bus); a unit test builds
one from fakes. A call never sees the `Assistant` itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class CallEngines:
    settings: Settings
    bus: EventBus
    profile: Profile
    messages: MessageStore | None
    transcribe: Callable[[Samples], Awaitable[Timed[Transcript]]]  # 16 kHz float32
    synthesize: Callable[[str], Awaitable[Timed[Synthesis]]]
    chat: ChatModel
    new_vad: Callable[[], VadStream]  # a fresh VAD state for one call's audio
    clock: CallClock = field(default_factory=LoopClock)  # tests pass a fake one
    # True while engine threads have requests waiting: optional work (speculation) is skipped
    backlog: Callable[[], bool] = field(default=lambda: False)
