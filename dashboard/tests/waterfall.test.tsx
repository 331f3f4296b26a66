import { render } from "@testing-library/react";
import type { TurnTiming } from "../src/api/types";
import { LatencyWaterfall } from "../src/components/LatencyWaterfall";
import { barGeometry, waterfallBars, waterfallScaleMs } from "../src/state/waterfall";

const fullTurn: TurnTiming = {
  turn: 1,
  intent: "opening_hours",
  marks_ms: {
    eot_detected: 300,
    stt_done: 450,
    llm_first_token: 700,
    first_sentence: 800,
    tts_first_audio: 900,
    first_frame_out: 1000,
  },
  timings_ms: { e2e: 1000 },
};

const faqTurn: TurnTiming = {
  turn: 2,
  intent: "faq",
  marks_ms: { eot_detected: 250, stt_done: 400, tts_first_audio: 480, first_frame_out: 500 },
};

describe("waterfallBars", () => {
  it("makes one bar per stage, each starting where the previous ended", () => {
    const bars = waterfallBars(fullTurn);
    expect(bars.map((b) => [b.stage, b.startMs, b.endMs])).toEqual([
      ["vad_wait", 0, 300],
      ["stt", 300, 450],
      ["llm_first_token", 450, 700],
      ["first_sentence", 700, 800],
      ["tts_first_audio", 800, 900],
      ["first_frame_out", 900, 1000],
    ]);
  });

  it("skips a stage that did not run (no LLM for an FAQ answer)", () => {
    const bars = waterfallBars(faqTurn);
    expect(bars.map((b) => b.stage)).toEqual(["vad_wait", "stt", "tts_first_audio", "first_frame_out"]);
    expect(bars[2]).toMatchObject({ startMs: 400, endMs: 480 });
  });

  it("falls back to stage durations laid end to end when marks are missing", () => {
    const bars = waterfallBars({ turn: 3, timings_ms: { vad_wait: 200, stt: 100, tts_first_audio: 50, e2e: 400 } });
    expect(bars.map((b) => [b.stage, b.startMs, b.endMs])).toEqual([
      ["vad_wait", 0, 200],
      ["stt", 200, 300],
      ["tts_first_audio", 300, 350],
    ]);
  });

  it("scales every turn of a call to the slowest one", () => {
    expect(waterfallScaleMs([fullTurn, faqTurn])).toBe(1000);
    expect(barGeometry({ stage: "stt", label: "", startMs: 300, endMs: 450 }, 1000)).toEqual({ left: 30, width: 15 });
  });
});

describe("LatencyWaterfall", () => {
  it("draws bar widths in percent of the shared scale", () => {
    const { container } = render(<LatencyWaterfall turns={[fullTurn, faqTurn]} />);
    const bar = (turn: number, stage: string) =>
      container.querySelector(`[data-turn="${turn}"] [data-stage="${stage}"]`) as HTMLElement;
    expect(bar(1, "vad_wait").style.width).toBe("30%");
    expect(bar(1, "vad_wait").style.marginLeft).toBe("0%");
    expect(bar(1, "llm_first_token").style.marginLeft).toBe("45%");
    expect(bar(1, "llm_first_token").style.width).toBe("25%");
    expect(bar(2, "tts_first_audio").style.marginLeft).toBe("40%");
    expect(bar(2, "tts_first_audio").style.width).toBe("8%");
    expect(bar(2, "llm_first_token")).toBeNull();
  });

  it("says so when no turn was measured", () => {
    const { getByText } = render(<LatencyWaterfall turns={[{ turn: 1 }]} />);
    expect(getByText(/no measured turns/i)).toBeInTheDocument();
  });
});
