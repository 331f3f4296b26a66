import { floatToPcm16 } from "../src/phone/pcm";
import { PcmPlayer, type PlaybackContext } from "../src/phone/playback";

class FakeSource {
  buffer: { duration: number } | null = null;
  startedAt: number | null = null;
  stopped = false;
  onended: (() => void) | null = null;
  connect() {}
  disconnect() {}
  start(at: number) {
    this.startedAt = at;
  }
  stop() {
    this.stopped = true;
    this.onended?.();
  }
}

class FakeContext {
  currentTime = 10;
  destination = {} as AudioNode;
  sources: FakeSource[] = [];
  createBuffer(_channels: number, length: number, sampleRate: number) {
    const data = new Float32Array(length);
    return { duration: length / sampleRate, getChannelData: () => data } as unknown as AudioBuffer;
  }
  createBufferSource() {
    const source = new FakeSource();
    this.sources.push(source);
    return source as unknown as AudioBufferSourceNode;
  }
}

const chunk20ms = () => floatToPcm16(new Float32Array(320).fill(0.1));

describe("PcmPlayer", () => {
  it("schedules chunks back to back without gaps", () => {
    const ctx = new FakeContext();
    const player = new PcmPlayer(ctx as unknown as PlaybackContext);
    player.enqueue(chunk20ms());
    player.enqueue(chunk20ms());
    player.enqueue(chunk20ms());
    const starts = ctx.sources.map((s) => s.startedAt as number);
    expect(starts[0]).toBeGreaterThanOrEqual(10);
    expect(starts[1] - starts[0]).toBeCloseTo(0.02, 6);
    expect(starts[2] - starts[1]).toBeCloseTo(0.02, 6);
    expect(player.receivedS).toBeCloseTo(0.06, 6);
  });

  it("stops everything scheduled at once on clear (barge-in) and restarts fresh", () => {
    const ctx = new FakeContext();
    const player = new PcmPlayer(ctx as unknown as PlaybackContext);
    for (let i = 0; i < 50; i++) player.enqueue(chunk20ms()); // one second queued
    expect(player.scheduledCount).toBe(50);
    player.clear();
    expect(ctx.sources.every((s) => s.stopped)).toBe(true);
    expect(player.scheduledCount).toBe(0);
    ctx.currentTime = 10.1;
    player.enqueue(chunk20ms());
    // The next reply starts now, not after the second that was cut.
    expect(ctx.sources[50].startedAt).toBeLessThan(10.3);
  });

  it("tells how much scheduled audio is left to play", () => {
    const ctx = new FakeContext();
    const player = new PcmPlayer(ctx as unknown as PlaybackContext);
    for (let i = 0; i < 10; i++) player.enqueue(chunk20ms());
    expect(player.remainingS(10)).toBeCloseTo(0.25, 2); // 50 ms lead + 200 ms audio
  });
});
