import { Downsampler, FrameAssembler, floatToPcm16, Pcm16Stream, pcm16ToFloat } from "../src/phone/pcm";

function sine(freq: number, rate: number, seconds: number, amplitude = 0.5): Float32Array {
  const out = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) out[i] = amplitude * Math.sin((2 * Math.PI * freq * i) / rate);
  return out;
}

/** Dominant frequency by counting upward zero crossings. */
function frequencyOf(samples: Float32Array, rate: number): number {
  let crossings = 0;
  for (let i = 1; i < samples.length; i++) if (samples[i - 1] < 0 && samples[i] >= 0) crossings++;
  return (crossings * rate) / samples.length;
}

function peak(samples: Float32Array): number {
  return samples.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

describe("Downsampler", () => {
  it("turns 48 kHz into 16 kHz: a third of the samples, same tone", () => {
    const out = new Downsampler(48_000).process(sine(440, 48_000, 1));
    expect(out.length).toBe(16_000);
    expect(frequencyOf(out, 16_000)).toBeCloseTo(440, -1);
    expect(peak(out)).toBeGreaterThan(0.45);
  });

  it("handles 44.1 kHz (non-integer ratio) with the right length", () => {
    const out = new Downsampler(44_100).process(sine(300, 44_100, 1));
    expect(Math.abs(out.length - 16_000)).toBeLessThanOrEqual(1);
    expect(frequencyOf(out, 16_000)).toBeCloseTo(300, -1);
  });

  it("gives the same result whether fed at once or in 128-sample render quanta", () => {
    const input = sine(1000, 44_100, 0.2);
    const whole = new Downsampler(44_100).process(input);
    const chunked = new Downsampler(44_100);
    const parts: number[] = [];
    for (let i = 0; i < input.length; i += 128) parts.push(...chunked.process(input.subarray(i, i + 128)));
    expect(parts.length).toBe(whole.length);
    parts.forEach((v, i) => expect(v).toBeCloseTo(whole[i], 6));
  });

  it("damps a tone above the new Nyquist frequency", () => {
    const out = new Downsampler(48_000).process(sine(15_000, 48_000, 0.5));
    expect(peak(out)).toBeLessThan(0.2);
  });

  it("refuses to upsample", () => {
    expect(() => new Downsampler(8000)).toThrow(RangeError);
  });
});

describe("PCM16 conversion", () => {
  it("writes little-endian int16 with clipping", () => {
    const bytes = new Uint8Array(floatToPcm16(Float32Array.from([0, 1, -1, 2, -2, 0.5])));
    const view = new DataView(bytes.buffer);
    expect([0, 1, 2, 3, 4, 5].map((i) => view.getInt16(i * 2, true))).toEqual([0, 32767, -32768, 32767, -32768, 16384]);
    expect(Array.from(bytes.slice(2, 4))).toEqual([0xff, 0x7f]); // low byte first
  });

  it("reads back what it wrote", () => {
    const samples = Float32Array.from([0, 0.25, -0.25, 0.999, -1]);
    const back = pcm16ToFloat(floatToPcm16(samples));
    back.forEach((v, i) => expect(v).toBeCloseTo(samples[i], 4));
  });

  it("joins a sample split across two WebSocket messages", () => {
    const whole = new Uint8Array(floatToPcm16(Float32Array.from([0.5, -0.5, 0.25])));
    const stream = new Pcm16Stream();
    const first = stream.push(whole.slice(0, 3).buffer);
    const second = stream.push(whole.slice(3).buffer);
    expect(first.length).toBe(1);
    expect(second.length).toBe(2);
    expect(second[0]).toBeCloseTo(-0.5, 4);
    expect(second[1]).toBeCloseTo(0.25, 4);
  });
});

describe("FrameAssembler", () => {
  it("hands out 20 ms frames (320 samples = 640 bytes) and keeps the rest", () => {
    const frames = new FrameAssembler();
    expect(frames.push(new Float32Array(300))).toHaveLength(0);
    const out = frames.push(new Float32Array(400));
    expect(out).toHaveLength(2);
    expect(out.every((f) => f.byteLength === 640)).toBe(true);
    expect(frames.push(new Float32Array(259))).toHaveLength(0);
    expect(frames.push(new Float32Array(1))).toHaveLength(1);
  });
});
