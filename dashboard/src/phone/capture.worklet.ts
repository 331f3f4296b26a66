// AudioWorklet: microphone → 16 kHz PCM16 LE frames of 20 ms, posted to the page as ArrayBuffers.
// Bundled by Vite (`?worker&url`) so it shares the tested helpers in pcm.ts.

import { CAPTURE_PROCESSOR, Downsampler, FrameAssembler } from "./pcm";

declare const sampleRate: number;
declare function registerProcessor(name: string, ctor: unknown): void;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}

class Pcm16CaptureProcessor extends AudioWorkletProcessor {
  private readonly downsampler = new Downsampler(sampleRate);
  private readonly frames = new FrameAssembler();

  process(inputs: Float32Array[][]): boolean {
    const channel = inputs[0]?.[0];
    if (channel && channel.length) {
      for (const frame of this.frames.push(this.downsampler.process(channel))) {
        this.port.postMessage(frame, [frame]);
      }
    }
    return true;
  }
}

registerProcessor(CAPTURE_PROCESSOR, Pcm16CaptureProcessor);
