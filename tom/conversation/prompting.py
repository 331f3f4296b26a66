"""The chat messages for the LLM: a short system prompt with a few facts, recent turns, the question.

A 135M-parameter model on two cores pays for every prompt token in first-token latency, so the
prompt holds only the facts retrieval found and the last couple of turns, each clipped.
"""

from __future__ import annotations

from tom.conversation.profile import Profile

HISTORY_MESSAGES = 4  # the current caller turn plus up to three before it
MAX_CHARS = 300  # per history message; callers' key words are usually at the end


def clip(text: str, limit: int = MAX_CHARS) -> str:
    """Keep the end of a long turn (the question), cut at a word boundary."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    tail = text[-limit:]
    return "…" + tail[tail.find(" ") + 1:] if " " in tail else tail


def build_messages(profile: Profile, facts: list[str], history: list[dict[str, str]],
                   *, max_history: int = HISTORY_MESSAGES) -> list[dict[str, str]]:
    """OpenAI-style messages: system (role, rules, facts), then the last turns ending with the caller."""
    system = profile.say("llm", "system", language=profile.lang.name,
                         facts="\n".join(facts) if facts else "-")
    recent = [m for m in history if m.get("content")][-max_history:]
    while recent and recent[0]["role"] != "user":
        recent = recent[1:]  # start with the caller, as chat templates expect
    return [{"role": "system", "content": system},
            *({"role": m["role"], "content": clip(m["content"])} for m in recent)]
