// Messages and appointment requests TOM took for the team (from /api/messages).

import type { MessageRecord } from "../api/types";
import { formatClock, humanize } from "../format";

interface MessagesPanelProps {
  messages: MessageRecord[] | null;
  missing: boolean;
  error: string | null;
}

const SHOWN_FIRST = ["kind", "name", "caller", "phone", "text", "message", "when", "created_at", "wall", "id", "call_id"];

export function MessagesPanel({ messages, missing, error }: MessagesPanelProps) {
  return (
    <section className="panel" aria-labelledby="messages-heading">
      <h2 id="messages-heading">
        Messages taken {messages ? <span className="count">({messages.length})</span> : null}
      </h2>
      {missing && <p className="empty">This TOM does not keep messages.</p>}
      {error && !missing && <p className="notice">Messages unavailable: {error}</p>}
      {messages && messages.length === 0 && <p className="empty">No messages yet.</p>}
      {messages && messages.length > 0 && (
        <ul className="messages">
          {messages.map((message, i) => (
            <li key={String(message.id ?? i)} className="message">
              <MessageBody message={message} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function MessageBody({ message }: { message: MessageRecord }) {
  const kind = typeof message.kind === "string" ? humanize(message.kind) : "message";
  const text = firstString(message, ["text", "message", "body", "summary", "reason"]);
  const who = firstString(message, ["name", "caller_name", "caller", "phone", "number"]);
  const when = typeof message.wall === "number" ? formatClock(message.wall) : firstString(message, ["when", "created_at", "time"]);
  const rest = Object.entries(message).filter(
    ([key, value]) => !SHOWN_FIRST.includes(key) && value !== null && typeof value !== "object",
  );
  return (
    <>
      <p className="message-head">
        <span className="tag">{kind}</span> {who && <strong>{who}</strong>} {when && <span className="muted">{when}</span>}
      </p>
      {text && <p className="message-text">{text}</p>}
      {rest.length > 0 && (
        <dl className="message-extra">
          {rest.map(([key, value]) => (
            <div key={key}>
              <dt>{humanize(key)}</dt>
              <dd>{String(value)}</dd>
            </div>
          ))}
        </dl>
      )}
    </>
  );
}

function firstString(record: MessageRecord, keys: string[]): string {
  for (const key of keys) {
    const value = record[key];
    if (typeof value === "string" && value.trim()) return value;
  }
  return "";
}
