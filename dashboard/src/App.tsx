// The operator's view of TOM: live calls, the chosen call's conversation and latency, health.

import { useCallback, useEffect, useReducer, useState } from "react";
import { api, HttpError } from "./api/client";
import { CallList } from "./components/CallList";
import { HealthPanel } from "./components/HealthPanel";
import { MessagesPanel } from "./components/MessagesPanel";
import { SelectedCall } from "./components/SelectedCall";
import { StatsTiles } from "./components/StatsTiles";
import { TalkToTom, type PhoneFactory } from "./components/TalkToTom";
import { useEventStream, type LiveStatus } from "./hooks/useEventStream";
import { useNow } from "./hooks/useNow";
import { usePolling } from "./hooks/usePolling";
import {
  activeCalls,
  dashboardReducer,
  initialDashboardState,
  recentCalls,
  selectedCall,
} from "./state/calls";

const LIVE_TEXT: Record<LiveStatus, string> = {
  connecting: "connecting…",
  open: "live",
  reconnecting: "reconnecting…",
};

export function App({ createPhone }: { createPhone: PhoneFactory }) {
  const [state, dispatch] = useReducer(dashboardReducer, initialDashboardState);
  const now = useNow(1000);

  const live = useEventStream("api/events", {
    snapshot: (snapshot) => dispatch({ type: "snapshot", calls: snapshot.calls }),
    event: (event) => dispatch({ type: "event", event, receivedAt: Date.now() }),
  });
  const calls = usePolling(api.calls, 3000);
  const stats = usePolling(api.stats, 3000);
  const health = usePolling(api.health, 5000);
  const messages = usePolling(api.messages, 5000, state.messagesVersion);

  useEffect(() => {
    if (calls.data) dispatch({ type: "callsPolled", calls: calls.data });
  }, [calls.data]);

  const detailError = useCallDetail(state.selectedId, dispatch);
  const select = useCallback((id: string) => dispatch({ type: "select", id }), []);
  const ready = health.data?.ready;

  return (
    <>
      <header className="top">
        <h1>TOM</h1>
        <p className="top-status">
          <span className={`badge live-${live}`} data-live={live} role="status">
            Updates: {LIVE_TEXT[live]}
          </span>
          <span className={`badge ${ready ? "ok" : "not-ok"}`} data-ready={String(Boolean(ready))}>
            {ready === undefined ? "TOM: unknown" : ready ? "TOM: ready" : "TOM: not ready"}
          </span>
        </p>
      </header>
      <main className="layout">
        <div className="column calls-column">
          <TalkToTom createPhone={createPhone} onCallStarted={select} />
          <CallList
            title="Active calls"
            kind="active"
            calls={activeCalls(state)}
            selectedId={state.selectedId}
            onSelect={select}
            nowMs={now}
            clockOffsetS={state.clockOffsetS}
            emptyText="No calls right now."
          />
          <CallList
            title="Recent calls"
            kind="recent"
            calls={recentCalls(state)}
            selectedId={state.selectedId}
            onSelect={select}
            nowMs={now}
            clockOffsetS={state.clockOffsetS}
            emptyText="No finished calls yet."
          />
        </div>
        <div className="column detail-column">
          <SelectedCall call={selectedCall(state)} loadError={detailError} nowMs={now} clockOffsetS={state.clockOffsetS} />
        </div>
        <div className="column side-column">
          <StatsTiles stats={stats.data} error={stats.error} />
          <HealthPanel health={health.data} healthError={health.error} stats={stats.data} />
          <MessagesPanel messages={messages.data} missing={messages.missing} error={messages.error} />
          {state.errors.length > 0 && <ErrorList errors={state.errors} />}
        </div>
      </main>
    </>
  );
}

/** Loads a call's history when it is selected; live events keep it current afterwards. */
function useCallDetail(id: string | null, dispatch: (action: Parameters<typeof dashboardReducer>[1]) => void) {
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setError(null);
    if (!id) return;
    const controller = new AbortController();
    api
      .call(id, controller.signal)
      .then((detail) => dispatch({ type: "detailLoaded", detail }))
      .catch((err: unknown) => {
        if (controller.signal.aborted) return;
        // A call that has only just started may not be recorded yet; its events will fill it in.
        if (err instanceof HttpError && err.status === 404) return;
        setError(err instanceof Error ? err.message : String(err));
      });
    return () => controller.abort();
  }, [id, dispatch]);
  return error;
}

function ErrorList({ errors }: { errors: { callId: string; kind: string; message: string }[] }) {
  return (
    <section className="panel" aria-labelledby="errors-heading">
      <h2 id="errors-heading">Recent errors</h2>
      <ul className="errors">
        {errors.map((error, i) => (
          <li key={i}>
            <strong>{error.kind}</strong> {error.message}
            {error.callId ? <span className="muted"> (call {error.callId})</span> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}
