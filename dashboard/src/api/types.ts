// Shapes of TOM's HTTP API and events, as written in docs/CONTRACTS.md.

export type Role = "caller" | "assistant";

export interface CallSummary {
  id: string;
  transport: string;
  caller: string;
  state: string;
  started_at: number; // unix seconds
  duration_s: number;
  outcome: string | null;
}

export interface TranscriptLine {
  role: Role;
  text: string;
  turn: number;
  interrupted: boolean;
  joins?: number | null;
  wall?: number;
}

export type MarkName =
  | "stt_start"
  | "llm_start"
  | "eot_detected"
  | "stt_done"
  | "llm_first_token"
  | "first_sentence"
  | "tts_first_audio"
  | "first_frame_out";

/** `timings_ms` keys; `*_queue` is the wait for a stage's worker thread, the key beside it its
 * compute. Older servers and FAQ turns (no LLM) leave some out. */
export type TimingName =
  | "vad_wait"
  | "stt_queue"
  | "stt"
  | "llm_queue"
  | "llm_first_token"
  | "tts_queue"
  | "tts_first_audio"
  | "e2e";

export interface TurnTiming {
  turn: number;
  intent?: string | null;
  timings_ms?: Partial<Record<TimingName, number>>;
  marks_ms?: Partial<Record<MarkName, number>>;
}

export interface BargeIn {
  turn: number;
  reaction_ms: number;
  heard: string;
}

export interface CallDetail extends CallSummary {
  transcript: TranscriptLine[];
  turns: TurnTiming[];
  barge_ins: BargeIn[];
}

export interface CallsResponse {
  active: CallSummary[];
  recent: CallSummary[];
}

/** One event from the bus as sent over SSE (`Event.to_dict()`). */
export interface TomEvent {
  type: string;
  call_id: string;
  ts_ns?: number;
  wall?: number;
  data: Record<string, unknown>;
}

export interface Snapshot {
  calls: CallSummary[];
}

export interface StageStats {
  p50_ms: number | null;
  p95_ms: number | null;
  count: number;
  target_ms: number | null;
}

export interface Stats {
  window_s?: number;
  stages: Record<string, StageStats>;
  outcomes?: Record<string, number>;
  counters?: Partial<Record<"calls" | "errors" | "busy" | "active", number>>;
}

/** `/readyz`; the value shapes of models/listeners/redis are not fixed, so they are shown as given. */
export interface Health {
  ready: boolean;
  models?: unknown;
  listeners?: unknown;
  redis?: unknown;
}

export type MessageRecord = Record<string, unknown>;
