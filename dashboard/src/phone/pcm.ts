// PCM helpers shared by the capture worklet and the playback side: TOM speaks PCM16 LE mono 16 kHz.

export const TOM_SAMPLE_RATE = 16_000;
/** 20 ms at 16 kHz. */
export const FRAME_SAMPLES = 320;
/** Name the capture worklet registers its processor under. */
export const CAPTURE_PROCESSOR = "tom-pcm16-capture";

/**
 * Streaming downsampler from the AudioContext rate to 16 kHz.
 * Each output sample is the mean of the input samples that fall in its period (a box filter),
 * which removes most of what would alias; the fractional position carries across chunks.
 */
export class Downsampler {
  private readonly step: number;
  private position = 0; // input samples consumed inside the current output period
  private sum = 0;
  private count = 0;

  constructor(
    readonly inputRate: number,
    readonly outputRate = TOM_SAMPLE_RATE,
  ) {
    if (!(inputRate > 0 && outputRate > 0)) throw new RangeError("sample rates must be positive");
    if (outputRate > inputRate) throw new RangeError(`cannot upsample ${inputRate} Hz to ${outputRate} Hz`);
    this.step = inputRate / outputRate;
  }

  process(input: Float32Array): Float32Array {
    if (this.step === 1) return input.slice();
    const out = new Float32Array(Math.ceil((input.length + this.position) / this.step) + 1);
    let written = 0;
    for (let i = 0; i < input.length; i++) {
      this.sum += input[i];
      this.count += 1;
      this.position += 1;
      if (this.position >= this.step) {
        out[written++] = this.sum / this.count;
        this.position -= this.step;
        this.sum = 0;
        this.count = 0;
      }
    }
    return out.subarray(0, written);
  }
}

/** Float samples in [-1, 1] to PCM16 little-endian bytes (clipped, rounded). */
export function floatToPcm16(samples: Float32Array): ArrayBuffer {
  const buffer = new ArrayBuffer(samples.length * 2);
  const view = new DataView(buffer);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(i * 2, Math.round(s < 0 ? s * 0x8000 : s * 0x7fff), true);
  }
  return buffer;
}

/** PCM16 little-endian bytes to float samples; an odd trailing byte is ignored (see Pcm16Stream). */
export function pcm16ToFloat(bytes: ArrayBuffer | Uint8Array): Float32Array {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const out = new Float32Array(Math.floor(u8.byteLength / 2));
  for (let i = 0; i < out.length; i++) {
    const v = view.getInt16(i * 2, true);
    out[i] = v < 0 ? v / 0x8000 : v / 0x7fff;
  }
  return out;
}

/** Reassembles PCM16 from chunks of any byte length (a sample may be split between two messages). */
export class Pcm16Stream {
  private carry: number | null = null;

  push(chunk: ArrayBuffer): Float32Array {
    let bytes = new Uint8Array(chunk);
    if (this.carry !== null) {
      const joined = new Uint8Array(bytes.length + 1);
      joined[0] = this.carry;
      joined.set(bytes, 1);
      bytes = joined;
      this.carry = null;
    }
    if (bytes.length % 2 === 1) {
      this.carry = bytes[bytes.length - 1];
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    return pcm16ToFloat(bytes);
  }
}

/** Collects samples and hands out fixed-size frames (e.g. 20 ms) as PCM16 LE buffers. */
export class FrameAssembler {
  private pending = new Float32Array(0);

  constructor(readonly frameSamples = FRAME_SAMPLES) {}

  push(samples: Float32Array): ArrayBuffer[] {
    const all = new Float32Array(this.pending.length + samples.length);
    all.set(this.pending);
    all.set(samples, this.pending.length);
    const frames: ArrayBuffer[] = [];
    let offset = 0;
    while (all.length - offset >= this.frameSamples) {
      frames.push(floatToPcm16(all.subarray(offset, offset + this.frameSamples)));
      offset += this.frameSamples;
    }
    this.pending = all.slice(offset);
    return frames;
  }
}
