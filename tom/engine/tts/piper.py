"""The piper voice (onnxruntime): TOM's English voice, or any piper voice in `tts.model_path`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tom.config import TtsSettings
from tom.engine.tts.base import Synthesis


def load_piper(path: Path, settings: TtsSettings) -> Any:
    """A PiperVoice whose onnxruntime session uses the configured thread budget."""
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    from tom.models import read_json

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = settings.threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    # piper's input shape changes with every sentence; a cached memory pattern per shape
    # would grow RSS without bound over a day of calls.
    opts.enable_mem_pattern = False
    # Idle onnxruntime workers must not spin: they would steal the cores llama.cpp needs.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(path), sess_options=opts,
                                           providers=["CPUExecutionProvider"])
    config = PiperConfig.from_dict(read_json(Path(f"{path}.json")))
    return PiperVoice(session=session, config=config)


class PiperVoiceEngine:
    """Blocking synthesis of one sentence to float32 audio at `sample_rate`."""

    def __init__(self, voice: Any, settings: TtsSettings) -> None:
        from piper.config import SynthesisConfig

        self.voice = voice
        self.sample_rate: int = voice.config.sample_rate
        self.syn = SynthesisConfig(length_scale=settings.length_scale)

    def synthesize(self, text: str) -> Synthesis:
        chunks = [c.audio_float_array for c in self.voice.synthesize(text, self.syn)]
        if not chunks:
            return Synthesis(np.zeros(0, dtype=np.float32), self.sample_rate)
        return Synthesis(np.concatenate(chunks).astype(np.float32, copy=False), self.sample_rate)
