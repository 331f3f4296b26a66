"""The chat messages for the LLM: the static system prompt, then the facts, then the caller.

A 135M-parameter model on two cores pays for every prompt token it has not seen before in
first-token latency. The profile's system prompt comes first and is the same for every turn, so
llama.cpp reuses its evaluated tokens (the longest common prefix of consecutive prompts); only
the facts at its end and the caller's words are new. The relevance gate passes one fact and only
the caller's current turn (tom/conversation/grounding.py); longer histories are clipped.
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
