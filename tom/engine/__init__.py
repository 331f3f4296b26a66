"""Transport-agnostic realtime stages: VAD, STT, LLM, TTS and the sentence cutter."""
