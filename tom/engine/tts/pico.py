"""SVOX Pico through its small C API (`libttspico.so.0`, Debian's libttspico0 + libttspico-data).

The one offline German voice that installs from a package: 16 kHz PCM16, first audio within a few
milliseconds, far faster than real time. Pico speaks near full scale; `level` brings it down to
the loudness of TOM's English voice. One `PicoVoice` is one Pico system and engine, used by one
thread at a time (the TTS worker).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

import numpy as np

from tom.engine.tts.base import TARGET_RMS, Synthesis, VoiceError, level

LIB = "libttspico.so.0"
LANG_DIR = Path("/usr/share/pico/lang")
RATE = 16000
MEMORY = 2_500_000  # bytes Pico works in (its own example uses this much)
STEP_BUSY = 201  # pico_getData: more audio follows
OUT_CHUNK = 128  # bytes per pico_getData call, as Pico's own tools ask for
VOICE_NAME = b"TomPicoVoice"
INSTALL = ("sudo scripts/install-system-packages.sh runtime (it enables Debian's non-free "
           "section and installs libttspico0 libttspico-data)")
# Pico's own loudness, measured like `TARGET_RMS` on six German demo sentences (peaks reach 0.93).
PICO_RMS = 0.139
GAIN = TARGET_RMS / PICO_RMS
# Pico's language files: language -> (text analysis, signal generation).
FILES = {
    "de": ("de-DE_ta.bin", "de-DE_gl0_sg.bin"),
    "en": ("en-US_ta.bin", "en-US_lh0_sg.bin"),
    "en-GB": ("en-GB_ta.bin", "en-GB_kh0_sg.bin"),
    "fr": ("fr-FR_ta.bin", "fr-FR_nk0_sg.bin"),
    "es": ("es-ES_ta.bin", "es-ES_zl0_sg.bin"),
    "it": ("it-IT_ta.bin", "it-IT_cm0_sg.bin"),
}

Handle = ctypes.c_void_p
Status = ctypes.c_int16  # pico_Status; small values, read from the low 16 bits


def _library() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("ttspico") or LIB)
    except OSError:
        raise VoiceError(f"the German voice (SVOX Pico, {LIB}) is not installed; run: "
                         f"{INSTALL}") from None
    ptr = ctypes.POINTER
    signatures = {
        "pico_initialize": [ctypes.c_void_p, ctypes.c_uint32, ptr(Handle)],
        "pico_terminate": [ptr(Handle)],
        "pico_loadResource": [Handle, ctypes.c_char_p, ptr(Handle)],
        "pico_unloadResource": [Handle, ptr(Handle)],
        "pico_getResourceName": [Handle, Handle, ctypes.c_char_p],
        "pico_createVoiceDefinition": [Handle, ctypes.c_char_p],
        "pico_addResourceToVoiceDefinition": [Handle, ctypes.c_char_p, ctypes.c_char_p],
        "pico_releaseVoiceDefinition": [Handle, ctypes.c_char_p],
        "pico_newEngine": [Handle, ctypes.c_char_p, ptr(Handle)],
        "pico_disposeEngine": [Handle, ptr(Handle)],
        "pico_putTextUtf8": [Handle, ctypes.c_char_p, ctypes.c_int16, ptr(ctypes.c_int16)],
        "pico_getData": [Handle, ctypes.c_void_p, ctypes.c_int16, ptr(ctypes.c_int16),
                         ptr(ctypes.c_int16)],
        "pico_resetEngine": [Handle, ctypes.c_int32],
        "pico_getSystemStatusMessage": [Handle, Status, ctypes.c_char_p],
    }
    for name, args in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = Status
    return lib


def language_files(language: str, lang_dir: Path = LANG_DIR) -> tuple[Path, Path]:
    """The two resource files of `language`; a `VoiceError` naming the fix when they are absent."""
    if language not in FILES:
        raise VoiceError(f"SVOX Pico has no voice for language {language!r}; it speaks "
                         f"{', '.join(FILES)}")
    paths = (lang_dir / FILES[language][0], lang_dir / FILES[language][1])
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise VoiceError(f"the German voice (SVOX Pico) is not installed: {', '.join(missing)} "
                         f"missing; run: {INSTALL}")
    return paths


def check(language: str, lang_dir: Path = LANG_DIR) -> None:
    """Raise `VoiceError` (naming the apt command) unless Pico can speak `language` here."""
    language_files(language, lang_dir)
    _library()


class PicoVoice:
    """One Pico engine for one language; `synthesize` is blocking (the TTS worker runs it)."""

    sample_rate = RATE

    def __init__(self, language: str = "de", lang_dir: Path = LANG_DIR) -> None:
        files = language_files(language, lang_dir)
        self.lib = _library()
        self.language = language
        self._memory = ctypes.create_string_buffer(MEMORY)  # Pico's whole heap; kept alive here
        self._system = Handle()
        self._resources: list[Handle] = []
        self._engine = Handle()
        self._check(self.lib.pico_initialize(self._memory, MEMORY, ctypes.byref(self._system)),
                    "initialize")
        try:
            self._check(self.lib.pico_createVoiceDefinition(self._system, VOICE_NAME), "voice")
            for path in files:
                resource = Handle()
                self._check(self.lib.pico_loadResource(self._system, str(path).encode(),
                                                       ctypes.byref(resource)), f"load {path}")
                self._resources.append(resource)
                name = ctypes.create_string_buffer(200)
                self._check(self.lib.pico_getResourceName(self._system, resource, name),
                            "resource name")
                self._check(self.lib.pico_addResourceToVoiceDefinition(
                    self._system, VOICE_NAME, name.value), "add resource")
            self._check(self.lib.pico_newEngine(self._system, VOICE_NAME,
                                                ctypes.byref(self._engine)), "engine")
        except VoiceError:
            self.close()
            raise

    def _check(self, status: int, what: str) -> None:
        if status == 0:
            return
        message = ctypes.create_string_buffer(200)
        if self._system:
            self.lib.pico_getSystemStatusMessage(self._system, status, message)
        text = message.value.decode("latin-1") or f"status {status}"
        raise VoiceError(f"SVOX Pico failed ({what}): {text}; reinstall with: {INSTALL}")

    def synthesize(self, text: str) -> Synthesis:
        """One sentence as float32 at 16 kHz, levelled to TOM's English voice."""
        data = text.strip().encode("utf-8")[:30000] + b"\0"  # Pico counts the final NUL
        out = bytearray()
        buf = ctypes.create_string_buffer(OUT_CHUNK)
        put, received, kind = ctypes.c_int16(), ctypes.c_int16(), ctypes.c_int16()
        offset = 0
        while offset < len(data):
            chunk = data[offset:]
            self.lib.pico_putTextUtf8(self._engine, chunk, len(chunk), ctypes.byref(put))
            if put.value <= 0:
                break
            offset += put.value
            while True:
                status = self.lib.pico_getData(self._engine, buf, OUT_CHUNK, ctypes.byref(received),
                                               ctypes.byref(kind))
                if received.value > 0:
                    out += buf.raw[: received.value]
                if status != STEP_BUSY:
                    break
        pcm = np.frombuffer(bytes(out[: len(out) // 2 * 2]), dtype="<i2")
        return Synthesis(level(pcm.astype(np.float32) / 32768.0, GAIN), RATE)

    def close(self) -> None:
        """Free the engine, resources and system (safe to call twice)."""
        if self._engine:
            self.lib.pico_disposeEngine(self._system, ctypes.byref(self._engine))
            self._engine = Handle()
        if self._system:
            self.lib.pico_releaseVoiceDefinition(self._system, VOICE_NAME)
            for resource in reversed(self._resources):
                self.lib.pico_unloadResource(self._system, ctypes.byref(resource))
            self._resources.clear()
            self.lib.pico_terminate(ctypes.byref(self._system))
            self._system = Handle()
