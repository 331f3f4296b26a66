import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { App } from "../src/App";
import type { Phone } from "../src/phone/browserPhone";

/** Stands in for the browser's EventSource; the test pushes named SSE events through it. */
class FakeEventSource {
  static instances: FakeEventSource[] = [];
  listeners = new Map<string, ((e: MessageEvent) => void)[]>();
  onerror: (() => void) | null = null;
  closed = false;
  constructor(readonly url: string) {
    FakeEventSource.instances.push(this);
  }
  addEventListener(type: string, fn: (e: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  close() {
    this.closed = true;
  }
  emit(type: string, data: unknown) {
    const message = new MessageEvent(type, { data: JSON.stringify(data) });
    for (const fn of this.listeners.get(type) ?? []) fn(message);
  }
}

const T0 = Date.now() / 1000;
const summary = { id: "c1", transport: "twilio", caller: "+49301234", state: "listening", started_at: T0, duration_s: 0, outcome: null };

function routes(url: string): Response {
  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  if (url === "api/calls") return json({ active: [summary], recent: [] });
  if (url === "api/calls/c1")
    return json({
      ...summary,
      transcript: [{ role: "assistant", text: "Hallo, hier ist TOM.", turn: 0, interrupted: false, wall: T0 }],
      turns: [],
      barge_ins: [],
    });
  if (url === "api/stats")
    return json({ window_s: 600, stages: { stt: { p50_ms: 100, p95_ms: 150, count: 2, target_ms: 200 } }, counters: { calls: 1, errors: 0, busy: 0, active: 1 } });
  if (url === "readyz") return json({ ready: false, models: { stt: true, llm: false }, listeners: ["http"], redis: null }, 503);
  if (url === "api/messages") return json({ error: "not found" }, 404);
  return json({ error: "unexpected " + url }, 500);
}

describe("App", () => {
  const fetchMock = vi.fn(async (url: string) => routes(url));

  beforeEach(() => {
    FakeEventSource.instances = [];
    vi.stubGlobal("EventSource", FakeEventSource);
    vi.stubGlobal("fetch", fetchMock);
  });
  afterEach(() => vi.unstubAllGlobals());

  it("shows live calls, loads the selected call's history and follows its events", async () => {
    const phone: Phone = { start: async () => {}, hangUp: () => {} };
    render(<App createPhone={() => phone} />);
    const sse = FakeEventSource.instances[0];
    expect(sse.url).toBe("api/events");
    act(() => sse.emit("snapshot", { calls: [summary] }));
    expect(screen.getByText("Updates: live")).toBeInTheDocument();

    const activeSection = screen.getByRole("heading", { name: /Active calls/ }).closest("section") as HTMLElement;
    expect(within(activeSection).getByText("+49301234")).toBeInTheDocument();
    await userEvent.click(within(activeSection).getByText("+49301234"));
    expect(await screen.findByText("Hallo, hier ist TOM.")).toBeInTheDocument();

    act(() => {
      sse.emit("transcript", { type: "transcript", call_id: "c1", wall: T0 + 2, data: { role: "caller", text: "Können Sie mir helfen?", turn: 1, interrupted: false } });
      sse.emit("turn", { type: "turn", call_id: "c1", wall: T0 + 3, data: { turn: 1, intent: "chat", timings_ms: { e2e: 800 }, marks_ms: { eot_detected: 300, stt_done: 450, llm_first_token: 650, tts_first_audio: 750, first_frame_out: 800 } } });
    });
    expect(screen.getByText("Können Sie mir helfen?")).toBeInTheDocument();
    expect(document.querySelectorAll(".waterfall-bar")).toHaveLength(5);

    act(() => sse.emit("call_ended", { type: "call_ended", call_id: "c1", wall: T0 + 9, data: { outcome: "completed", duration_s: 9, reason: "" } }));
    const recentSection = screen.getByRole("heading", { name: /Recent calls/ }).closest("section") as HTMLElement;
    expect(within(recentSection).getByText("completed")).toBeInTheDocument();
  });

  it("shows health and stats, and tolerates a server without messages", async () => {
    render(<App createPhone={() => ({ start: async () => {}, hangUp: () => {} })} />);
    expect(await screen.findByText("TOM: not ready")).toBeInTheDocument();
    expect(await screen.findByText("This TOM does not keep messages.")).toBeInTheDocument();
    await waitFor(() => expect(document.querySelector('[data-stage="stt"]')).toHaveAttribute("data-level", "good"));
    expect(screen.getByText(/llm:/)).toBeInTheDocument();
  });

  it("reconnects quietly after the stream drops", async () => {
    vi.useFakeTimers();
    try {
      render(<App createPhone={() => ({ start: async () => {}, hangUp: () => {} })} />);
      const first = FakeEventSource.instances[0];
      act(() => first.onerror?.());
      expect(first.closed).toBe(true);
      expect(screen.getByText("Updates: reconnecting…")).toBeInTheDocument();
      await act(async () => vi.advanceTimersByTime(1100));
      expect(FakeEventSource.instances).toHaveLength(2);
      act(() => FakeEventSource.instances[1].emit("snapshot", { calls: [] }));
      expect(screen.getByText("Updates: live")).toBeInTheDocument();
    } finally {
      vi.useRealTimers();
    }
  });
});
