"""Transport-agnostic realtime stages (VAD, STT, LLM, TTS, sentences, paced playback) and the
worker threads the models run on, each timing its own queue wait and compute."""
