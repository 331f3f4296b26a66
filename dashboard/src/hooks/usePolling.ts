// Calls `load` now and every `intervalMs`; keeps the last good value and the last error.
// A 404 stops polling for that resource (the server does not offer it) and is reported as `missing`.

import { useEffect, useRef, useState } from "react";
import { HttpError } from "../api/client";

export interface Polled<T> {
  data: T | null;
  error: string | null;
  missing: boolean;
}

export function usePolling<T>(
  load: (signal: AbortSignal) => Promise<T>,
  intervalMs: number,
  refreshKey: unknown = 0,
): Polled<T> {
  const [state, setState] = useState<Polled<T>>({ data: null, error: null, missing: false });
  const loader = useRef(load);
  loader.current = load;

  useEffect(() => {
    const controller = new AbortController();
    let timer: number | undefined;
    const tick = async () => {
      try {
        const data = await loader.current(controller.signal);
        setState({ data, error: null, missing: false });
      } catch (error) {
        if (controller.signal.aborted) return;
        if (error instanceof HttpError && error.status === 404) {
          setState({ data: null, error: null, missing: true });
          return; // not offered by this server: stop asking
        }
        setState((prev) => ({ ...prev, error: error instanceof Error ? error.message : String(error) }));
      }
      if (!controller.signal.aborted) timer = window.setTimeout(tick, intervalMs);
    };
    void tick();
    return () => {
      controller.abort();
      window.clearTimeout(timer);
    };
  }, [intervalMs, refreshKey]);

  return state;
}
