"""The conversation brain: what a caller wants and what TOM says back, at the text level.

Nothing here touches audio or models; import the module you need (importing the package loads
nothing, so the bench can use `numbers` without the dialogue):

- dialogue: one call's conversation, caller turns in, what to say out (uses all below)
- intents, flows, when: what the caller wants; taking a message or an appointment request
- profile, profile_fields, retrieval, prompting, lang: what TOM knows and how it asks the LLM
- guard, numbers, text: numbers an LLM sentence may say; number words; shared normalisation
- grounding, claims: the relevance gate (a fact, or the honest offer) and the claim checker
- messages, webhook: messages stored in SQLite and delivered to a webhook
- cli, evaluate, offscript: `tom eval` (FAQ-style and off-script sets) and `tom check-profile`
"""
