// Plays TOM's PCM16 16 kHz voice gap-free: each chunk is scheduled right after the previous one.
// `clear()` (barge-in) stops everything already scheduled at once.

import { Pcm16Stream, TOM_SAMPLE_RATE } from "./pcm";

/** The part of AudioContext the player needs; tests pass a fake. */
export interface PlaybackContext {
  readonly currentTime: number;
  readonly destination: AudioNode;
  createBuffer(channels: number, length: number, sampleRate: number): AudioBuffer;
  createBufferSource(): AudioBufferSourceNode;
}

/** Small cushion so the first chunk after a pause is not cut by scheduling jitter. */
const LEAD_S = 0.05;

export class PcmPlayer {
  private readonly stream = new Pcm16Stream();
  private readonly playing = new Set<AudioBufferSourceNode>();
  private nextStart = 0;
  /** Seconds of audio received since the call started. */
  receivedS = 0;

  constructor(private readonly ctx: PlaybackContext) {}

  enqueue(chunk: ArrayBuffer): void {
    const samples = this.stream.push(chunk);
    if (!samples.length) return;
    const buffer = this.ctx.createBuffer(1, samples.length, TOM_SAMPLE_RATE);
    buffer.getChannelData(0).set(samples);
    const source = this.ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(this.ctx.destination);
    const startAt = Math.max(this.nextStart, this.ctx.currentTime + LEAD_S);
    source.onended = () => this.playing.delete(source);
    this.playing.add(source);
    source.start(startAt);
    this.nextStart = startAt + buffer.duration;
    this.receivedS += samples.length / TOM_SAMPLE_RATE;
  }

  /** Barge-in: silence now, drop whatever was queued. */
  clear(): void {
    for (const source of this.playing) {
      try {
        source.stop();
      } catch {
        // already stopped
      }
      source.disconnect();
    }
    this.playing.clear();
    this.nextStart = 0;
  }

  /** Seconds of already scheduled audio still to play after `now`. */
  remainingS(now: number): number {
    return Math.max(0, this.nextStart - now);
  }

  get scheduledCount(): number {
    return this.playing.size;
  }
}
