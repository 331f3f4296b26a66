"""CPU time by stage: which engine's threads the box spends its cores on.

Each engine worker names its OS thread `tom-<stage>` (`name_os_thread`); the thread pools an
engine starts from that thread (OpenMP in CTranslate2, ggml in llama.cpp, onnxruntime in piper)
inherit the name on Linux. Summing /proc/self/task/*/stat by name gives each stage's CPU seconds;
the rest (the event loop: audio, VAD, websockets) is "other". Threads that have exited take their
time with them, which the engines' long-lived pools do not.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

_PR_SET_NAME = 15
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_libc: ctypes.CDLL | None = None


def name_os_thread(name: str) -> None:
    """Give the calling thread an OS name (15 bytes at most); a no-op where that is unsupported."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        _libc.prctl(_PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def cpu_seconds_by_thread_name(task_dir: Path = Path("/proc/self/task")) -> dict[str, float]:
    """CPU seconds (user + system) of this process's live threads, summed by thread name."""
    totals: dict[str, float] = {}
    try:
        tasks = list(task_dir.iterdir())
    except OSError:
        return totals
    for task in tasks:
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # the thread ended while we looked
        name, ticks = parse_stat(stat)
        totals[name] = totals.get(name, 0.0) + ticks / _TICKS
    return totals


def parse_stat(stat: str) -> tuple[str, int]:
    """(name, utime + stime in clock ticks) from one /proc/<pid>/task/<tid>/stat line."""
    open_, close = stat.index("("), stat.rindex(")")
    fields = stat[close + 2:].split()
    return stat[open_ + 1:close], int(fields[11]) + int(fields[12])


def stage_cpu_seconds(stages: tuple[str, ...]) -> dict[str, float]:
    """CPU seconds per stage (threads named tom-<stage>) and "other" for every other thread."""
    by_name = cpu_seconds_by_thread_name()
    result = {stage: by_name.pop(f"tom-{stage}", 0.0) for stage in stages}
    result["other"] = sum(by_name.values())
    return result
