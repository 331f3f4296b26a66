"""`Speech`: one thing TOM says, as an object with a small explicit API.

An answer to a caller turn, the greeting, a re-prompt or a goodbye is one `Speech`: one task
that runs the reply pipeline (tom/call/reply.py) and that barge-in cancels. A speech started at
a short pause in the caller's words is speculative: it transcribes, decides and synthesises,
but nothing becomes public (no audio, no transcript, no stored message, no state change) until
`authorize()` says the caller's turn really ended; if the caller speaks on, `interrupt()` drops
it and nothing of it was ever seen.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tom.conversation.dialogue import Dialogue
from tom.engine.samples import Samples
from tom.engine.stt import Transcript
from tom.engine.timings import TurnTimer
from tom.engine.workers import Timed, Urgency


class Speech:
    """One reply: its dialogue, its turn timer, its intent, and what it announces once authorised.

    `dialogue` is the call's own, or a fork for a speculative answer (adopted by the call on
    authorisation, so words the caller takes back never reach the call's history). `audio` is
    the caller audio it answers: while that is not yet `answered`, a caller who goes on speaking
    gets it joined to the next turn.
    """

    def __init__(self, number: int, dialogue: Dialogue, *, timer: TurnTimer | None = None,
                 audio: Samples | None = None, speech_end_ns: int | None = None,
                 authorized: bool = True) -> None:
        self.number = number  # the turn it belongs to (transcripts, marks)
        self.dialogue = dialogue
        self.timer = timer
        self.audio = audio
        # the caller's last voice of the turn it answers (for a speculative answer: the pause)
        self.speech_end_ns = speech_end_ns
        self.joins: int | None = None  # an announced caller turn whose words `audio` holds too
        # The transcript of `audio` when turn-taking already made it (the end-of-turn check
        # reads the words at a pause; the answer to that pause reuses them): None = transcribe.
        self.words: asyncio.Future[Timed[Transcript]] | None = None
        self.intent = ""
        self.answered = False  # the caller's words were announced (see TurnTaking._went_on)
        # To announce once authorised, each at most once:
        self.caller_words: str | None = None  # the caller's transcript
        self.stored: dict[str, Any] | None = None  # a message or appointment was committed
        self.starts_speaking = False  # TOM's state becomes speaking
        self.first_audio_ready = False  # its first sentence is synthesised (the caller waits less)
        self._authorized = asyncio.Event()
        if authorized:
            self._authorized.set()
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        state = "authorized" if self.authorized else "speculative"
        return f"<Speech turn={self.number} {state} running={self.running}>"

    # --- the API ------------------------------------------------------------------------------

    def attach(self, task: asyncio.Task[None]) -> None:
        """The task that runs this speech (created by the call, which owns every task)."""
        self._task = task

    @property
    def speculative(self) -> bool:
        return not self._authorized.is_set()

    @property
    def authorized(self) -> bool:
        return self._authorized.is_set()

    @property
    def urgency(self) -> Urgency:
        """How soon its engine requests must run (tom.engine.workers.Urgency).

        Until its first sentence exists a caller is waiting: NOW. A speculative answer may be
        thrown away and later sentences play while the first is heard: SOON. (Not LATER: a
        speculative request already queued stays queued when its turn really ends.)
        """
        if self.speculative or self.first_audio_ready:
            return Urgency.SOON
        return Urgency.NOW

    def authorize(self) -> None:
        """The caller's turn really ended: this speech may now be heard and seen."""
        self._authorized.set()

    async def wait_authorized(self) -> None:
        await self._authorized.wait()

    def interrupt(self) -> None:
        """Stop this speech wherever it is (barge-in, the caller spoke on, the call ends)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def done(self) -> bool:
        """It ran and is over (played out, interrupted or failed)."""
        return self._task is not None and self._task.done()

    async def wait(self) -> None:
        """Until this speech is over, however it ended; never raises its task's error."""
        if self._task is not None:
            await asyncio.wait([self._task])

    def mark(self, name: str, ts_ns: int | None) -> None:
        """A turn timing mark (only answers to caller turns carry a timer)."""
        if self.timer is not None and ts_ns is not None:
            self.timer.mark(name, ts_ns)
