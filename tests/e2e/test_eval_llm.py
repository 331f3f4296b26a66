"""`tom eval --llm` with the real bundled SmolLM2 through llama_cpp (both are dependencies of TOM)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tom.conversation.cli import main

pytestmark = pytest.mark.e2e


def test_eval_with_the_real_llm(tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    code = main(["eval", "--llm", "--json", str(out)])
    report = json.loads(out.read_text(encoding="utf-8"))
    summary = report["summary"]
    assert summary["llm"] is True
    assert summary["invented_numbers"] == 0  # the guard held against a real, inventive model
    assert summary["intent_accuracy"] >= 0.95
    assert summary["answer_accuracy"] >= 0.90
    off = report["offscript"]
    assert off["summary"]["invented_claims"] == 0  # the claim checker held too
    assert off["summary"]["grounded"] >= 0.95
    llm_turns = [t for t in report["turns"] + off["turns"]
                 if t.get("route") == "llm" or t.get("llm")]
    assert llm_turns and all(t["llm_first_ms"] is not None for t in llm_turns)
    assert all(t["answer"] for t in llm_turns)
    assert code == 0
