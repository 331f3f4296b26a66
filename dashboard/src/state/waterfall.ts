// Turns a turn's marks (ms after the caller stopped speaking) into waterfall bars.

import type { MarkName, TimingName, TurnTiming } from "../api/types";

export interface WaterfallBar {
  stage: string;
  label: string;
  startMs: number;
  endMs: number;
  /** Wait for the stage's worker thread, when the server reported it. */
  queueMs?: number;
  /** The stage's compute time, when the server reported it. */
  computeMs?: number;
}

/** Compute stage -> its queue-wait timing key. */
const QUEUE_KEY: Partial<Record<string, TimingName>> = {
  stt: "stt_queue",
  llm_first_token: "llm_queue",
  tts_first_audio: "tts_queue",
};

/** The stages in pipeline order; each ends at its mark and starts at its own start mark when the
 * server sent one (STT and LLM may start before the end of the turn, speculatively), else where
 * the previous present stage ended. */
export const WATERFALL_STAGES: { stage: string; label: string; mark: MarkName; from?: MarkName }[] = [
  { stage: "vad_wait", label: "End-of-turn wait", mark: "eot_detected" },
  { stage: "stt", label: "Speech to text", mark: "stt_done", from: "stt_start" },
  { stage: "llm_first_token", label: "LLM first token", mark: "llm_first_token", from: "llm_start" },
  { stage: "first_sentence", label: "First sentence", mark: "first_sentence" },
  { stage: "tts_first_audio", label: "TTS first audio", mark: "tts_first_audio" },
  { stage: "first_frame_out", label: "First frame out", mark: "first_frame_out" },
];

/** Without marks, the stage durations are laid end to end (less precise: stages can overlap);
 * a stage's bar covers its queue wait and then its compute. */
const TIMING_ORDER: TimingName[] = ["vad_wait", "stt", "llm_first_token", "tts_first_audio"];

export function waterfallBars(turn: TurnTiming): WaterfallBar[] {
  const marks = turn.marks_ms ?? {};
  const timings = turn.timings_ms ?? {};
  const bars = Object.keys(marks).length > 0 ? barsFromMarks(marks) : barsFromTimings(timings);
  return bars.map((bar) => withQueue(bar, timings));
}

function ms(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;
}

function withQueue(bar: WaterfallBar, timings: Partial<Record<TimingName, number>>): WaterfallBar {
  const key = QUEUE_KEY[bar.stage];
  const queueMs = key ? ms(timings[key]) : undefined;
  if (queueMs === undefined) return bar;
  return { ...bar, queueMs, computeMs: ms(timings[bar.stage as TimingName]) };
}

function barsFromMarks(marks: Partial<Record<MarkName, number>>): WaterfallBar[] {
  const bars: WaterfallBar[] = [];
  let start = 0;
  for (const { stage, label, mark, from } of WATERFALL_STAGES) {
    const end = marks[mark];
    if (typeof end !== "number") continue;
    const own = from ? marks[from] : undefined;
    const begin = typeof own === "number" ? Math.min(own, end) : start;
    bars.push({ stage, label, startMs: begin, endMs: Math.max(begin, end) });
    start = Math.max(start, end);
  }
  return bars;
}

function barsFromTimings(timings: Partial<Record<TimingName, number>>): WaterfallBar[] {
  const bars: WaterfallBar[] = [];
  let start = 0;
  for (const name of TIMING_ORDER) {
    const compute = timings[name];
    if (typeof compute !== "number") continue;
    const queueKey = QUEUE_KEY[name];
    const length = Math.max(0, compute) + ((queueKey && ms(timings[queueKey])) || 0);
    const label = WATERFALL_STAGES.find((s) => s.stage === name)?.label ?? name;
    bars.push({ stage: name, label, startMs: start, endMs: start + length });
    start += length;
  }
  return bars;
}

/** Total time of a turn: the last bar's end, or e2e when reported and larger. */
export function turnTotalMs(turn: TurnTiming): number {
  const bars = waterfallBars(turn);
  const last = bars.length ? bars[bars.length - 1].endMs : 0;
  return Math.max(last, turn.timings_ms?.e2e ?? 0);
}

/** One shared scale for all turns of a call, so their bars compare at a glance. */
export function waterfallScaleMs(turns: TurnTiming[]): number {
  const longest = Math.max(0, ...turns.map(turnTotalMs));
  return longest > 0 ? longest : 1;
}

/** Left offset and width of a bar in percent of the scale. */
export function barGeometry(bar: WaterfallBar, scaleMs: number): { left: number; width: number } {
  const left = clampPct((bar.startMs / scaleMs) * 100);
  const width = clampPct(((bar.endMs - bar.startMs) / scaleMs) * 100);
  return { left: round2(left), width: round2(Math.min(width, 100 - left)) };
}

/** Where the queue wait sits inside a bar, in percent of the bar's own length: just before the
 * compute that ends the bar. Null when there is no wait or the bar does not cover it. */
export function queueGeometry(bar: WaterfallBar): { left: number; width: number } | null {
  const length = bar.endMs - bar.startMs;
  if (!bar.queueMs || length <= 0) return null;
  const computeStart = bar.computeMs === undefined ? bar.startMs + bar.queueMs : bar.endMs - bar.computeMs;
  const from = Math.max(bar.startMs, computeStart - bar.queueMs);
  const to = Math.min(bar.endMs, computeStart);
  if (to <= from) return null;
  return { left: round2(((from - bar.startMs) / length) * 100), width: round2(((to - from) / length) * 100) };
}

function clampPct(value: number): number {
  return Math.min(100, Math.max(0, value));
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
