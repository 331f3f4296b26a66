// Fetch helpers. Every URL is relative: the dashboard is served by TOM itself.

import type { CallDetail, CallsResponse, Health, MessageRecord, Stats } from "./types";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly url: string,
  ) {
    super(`${url} answered HTTP ${status}`);
  }
}

async function getJson<T>(url: string, signal?: AbortSignal, acceptStatus: number[] = []): Promise<T> {
  const response = await fetch(url, { signal, headers: { Accept: "application/json" } });
  if (!response.ok && !acceptStatus.includes(response.status)) {
    throw new HttpError(response.status, url);
  }
  return (await response.json()) as T;
}

export const api = {
  calls: (signal?: AbortSignal) => getJson<CallsResponse>("api/calls", signal),
  call: (id: string, signal?: AbortSignal) =>
    getJson<CallDetail>(`api/calls/${encodeURIComponent(id)}`, signal),
  stats: (signal?: AbortSignal) => getJson<Stats>("api/stats", signal),
  // /readyz answers 503 with the same JSON body while TOM is not ready.
  health: (signal?: AbortSignal) => getJson<Health>("readyz", signal, [503]),
  messages: async (signal?: AbortSignal): Promise<MessageRecord[]> =>
    messageList(await getJson<unknown>("api/messages", signal)),
};

/** `/api/messages` may answer a list or an object holding lists; both become one list. */
export function messageList(body: unknown): MessageRecord[] {
  if (Array.isArray(body)) return body.filter(isRecord);
  if (!isRecord(body)) return [];
  const lists = Object.entries(body).filter(([, value]) => Array.isArray(value));
  return lists.flatMap(([key, value]) =>
    (value as unknown[]).filter(isRecord).map((item) =>
      "kind" in item || lists.length === 1 ? item : { kind: singular(key), ...item },
    ),
  );
}

function singular(key: string): string {
  return key.endsWith("s") ? key.slice(0, -1) : key;
}

function isRecord(value: unknown): value is MessageRecord {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
