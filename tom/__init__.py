"""TOM, an offline realtime telephone assistant.

`OMP_WAIT_POLICY=PASSIVE` is set before CTranslate2 can be imported: its OpenMP threads otherwise
spin after every STT call and starve llama.cpp on a 2-core box (first token 4–8 s instead of 0.1 s).
"""

import os
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# CTranslate2's oneDNN keeps one compiled primitive per input shape; bound that cache.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "64")

from tom.config import ConfigError, Settings  # noqa: E402

__all__ = ["Assistant", "Call", "ConfigError", "Settings"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:  # lazy: importing tom must not load the heavy engines
    if name == "Assistant":
        from tom.assistant import Assistant

        return Assistant
    if name == "Call":
        from tom.call import Call

        return Call
    raise AttributeError(name)
