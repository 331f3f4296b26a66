// A keyboard-selectable list of calls: Tab reaches it, arrow keys move, Enter/Space select.

import { useRef, type KeyboardEvent } from "react";
import { callerLabel, formatDuration, humanize } from "../format";
import { callDuration, type CallView } from "../state/calls";

interface CallListProps {
  title: string;
  /** Names the list for tests and styling: "active" or "recent". */
  kind: string;
  calls: CallView[];
  selectedId: string | null;
  onSelect(id: string): void;
  nowMs: number;
  clockOffsetS: number;
  emptyText: string;
}

export function CallList({ title, kind, calls, selectedId, onSelect, nowMs, clockOffsetS, emptyText }: CallListProps) {
  const listRef = useRef<HTMLUListElement>(null);
  const headingId = `${title.toLowerCase().replace(/\W+/g, "-")}-heading`;

  const moveFocus = (event: KeyboardEvent<HTMLUListElement>) => {
    const keys: Record<string, number> = { ArrowDown: 1, ArrowUp: -1 };
    if (!(event.key in keys) && event.key !== "Home" && event.key !== "End") return;
    const buttons = Array.from(listRef.current?.querySelectorAll<HTMLButtonElement>("button") ?? []);
    if (!buttons.length) return;
    event.preventDefault();
    const current = buttons.indexOf(document.activeElement as HTMLButtonElement);
    const next =
      event.key === "Home" ? 0 : event.key === "End" ? buttons.length - 1 : clampIndex(current + keys[event.key], buttons.length);
    buttons[next].focus();
  };

  return (
    <section className="panel" aria-labelledby={headingId} data-list={kind}>
      <h2 id={headingId}>
        {title} <span className="count">({calls.length})</span>
      </h2>
      {calls.length === 0 ? (
        <p className="empty">{emptyText}</p>
      ) : (
        <ul className="call-list" ref={listRef} onKeyDown={moveFocus}>
          {calls.map((call) => (
            <li key={call.id}>
              <button
                type="button"
                className="call-item"
                data-call-id={call.id}
                aria-current={call.id === selectedId ? "true" : undefined}
                onClick={() => onSelect(call.id)}
              >
                <span className="call-caller">{callerLabel(call.caller)}</span>
                <span className="call-meta">
                  <span className="tag">{call.transport || "?"}</span>
                  <span className="call-state">{call.ended ? humanize(call.outcome) || "ended" : humanize(call.state)}</span>
                  <span className="call-duration">
                    <span className="sr-only">duration </span>
                    {formatDuration(callDuration(call, nowMs, clockOffsetS))}
                  </span>
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function clampIndex(index: number, length: number): number {
  if (index < 0) return 0;
  return Math.min(index, length - 1);
}
