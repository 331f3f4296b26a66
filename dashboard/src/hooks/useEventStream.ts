// Subscribes to TOM's SSE stream. Reconnects quietly with a growing pause; each (re)connect
// starts with a `snapshot`, so the dashboard re-syncs by itself.

import { useEffect, useRef, useState } from "react";
import type { Snapshot, TomEvent } from "../api/types";

export type LiveStatus = "connecting" | "open" | "reconnecting";

export const EVENT_TYPES = [
  "call_started",
  "state_changed",
  "transcript",
  "turn",
  "barge_in",
  "dtmf",
  "message_taken",
  "call_ended",
  "error",
] as const;

export interface EventStreamHandlers {
  snapshot(snapshot: Snapshot): void;
  event(event: TomEvent): void;
}

const MAX_RETRY_MS = 10_000;

export function useEventStream(url: string, handlers: EventStreamHandlers): LiveStatus {
  const [status, setStatus] = useState<LiveStatus>("connecting");
  const latest = useRef(handlers);
  latest.current = handlers;

  useEffect(() => {
    let source: EventSource | null = null;
    let retryMs = 1000;
    let timer: number | undefined;
    let stopped = false;

    const connect = () => {
      source = new EventSource(url);
      source.addEventListener("snapshot", (message) => {
        retryMs = 1000;
        setStatus("open");
        const snapshot = parse<Snapshot>(message);
        if (snapshot) latest.current.snapshot({ calls: snapshot.calls ?? [] });
      });
      for (const type of EVENT_TYPES) {
        source.addEventListener(type, (message) => {
          const event = parse<TomEvent>(message);
          if (event) latest.current.event({ ...event, type: event.type ?? type, data: event.data ?? {} });
        });
      }
      source.onerror = () => {
        // EventSource would retry on its own at a fixed pace; we back off instead and stay quiet.
        source?.close();
        if (stopped) return;
        setStatus("reconnecting");
        timer = window.setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
      };
    };

    connect();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      source?.close();
    };
  }, [url]);

  return status;
}

function parse<T>(message: Event): T | null {
  try {
    return JSON.parse((message as MessageEvent<string>).data) as T;
  } catch {
    return null;
  }
}
