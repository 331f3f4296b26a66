// Turns a turn's marks (ms after the caller stopped speaking) into waterfall bars.

import type { MarkName, TimingName, TurnTiming } from "../api/types";

export interface WaterfallBar {
  stage: string;
  label: string;
  startMs: number;
  endMs: number;
}

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

/** Without marks, the stage durations are laid end to end (less precise: stages can overlap). */
const TIMING_ORDER: TimingName[] = ["vad_wait", "stt", "llm_first_token", "tts_first_audio"];

export function waterfallBars(turn: TurnTiming): WaterfallBar[] {
  const marks = turn.marks_ms ?? {};
  if (Object.keys(marks).length > 0) return barsFromMarks(marks);
  return barsFromTimings(turn.timings_ms ?? {});
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
    const ms = timings[name];
    if (typeof ms !== "number") continue;
    const label = WATERFALL_STAGES.find((s) => s.stage === name)?.label ?? name;
    bars.push({ stage: name, label, startMs: start, endMs: start + Math.max(0, ms) });
    start += Math.max(0, ms);
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

function clampPct(value: number): number {
  return Math.min(100, Math.max(0, value));
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
