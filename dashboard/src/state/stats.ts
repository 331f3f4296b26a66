// Colours of the latency tiles: green within target, amber up to 1.5x, red beyond.

import type { StageStats } from "../api/types";

export type Level = "good" | "warn" | "bad" | "none";

export const STAGE_LABELS: Record<string, string> = {
  vad_wait: "End-of-turn wait",
  stt: "Speech to text",
  llm_first_token: "LLM first token",
  tts_first_audio: "TTS first audio",
  e2e: "End to end",
  barge_in: "Barge-in reaction",
};

export const STAGE_ORDER = ["e2e", "vad_wait", "stt", "llm_first_token", "tts_first_audio", "barge_in"];

/** Compute stage -> the stage that is the wait for its worker thread. The wait has no tile of
 * its own: it is shown inside its compute stage's tile, so the two read side by side. */
export const QUEUE_OF: Record<string, string> = {
  stt: "stt_queue",
  llm_first_token: "llm_queue",
  tts_first_audio: "tts_queue",
};
const QUEUE_STAGES = new Set(Object.values(QUEUE_OF));

export const LEVEL_TEXT: Record<Exclude<Level, "none">, string> = {
  good: "within target",
  warn: "above target",
  bad: "far above target",
};

/** The words that go with a tile's colour, so colour is never the only signal. */
export function levelText(stage: StageStats): string {
  if (!stage.count) return "no data yet";
  const level = tileLevel(stage);
  return level === "none" ? "no target" : LEVEL_TEXT[level];
}

export function latencyLevel(valueMs: number | null | undefined, targetMs: number | null | undefined): Level {
  if (valueMs == null || !Number.isFinite(valueMs)) return "none";
  if (targetMs == null || !Number.isFinite(targetMs) || targetMs <= 0) return "none";
  if (valueMs <= targetMs) return "good";
  if (valueMs <= targetMs * 1.5) return "warn";
  return "bad";
}

/** A tile is judged by its tail (p95): that is what the unluckiest callers hear. */
export function tileLevel(stage: StageStats): Level {
  if (!stage.count) return "none";
  return latencyLevel(stage.p95_ms, stage.target_ms);
}

/** The stages that get a tile, in reading order (queue waits go inside their compute tile). */
export function orderedStages(stages: Record<string, StageStats>): [string, StageStats][] {
  const known = STAGE_ORDER.filter((name) => name in stages).map((name): [string, StageStats] => [name, stages[name]]);
  const others = Object.entries(stages).filter(([name]) => !STAGE_ORDER.includes(name) && !QUEUE_STAGES.has(name));
  return [...known, ...others];
}

/** The queue-wait figures that belong to a compute stage, when the server sends them. */
export function queueStats(stages: Record<string, StageStats>, stage: string): StageStats | undefined {
  const queue = QUEUE_OF[stage];
  return queue ? stages[queue] : undefined;
}

export function formatMs(value: number | null | undefined): string {
  if (value == null || !Number.isFinite(value)) return "–";
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}
