"""Embedding TOM in a call-centre host: one call fed from a WAV file, TOM's voice to another.

    python scripts/embed_example.py caller.wav tom_reply.wav
"""

from __future__ import annotations

import asyncio
import sys

from tom import Assistant, Settings
from tom.audio import FrameSplitter, float_to_pcm16, read_wav, resample, write_wav
from tom.engine.playback import AudioOut, EndOut
from tom.monitor.events import TRANSCRIPT


async def main(wav_in: str, wav_out: str) -> None:
    audio, rate = read_wav(wav_in)
    frames = FrameSplitter(8000).push(float_to_pcm16(resample(audio, rate, 8000)))
    heard = bytearray()
    async with Assistant(Settings.load()) as tom:  # loads the models once, shared by all calls
        tom.bus.listen(lambda e: e.type == TRANSCRIPT and print(f"{e.data['role']}: {e.data['text']}"))
        call = await tom.open_call(transport="host", caller="+4930123456", in_rate=8000,
                                   out_rate=8000)

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
    write_wav(wav_out, bytes(heard), 8000)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
