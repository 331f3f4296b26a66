"""One call, split along its seams.

- call.py     `Call`: the transport's API, lifecycle, tasks and time limit
- turns.py    `TurnTaking`: the caller's side (VAD decisions, barge-in, speculation, re-prompts)
- speech.py   `Speech`: one reply of TOM's as an object (authorize / interrupt / wait)
- reply.py    `Responder`: the pipeline STT -> dialogue -> LLM/FAQ -> sentences -> voice
- voice.py    `Voice`: TTS -> frames -> paced player -> outbound, and what the caller heard
- engines.py  `CallEngines`: everything a call needs from its host (no `Assistant` in here)
"""

from tom.call.call import Call, CallEnded, new_call_id
from tom.call.engines import CallEngines
from tom.call.speech import Speech

__all__ = ["Call", "CallEnded", "CallEngines", "Speech", "new_call_id"]
