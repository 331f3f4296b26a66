import type { TomEvent } from "../src/api/types";
import {
  activeCalls,
  callDuration,
  dashboardReducer,
  initialDashboardState,
  recentCalls,
  selectedCall,
  type DashboardAction,
  type DashboardState,
} from "../src/state/calls";

const T0 = 1_700_000_000;

function ev(type: string, call_id: string, data: Record<string, unknown>, wall = T0): DashboardAction {
  const event: TomEvent = { type, call_id, data, wall, ts_ns: 0 };
  return { type: "event", event, receivedAt: wall * 1000 };
}

function run(actions: DashboardAction[], start: DashboardState = initialDashboardState): DashboardState {
  return actions.reduce(dashboardReducer, start);
}

const callA = [
  ev("call_started", "A", { transport: "twilio", caller: "+4930123456", started_at: T0 }),
  ev("state_changed", "A", { source: "greeting", dest: "listening", trigger: "greeted" }),
  ev("transcript", "A", { role: "assistant", text: "Hello, this is TOM.", turn: 0, interrupted: false }),
  ev("transcript", "A", { role: "caller", text: "Wann haben Sie geöffnet?", turn: 1, interrupted: false }),
  ev("turn", "A", { turn: 1, intent: "faq", timings_ms: { e2e: 700 }, marks_ms: { eot_detected: 300, first_frame_out: 700 } }),
  ev("transcript", "A", { role: "assistant", text: "Wir haben täglich geöffnet.", turn: 1, interrupted: false }),
  ev("barge_in", "A", { turn: 1, reaction_ms: 140, heard: "Wir haben" }),
];

describe("dashboardReducer", () => {
  it("builds a live call from its events", () => {
    const state = run(callA);
    const call = state.calls.A;
    expect(call).toMatchObject({ transport: "twilio", caller: "+4930123456", state: "listening", ended: false });
    expect(call.transcript.map((l) => l.text)).toEqual([
      "Hello, this is TOM.",
      "Wann haben Sie geöffnet?",
      "Wir haben täglich geöffnet.",
    ]);
    expect(call.turns).toHaveLength(1);
    expect(call.bargeIns).toEqual([{ turn: 1, reaction_ms: 140, heard: "Wir haben" }]);
    expect(call.transcript[2].interrupted).toBe(true); // the barge-in cut TOM's line of turn 1
    expect(activeCalls(state).map((c) => c.id)).toEqual(["A"]);
    expect(selectedCall(state)?.id).toBe("A"); // follows the newest live call until the operator picks
  });

  it("moves an ended call to recent with its outcome", () => {
    const state = run([...callA, ev("call_ended", "A", { outcome: "completed", duration_s: 42.5, reason: "bye" })]);
    expect(activeCalls(state)).toEqual([]);
    expect(recentCalls(state).map((c) => [c.id, c.outcome, c.duration_s])).toEqual([["A", "completed", 42.5]]);
  });

  it("keeps the operator's choice when a new call arrives", () => {
    const picked = run([...callA, { type: "select", id: "A" }]);
    const state = run([ev("call_started", "B", { transport: "browser", caller: "", started_at: T0 + 5 })], picked);
    expect(state.selectedId).toBe("A");
    expect(activeCalls(state).map((c) => c.id)).toEqual(["B", "A"]);
  });

  it("merges history with live lines without doubling them", () => {
    const live = run(callA.slice(0, 4));
    const state = dashboardReducer(live, {
      type: "detailLoaded",
      detail: {
        id: "A", transport: "twilio", caller: "+4930123456", state: "listening", started_at: T0, duration_s: 3, outcome: null,
        transcript: [
          { role: "assistant", text: "Hello, this is TOM.", turn: 0, interrupted: false },
          { role: "caller", text: "Wann haben Sie geöffnet?", turn: 1, interrupted: false },
        ],
        turns: [{ turn: 1, marks_ms: { eot_detected: 280 } }],
        barge_ins: [],
      },
    });
    expect(state.calls.A.transcript).toHaveLength(2);
    expect(state.calls.A.turns).toEqual([{ turn: 1, marks_ms: { eot_detected: 280 } }]);
  });

  it("treats a call missing from a fresh snapshot as ended, and a late poll does not revive it", () => {
    let state = run(callA);
    state = dashboardReducer(state, { type: "snapshot", calls: [] });
    expect(state.calls.A.ended).toBe(true);
    state = dashboardReducer(state, {
      type: "callsPolled",
      calls: { active: [{ id: "A", transport: "twilio", caller: "+4930123456", state: "speaking", started_at: T0, duration_s: 9, outcome: null }], recent: [] },
    });
    expect(state.calls.A.ended).toBe(true);
    state = dashboardReducer(state, {
      type: "callsPolled",
      calls: { active: [], recent: [{ id: "A", transport: "twilio", caller: "+4930123456", state: "ended", started_at: T0, duration_s: 12, outcome: "hung_up_by_caller" }] },
    });
    expect(state.calls.A).toMatchObject({ outcome: "hung_up_by_caller", duration_s: 12, ended: true });
  });

  it("ticks a live call's duration on the server's clock", () => {
    // The server clock runs 100 s ahead of the browser: event wall T0+100 arrives at browser time T0.
    const state = run([{ type: "event", receivedAt: T0 * 1000, event: { type: "call_started", call_id: "C", wall: T0 + 100, data: { transport: "audiosocket", caller: "200", started_at: T0 + 100 } } }]);
    expect(callDuration(state.calls.C, (T0 + 7) * 1000, state.clockOffsetS)).toBeCloseTo(7, 5);
  });

  it("counts taken messages so the list refreshes, and keeps errors", () => {
    const state = run([
      ev("message_taken", "A", { id: "m1", kind: "message" }),
      ev("error", "A", { kind: "stt", message: "model crashed" }),
    ]);
    expect(state.messagesVersion).toBe(1);
    expect(state.errors[0]).toMatchObject({ callId: "A", kind: "stt", message: "model crashed" });
  });

  it("ignores unknown event types", () => {
    const state = run([ev("something_new", "A", { x: 1 })]);
    expect(state.calls).toEqual({});
  });
});
