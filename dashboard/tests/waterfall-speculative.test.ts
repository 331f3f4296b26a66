import { describe, expect, it } from "vitest";
import { waterfallBars } from "../src/state/waterfall";

describe("speculative stages", () => {
  it("starts a stage at its own start mark, even before the end of the turn", () => {
    const bars = waterfallBars({
      turn: 1,
      marks_ms: { stt_start: 140, stt_done: 230, eot_detected: 300, first_sentence: 231, tts_first_audio: 310, first_frame_out: 320 },
    } as never);
    const stt = bars.find((b) => b.stage === "stt")!;
    expect(stt.startMs).toBe(140);
    expect(stt.endMs).toBe(230);
  });
});
