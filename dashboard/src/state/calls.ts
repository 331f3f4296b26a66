// The dashboard's model of calls, built from the SSE snapshot, live events, polling and call details.

import type {
  BargeIn,
  CallDetail,
  CallSummary,
  CallsResponse,
  Role,
  TomEvent,
  TranscriptLine,
  TurnTiming,
} from "../api/types";

export interface CallView extends CallSummary {
  transcript: TranscriptLine[];
  turns: TurnTiming[];
  bargeIns: BargeIn[];
  dtmf: string[];
  ended: boolean;
}

export interface DashboardState {
  calls: Record<string, CallView>;
  selectedId: string | null;
  /** True once the operator picked a call; until then the newest active call is followed. */
  selectedByUser: boolean;
  /** Server clock minus browser clock, in seconds, so durations tick right despite clock skew. */
  clockOffsetS: number;
  errors: { callId: string; kind: string; message: string; wall: number }[];
  messagesVersion: number;
}

export type DashboardAction =
  | { type: "snapshot"; calls: CallSummary[] }
  | { type: "event"; event: TomEvent; receivedAt: number }
  | { type: "callsPolled"; calls: CallsResponse }
  | { type: "detailLoaded"; detail: CallDetail }
  | { type: "select"; id: string };

export const initialDashboardState: DashboardState = {
  calls: {},
  selectedId: null,
  selectedByUser: false,
  clockOffsetS: 0,
  errors: [],
  messagesVersion: 0,
};

const MAX_ERRORS = 20;

export function dashboardReducer(state: DashboardState, action: DashboardAction): DashboardState {
  switch (action.type) {
    case "snapshot":
      return followNewest(applySnapshot(state, action.calls));
    case "callsPolled":
      return followNewest(
        upsertSummaries(state, [...action.calls.active, ...action.calls.recent]),
      );
    case "detailLoaded":
      return applyDetail(state, action.detail);
    case "select":
      return { ...state, selectedId: action.id, selectedByUser: true };
    case "event":
      return followNewest(applyEvent(withClock(state, action.event, action.receivedAt), action.event));
  }
}

function emptyCall(summary: CallSummary): CallView {
  return { ...summary, transcript: [], turns: [], bargeIns: [], dtmf: [], ended: summary.outcome != null };
}

function placeholder(id: string): CallSummary {
  return { id, transport: "", caller: "", state: "", started_at: 0, duration_s: 0, outcome: null };
}

function withCall(state: DashboardState, id: string, change: (call: CallView) => CallView): DashboardState {
  const current = state.calls[id] ?? emptyCall(placeholder(id));
  return { ...state, calls: { ...state.calls, [id]: change(current) } };
}

function upsertSummaries(state: DashboardState, summaries: CallSummary[]): DashboardState {
  let next = state;
  for (const summary of summaries) {
    next = withCall(next, summary.id, (call) => mergeSummary(call, summary));
  }
  return next;
}

function mergeSummary(call: CallView, summary: CallSummary): CallView {
  if (call.ended && summary.outcome == null) {
    // A summary fetched before the call ended must not bring it back to life.
    return {
      ...call,
      transport: call.transport || summary.transport,
      caller: call.caller || summary.caller,
      started_at: call.started_at || summary.started_at,
    };
  }
  return { ...call, ...summary, ended: call.ended || summary.outcome != null };
}

/** A snapshot lists what is live now; a call we thought active but absent from it has ended. */
function applySnapshot(state: DashboardState, summaries: CallSummary[]): DashboardState {
  const listed = new Set(summaries.map((s) => s.id));
  let next = upsertSummaries(state, summaries);
  for (const call of Object.values(next.calls)) {
    if (!call.ended && !listed.has(call.id)) {
      next = withCall(next, call.id, (c) => ({ ...c, ended: true }));
    }
  }
  return next;
}

function applyDetail(state: DashboardState, detail: CallDetail): DashboardState {
  return withCall(state, detail.id, (call) => {
    const merged = mergeSummary(call, detail);
    return {
      ...merged,
      transcript: mergeTranscript(detail.transcript ?? [], call.transcript),
      turns: [...(detail.turns ?? []), ...call.turns].reduce(upsertTurn, []),
      bargeIns: mergeBargeIns(detail.barge_ins ?? [], call.bargeIns),
    };
  });
}

function withClock(state: DashboardState, event: TomEvent, receivedAt: number): DashboardState {
  if (typeof event.wall !== "number") return state;
  return { ...state, clockOffsetS: event.wall - receivedAt / 1000 };
}

function applyEvent(state: DashboardState, event: TomEvent): DashboardState {
  const id = event.call_id;
  const d = event.data ?? {};
  switch (event.type) {
    case "call_started":
      if (!id) return state;
      return withCall(state, id, (call) => ({
        ...call,
        transport: str(d.transport, call.transport),
        caller: str(d.caller, call.caller),
        started_at: num(d.started_at, event.wall ?? call.started_at),
        state: call.state || "started",
        ended: false,
        outcome: null,
      }));
    case "state_changed":
      if (!id) return state;
      return withCall(state, id, (call) => ({ ...call, state: str(d.dest, call.state) }));
    case "transcript":
      if (!id) return state;
      return withCall(state, id, (call) => ({
        ...call,
        transcript: mergeTranscript(call.transcript, [transcriptLine(d, event.wall)]),
      }));
    case "turn":
      if (!id) return state;
      return withCall(state, id, (call) => ({ ...call, turns: upsertTurn(call.turns, turnTiming(d)) }));
    case "barge_in":
      if (!id) return state;
      return withCall(state, id, (call) => ({
        ...call,
        bargeIns: mergeBargeIns(call.bargeIns, [
          { turn: num(d.turn, 0), reaction_ms: num(d.reaction_ms, 0), heard: str(d.heard, "") },
        ]),
        transcript: markInterrupted(call.transcript, num(d.turn, -1)),
      }));
    case "dtmf":
      if (!id) return state;
      return withCall(state, id, (call) => ({ ...call, dtmf: [...call.dtmf, str(d.digit, "?")] }));
    case "call_ended":
      if (!id) return state;
      return withCall(state, id, (call) => ({
        ...call,
        outcome: str(d.outcome, "unknown"),
        duration_s: num(d.duration_s, call.duration_s),
        state: "ended",
        ended: true,
      }));
    case "message_taken":
      return { ...state, messagesVersion: state.messagesVersion + 1 };
    case "error": {
      const error = { callId: id, kind: str(d.kind, "error"), message: str(d.message, ""), wall: event.wall ?? 0 };
      return { ...state, errors: [error, ...state.errors].slice(0, MAX_ERRORS) };
    }
    default:
      return state;
  }
}

/** Until the operator chooses, follow the newest live call (or keep the last one shown). */
function followNewest(state: DashboardState): DashboardState {
  if (state.selectedByUser) return state;
  const live = activeCalls(state);
  const newest = live[0]?.id ?? state.selectedId ?? recentCalls(state)[0]?.id ?? null;
  return newest === state.selectedId ? state : { ...state, selectedId: newest };
}

function transcriptLine(d: Record<string, unknown>, wall?: number): TranscriptLine {
  const role: Role = d.role === "assistant" ? "assistant" : "caller";
  const joins = typeof d.joins === "number" ? d.joins : null;
  return { role, text: str(d.text, ""), turn: num(d.turn, 0), interrupted: d.interrupted === true, joins, wall };
}

function lineKey(line: TranscriptLine): string {
  return `${line.role}\u0000${line.turn}\u0000${line.text}`;
}

/** History and live events overlap while a detail request is in flight; keep each line once. */
export function mergeTranscript(base: TranscriptLine[], extra: TranscriptLine[]): TranscriptLine[] {
  const out = [...base];
  const index = new Map(out.map((line, i) => [lineKey(line), i]));
  for (const line of extra) {
    const at = index.get(lineKey(line));
    if (at === undefined) {
      index.set(lineKey(line), out.length);
      out.push(line);
    } else if (line.interrupted && !out[at].interrupted) {
      out[at] = { ...out[at], interrupted: true };
    }
  }
  return out;
}

function markInterrupted(lines: TranscriptLine[], turn: number): TranscriptLine[] {
  let lastAssistant = -1;
  lines.forEach((line, i) => {
    if (line.role === "assistant" && line.turn === turn) lastAssistant = i;
  });
  if (lastAssistant < 0 || lines[lastAssistant].interrupted) return lines;
  return lines.map((line, i) => (i === lastAssistant ? { ...line, interrupted: true } : line));
}

function upsertTurn(turns: TurnTiming[], turn: TurnTiming): TurnTiming[] {
  const others = turns.filter((t) => t.turn !== turn.turn);
  return [...others, turn].sort((a, b) => a.turn - b.turn);
}

function mergeBargeIns(base: BargeIn[], extra: BargeIn[]): BargeIn[] {
  const seen = new Set(base.map((b) => `${b.turn}:${b.heard}`));
  return [...base, ...extra.filter((b) => !seen.has(`${b.turn}:${b.heard}`))];
}

function turnTiming(d: Record<string, unknown>): TurnTiming {
  return {
    turn: num(d.turn, 0),
    intent: typeof d.intent === "string" ? d.intent : null,
    timings_ms: numberRecord(d.timings_ms),
    marks_ms: numberRecord(d.marks_ms),
  };
}

function numberRecord(value: unknown): Record<string, number> {
  if (typeof value !== "object" || value === null) return {};
  return Object.fromEntries(
    Object.entries(value).filter((entry): entry is [string, number] => Number.isFinite(entry[1])),
  );
}

function str(value: unknown, fallback: string): string {
  return typeof value === "string" ? value : fallback;
}

function num(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

// Selectors.

export function activeCalls(state: DashboardState): CallView[] {
  return Object.values(state.calls)
    .filter((call) => !call.ended)
    .sort((a, b) => b.started_at - a.started_at);
}

export function recentCalls(state: DashboardState, limit = 20): CallView[] {
  return Object.values(state.calls)
    .filter((call) => call.ended)
    .sort((a, b) => b.started_at - a.started_at)
    .slice(0, limit);
}

export function selectedCall(state: DashboardState): CallView | null {
  return state.selectedId ? (state.calls[state.selectedId] ?? null) : null;
}

/** Seconds a call has lasted: live calls tick from started_at on the server's clock. */
export function callDuration(call: CallView, nowMs: number, clockOffsetS: number): number {
  if (call.ended || !call.started_at) return call.duration_s;
  return Math.max(call.duration_s, nowMs / 1000 + clockOffsetS - call.started_at);
}
