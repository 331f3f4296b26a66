"""Text to speech behind one interface (`TextToSpeech`): piper and SVOX Pico, a voice per language.

Every engine speaks one sentence at a time (the first can play while the rest is written) and
returns float32 samples at its own rate, levelled to the same loudness, so TOM sounds the same on
the line whichever voice answers.
"""

from tom.engine.tts.base import Synthesis, TextToSpeech, VoiceError, level
from tom.engine.tts.piper import PiperVoiceEngine, load_piper

__all__ = ["PiperVoiceEngine", "Synthesis", "TextToSpeech", "VoiceError", "level", "load_piper"]
