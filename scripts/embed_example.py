"""Embedding TOM in a call-centre host: one call fed from a WAV file, TOM's voice to another.

    python scripts/embed_example.py caller.wav tom_reply.wav
"""

from __future__ import annotations

import asyncio
import sys

from tom import Assistant, Settings
from tom.audio import PHONE_RATE, float_to_pcm16, read_wav, resample, whole_frames, write_wav
from tom.engine.playback import AudioOut, EndOut
from tom.monitor.events import Event, Transcript


def show(event: Event) -> None:
    if isinstance(event, Transcript):
        print(f"{event.role}: {event.text}")


async def main(wav_in: str, wav_out: str) -> None:
    audio, rate = read_wav(wav_in)
    frames = whole_frames(float_to_pcm16(resample(audio, rate, PHONE_RATE)), PHONE_RATE)
    heard = bytearray()
    async with Assistant(Settings.load()) as tom:  # loads the models once, shared by all calls
        tom.bus.listen(show)
        call = await tom.open_call(transport="host", caller="+4930123456", in_rate=PHONE_RATE,
                                   out_rate=PHONE_RATE)

        async def play_out() -> None:  # your host sends these frames to the caller
            async for item in call.outbound():
                if isinstance(item, AudioOut):
                    heard.extend(item.pcm)
                elif isinstance(item, EndOut):
                    return

        player = asyncio.create_task(play_out())
        for frame in frames + [bytes(320)] * 300:  # the caller's audio, then 6 s of silence
            call.feed(frame)  # 20 ms of PCM16 at 8 kHz
            await asyncio.sleep(0.02)
        await call.end("hung_up_by_caller", "host hung up")
        await player
    write_wav(wav_out, bytes(heard), PHONE_RATE)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
