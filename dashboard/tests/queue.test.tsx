import { render, within } from "@testing-library/react";
import type { Stats, TurnTiming } from "../src/api/types";
import { LatencyWaterfall } from "../src/components/LatencyWaterfall";
import { StatsTiles } from "../src/components/StatsTiles";
import { orderedStages } from "../src/state/stats";
import { queueGeometry, waterfallBars } from "../src/state/waterfall";

// Queue wait (for a stage's worker thread) shown beside that stage's compute.

describe("queue wait in the latency tiles", () => {
  const stats: Stats = {
    window_s: 900,
    stages: {
      stt_queue: { p50_ms: 40, p95_ms: 310, count: 8, target_ms: null },
      stt: { p50_ms: 120, p95_ms: 180, count: 8, target_ms: 200 },
      llm_queue: { p50_ms: null, p95_ms: null, count: 0, target_ms: null },
      llm_first_token: { p50_ms: 250, p95_ms: 420, count: 3, target_ms: 500 },
      tts_first_audio: { p50_ms: 90, p95_ms: 120, count: 8, target_ms: 300 },
      e2e: { p50_ms: 900, p95_ms: 950, count: 8, target_ms: 1000 },
    },
  };

  it("gives a queue no tile of its own", () => {
    expect(orderedStages(stats.stages).map(([name]) => name)).toEqual(["e2e", "stt", "llm_first_token", "tts_first_audio"]);
  });

  it("shows the queue figures inside the compute tile, apart from its p50/p95", () => {
    const { container } = render(<StatsTiles stats={stats} />);
    const tile = (stage: string) => container.querySelector(`[data-stage="${stage}"]`) as HTMLElement;
    expect(container.querySelector('[data-stage="stt_queue"]')).toBeNull();
    const queue = tile("stt").querySelector('[data-value="queue"]') as HTMLElement;
    expect(queue).toHaveTextContent("queue p50 40 ms · p95 310 ms");
    // the compute figures and the colour stay those of the compute stage
    expect(within(tile("stt")).getByText("180 ms")).toBeInTheDocument();
    expect(tile("stt")).toHaveAttribute("data-level", "good");
    expect(tile("llm_first_token").querySelector('[data-value="queue"]')).toHaveTextContent("queue –");
  });

  it("shows no queue line when the server sends no queue figures (older server)", () => {
    const { container } = render(<StatsTiles stats={stats} />);
    expect(container.querySelector('[data-stage="tts_first_audio"] [data-value="queue"]')).toBeNull();
    expect(container.querySelector('[data-stage="e2e"] [data-value="queue"]')).toBeNull();
  });
});

describe("queue wait in the waterfall", () => {
  const queued: TurnTiming = {
    turn: 1,
    marks_ms: { eot_detected: 300, stt_start: 300, stt_done: 500, tts_first_audio: 700, first_frame_out: 720 },
    timings_ms: { vad_wait: 300, stt_queue: 50, stt: 150, tts_queue: 0, tts_first_audio: 200, e2e: 720 },
  };

  it("puts the wait just before the compute that ends the bar", () => {
    const stt = waterfallBars(queued).find((b) => b.stage === "stt")!;
    expect(stt).toMatchObject({ startMs: 300, endMs: 500, queueMs: 50, computeMs: 150 });
    expect(queueGeometry(stt)).toEqual({ left: 0, width: 25 });
  });

  it("draws nothing for a zero wait or a stage without one", () => {
    const bars = waterfallBars(queued);
    expect(queueGeometry(bars.find((b) => b.stage === "tts_first_audio")!)).toBeNull();
    expect(bars.find((b) => b.stage === "vad_wait")!.queueMs).toBeUndefined();
  });

  it("clips a wait the bar does not cover (the stage's start was stamped after it)", () => {
    const bar = { stage: "stt", label: "", startMs: 100, endMs: 250, queueMs: 80, computeMs: 120 };
    expect(queueGeometry(bar)).toEqual({ left: 0, width: 20 }); // the wait is 50..130, the bar covers 100..130 of it
    expect(queueGeometry({ ...bar, computeMs: 150 })).toBeNull();
  });

  it("lays queue and compute end to end when there are no marks", () => {
    const bars = waterfallBars({ turn: 2, timings_ms: { vad_wait: 200, stt_queue: 100, stt: 100, e2e: 600 } });
    expect(bars.map((b) => [b.stage, b.startMs, b.endMs])).toEqual([
      ["vad_wait", 0, 200],
      ["stt", 200, 400],
    ]);
    expect(queueGeometry(bars[1])).toEqual({ left: 0, width: 50 });
  });

  it("ignores a queue value that is not a number", () => {
    const odd = { turn: 3, timings_ms: { stt: 100, stt_queue: "slow" } } as unknown as TurnTiming;
    const [stt] = waterfallBars(odd);
    expect(stt).toMatchObject({ startMs: 0, endMs: 100 });
    expect(stt.queueMs).toBeUndefined();
  });

  it("shows the hatched wait and its figure beside the bar", () => {
    const { container } = render(<LatencyWaterfall turns={[queued]} />);
    const hatch = container.querySelector('[data-stage="stt"] [data-queue="stt"]') as HTMLElement;
    expect(hatch.style.width).toBe("25%");
    expect(hatch.style.marginLeft).toBe("0%");
    const row = hatch.closest(".waterfall-row") as HTMLElement;
    expect(within(row).getByText("50 ms queue")).toBeInTheDocument();
    expect(container.querySelector('[data-queue="tts_first_audio"]')).toBeNull();
  });
});
